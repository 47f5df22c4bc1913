//! The SQLite store as the sync engine's [`Replica`].

use danvan_model::{NodeId, SignedChange};
use danvan_proto::{Checkpoint, CommitReport, FeedEntry, PeerStore, Replica, ReplicaError};
use danvan_store::Store;

/// Borrows a store for one step of a sync session.
pub(crate) struct StoreReplica<'a> {
    store: &'a mut Store,
    /// This node's read scope when the session began (see `Scope::key`):
    /// checkpoints are stored under it, so that when a roster received
    /// during the session widens the scope, the next session pulls from 0.
    scope_key: &'a str,
}

impl<'a> StoreReplica<'a> {
    pub(crate) fn new(store: &'a mut Store, scope_key: &'a str) -> StoreReplica<'a> {
        StoreReplica { store, scope_key }
    }
}

/// This node's read-scope key under the roster it holds ("" without one).
pub(crate) fn scope_key(store: &Store) -> Result<String, danvan_store::StoreError> {
    Ok(store.own_scope()?.map(|s| s.key()).unwrap_or_default())
}

fn err(e: danvan_store::StoreError) -> ReplicaError {
    ReplicaError::new(e.to_string())
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
        // held: a peer is never offered what it may not read.
        let scope = match self.store.roster().map_err(err)? {
            Some(roster) => Some(roster.scope(&peer.node).ok_or_else(|| {
                ReplicaError::new(format!(
                    "nút {} không còn trong danh sách thành viên",
                    peer.node.short()
                ))
            })?),
            None => None,
        };
        let (entries, scanned) = self
            .store
            .feed(&peer.node, peer.epoch, since, limit, scope.as_ref())
            .map_err(err)?;
        Ok((
            entries
                .into_iter()
                .map(|e| FeedEntry {
                    seq: e.seq,
                    hash: e.hash,
                    body_len: e.body_len,
                })
                .collect(),
            scanned,
        ))
    }

    fn has_changes(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>, ReplicaError> {
        self.store.has_changes(hashes).map_err(err)
    }

    fn bodies(&self, hashes: &[[u8; 32]]) -> Result<Vec<SignedChange>, ReplicaError> {
        let bodies = self.store.bodies(hashes).map_err(err)?;
        if bodies.len() != hashes.len() {
            return Err(ReplicaError::new(
                "kho không còn giữ một thay đổi vừa chào mời",
            ));
        }
        Ok(bodies)
    }

    fn checkpoint(&self, peer: &NodeId) -> Result<Option<Checkpoint>, ReplicaError> {
        Ok(self
            .store
            .checkpoint(peer, self.scope_key)
            .map_err(err)?
            .map(|c| Checkpoint {
                epoch: c.epoch,
                seq: c.seq,
            }))
    }

    fn commit(
        &mut self,
        from: &PeerStore,
        changes: Vec<SignedChange>,
        pulled_to: Option<u64>,
    ) -> Result<CommitReport, ReplicaError> {
        let checkpoint = pulled_to.map(|seq| {
            (
                &from.node,
                danvan_store::Checkpoint {
                    epoch: from.epoch,
                    seq,
                },
                self.scope_key,
            )
        });
        let report = self
            .store
            .apply_changes(Some((&from.node, from.epoch)), &changes, checkpoint)
            .map_err(err)?;
        Ok(CommitReport {
            stored: report.new,
            known: report.duplicate,
            rejected: report
                .rejected
                .into_iter()
                .map(|r| (r.hash, r.author, r.reason))
                .collect(),
        })
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
