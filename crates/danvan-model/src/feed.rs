//! The types a change feed and a commit of received changes are described
//! by. They are defined once, here, and used by the sync engine
//! (`danvan-proto`), the SQLite store and the in-memory test store alike,
//! so nothing copies them field by field across a crate boundary.

use crate::{ChangeError, DocId, EPOCH_LEN, NodeId};

/// How far a store has pulled from one peer's change feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The epoch of the peer's store the `seq` belongs to. When the peer's
    /// store is recreated or restored its epoch changes, and pulling restarts
    /// from 0 (hashes are offered again; only missing bodies travel).
    pub epoch: [u8; EPOCH_LEN],
    /// Every entry of the peer's feed up to and including this seq is stored.
    pub seq: u64,
}

/// One entry of a change feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedEntry {
    /// Local, strictly increasing position in the store's change log.
    pub seq: u64,
    /// The Automerge change hash.
    pub hash: [u8; 32],
    /// Bytes of the change body, so the sender can bound batches without
    /// loading bodies.
    pub body_len: u32,
    /// For a change held without a signature of its own: the seq of the
    /// signed change that covers it (`u64::MAX` when that one is no longer
    /// held). Such a change travels only in a message that also carries
    /// everything from it to that one (protocol 4), and never to an older
    /// peer.
    pub proof_seq: Option<u64>,
}

/// What storing a batch of received changes did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Changes stored for the first time.
    pub new: usize,
    /// Changes already held (a no-op each).
    pub duplicate: usize,
    /// Documents touched.
    pub documents: usize,
    /// Changes refused (a bad signature, the roster does not let their
    /// signer write that record, a header was altered, a dependency is
    /// missing): not stored; the rest of the batch is.
    pub rejected: Vec<Rejection>,
}

/// A received change that was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The change hash.
    pub hash: [u8; 32],
    /// The signer it claims.
    pub author: NodeId,
    /// The document it claims.
    pub doc: DocId,
    /// Why.
    pub reason: ChangeError,
}
