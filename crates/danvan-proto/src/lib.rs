//! The sans-IO sync engine of danvan: the wire format, the sync session state
//! machine, and the sneakernet bundle format.
//!
//! A [`Session`] syncs the whole change collection of two stores in both
//! directions over one bidirectional stream of frames: each side pulls the
//! other's change feed since its checkpoint, by hash offers and batches of
//! compressed bodies, checks that each body is the change it asked for, and
//! commits batch by batch through the [`Replica`] trait, whose `commit` is
//! the receiver's intake: it verifies signatures and actors and admits each
//! change (danvan-node's `receive_changes`; the in-memory test store verifies).
//!
//! This crate never does I/O: no sockets, no files, no threads, no clock, no
//! OS randomness. A driver (danvan-node, or the simulator in danvan-testkit)
//! feeds it frames and the current time in milliseconds, and takes out the
//! frames to send and the events to show:
//!
//! ```text
//! let mut session = Session::new(now(), config, me, peer, &store)?;
//! loop {
//!     while let Some(frame) = session.poll_transmit() { stream.send(frame) }
//!     while let Some(event) = session.poll_event() { show(event) }   // Done / Failed end it
//!     if session.is_closed() { break }
//!     select {
//!         frame = stream.recv()           => session.handle_frame(now(), &frame, &mut store),
//!         _ = store.changed()             => session.handle_local_change(now(), &store),
//!         _ = sleep_until(session.poll_timeout()) => session.handle_timeout(now()),
//!     }
//! }
//! ```

mod bundle;
pub mod code;
mod cover;
pub use cover::{COVER_SPAN_BYTES_MAX, cover as cover_signatures};
mod elide;
mod limits;
mod replica;
mod sealed;
mod session;
mod wire;

pub use bundle::{
    BUNDLE_PAYLOAD_BYTES_MAX, BUNDLE_RATIO_MAX, BundleError, BundleReader, decode_bundle,
    encode_bundle, verify_bundle,
};
pub use danvan_model::{ApplyReport, Checkpoint, FeedEntry, Rejection};
pub use limits::{
    ABORT_REASON_BYTES_MAX, BATCH_BYTES_MAX, BATCH_CHANGES_MAX, BATCHES_IN_FLIGHT_MAX,
    CHANGE_BYTES_MAX, DECOMPRESSED_BYTES_MAX, INLINE_BATCHES_IN_FLIGHT_MAX,
    INLINE_IN_FLIGHT_BYTES_MAX, MESSAGE_BYTES_MAX, MIN_PROTOCOL_VERSION, OFFER_BODY_BYTES_MAX,
    OFFER_HASHES_MAX, PROTOCOL_VERSION, REFUSED_REASON_BYTES_MAX,
};
pub use replica::{PeerStore, Replica, ReplicaError};
pub use sealed::{
    OpenError, SEALED_RECIPIENTS_MAX, SEALED_VERSION, SealedHeader, is_sealed_bundle,
    open_sealed_bundle, seal_bundle, sealed_header,
};
pub use session::{
    Event, INLINE_BATCH_TARGET_MS, Progress, ProtoError, Served, Session, SessionConfig,
    SessionStats, carried_changes, chunk_by_bytes,
};
pub use wire::{
    Hello, Message, WireChange, WireError, carries_changes, decode_message, encode_message,
    encode_message_as,
};
