//! What the sync engine needs from a store: a change feed to serve, a way to
//! ask which changes are already held, and one atomic commit.
//!
//! `danvan-store` implements this over SQLite; `danvan-testkit` in memory.

use danvan_model::{ApplyReport, Checkpoint, FeedEntry};
use danvan_model::{EPOCH_LEN, NodeId, SignedChange};

/// A peer's store as seen in one session: its node and its current epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerStore {
    /// The peer node (authenticated by TLS).
    pub node: NodeId,
    /// The epoch the peer announced in its Hello.
    pub epoch: [u8; EPOCH_LEN],
}

/// A store failure. The session that meets one ends; nothing is lost, since
/// the checkpoint only moves inside a successful commit.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ReplicaError {
    message: String,
    // Not the `source`: the message already quotes it, and an error chain
    // would print it twice. Kept so the driver can tell a full disk or a
    // damaged store from other failures.
    cause: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl ReplicaError {
    /// An error with a message for the user (say what failed and what to do).
    pub fn new(message: impl Into<String>) -> Self {
        ReplicaError {
            message: message.into(),
            cause: None,
        }
    }

    /// A failure of the store underneath, kept typed: its message is the
    /// store's own, and [`ReplicaError::cause`] hands it back.
    pub fn from_store<E: std::error::Error + Send + Sync + 'static>(error: E) -> Self {
        ReplicaError {
            message: error.to_string(),
            cause: Some(Box::new(error)),
        }
    }

    /// The store's error behind this one, if it came from the store.
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.cause.as_deref()
    }
}

/// A store the sync engine syncs. All methods are synchronous; the driver
/// decides on which thread they run.
pub trait Replica {
    /// The random id of this store's current life. It changes whenever the
    /// store is recreated or restored from a backup, so that peers stop
    /// trusting their checkpoints into it.
    fn epoch(&self) -> [u8; EPOCH_LEN];

    /// The seq of the newest feed entry, 0 for an empty store.
    fn latest_seq(&self) -> u64;

    /// Feed entries with `seq > since`, in seq order, at most `limit` of them.
    ///
    /// Skips what `peer` may not read, and what it certainly holds: changes
    /// whose Automerge actor is `peer.node` with `peer.epoch` (its own changes
    /// in its current store), and may skip changes received from that same
    /// `peer` store. Changes made by the peer in an earlier epoch are offered:
    /// a restore from backup may have lost them.
    ///
    /// Returns the entries and the highest seq scanned, so that skipped
    /// entries still advance the peer's checkpoint. When `since <
    /// latest_seq()` the scanned seq must be greater than `since`.
    fn feed(
        &self,
        peer: &PeerStore,
        since: u64,
        limit: usize,
    ) -> Result<(Vec<FeedEntry>, u64), ReplicaError>;

    /// For each hash, whether the store holds that change.
    fn has_changes(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>, ReplicaError>;

    /// For each hash, whether the store holds that change without its own
    /// signature (covered by a later change of its author, protocol 4). A
    /// session that asks for every signature wants such a change again:
    /// the peer may hold its signature.
    fn held_unsigned(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>, ReplicaError> {
        Ok(vec![false; hashes.len()])
    }

    /// The changes with these hashes, in the same order. Every hash was taken
    /// from this store's feed, so a missing one is an error.
    fn bodies(&self, hashes: &[[u8; 32]]) -> Result<Vec<SignedChange>, ReplicaError>;

    /// How far this store has pulled from `peer`, if ever.
    fn checkpoint(&self, peer: &NodeId) -> Result<Option<Checkpoint>, ReplicaError>;

    /// The version of the signed roster this store holds (0: none).
    fn roster_version(&self) -> u64 {
        0
    }

    /// The signed roster this store holds, encoded.
    fn roster(&self) -> Option<Vec<u8>> {
        None
    }

    /// Installs a roster received from `from`, if the pinned town authority
    /// signed it and it is newer than the one held; returns its version.
    fn install_roster(&mut self, from: &NodeId, bytes: &[u8]) -> Result<u64, ReplicaError> {
        let _ = (from, bytes);
        Err(ReplicaError::new("kho này không dùng danh sách thành viên"))
    }

    /// Whether `peer` may still sync with this store under its roster
    /// (listed and not revoked). Checked again whenever the roster changes.
    fn peer_allowed(&self, peer: &NodeId) -> Result<(), ReplicaError> {
        let _ = peer;
        Ok(())
    }

    /// The receiver's intake of changes from `from`. Each change is named by
    /// the hash it was asked for (a body that is not that change never gets
    /// here: it ends the session), and is not verified yet: the replica
    /// verifies it ([`SignedChange::verify`]: encoding, signature, actor),
    /// admits it by its own rules, and stores it — storing a known hash is a
    /// no-op — or refuses it and lists it in the report. In one transaction
    /// with that, if `pulled_to` is given, it sets the checkpoint for
    /// `from.node` to `(from.epoch, pulled_to)`. The checkpoint never runs
    /// ahead of the stored changes.
    fn commit(
        &mut self,
        from: &PeerStore,
        changes: Vec<SignedChange>,
        pulled_to: Option<u64>,
    ) -> Result<ApplyReport, ReplicaError>;
}
