//! An in-memory [`Replica`]: a change log, a hash index and checkpoints.
//!
//! Everything a commit stores is "durable": a simulated crash drops the
//! sessions (the only uncommitted state) and keeps the store. A restore from
//! backup replaces the store with an older clone under a new epoch.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use danvan_model::{DocId, EPOCH_LEN, NodeId, SignedChange};
use danvan_proto::{
    ApplyReport, Checkpoint, FeedEntry, PeerStore, Rejection, Replica, ReplicaError,
};

#[derive(Clone)]
struct LogEntry {
    change: SignedChange,
    /// The store epoch in the change's Automerge actor.
    actor_epoch: [u8; EPOCH_LEN],
    /// The peer store this change was pulled from (`None` = made here).
    origin: Option<PeerStore>,
    /// For a change held without its own signature: the change covering it.
    covered_by: Option<[u8; 32]>,
}

/// A store held in memory.
#[derive(Clone)]
pub struct MemReplica {
    epoch: [u8; EPOCH_LEN],
    /// The change feed; the entry at index `i` has seq `i + 1`.
    log: Vec<LogEntry>,
    by_hash: HashMap<[u8; 32], usize>,
    by_doc: BTreeMap<DocId, Vec<usize>>,
    checkpoints: BTreeMap<NodeId, Checkpoint>,
    /// Commits made, for tests that count transactions.
    commits: u64,
}

impl std::fmt::Debug for MemReplica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemReplica")
            .field("changes", &self.log.len())
            .field("checkpoints", &self.checkpoints.len())
            .finish()
    }
}

impl MemReplica {
    /// An empty store of `epoch`.
    pub fn new(epoch: [u8; EPOCH_LEN]) -> Self {
        MemReplica {
            epoch,
            log: Vec::new(),
            by_hash: HashMap::new(),
            by_doc: BTreeMap::new(),
            checkpoints: BTreeMap::new(),
            commits: 0,
        }
    }

    /// Stores a change made on this node. Returns false if already held.
    pub fn add_local(&mut self, change: SignedChange) -> bool {
        self.append(change, None, None)
    }

    /// How many changes are held without their own signature.
    pub fn covered_count(&self) -> usize {
        self.log
            .iter()
            .filter(|e| e.change.signature.is_none())
            .count()
    }

    /// Whether the store holds the change.
    pub fn contains(&self, hash: &[u8; 32]) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Number of changes held.
    pub fn len(&self) -> usize {
        self.log.len()
    }

    /// Whether the store holds no change.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// The hashes of all changes held.
    pub fn hashes(&self) -> BTreeSet<[u8; 32]> {
        self.by_hash.keys().copied().collect()
    }

    /// All changes in feed order.
    pub fn changes(&self) -> impl Iterator<Item = &SignedChange> {
        self.log.iter().map(|e| &e.change)
    }

    /// The changes of one document, in feed order.
    pub fn changes_of(&self, doc: &DocId) -> Vec<SignedChange> {
        self.by_doc
            .get(doc)
            .map(|idx| idx.iter().map(|&i| self.log[i].change.clone()).collect())
            .unwrap_or_default()
    }

    /// The documents that have changes here.
    pub fn docs(&self) -> Vec<DocId> {
        self.by_doc.keys().copied().collect()
    }

    /// The feed's changes up to and including `seq`.
    pub fn prefix(&self, seq: u64) -> impl Iterator<Item = &SignedChange> {
        self.log
            .iter()
            .take(usize::try_from(seq).unwrap_or(usize::MAX))
            .map(|e| &e.change)
    }

    /// All checkpoints held.
    pub fn checkpoints(&self) -> Vec<(NodeId, Checkpoint)> {
        self.checkpoints.iter().map(|(n, c)| (*n, *c)).collect()
    }

    /// Commits made through [`Replica::commit`].
    pub fn commit_count(&self) -> u64 {
        self.commits
    }

    /// This store as restored from a backup: same content, a new epoch.
    pub fn restored(&self, new_epoch: [u8; EPOCH_LEN]) -> MemReplica {
        let mut copy = self.clone();
        copy.epoch = new_epoch;
        copy
    }

    fn append(
        &mut self,
        change: SignedChange,
        origin: Option<PeerStore>,
        covered_by: Option<[u8; 32]>,
    ) -> bool {
        if self.by_hash.contains_key(&change.hash) {
            return false;
        }
        let actor_epoch = automerge::Change::try_from(change.body.as_slice())
            .ok()
            .and_then(|c| {
                c.actor_id()
                    .to_bytes()
                    .get(32..32 + EPOCH_LEN)?
                    .try_into()
                    .ok()
            })
            .unwrap_or([0; EPOCH_LEN]);
        let index = self.log.len();
        self.by_hash.insert(change.hash, index);
        self.by_doc.entry(change.doc).or_default().push(index);
        self.log.push(LogEntry {
            change,
            actor_epoch,
            origin,
            covered_by,
        });
        true
    }
}

impl Replica for MemReplica {
    fn epoch(&self) -> [u8; EPOCH_LEN] {
        self.epoch
    }

    fn latest_seq(&self) -> u64 {
        self.log.len() as u64
    }

    fn feed(
        &self,
        peer: &PeerStore,
        since: u64,
        limit: usize,
    ) -> Result<(Vec<FeedEntry>, u64), ReplicaError> {
        let mut entries = Vec::new();
        let mut scanned = since;
        for (i, entry) in self.log.iter().enumerate().skip(since as usize) {
            if entries.len() == limit {
                break;
            }
            let seq = i as u64 + 1;
            scanned = seq;
            let own = entry.change.author == peer.node && entry.actor_epoch == peer.epoch;
            let from_peer = entry.origin == Some(*peer);
            if own || from_peer {
                continue;
            }
            entries.push(FeedEntry {
                seq,
                hash: entry.change.hash,
                body_len: entry.change.body.len() as u32,
                proof_seq: entry.change.signature.is_none().then(|| {
                    entry
                        .covered_by
                        .and_then(|h| self.by_hash.get(&h))
                        .map_or(u64::MAX, |&i| i as u64 + 1)
                }),
            });
        }
        Ok((entries, scanned))
    }

    fn has_changes(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>, ReplicaError> {
        Ok(hashes.iter().map(|h| self.contains(h)).collect())
    }

    fn held_unsigned(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>, ReplicaError> {
        Ok(hashes
            .iter()
            .map(|h| {
                self.by_hash
                    .get(h)
                    .is_some_and(|&i| self.log[i].change.signature.is_none())
            })
            .collect())
    }

    fn bodies(&self, hashes: &[[u8; 32]]) -> Result<Vec<SignedChange>, ReplicaError> {
        hashes
            .iter()
            .map(|h| {
                self.by_hash
                    .get(h)
                    .map(|&i| self.log[i].change.clone())
                    .ok_or_else(|| ReplicaError::new("thiếu thay đổi trong kho"))
            })
            .collect()
    }

    fn checkpoint(&self, peer: &NodeId) -> Result<Option<Checkpoint>, ReplicaError> {
        Ok(self.checkpoints.get(peer).copied())
    }

    fn commit(
        &mut self,
        from: &PeerStore,
        changes: Vec<SignedChange>,
        pulled_to: Option<u64>,
    ) -> Result<ApplyReport, ReplicaError> {
        self.commits += 1;
        let mut report = ApplyReport::default();
        // The in-memory store holds no roster: verifying the changes is
        // all its intake checks — each record's together, as a change
        // without its own signature is checked with those covering it.
        let mut by_doc: BTreeMap<DocId, Vec<usize>> = BTreeMap::new();
        for (i, change) in changes.iter().enumerate() {
            by_doc.entry(change.doc).or_default().push(i);
        }
        let mut verdicts: Vec<Option<Result<Option<[u8; 32]>, danvan_model::ChangeError>>> =
            (0..changes.len()).map(|_| None).collect();
        let mut keys = danvan_model::VerifyingKeys::default();
        for indices in by_doc.values() {
            let group: Vec<SignedChange> = indices.iter().map(|&i| changes[i].clone()).collect();
            let results = danvan_model::verify_group(&group, &mut keys);
            for (&i, result) in indices.iter().zip(results) {
                verdicts[i] = Some(result.map(|v| v.covered_by));
            }
        }
        for (change, verdict) in changes.into_iter().zip(verdicts) {
            match verdict.expect("every change verified") {
                // A copy without its signature of a change held already.
                Err(danvan_model::ChangeError::Uncovered(_)) if self.contains(&change.hash) => {
                    report.duplicate += 1;
                }
                Err(reason) => report.rejected.push(Rejection {
                    hash: change.hash,
                    author: change.author,
                    doc: change.doc,
                    reason,
                }),
                Ok(covered_by) => {
                    let held = self.by_hash.get(&change.hash).copied();
                    if let (Some(i), Some(_)) = (held, change.signature) {
                        // A signed copy of a change held without one.
                        let entry = &mut self.log[i];
                        if entry.change.signature.is_none() {
                            entry.change.signature = change.signature;
                            entry.covered_by = None;
                        }
                    }
                    if self.append(change, Some(*from), covered_by) {
                        report.new += 1;
                    } else {
                        report.duplicate += 1;
                    }
                }
            }
        }
        if let Some(seq) = pulled_to {
            self.checkpoints.insert(
                from.node,
                Checkpoint {
                    epoch: from.epoch,
                    seq,
                },
            );
        }
        Ok(report)
    }
}
