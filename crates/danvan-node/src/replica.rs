//! The SQLite store as the sync engine's [`Replica`].

use danvan_model::{ApplyReport, Checkpoint, FeedEntry};
use danvan_model::{NodeId, SignedChange};
use danvan_proto::{PeerStore, Replica, ReplicaError};
use danvan_store::Store;

use crate::intake::{Ahead, AheadHandle, Via, receive_with};

/// Borrows a store for one step of a sync session.
pub(crate) struct StoreReplica<'a> {
    store: &'a mut Store,
    /// This node's read scope when the session began (see `Scope::key`):
    /// checkpoints are stored under it, so that when a roster received
    /// during the session widens the scope, the next session pulls from 0.
    scope_key: &'a str,
    /// The verification of the frame being handled, if its reader started
    /// one (`intake::Ahead`): used by the commit of that frame's changes.
    ahead: Option<AheadHandle>,
}

impl<'a> StoreReplica<'a> {
    pub(crate) fn new(store: &'a mut Store, scope_key: &'a str) -> StoreReplica<'a> {
        StoreReplica {
            store,
            scope_key,
            ahead: None,
        }
    }

    /// This replica while the session handles a frame whose changes are
    /// being verified already by `ahead`.
    pub(crate) fn with_ahead(mut self, ahead: Option<AheadHandle>) -> StoreReplica<'a> {
        self.ahead = ahead;
        self
    }

    /// The verification started ahead for the frame being handled, once
    /// (a frame's changes are committed at most once).
    fn take_ahead(&mut self) -> Option<Ahead> {
        self.ahead.take()?.wait()
    }
}

/// This node's read-scope key under the roster it holds ("" without one).
pub(crate) fn scope_key(store: &Store) -> Result<String, danvan_store::StoreError> {
    Ok(store.own_scope()?.map(|s| s.key()).unwrap_or_default())
}

/// Keeps the store's error typed across the sync engine, so that a full
/// disk during sync is still a `DiskFull` when it reaches the CLI.
fn err(e: danvan_store::StoreError) -> ReplicaError {
    ReplicaError::from_store(e)
}

impl Replica for StoreReplica<'_> {
    fn epoch(&self) -> [u8; 8] {
        self.store.epoch()
    }

    fn latest_seq(&self) -> u64 {
        // A read error here shows again, with its message, at the next store
        // call of the session; 0 only makes the peer offer hashes it may
        // already hold.
        self.store.latest_seq().unwrap_or(0)
    }

    fn feed(
        &self,
        peer: &PeerStore,
        since: u64,
        limit: usize,
    ) -> Result<(Vec<FeedEntry>, u64), ReplicaError> {
        // Read scope is enforced here, by the sender, with the newest roster
        // held and the unit changes in force today: a peer is never offered
        // what it may not read.
        let scope = match self.store.roster().map_err(err)? {
            Some(roster) => Some(
                roster
                    .scope_on(&peer.node, danvan_store::today())
                    .ok_or_else(|| {
                        ReplicaError::new(format!(
                            "nút {} không còn trong danh sách thành viên",
                            peer.node.short()
                        ))
                    })?,
            ),
            None => None,
        };
        // What the peer's store is known to hold already (served to it
        // under an earlier scope): a widened scope lists only the rest.
        let held = match &scope {
            Some(_) => crate::served::held_by(self.store, peer).map_err(err)?,
            None => None,
        };
        self.store
            .feed(
                &peer.node,
                peer.epoch,
                since,
                limit,
                scope.as_ref(),
                held.as_ref().map(|(s, seq)| (s, *seq)),
            )
            .map_err(err)
    }

    fn has_changes(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>, ReplicaError> {
        self.store.has_changes(hashes).map_err(err)
    }

    fn held_unsigned(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>, ReplicaError> {
        self.store.held_unsigned(hashes).map_err(err)
    }

    fn bodies(&self, hashes: &[[u8; 32]]) -> Result<Vec<SignedChange>, ReplicaError> {
        let bodies = self.store.bodies(hashes).map_err(err)?;
        if bodies.len() != hashes.len() {
            return Err(ReplicaError::new(
                "kho không còn giữ một thay đổi vừa chào mời",
            ));
        }
        // A body that is not the change it was offered as would end the
        // peer's session at this batch, every time: it is caught here, and
        // the driver quarantines it (`sync.rs`), so the next session goes
        // on without it.
        for body in &bodies {
            if let Err(reason) = danvan_model::check_body(&body.hash, &body.body) {
                return Err(err(danvan_store::StoreError::Unsendable {
                    hash: body.hash,
                    reason: reason.to_string(),
                }));
            }
        }
        Ok(bodies)
    }

    fn checkpoint(&self, peer: &NodeId) -> Result<Option<Checkpoint>, ReplicaError> {
        self.store.checkpoint(peer, self.scope_key).map_err(err)
    }

    fn commit(
        &mut self,
        from: &PeerStore,
        changes: Vec<SignedChange>,
        pulled_to: Option<u64>,
    ) -> Result<ApplyReport, ReplicaError> {
        let via = Via::Sync {
            peer: &from.node,
            epoch: from.epoch,
            checkpoint: pulled_to.map(|seq| {
                (
                    Checkpoint {
                        epoch: from.epoch,
                        seq,
                    },
                    self.scope_key,
                )
            }),
        };
        let ahead = if changes.is_empty() {
            None
        } else {
            self.take_ahead()
        };
        receive_with(self.store, via, changes, ahead).map_err(err)
    }

    fn roster_version(&self) -> u64 {
        self.store.roster_version().unwrap_or(0)
    }

    fn roster(&self) -> Option<Vec<u8>> {
        self.store
            .roster()
            .ok()
            .flatten()
            .map(|r| r.bytes().to_vec())
    }

    fn install_roster(&mut self, from: &NodeId, bytes: &[u8]) -> Result<u64, ReplicaError> {
        let roster = self.store.install_roster(bytes, Some(from)).map_err(err)?;
        Ok(roster.version())
    }

    fn peer_allowed(&self, peer: &NodeId) -> Result<(), ReplicaError> {
        match self.store.roster().map_err(err)? {
            Some(roster) => roster
                .check_peer(peer)
                .map(|_| ())
                .map_err(|d| ReplicaError::new(d.to_string())),
            None => Ok(()),
        }
    }
}
