//! Documents: local writes (one transaction per batch), loading a document
//! from its snapshot and later changes, and the snapshot refresh.

use automerge::{Automerge, ReadDoc};
use danvan_model::{ChangeError, DocId, SignedChange};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::changes::insert_change;
use crate::error::StoreError;
use crate::projection::{SearchRows, project, write_projection};
use crate::{SNAPSHOT_AFTER_CHANGES, Store};

/// A document written locally: its new changes and its state after them.
pub struct LocalWrite<'a> {
    /// The document.
    pub doc: DocId,
    /// The changes the write made, signed.
    pub changes: Vec<SignedChange>,
    /// The document after the write.
    pub automerge: &'a Automerge,
    /// The record as just written, when this write created the document:
    /// its projection is taken from it instead of reading the document back
    /// (a new document has no concurrent values).
    pub created: Option<&'a danvan_model::Record>,
}

impl Store {
    /// Loads a document: its snapshot plus the changes after it. `None` if
    /// no change of it is stored.
    pub fn load_doc(&self, doc: &DocId) -> Result<Option<Automerge>, StoreError> {
        load_doc(&self.conn, doc)
    }

    /// Commits locally made changes and the documents' new state, in one transaction.
    pub fn commit_local(&mut self, writes: &[LocalWrite<'_>]) -> Result<(), StoreError> {
        let mut batch = self.batch()?;
        for write in writes {
            batch.write(write)?;
        }
        batch.commit()
    }

    /// Starts a transaction for many local writes (bulk import): nothing of
    /// it is visible or durable until [`WriteBatch::commit`].
    pub fn batch(&mut self) -> Result<WriteBatch<'_>, StoreError> {
        let (epoch, me) = (self.epoch, self.me);
        Ok(WriteBatch(
            self.conn.transaction()?,
            epoch,
            me,
            SearchRows::default(),
        ))
    }
}

/// Local writes inside one transaction; dropped without commit, it rolls back.
/// The records' search rows are written at the commit ([`SearchRows`]).
pub struct WriteBatch<'a>(
    Transaction<'a>,
    [u8; 8],
    Option<danvan_model::NodeId>,
    SearchRows,
);

impl std::fmt::Debug for WriteBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteBatch")
    }
}

impl WriteBatch<'_> {
    /// Adds one document's new changes and state.
    pub fn write(&mut self, write: &LocalWrite<'_>) -> Result<(), StoreError> {
        let mut new = 0;
        for change in &write.changes {
            // The last guard of every local write (CLI, CSV, web): nothing
            // is stored that sync could not carry.
            if change.body.len() > danvan_model::CHANGE_BYTES_MAX {
                return Err(StoreError::ChangeTooLarge {
                    bytes: change.body.len(),
                    max: danvan_model::CHANGE_BYTES_MAX,
                });
            }
            new += insert_change(&self.0, change, None, Some(self.1), None)? as i64;
        }
        // A record marked for changes a revocation set aside here is
        // settled by the next local write to it (see `revocation.rs`).
        if let Some(me) = &self.2 {
            self.0
                .prepare_cached("DELETE FROM refusals WHERE doc = ?1 AND peer = ?2")?
                .execute(params![
                    write.doc.as_bytes().to_vec(),
                    me.as_bytes().to_vec()
                ])?;
        }
        after_write(
            &self.0,
            &write.doc,
            write.automerge,
            new,
            write.created,
            Some(&mut self.3),
        )
    }

    /// Commits durably.
    pub fn commit(self) -> Result<(), StoreError> {
        let WriteBatch(tx, _, _, search) = self;
        search.write(&tx)?;
        tx.commit()?;
        Ok(())
    }
}

pub(crate) fn load_doc(conn: &Connection, doc: &DocId) -> Result<Option<Automerge>, StoreError> {
    let key = doc.as_bytes().to_vec();
    let row: Option<(Option<Vec<u8>>, i64)> = conn
        .prepare_cached("SELECT snapshot, snapshot_seq FROM documents WHERE doc = ?1")?
        .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let known = row.is_some();
    let (mut automerge, after) = match row {
        Some((Some(snapshot), seq)) => (
            Automerge::load(&snapshot)
                .map_err(|e| StoreError::Corrupt(format!("ảnh chụp của hồ sơ {doc}: {e}")))?,
            seq,
        ),
        _ => (Automerge::new(), 0),
    };
    let mut stmt =
        conn.prepare_cached("SELECT body FROM changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq")?;
    let mut rows = stmt.query(params![key, after])?;
    let mut changes = Vec::new();
    while let Some(r) = rows.next()? {
        let body: Vec<u8> = r.get(0)?;
        changes.push(
            automerge::Change::try_from(body.as_slice())
                .map_err(|e| StoreError::Corrupt(format!("thay đổi của hồ sơ {doc}: {e}")))?,
        );
    }
    if !known && changes.is_empty() {
        return Ok(None);
    }
    apply_guarded(&mut automerge, changes, doc)?;
    Ok(Some(automerge))
}

/// Applies changes to a document, turning an Automerge panic into an error.
fn apply_caught(
    automerge: &mut Automerge,
    changes: Vec<automerge::Change>,
    doc: &DocId,
) -> Result<Result<(), automerge::AutomergeError>, StoreError> {
    // Automerge 0.12 panics on some sequences of well-formed, validly
    // signed changes (an actor missing from its table in `import_ops`; found
    // by fuzzing, see fuzz/regressions/store_apply/). A peer must not be able
    // to crash the node that way: the panic becomes an error, the batch that
    // brought the change is rolled back, and this document is dropped.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        automerge.apply_changes(changes)
    }))
    .map_err(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        StoreError::Corrupt(format!(
            "hồ sơ {doc}: Automerge không ghép được các thay đổi ({reason})"
        ))
    })
}

/// Applies changes to a document (see `apply_caught`); any Automerge error
/// is a damaged store.
pub(crate) fn apply_guarded(
    automerge: &mut Automerge,
    changes: Vec<automerge::Change>,
    doc: &DocId,
) -> Result<(), StoreError> {
    apply_caught(automerge, changes, doc)?
        .map_err(|e| StoreError::Corrupt(format!("hồ sơ {doc}: {e}")))
}

/// Applies one received, admitted change. A second change with an actor
/// and sequence number the document already holds (a copied data
/// directory) is refused on its own, so the rest of its batch is stored:
/// Automerge checks that before it applies anything.
pub(crate) fn apply_received(
    automerge: &mut Automerge,
    change: automerge::Change,
    doc: &DocId,
) -> Result<Result<(), ChangeError>, StoreError> {
    match apply_caught(automerge, vec![change], doc)? {
        Ok(()) => Ok(Ok(())),
        Err(automerge::AutomergeError::DuplicateSeqNumber(seq, _)) => {
            Ok(Err(ChangeError::DuplicateSeq(seq)))
        }
        Err(e) => Err(StoreError::Corrupt(format!("hồ sơ {doc}: {e}"))),
    }
}

/// Bookkeeping after `new` changes of a document were stored: the document
/// row, the snapshot when due, and the projection.
pub(crate) fn after_write(
    tx: &Connection,
    doc: &DocId,
    automerge: &Automerge,
    new: i64,
    created: Option<&danvan_model::Record>,
    search: Option<&mut SearchRows>,
) -> Result<(), StoreError> {
    let key = doc.as_bytes().to_vec();
    tx.prepare_cached(
        "INSERT INTO documents (doc, pending) VALUES (?1, ?2)
         ON CONFLICT (doc) DO UPDATE SET pending = pending + excluded.pending",
    )?
    .execute(params![key, new])?;
    let pending: i64 = tx
        .prepare_cached("SELECT pending FROM documents WHERE doc = ?1")?
        .query_row(params![key], |r| r.get(0))?;
    if snapshot_due(pending, automerge) {
        let max_seq: i64 = tx
            .prepare_cached("SELECT MAX(seq) FROM changes WHERE doc = ?1")?
            .query_row(params![key], |r| r.get(0))?;
        tx.prepare_cached(
            "UPDATE documents SET snapshot = ?2, snapshot_seq = ?3, pending = 0 WHERE doc = ?1",
        )?
        .execute(params![key, automerge.save(), max_seq])?;
    }
    match created {
        Some(record) => write_projection(tx, doc, record, 0, search)?,
        None => {
            project(tx, doc, automerge, search)?;
        }
    }
    Ok(())
}

/// Whether a document with `pending` changes since its last snapshot gets a
/// new one. A document waiting for missing dependencies is not
/// snapshotted: the snapshot would silently leave the waiting changes out.
pub(crate) fn snapshot_due(pending: i64, doc: &automerge::Automerge) -> bool {
    pending >= SNAPSHOT_AFTER_CHANGES && doc.get_missing_deps(&[]).is_empty()
}
