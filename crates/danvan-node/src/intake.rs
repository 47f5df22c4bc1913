//! The one path a received change takes, whether it came by sync or in a
//! bundle: verify (encoding, hash, signature, actor) → admit (the store's
//! transaction applies `danvan_model::admit_change` and the roster) → store
//! → audit every refusal. The sync engine hands its received batches here
//! through `Replica::commit` (see `replica.rs`), bundle import calls it
//! directly, and so does the `store_apply` fuzz target; no other code
//! stores a change from elsewhere.

use danvan_model::{
    ApplyReport, ChangeError, Checkpoint, DocId, NodeId, Rejection, SignedChange, VerifyingKeys,
};
use danvan_store::{Incoming, Parsed, Store, StoreError};

/// Where received changes come from.
#[derive(Clone, Copy, Debug)]
pub enum Via<'a> {
    /// A sync session with a peer's store.
    Sync {
        /// The peer node (authenticated by TLS).
        peer: &'a NodeId,
        /// The epoch of the peer's store.
        epoch: [u8; 8],
        /// The checkpoint to set in the same transaction, with the read
        /// scope key it was pulled under.
        checkpoint: Option<(Checkpoint, &'a str)>,
    },
    /// A bundle file.
    Bundle,
}

/// Verified documents handed from a verifying thread to the committing
/// one in one message: each hand-over may wake a sleeping thread, which on
/// a busy machine waits its turn for a core, so they go in groups.
const VERIFIED_DOCS_PER_MESSAGE: usize = 32;

/// Messages of verified documents waiting for the store at once, per
/// verifying thread: the bound of each one's channel.
const VERIFIED_MESSAGES_IN_FLIGHT: usize = 2;

/// Messages of verified documents waiting per verifying thread of a batch
/// verified ahead: enough for a whole batch of a cold pull (~130 records,
/// 5 messages, on two verifiers) to be verified before its commit, while
/// the verified documents of a message of thousands of changes stay
/// bounded (at most this many messages of [`VERIFIED_DOCS_PER_MESSAGE`]
/// documents per verifier until the commit takes them).
const AHEAD_MESSAGES_IN_FLIGHT: usize = 4;

/// Below this many changes the caller's thread verifies them itself: a
/// thread of its own is not worth starting.
const PIPELINE_CHANGES_MIN: usize = 64;

/// Most verifying threads one batch starts (one per core up to this).
const VERIFIERS_MAX: usize = 4;

/// Verifies, admits and stores received changes; every refused change is
/// logged in the audit log and listed in the report, the others are
/// stored (with the checkpoint, if any, in the same transaction).
///
/// Each body is parsed once, by the verification, and the parsed change is
/// what the store applies; a document whose first change is in the batch
/// is built whole where it is verified (`danvan_store::build_new`), so the
/// store only writes it. A batch of [`PIPELINE_CHANGES_MIN`] changes or
/// more is verified on threads of its own ([`Verification`]) while this
/// thread commits the groups in order as they come (at most
/// [`VERIFIED_MESSAGES_IN_FLIGHT`] waiting per verifier): the
/// verification, the building and the store's SQLite work run on every
/// core at once. The store commits only after the last group; its commit
/// leaves the copy of its WAL pages into the database file to the start of
/// the next such batch, where it runs beside the verifiers.
pub fn receive_changes(
    store: &mut Store,
    via: Via<'_>,
    changes: Vec<SignedChange>,
) -> Result<ApplyReport, StoreError> {
    receive_with(store, via, changes, None)
}

/// [`receive_changes`], taking the verification of these changes from
/// `ahead` when it was started on exactly them ([`Ahead::start`]): the same
/// checks, started earlier.
pub fn receive_with(
    store: &mut Store,
    via: Via<'_>,
    changes: Vec<SignedChange>,
    ahead: Option<Ahead>,
) -> Result<ApplyReport, StoreError> {
    if changes.len() < PIPELINE_CHANGES_MIN {
        let (source, checkpoint) = via.parts();
        let mut keys = VerifyingKeys::default();
        let verified = danvan_store::by_doc(changes)
            .into_iter()
            .flat_map(|doc| verify_doc(doc, &mut keys));
        return store.apply_incoming(source, verified, checkpoint);
    }
    let verification = match ahead {
        Some(ahead) if ahead.fingerprint == fingerprint(&changes) => {
            // The verification holds its own copy of these changes.
            drop(changes);
            AHEAD_BATCHES_USED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ahead.verification
        }
        // Started on other changes (the session refused that frame, or
        // names its changes otherwise): verify these now.
        _ => Verification::start(changes, VERIFIED_MESSAGES_IN_FLIGHT, None),
    };
    verification.commit(store, via)
}

impl Via<'_> {
    /// The store's view of where changes come from: the source store and
    /// the checkpoint to set.
    #[allow(clippy::type_complexity)]
    fn parts(
        &self,
    ) -> (
        Option<(&NodeId, [u8; 8])>,
        Option<(&NodeId, Checkpoint, &str)>,
    ) {
        match *self {
            Via::Sync {
                peer,
                epoch,
                checkpoint,
            } => (
                Some((peer, epoch)),
                checkpoint.map(|(cp, scope)| (peer, cp, scope)),
            ),
            Via::Bundle => (None, None),
        }
    }
}

/// A batch of changes being verified on threads of its own: one per core
/// (at most [`VERIFIERS_MAX`]), each taking every n-th group of
/// [`VERIFIED_DOCS_PER_MESSAGE`] documents; [`Verification::commit`] stores
/// the groups in order as they come.
struct Verification {
    /// Groups in the batch.
    count: usize,
    /// Verifier `v` sends groups v, v + n, v + 2n, … on `receivers[v]`.
    receivers: Vec<std::sync::mpsc::Receiver<Vec<Incoming>>>,
    /// For a batch verified ahead: its place, held until it is committed.
    _slot: Option<AheadSlot>,
}

impl Verification {
    /// Starts verifying `changes`, at most `in_flight` verified groups
    /// waiting per verifier for the store.
    fn start(
        changes: Vec<SignedChange>,
        in_flight: usize,
        slot: Option<AheadSlot>,
    ) -> Verification {
        let mut groups: Vec<Vec<(DocId, Vec<SignedChange>)>> = Vec::new();
        let mut docs = danvan_store::by_doc(changes).into_iter().peekable();
        while docs.peek().is_some() {
            groups.push(docs.by_ref().take(VERIFIED_DOCS_PER_MESSAGE).collect());
        }
        let verifiers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, VERIFIERS_MAX)
            .min(groups.len())
            .max(1);
        let count = groups.len();
        let mut shares: Vec<Vec<_>> = (0..verifiers).map(|_| Vec::new()).collect();
        for (i, group) in groups.into_iter().enumerate() {
            shares[i % verifiers].push(group);
        }
        let mut receivers = Vec::with_capacity(verifiers);
        for share in shares {
            let (sender, receiver) = std::sync::mpsc::sync_channel(in_flight.max(1));
            receivers.push(receiver);
            std::thread::Builder::new()
                .name("danvan-verify".into())
                .spawn(move || {
                    let mut keys = VerifyingKeys::default();
                    for group in share {
                        let items: Vec<Incoming> = group
                            .into_iter()
                            .flat_map(|doc| verify_doc(doc, &mut keys))
                            .collect();
                        // The store stopped on an error, or the batch was
                        // dropped uncommitted: no need to verify the rest.
                        // (Unscoped, the thread may still finish the group
                        // it is on after the commit returned: it only
                        // reads its own changes.)
                        if sender.send(items).is_err() {
                            break;
                        }
                    }
                })
                // As `std::thread::spawn` would: a process that cannot
                // start a thread is out of resources.
                .expect("starting a verifying thread");
        }
        Verification {
            count,
            receivers,
            _slot: slot,
        }
    }

    /// Admits and stores the verified groups in order, in one transaction
    /// (with the checkpoint, if any).
    fn commit(self, store: &mut Store, via: Via<'_>) -> Result<ApplyReport, StoreError> {
        let (source, checkpoint) = via.parts();
        let Verification {
            count,
            receivers,
            _slot,
        } = self;
        let verifiers = receivers.len();
        // What the previous large batch's commit left in the WAL is copied
        // into the database file now, while the verifiers work on the
        // first groups (`danvan_store::Store::apply_incoming_deferred`).
        store.checkpoint_wal()?;
        let in_order = (0..count).flat_map(|i| {
            // A verifier never ends early (a panic reading a body is caught
            // and refuses that change); if one did, the batch must not be
            // committed short: this panic drops the transaction.
            receivers[i % verifiers]
                .recv()
                .expect("a verifying thread ended before its last group")
        });
        store.apply_incoming_deferred(source, in_order, checkpoint)
    }
}

/// A received batch whose verification started as soon as its frame
/// arrived, before the session asked for its commit: while the batch
/// before it is committed (its inserts, its WAL sync), this one's
/// signatures are checked and its documents built on the other core.
pub struct Ahead {
    /// [`fingerprint`] of the changes verified.
    fingerprint: [u8; 32],
    verification: Verification,
}

/// Batches verified ahead at once in this process, across all sessions: a
/// hub receiving from many peers at a time does not start threads for
/// each of their frames (beyond this, a batch is verified when committed,
/// as without a head start).
const AHEAD_BATCHES_MAX: usize = 2;

static AHEAD_BATCHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

static AHEAD_BATCHES_USED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many commits in this process took a verification started ahead:
/// for tests, which otherwise could not tell a head start taken from one
/// lost (the outcome is the same by design).
#[doc(hidden)]
pub fn ahead_batches_used() -> u64 {
    AHEAD_BATCHES_USED.load(std::sync::atomic::Ordering::Relaxed)
}

/// One of the [`AHEAD_BATCHES_MAX`] places, given back when dropped.
struct AheadSlot;

impl AheadSlot {
    fn take() -> Option<AheadSlot> {
        use std::sync::atomic::Ordering;
        AHEAD_BATCHES
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < AHEAD_BATCHES_MAX).then_some(n + 1)
            })
            .ok()
            .map(|_| AheadSlot)
    }
}

impl Drop for AheadSlot {
    fn drop(&mut self) {
        AHEAD_BATCHES.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// The verification of a frame's changes, being started.
pub struct AheadHandle(std::thread::JoinHandle<Option<Ahead>>);

impl AheadHandle {
    /// The verification, once started; `None` when the frame carried too
    /// few changes to verify ahead, or did not decode.
    pub fn wait(self) -> Option<Ahead> {
        // A thread that panicked only loses the head start.
        self.0.join().ok().flatten()
    }
}

impl Ahead {
    /// Starts verifying the changes a received frame carries, named as the
    /// session names them ([`danvan_proto::carried_changes`]), when there
    /// are enough to verify on threads of their own; `None` otherwise. The
    /// frame is read on a thread of its own, so the caller (the frame
    /// reader) is not held up.
    pub fn start(frame: &[u8]) -> Option<AheadHandle> {
        if !danvan_proto::carries_changes(frame) {
            return None;
        }
        let slot = AheadSlot::take()?;
        let frame = frame.to_vec();
        std::thread::Builder::new()
            .name("danvan-ahead".into())
            .spawn(move || {
                let changes = danvan_proto::carried_changes(&frame)?;
                if changes.len() < PIPELINE_CHANGES_MIN {
                    return None;
                }
                Some(Ahead {
                    fingerprint: fingerprint(&changes),
                    verification: Verification::start(
                        changes,
                        AHEAD_MESSAGES_IN_FLIGHT,
                        Some(slot),
                    ),
                })
            })
            // A thread that cannot start only loses the head start.
            .ok()
            .map(AheadHandle)
    }
}

/// A digest of everything the verification reads of a batch (each change's
/// hash, document, author, signature and body, in order): a verification
/// started ahead is used only for a commit of the very same changes. A body
/// enters by its length, its first 8 bytes and the hash the session named
/// it by, which is the SHA-256 of all the rest (`danvan_model::body_hash`;
/// a body that is not a plain change is hashed whole): hashing the bodies
/// again would only repeat that.
fn fingerprint(changes: &[SignedChange]) -> [u8; 32] {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    digest.update((changes.len() as u64).to_le_bytes());
    for change in changes {
        digest.update(change.hash);
        digest.update(change.doc.as_bytes());
        digest.update(change.author.as_bytes());
        digest.update(change.signature.unwrap_or([0; 64]));
        digest.update([u8::from(change.signature.is_some())]);
        digest.update((change.body.len() as u64).to_le_bytes());
        digest.update(&change.body[..change.body.len().min(8)]);
    }
    digest.finalize().into()
}

/// Verifies one document's received changes (encoding, hash, signature,
/// actor): the verified ones as one item for the store, with their parsed
/// bodies (and, for a change without dependencies, the document it would
/// create), each refused one as an item of its own. Authors' keys come
/// from `keys`, the verifying thread's for its batch.
fn verify_doc(
    (doc, changes): (DocId, Vec<SignedChange>),
    keys: &mut VerifyingKeys,
) -> Vec<Incoming> {
    let mut items = Vec::new();
    let mut verified = Vec::with_capacity(changes.len());
    // A change without its own signature is checked with the others of
    // its record in this batch: a signed change of its author must reach
    // it (`verify_group`, protocol 4). A panic while reading a body
    // refuses that change there; the key cache stays sound across one
    // (an entry is a pure function of its author).
    let verdicts = danvan_model::verify_group(&changes, keys);
    for (change, verdict) in changes.into_iter().zip(verdicts) {
        match verdict {
            Ok(verified_change) => verified.push(Parsed {
                signed: change,
                parsed: Ok(verified_change.change),
                creation: None,
                covered_by: verified_change.covered_by,
            }),
            Err(reason) => items.push(Incoming::Refused(Rejection {
                hash: change.hash,
                author: change.author,
                doc: change.doc,
                reason,
            })),
        }
    }
    // A document whose first change arrives here is most likely one the
    // store does not hold yet: built whole here, its projection included,
    // the store's thread only writes it (or, if the store holds it after
    // all, takes its changes one at a time).
    match verified.first() {
        None => {}
        Some(first) if first.parsed.as_ref().is_ok_and(|c| c.deps().is_empty()) => {
            items.push(danvan_store::build_new(doc, verified));
        }
        Some(_) => {
            // Taken one at a time: what a change without dependencies
            // would create is computed here, off the committing thread (it
            // reads only the change). A panic refuses nothing here: the
            // store computes it again, and refuses the change there.
            for item in &mut verified {
                if let Ok(parsed) = &item.parsed
                    && parsed.deps().is_empty()
                {
                    item.creation = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        danvan_model::prepare_creation(&item.signed, parsed)
                    }))
                    .ok();
                }
            }
            items.push(Incoming::Doc(doc, verified));
        }
    }
    items
}

/// Logs a body a sync session refused before any commit, for not being the
/// change asked for (forged or damaged at the peer): the session ends and
/// nothing of that message is stored, but the refusal is audited like any
/// other.
pub(crate) fn refuse_body(
    store: &mut Store,
    peer: &NodeId,
    hash: &[u8; 32],
    author: &NodeId,
    reason: &ChangeError,
) -> Result<(), StoreError> {
    store.audit_rejection(Some(peer), hash, author, None, reason)
}

/// Problems listed one by one by [`Node::verify_stored_changes`]; the count
/// covers them all.
const STORED_PROBLEMS_LISTED_MAX: usize = 100;

impl crate::Node {
    /// Verifies every stored change as a receiver would (encoding, hash,
    /// signature, actor) and against the size sync carries; quarantines
    /// each bad one so that sync never offers it, and returns the problems
    /// (empty when all are sound). For `check`.
    pub fn verify_stored_changes(
        &mut self,
        total: u64,
        progress: crate::OnProgress<'_>,
    ) -> Result<Vec<String>, crate::NodeError> {
        let mut bad = Vec::new();
        let mut done = 0u64;
        // (record, actor, seq) → hash: two different changes under one key
        // mean a data directory was copied and both copies wrote.
        let mut by_actor_seq = std::collections::HashMap::new();
        let mut problems = Vec::new();
        // Changes held without their own signature, by record: checked
        // after the pass with their record's history, where a signed change
        // of their author must reach them (`verify_group`).
        let mut covered: std::collections::BTreeMap<DocId, std::collections::HashSet<[u8; 32]>> =
            Default::default();
        let mut note_seq = |doc: DocId,
                            parsed: &automerge::Change,
                            hash: [u8; 32],
                            problems: &mut Vec<String>| {
            let key = (doc, parsed.actor_id().to_bytes().to_vec(), parsed.seq());
            if let Some(other) = by_actor_seq.insert(key, hash)
                && problems.len() < STORED_PROBLEMS_LISTED_MAX
            {
                problems.push(format!(
                    "hồ sơ {}: hai thay đổi khác nhau ({} và {}) cùng tác nhân và số thứ tự {}: thư mục dữ liệu của người ký đã bị sao chép và cả hai bản cùng ghi — sửa: mở mỗi bản sao bằng bản danvan này (nó tự đổi epoch), rồi ghi lại trên một bản nội dung của thay đổi bị từ chối",
                    &doc.to_string()[..8],
                    hex12(&other),
                    hex12(&hash),
                    parsed.seq()
                ));
            }
        };
        self.store().for_each_change(|stored| {
            let change = &stored.change;
            done += 1;
            if crate::progress::due(done, total.max(done), 2_000) {
                progress(&crate::WorkProgress {
                    work: crate::Work::Check,
                    step: "Kiểm tra thay đổi",
                    item: "thay đổi",
                    done,
                    total: total.max(done),
                });
            }
            let verdict = if change.body.len() > danvan_model::CHANGE_BYTES_MAX {
                Err(format!(
                    "dài {} byte, vượt giới hạn {} byte mà đồng bộ mang được",
                    change.body.len(),
                    danvan_model::CHANGE_BYTES_MAX
                ))
            } else if change.signature.is_none() {
                covered.entry(change.doc).or_default().insert(change.hash);
                return Ok(());
            } else {
                change.verify().map_err(|e| e.to_string())
            };
            match verdict {
                Err(reason) => bad.push((change.hash, change.doc, reason)),
                Ok(parsed) => note_seq(change.doc, &parsed, change.hash, &mut problems),
            }
            Ok(())
        })?;
        let mut keys = danvan_model::VerifyingKeys::default();
        for (doc, hashes) in covered {
            let history: Vec<SignedChange> = self
                .store()
                .doc_changes(&doc)?
                .into_iter()
                .map(|s| s.change)
                .collect();
            let verdicts = danvan_model::verify_group(&history, &mut keys);
            for (change, verdict) in history.iter().zip(verdicts) {
                if !hashes.contains(&change.hash) {
                    continue;
                }
                match verdict {
                    Err(reason) => bad.push((change.hash, doc, reason.to_string())),
                    Ok(v) => note_seq(doc, &v.change, change.hash, &mut problems),
                }
            }
        }
        for (hash, doc, reason) in &bad {
            let newly = self
                .store_mut()
                .quarantine(hash, reason, crate::node::now_ms())?;
            if problems.len() < STORED_PROBLEMS_LISTED_MAX {
                problems.push(format!(
                    "thay đổi {} của hồ sơ {}: {reason} — {}",
                    hex12(hash),
                    &doc.to_string()[..8],
                    if newly {
                        "đã cách ly: không gửi đi khi đồng bộ nữa"
                    } else {
                        "đang cách ly: không gửi đi khi đồng bộ"
                    }
                ));
            }
        }
        if problems.len() >= STORED_PROBLEMS_LISTED_MAX {
            problems.push(format!(
                "… và có thể còn lỗi khác: {} thay đổi hỏng tất cả (đã cách ly)",
                bad.len()
            ));
        }
        Ok(problems)
    }
}

/// The first 12 hex digits of a hash, as messages show it.
fn hex12(hash: &[u8; 32]) -> String {
    hash[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field the verification reads moves the fingerprint: a
    /// verification started ahead is never taken for changes that differ
    /// in any of them.
    #[test]
    fn a_fingerprint_covers_every_field_the_verification_reads() {
        let change = SignedChange {
            hash: [1; 32],
            doc: DocId::from_bytes([2; 16]),
            author: NodeId::from_bytes([3; 32]),
            signature: Some([4; 64]),
            body: (0..40).collect(),
        };
        let batch = vec![change.clone(), change.clone()];
        let base = fingerprint(&batch);
        assert_eq!(base, fingerprint(&batch.clone()));
        let altered: [fn(&mut SignedChange); 8] = [
            |c| c.hash[31] ^= 1,
            |c| c.doc = DocId::from_bytes([9; 16]),
            |c| c.author = NodeId::from_bytes([9; 32]),
            |c| c.signature.as_mut().expect("signed")[63] ^= 1,
            |c| c.signature = None,
            |c| c.signature = Some([0; 64]),
            |c| c.body[5] ^= 1,
            |c| c.body.push(0),
        ];
        for alter in altered {
            let mut other = batch.clone();
            alter(&mut other[1]);
            assert_ne!(fingerprint(&other), base);
        }
        assert_ne!(fingerprint(&batch[..1]), base, "one change fewer");
    }
}
