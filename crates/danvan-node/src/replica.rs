//! The SQLite store as the sync engine's [`Replica`].

use danvan_model::{NodeId, SignedChange};
use danvan_proto::{Checkpoint, CommitReport, FeedEntry, PeerStore, Replica, ReplicaError};
use danvan_store::Store;

/// Borrows a store for one step of a sync session.
pub(crate) struct StoreReplica<'a>(pub(crate) &'a mut Store);

fn err(e: danvan_store::StoreError) -> ReplicaError {
    ReplicaError::new(e.to_string())
}

impl Replica for StoreReplica<'_> {
    fn epoch(&self) -> [u8; 8] {
        self.0.epoch()
    }

    fn latest_seq(&self) -> u64 {
        // A read error here shows again, with its message, at the next store
        // call of the session; 0 only makes the peer offer hashes it may
        // already hold.
        self.0.latest_seq().unwrap_or(0)
    }

    fn feed(
        &self,
        peer: &PeerStore,
        since: u64,
        limit: usize,
    ) -> Result<(Vec<FeedEntry>, u64), ReplicaError> {
        let (entries, scanned) = self
            .0
            .feed(&peer.node, peer.epoch, since, limit)
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
        self.0.has_changes(hashes).map_err(err)
    }

    fn bodies(&self, hashes: &[[u8; 32]]) -> Result<Vec<SignedChange>, ReplicaError> {
        let bodies = self.0.bodies(hashes).map_err(err)?;
        if bodies.len() != hashes.len() {
            return Err(ReplicaError::new(
                "kho không còn giữ một thay đổi vừa chào mời",
            ));
        }
        Ok(bodies)
    }

    fn checkpoint(&self, peer: &NodeId) -> Result<Option<Checkpoint>, ReplicaError> {
        Ok(self.0.checkpoint(peer).map_err(err)?.map(|c| Checkpoint {
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
            )
        });
        let report = self
            .0
            .apply_changes(Some((&from.node, from.epoch)), &changes, checkpoint)
            .map_err(err)?;
        Ok(CommitReport {
            stored: report.new,
            known: report.duplicate,
        })
    }
}
