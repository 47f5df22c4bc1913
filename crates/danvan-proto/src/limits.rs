//! Protocol versions and the bounds every message and session holds.
//!
//! The bounds are part of the protocol: a receiver rejects what exceeds them,
//! so a sender must never produce it. Raising one needs a protocol version.

/// The protocol version this build speaks. It is also the first byte of
/// every message this build sends once the versions are agreed.
///
/// 2: the puller tells the sender which of its changes it refused
/// (`Refused`, before the `Ack` of their batch).
/// 3: a body's dependency on a change the same message carries travels as
/// a back-reference, not its 32-byte hash (`elide`).
/// 4: a change may travel without its own signature when a later change
/// of its author and record in the same message covers it (`cover`); a
/// Hello may ask for every signature held (a hub's).
pub const PROTOCOL_VERSION: u16 = 4;

/// The oldest protocol version this build still syncs with. Field nodes are
/// updated late, so a newer hub keeps speaking old versions for a while.
pub const MIN_PROTOCOL_VERSION: u16 = 1;

/// Largest encoded message. The transport frames messages and must refuse a
/// longer frame before reading it into memory.
pub const MESSAGE_BYTES_MAX: usize = 4 << 20;

/// Largest change body. A larger Automerge change cannot be synced; the
/// store refuses to make one (a record holds text fields, not files), and
/// never offers one stored by an older build. Defined in the model, where
/// every write checks it.
pub const CHANGE_BYTES_MAX: usize = danvan_model::CHANGE_BYTES_MAX;

/// Most change hashes in one offer: 128 KiB of hashes, a few seconds on 3G.
pub const OFFER_HASHES_MAX: usize = 4096;

/// Most body bytes behind one offer. Bounds the memory a sender spends on one
/// answered offer, and the work lost when the link is cut mid-batch.
pub const OFFER_BODY_BYTES_MAX: usize = 4 << 20;

/// Most uncompressed change bytes a sender puts in one message of bodies (a
/// single larger change still travels alone).
pub const BATCH_BYTES_MAX: usize = 1 << 20;

/// Most changes in one message of bodies.
pub const BATCH_CHANGES_MAX: usize = 4096;

/// Largest decompressed payload of one message: the zstd bomb stops here.
pub const DECOMPRESSED_BYTES_MAX: usize = 4 << 20;

/// Offers (or inline batches) a sender may have unanswered at once: two keep
/// the link busy while the puller commits, without unbounded buffering.
pub const BATCHES_IN_FLIGHT_MAX: usize = 2;

/// Inline batches (a cold puller's) a sender may have unanswered at once
/// while their bodies stay within [`INLINE_IN_FLIGHT_BYTES_MAX`]. On 2G a
/// batch stays small (~1.5 s of the downlink) and two in flight are less
/// than one loss recovery (a probe timeout of ~3 s, then a round trip): the
/// link fell idle. Four keep ~6 s of it busy. A puller commits each inline
/// batch as it comes, so it bounds none of them; its flow-control window
/// holds what it has not read.
pub const INLINE_BATCHES_IN_FLIGHT_MAX: usize = 4;

/// Most uncompressed body bytes in unanswered inline batches: the bound two
/// batches of the largest size already had, so a fast link (where batches
/// grow to [`BATCH_BYTES_MAX`]) keeps two in flight as before.
pub const INLINE_IN_FLIGHT_BYTES_MAX: usize = 2 * BATCH_BYTES_MAX;

/// Longest reason text in an abort message.
pub const ABORT_REASON_BYTES_MAX: usize = 1024;

/// Longest reason text per refused change in a `Refused` message; a longer
/// one is cut at a character boundary.
pub const REFUSED_REASON_BYTES_MAX: usize = 256;
