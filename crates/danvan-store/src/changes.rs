//! The change log: received changes admitted and stored, the feed peers
//! pull from, bodies by hash, and per-peer checkpoints. A checkpoint is
//! only ever written in the transaction that stores what it covers.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use danvan_model::{
    ApplyReport, ChangeError, Checkpoint, DocHeader, DocId, DocScope, FeedEntry, NodeId, Rejection,
    Scope, SignedChange, admit_change_prepared,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::documents::{after_write, apply_received, load_doc};
use crate::error::StoreError;
use crate::fresh::{Taken, store_new};
use crate::projection::SearchRows;
use crate::wal::{self, Checkpointing};
use crate::{Store, access, hash32, signed_from_row};

/// What a caller hands [`Store::apply_incoming`], one item at a time, in
/// the order it decided (a receiver verifies on another thread and sends
/// these through a bounded channel while the store commits).
#[derive(Debug)]
pub enum Incoming {
    /// Received changes of one document, in the order received. A change
    /// already held is a no-op whatever its parse; the others are
    /// admitted, applied and stored, or refused and audited.
    Doc(DocId, Vec<Parsed>),
    /// A document the caller built whole ([`crate::build_new`]): stored
    /// from the build when the store holds nothing of it and the roster
    /// admits its changes, otherwise taken as a `Doc`.
    New(Box<crate::NewDoc>),
    /// A change the caller refused before the store (its signature, hash or
    /// actor): audited and reported, whether it is held or not.
    Refused(Rejection),
}

/// A received change with its body as parsed (once, by the caller) or why
/// it could not be.
#[derive(Debug)]
pub struct Parsed {
    /// The change as received.
    pub signed: SignedChange,
    /// Its body, parsed.
    pub parsed: Result<automerge::Change, ChangeError>,
    /// For a change without dependencies, what it makes as a document's
    /// first (`danvan_model::prepare_creation`), if the caller computed it:
    /// used when the change must create its document.
    pub creation: Option<Result<danvan_model::Admitted, ChangeError>>,
    /// For a change received without a signature: the signed change of the
    /// same message whose history covers it (`danvan_model::verify_group`).
    pub covered_by: Option<[u8; 32]>,
}

/// Changes grouped by document, in document order; each group in the order
/// received (the order [`Store::apply_changes`] applies them in).
pub fn by_doc(
    changes: impl IntoIterator<Item = SignedChange>,
) -> BTreeMap<DocId, Vec<SignedChange>> {
    let mut by_doc: BTreeMap<DocId, Vec<SignedChange>> = BTreeMap::new();
    for change in changes {
        by_doc.entry(change.doc).or_default().push(change);
    }
    by_doc
}

/// The columns a feed reads of a change and its record's header.
const FEED_SELECT: &str =
    "SELECT c.seq, c.hash, length(c.body), c.author, c.actor_epoch, c.source, c.source_epoch,
        d.kind, d.unit, d.project,
        EXISTS (SELECT 1 FROM quarantine q WHERE q.hash = c.hash),
        CASE WHEN length(c.signature) = 0
             THEN coalesce((SELECT h.seq FROM changes h WHERE h.hash = c.covered_by), -1) END
 FROM changes c LEFT JOIN documents d ON d.doc = c.doc";

/// The `feed_readers` reader of tasks, which every role reads (schema V7).
const TASK_READER: &str = "*";

/// What a feed skips for one peer (see [`Store::feed`]).
struct FeedFilter<'a> {
    peer: &'a [u8],
    epoch: &'a [u8],
    scope: Option<&'a Scope>,
    held: Option<(&'a Scope, u64)>,
}

impl FeedFilter<'_> {
    /// The entry of a [`FEED_SELECT`] row, or `None` when the peer is not
    /// offered it.
    fn entry(&self, r: &rusqlite::Row<'_>) -> Result<Option<FeedEntry>, StoreError> {
        let seq: i64 = r.get(0)?;
        // A change that cannot be sent is never offered: larger than sync
        // carries (stored by an older build), or quarantined.
        let body_len: i64 = r.get(2)?;
        let quarantined: bool = r.get(10)?;
        if body_len as usize > danvan_model::CHANGE_BYTES_MAX || quarantined {
            return Ok(None);
        }
        let author: Vec<u8> = r.get(3)?;
        let actor_epoch: Vec<u8> = r.get(4)?;
        if author == self.peer && actor_epoch == self.epoch {
            return Ok(None);
        }
        let source: Option<Vec<u8>> = r.get(5)?;
        let source_epoch: Option<Vec<u8>> = r.get(6)?;
        if source.as_deref() == Some(self.peer) && source_epoch.as_deref() == Some(self.epoch) {
            return Ok(None);
        }
        let held_here = self.held.filter(|(_, upto)| seq as u64 <= *upto);
        if self.scope.is_some() || held_here.is_some() {
            let kind: Option<String> = r.get(7)?;
            let unit: Option<String> = r.get(8)?;
            let project: Option<String> = r.get(9)?;
            let readable = |scope: &Scope| match (&kind, &unit) {
                (Some(kind), Some(unit)) => scope.may_read(&danvan_model::DocScope {
                    kind,
                    unit,
                    project: project.as_deref(),
                }),
                // A document without a readable header yet: not offered.
                _ => false,
            };
            if self.scope.is_some_and(|scope| !readable(scope)) {
                return Ok(None);
            }
            if held_here.is_some_and(|(old, _)| readable(old)) {
                return Ok(None);
            }
        }
        // A change held without its own signature: the seq of the one
        // covering it (gone: u64::MAX, which no batch reaches).
        let proof_seq: Option<i64> = r.get(11)?;
        Ok(Some(FeedEntry {
            seq: seq as u64,
            hash: hash32(r.get(1)?)?,
            body_len: body_len as u32,
            proof_seq: proof_seq.map(|p| u64::try_from(p).unwrap_or(u64::MAX)),
        }))
    }
}

/// A change as stored, with its local sequence number.
#[derive(Clone, Debug)]
pub struct StoredChange {
    /// Local sequence number.
    pub seq: u64,
    /// The signed change.
    pub change: SignedChange,
}

impl Store {
    /// The highest seq of the change log (0 when empty).
    pub fn latest_seq(&self) -> Result<u64, StoreError> {
        // A change set aside (see `revocation.rs`) keeps its place in the
        // sequence: a peer's checkpoint may lie past the last one held.
        let seq: Option<i64> = self.conn.query_row(
            "SELECT MAX(m) FROM (SELECT MAX(seq) AS m FROM changes
                                 UNION ALL SELECT MAX(seq) FROM set_aside)",
            [],
            |r| r.get(0),
        )?;
        Ok(seq.unwrap_or(0) as u64)
    }

    /// Stores changes from elsewhere (a peer or a bundle) whose signatures
    /// the caller verified: each is admitted only if its dependencies are
    /// held, it keeps its record's header, and the roster lets its signer
    /// write that record (and lets this node read it). Admitted changes are
    /// merged into their documents and projections and, if given, the
    /// checkpoint for a peer is set — all in one transaction, so a checkpoint
    /// never runs ahead of what is stored. Refused changes are not stored;
    /// each is returned and logged in the audit log with its reason.
    pub fn apply_changes(
        &mut self,
        source: Option<(&NodeId, [u8; 8])>,
        changes: &[SignedChange],
        checkpoint: Option<(&NodeId, Checkpoint, &str)>,
    ) -> Result<ApplyReport, StoreError> {
        let docs = by_doc(changes.iter().cloned())
            .into_iter()
            .map(|(doc, list)| {
                Incoming::Doc(doc, list.into_iter().map(|c| parse(c, None)).collect())
            });
        self.apply_incoming(source, docs, checkpoint)
    }

    /// [`Store::apply_changes`] for changes the caller already parsed (and
    /// verified), handed over one document at a time as `incoming` yields
    /// them: every item goes into one transaction, committed (with the
    /// checkpoint) only once `incoming` has ended, so a caller that
    /// produces the items on another thread overlaps its work with this
    /// one's. Each document's changes are applied and projected together.
    pub fn apply_incoming(
        &mut self,
        source: Option<(&NodeId, [u8; 8])>,
        incoming: impl IntoIterator<Item = Incoming>,
        checkpoint: Option<(&NodeId, Checkpoint, &str)>,
    ) -> Result<ApplyReport, StoreError> {
        self.apply_incoming_with(source, incoming, checkpoint, Checkpointing::AtCommit)
    }

    /// [`Store::apply_incoming`], its commit checkpointing as `checkpointing` says.
    pub(crate) fn apply_incoming_with(
        &mut self,
        source: Option<(&NodeId, [u8; 8])>,
        incoming: impl IntoIterator<Item = Incoming>,
        checkpoint: Option<(&NodeId, Checkpoint, &str)>,
        checkpointing: Checkpointing,
    ) -> Result<ApplyReport, StoreError> {
        let roster = self.roster()?;
        let own = self.own_scope()?;
        // Both checks resolve units through the changes in force today.
        let today = crate::today();
        // The roster's write check for the signer and this node's read
        // scope: the policy every admitted change passes.
        let allow = |signed: &SignedChange, scope: &DocScope<'_>| {
            if let Some(roster) = &roster {
                roster
                    .check_write_on(&signed.author, &signed.hash, scope, today)
                    .map_err(|d| ChangeError::Denied(d.to_string()))?;
            }
            match &own {
                Some(own) if !own.may_read(scope) => Err(ChangeError::Denied(
                    "hồ sơ ngoài phạm vi đọc của nút nhận".into(),
                )),
                _ => Ok(()),
            }
        };
        let tx = self.conn.transaction()?;
        let mut report = ApplyReport::default();
        let mut seen = HashSet::new();
        let mut search = SearchRows::default();
        for item in incoming {
            let (doc, changes) = match item {
                // A copy without its signature of a change held already
                // (asked for again in case the peer held the signature):
                // it brings nothing and forges nothing.
                Incoming::Refused(rejection)
                    if matches!(rejection.reason, ChangeError::Uncovered(_))
                        && tx
                            .prepare_cached("SELECT 1 FROM changes WHERE hash = ?1")?
                            .exists(params![rejection.hash.to_vec()])? =>
                {
                    report.duplicate += 1;
                    continue;
                }
                Incoming::Refused(rejection) => {
                    access::audit_rejection(
                        &tx,
                        source.map(|s| s.0),
                        &rejection.hash,
                        &rejection.author,
                        Some(&rejection.doc),
                        &rejection.reason,
                    )?;
                    report.rejected.push(rejection);
                    continue;
                }
                Incoming::Doc(doc, changes) => (doc, changes),
                Incoming::New(new) => {
                    match store_new(
                        &tx,
                        *new,
                        &mut seen,
                        source,
                        allow,
                        &mut report,
                        &mut search,
                    )? {
                        Taken::Stored => continue,
                        Taken::Declined(doc, changes) => (doc, changes),
                    }
                }
            };
            let mut list = Vec::with_capacity(changes.len());
            {
                // Whether a change is held, and if so whether without its
                // own signature: one lookup per change.
                let mut held =
                    tx.prepare_cached("SELECT length(signature) = 0 FROM changes WHERE hash = ?1")?;
                // A change held without its own signature takes it from a
                // verified copy that carries one: a hub that first got it
                // from a node holding it so can serve it to older peers
                // once its author (or anyone holding the signature) syncs.
                let mut signs = tx.prepare_cached(
                    "UPDATE changes SET signature = ?2, covered_by = NULL WHERE hash = ?1",
                )?;
                for change in changes {
                    let hash = change.signed.hash;
                    let unsigned: Option<bool> = held
                        .query_row(params![hash.to_vec()], |row| row.get(0))
                        .optional()?;
                    // New, unless held or already met in this batch (whose
                    // first copy is not written yet).
                    if seen.insert(hash) && unsigned.is_none() {
                        list.push(change);
                        continue;
                    }
                    report.duplicate += 1;
                    if let (Some(true), Some(signature), Ok(_)) =
                        (unsigned, change.signed.signature, &change.parsed)
                    {
                        signs.execute(params![hash.to_vec(), signature.to_vec()])?;
                    }
                }
            }
            if list.is_empty() {
                continue;
            }
            let mut automerge = load_doc(&tx, &doc)?.unwrap_or_default();
            let mut header = DocHeader::of(&automerge);
            let mut stored = 0;
            for Parsed {
                signed,
                parsed,
                creation,
                covered_by,
            } in list
            {
                let signed = &signed;
                let verdict = parsed.and_then(|parsed| {
                    let admitted = admit_change_prepared(
                        &automerge,
                        header.as_ref(),
                        signed,
                        &parsed,
                        creation,
                        |scope| allow(signed, scope),
                    )?;
                    Ok((parsed, admitted))
                });
                let verdict = match verdict {
                    Ok((parsed, admitted)) => {
                        let epoch = actor_epoch(&parsed)?;
                        match admitted.created {
                            // A creation was applied to a new document already.
                            Some(created) => {
                                automerge = created;
                                Ok((epoch, admitted.header))
                            }
                            None => apply_received(&mut automerge, parsed, &doc)?
                                .map(|()| (epoch, admitted.header)),
                        }
                    }
                    Err(reason) => Err(reason),
                };
                match verdict {
                    Ok((epoch, admitted_header)) => {
                        insert_change(&tx, signed, covered_by, Some(epoch), source)?;
                        header = Some(admitted_header);
                        stored += 1;
                    }
                    Err(reason) => {
                        access::audit_rejection(
                            &tx,
                            source.map(|s| s.0),
                            &signed.hash,
                            &signed.author,
                            Some(&doc),
                            &reason,
                        )?;
                        report.rejected.push(Rejection {
                            hash: signed.hash,
                            author: signed.author,
                            doc,
                            reason,
                        });
                    }
                }
            }
            if stored > 0 {
                report.new += stored;
                report.documents += 1;
                after_write(
                    &tx,
                    &doc,
                    &automerge,
                    stored as i64,
                    None,
                    Some(&mut search),
                )?;
            }
        }
        search.write(&tx)?;
        if let Some((peer, cp, scope)) = checkpoint {
            set_checkpoint(&tx, peer, cp, scope)?;
        }
        let committed = wal::commit(tx, checkpointing);
        let restored = wal::restore(&self.conn, checkpointing);
        committed?;
        restored?;
        Ok(report)
    }

    /// Every change of one document, in log order.
    pub fn doc_changes(&self, doc: &DocId) -> Result<Vec<StoredChange>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, hash, doc, author, signature, body FROM changes WHERE doc = ?1 ORDER BY seq",
        )?;
        collect_stored(stmt.query(params![doc.as_bytes().to_vec()])?)
    }

    /// Changes after `since`, in log order, at most `limit`.
    pub fn changes_after(&self, since: u64, limit: usize) -> Result<Vec<StoredChange>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, hash, doc, author, signature, body FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        collect_stored(stmt.query(params![since as i64, limit as i64])?)
    }

    /// Feed entries after `since`, at most `limit`, skipping what the peer
    /// store `(peer, peer_epoch)` certainly holds: changes it made in that
    /// store life, and changes received from that same store life. Returns
    /// the entries and the highest seq looked at (skipped entries still count).
    ///
    /// With a `scope` (the peer's, per the roster), changes of records the
    /// peer may not read are skipped too: it is never offered their hashes.
    /// With `held` (a scope and a seq: every entry up to that seq readable
    /// under that scope is known to be in the peer's store), those are
    /// skipped as well, so a peer whose scope widened is offered only what
    /// became readable below that seq.
    ///
    /// A scope of some units is served from the `feed_readers` index: the
    /// cost follows what the peer may read, not the whole log (a commune's
    /// officer at a province hub). Only the hub's own kind of scope (every
    /// unit) walks the log.
    pub fn feed(
        &self,
        peer: &NodeId,
        peer_epoch: [u8; 8],
        since: u64,
        limit: usize,
        scope: Option<&Scope>,
        held: Option<(&Scope, u64)>,
    ) -> Result<(Vec<FeedEntry>, u64), StoreError> {
        let filter = FeedFilter {
            peer: peer.as_bytes(),
            epoch: &peer_epoch,
            scope,
            held,
        };
        match scope.and_then(Scope::read_units) {
            Some(units) => self.feed_by_reader(units, since, limit, &filter),
            None => self.feed_scan(since, limit, &filter),
        }
    }

    /// The feed read in log order, every row looked at.
    fn feed_scan(
        &self,
        since: u64,
        limit: usize,
        filter: &FeedFilter<'_>,
    ) -> Result<(Vec<FeedEntry>, u64), StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{FEED_SELECT} WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2"
        ))?;
        let mut rows = stmt.query(params![since as i64, limit as i64])?;
        let mut out = Vec::new();
        let mut scanned = since;
        let mut rows_seen = 0;
        while let Some(r) = rows.next()? {
            rows_seen += 1;
            let seq: i64 = r.get(0)?;
            scanned = seq as u64;
            out.extend(filter.entry(r)?);
        }
        if rows_seen < limit {
            // The end of the log: changes set aside after the last one held
            // are passed over too, so the feed reaches `latest_seq`.
            let aside: Option<i64> = self
                .conn
                .prepare_cached("SELECT MAX(seq) FROM set_aside")?
                .query_row([], |r| r.get(0))?;
            if let Some(aside) = aside {
                scanned = scanned.max(aside as u64);
            }
        }
        Ok((out, scanned))
    }

    /// The feed of a scope of `units` (and the tasks every role reads),
    /// read from `feed_readers`: the next `limit` seqs among its readers'
    /// entries, then those rows, filtered as the scan filters them. The
    /// end of the log is read first, so a change committed meanwhile is
    /// past it and served next time.
    fn feed_by_reader(
        &self,
        units: &BTreeSet<String>,
        since: u64,
        limit: usize,
        filter: &FeedFilter<'_>,
    ) -> Result<(Vec<FeedEntry>, u64), StoreError> {
        let latest = self.latest_seq()?;
        if since >= latest {
            return Ok((Vec::new(), since));
        }
        let mut seqs: Vec<i64> = Vec::new();
        let mut by_reader = self.conn.prepare_cached(
            "SELECT seq FROM feed_readers WHERE reader = ?1 AND seq > ?2 AND seq <= ?3
             ORDER BY seq LIMIT ?4",
        )?;
        for reader in units.iter().map(String::as_str).chain([TASK_READER]) {
            let rows = by_reader.query_map(
                params![reader, since as i64, latest as i64, limit as i64],
                |r| r.get(0),
            )?;
            for seq in rows {
                seqs.push(seq?);
            }
        }
        seqs.sort_unstable();
        seqs.dedup();
        seqs.truncate(limit);
        let scanned = match seqs.last() {
            Some(&last) if seqs.len() == limit => last as u64,
            _ => latest,
        };
        let mut row = self
            .conn
            .prepare_cached(&format!("{FEED_SELECT} WHERE c.seq = ?1"))?;
        let mut out = Vec::new();
        for seq in seqs {
            let mut rows = row.query(params![seq])?;
            // An entry whose change was set aside since has no row: skipped.
            if let Some(r) = rows.next()? {
                out.extend(filter.entry(r)?);
            }
        }
        Ok((out, scanned))
    }

    /// Calls `f` with every stored change, in log order, one at a time
    /// (for `check`: memory stays flat whatever the store's size).
    pub fn for_each_change(
        &self,
        mut f: impl FnMut(StoredChange) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, hash, doc, author, signature, body FROM changes ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            f(StoredChange {
                seq: seq as u64,
                change: signed_from_row(r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)?,
            })?;
        }
        Ok(())
    }

    /// Which of these hashes are stored.
    pub fn has_changes(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>, StoreError> {
        self.each_exists("SELECT 1 FROM changes WHERE hash = ?1", hashes)
    }

    /// For each hash, whether `sql` (naming it `?1`) finds a row.
    fn each_exists(&self, sql: &str, hashes: &[[u8; 32]]) -> Result<Vec<bool>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        hashes
            .iter()
            .map(|h| Ok(stmt.exists(params![h.to_vec()])?))
            .collect()
    }

    /// For each hash, whether the change is held without its own signature.
    pub fn held_unsigned(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>, StoreError> {
        self.each_exists(
            "SELECT 1 FROM changes WHERE hash = ?1 AND length(signature) = 0",
            hashes,
        )
    }

    /// The stored changes with these hashes (unknown hashes are skipped).
    pub fn bodies(&self, hashes: &[[u8; 32]]) -> Result<Vec<SignedChange>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT hash, doc, author, signature, body FROM changes WHERE hash = ?1",
        )?;
        let mut out = Vec::with_capacity(hashes.len());
        for h in hashes {
            let row = stmt
                .query_row(params![h.to_vec()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            if let Some((hash, doc, author, sig, body)) = row {
                out.push(signed_from_row(hash, doc, author, sig, body)?);
            }
        }
        Ok(out)
    }

    /// The checkpoint kept for a peer, if it was pulled under the read
    /// scope `scope` (see [`Scope::key`]; "" without a roster). Under another
    /// scope it is not used: what became readable lies below it.
    pub fn checkpoint(&self, peer: &NodeId, scope: &str) -> Result<Option<Checkpoint>, StoreError> {
        let row: Option<(Option<Vec<u8>>, i64, Option<String>)> = self
            .conn
            .query_row(
                "SELECT epoch, seq, scope FROM peers WHERE peer = ?1",
                params![peer.as_bytes().to_vec()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(match row {
            Some((Some(epoch), seq, held)) if held.as_deref().unwrap_or("") == scope => {
                Some(Checkpoint {
                    epoch: epoch
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("epoch của nút bạn sai độ dài".into()))?,
                    seq: seq as u64,
                })
            }
            _ => None,
        })
    }
}

/// A received change parsed here (its caller did not parse it).
pub(crate) fn parse(signed: SignedChange, covered_by: Option<[u8; 32]>) -> Parsed {
    let parsed = automerge::Change::try_from(signed.body.as_slice())
        .map_err(|e| ChangeError::Malformed(e.to_string()));
    Parsed {
        signed,
        parsed,
        creation: None,
        covered_by,
    }
}

fn collect_stored(mut rows: rusqlite::Rows<'_>) -> Result<Vec<StoredChange>, StoreError> {
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        out.push(StoredChange {
            seq: seq as u64,
            change: signed_from_row(r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)?,
        });
    }
    Ok(out)
}

/// Inserts one change; false if its hash was already stored.
pub(crate) fn insert_change(
    tx: &Connection,
    change: &SignedChange,
    covered_by: Option<[u8; 32]>,
    actor_epoch: Option<[u8; 8]>,
    source: Option<(&NodeId, [u8; 8])>,
) -> Result<bool, StoreError> {
    let actor_epoch = match actor_epoch {
        Some(e) => e,
        None => actor_epoch_of(&change.body)?,
    };
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO changes (hash, doc, author, signature, body, actor_epoch, source, source_epoch, covered_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let n = stmt.execute(params![
        change.hash.to_vec(),
        change.doc.as_bytes().to_vec(),
        change.author.as_bytes().to_vec(),
        // A change held without a signature of its own: an empty one,
        // and the change whose signature covers it.
        change.signature.map_or(Vec::new(), |s| s.to_vec()),
        change.body,
        actor_epoch.to_vec(),
        source.map(|s| s.0.as_bytes().to_vec()),
        source.map(|s| s.1.to_vec()),
        covered_by
            .filter(|_| change.signature.is_none())
            .map(|h| h.to_vec()),
    ])?;
    Ok(n == 1)
}

/// The epoch suffix of a change's actor id (see `NodeKey::actor`).
fn actor_epoch_of(body: &[u8]) -> Result<[u8; 8], StoreError> {
    let change = automerge::Change::try_from(body)
        .map_err(|e| StoreError::Corrupt(format!("thay đổi không đọc được: {e}")))?;
    actor_epoch(&change)
}

pub(crate) fn actor_epoch(change: &automerge::Change) -> Result<[u8; 8], StoreError> {
    let actor = change.actor_id().to_bytes();
    actor
        .get(32..)
        .and_then(|tail| <[u8; 8]>::try_from(tail).ok())
        .ok_or_else(|| {
            StoreError::Corrupt("tác nhân của thay đổi không theo dạng khóa nút + epoch".into())
        })
}

fn set_checkpoint(
    tx: &Transaction<'_>,
    peer: &NodeId,
    cp: Checkpoint,
    scope: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO peers (peer, epoch, seq, scope) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (peer) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq, scope = excluded.scope",
        params![peer.as_bytes().to_vec(), cp.epoch.to_vec(), cp.seq as i64, scope],
    )?;
    Ok(())
}
