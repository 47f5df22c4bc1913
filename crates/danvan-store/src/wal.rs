//! When a large received batch's WAL frames are copied into the database
//! file (issue 13). SQLite checkpoints by itself at the commit that takes
//! the WAL past 1,000 pages; a received batch of a cold pull dirties more
//! than that (at 100,000 records, ~2,000 pages of random index leaves per
//! batch), so every batch's commit was followed, on the committing thread
//! and with every other core idle, by copying its pages into the database
//! file and an fsync of it. A batch committed with
//! [`Store::apply_incoming_deferred`] leaves that copy to the start of the
//! next one ([`Store::checkpoint_wal`]), which its receiver runs while its
//! verifying threads work on the first documents: the same work, on a core
//! that was waiting anyway. Durability is the WAL's (`synchronous=FULL`
//! syncs it at every commit); the copy only keeps the WAL short, and what
//! one batch leaves is copied by the next commit of any kind (the automatic
//! checkpoint is back on after each deferred commit) or when the store is
//! closed.

use danvan_model::{ApplyReport, Checkpoint, NodeId};
use rusqlite::Connection;

use crate::Store;
use crate::changes::Incoming;
use crate::error::StoreError;

/// WAL pages after which a commit checkpoints: SQLite's default, which
/// `configure` leaves as it is.
const AUTOCHECKPOINT_PAGES: i64 = 1000;

/// Whether the commit under way checkpoints as usual or leaves it to the
/// next [`Store::checkpoint_wal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Checkpointing {
    /// SQLite's automatic checkpoint at the commit.
    AtCommit,
    /// None at this commit.
    Deferred,
}

/// Commits `tx`, with the automatic checkpoint off for this commit when
/// `checkpointing` defers it, and the WAL file left at its length (cutting
/// it back to [`WAL_BYTES_KEPT`] after each copy, only to grow it again by
/// the next batch, cost a 100,000-record cold pull ~1.5 s). The caller then
/// calls [`restore`] whatever the commit returned.
pub(crate) fn commit(
    tx: rusqlite::Transaction<'_>,
    checkpointing: Checkpointing,
) -> Result<(), StoreError> {
    if checkpointing == Checkpointing::Deferred {
        // A connection setting, not a write: allowed inside the transaction.
        tx.pragma_update(None, "wal_autocheckpoint", 0)?;
        tx.pragma_update(None, "journal_size_limit", -1)?;
    }
    tx.commit()?;
    Ok(())
}

/// Turns the automatic checkpoint and the WAL's cut back on after
/// [`commit`]: the next ordinary commit after a complete copy cuts the file.
pub(crate) fn restore(conn: &Connection, checkpointing: Checkpointing) -> Result<(), StoreError> {
    if checkpointing == Checkpointing::Deferred {
        conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
        conn.pragma_update(None, "journal_size_limit", WAL_BYTES_KEPT)?;
    }
    Ok(())
}

/// Changes stored by deferred commits after which the next
/// [`Store::checkpoint_wal`] copies them: about four batches of a cold pull
/// once a fast link has grown them to 1 MiB (at 100,000 records ~3.7 WAL
/// pages per change, so the WAL grows to ~120 MiB before a copy; closing
/// the store or [`WAL_BYTES_KEPT`] shrinks the file afterwards). Between
/// copies, a page that several batches write (index interior pages, the
/// tails of the change log, of `feed_readers` and of the full-text index,
/// and at 100,000 records the random index leaves too) is copied once
/// instead of once per batch: a 100,000-record cold pull took 31.3–31.6 s
/// instead of 36.1–37.0 s copying every 2,048 (see ARCHITECTURE).
const DEFERRED_CHANGES_MAX: u64 = 8192;

/// Bytes of WAL file kept after the log restarts from its beginning
/// (SQLite's `journal_size_limit`): a cold pull's WAL, grown large between
/// copies, is cut back to this at the first ordinary commit after a
/// complete copy instead of holding its largest size on disk for the life
/// of the process. Twice the ~4 MiB the automatic checkpoint lets the WAL
/// reach, so that everyday commits never cut and grow the file again.
pub(crate) const WAL_BYTES_KEPT: i64 = 8 << 20;

impl Store {
    /// Copies what deferred commits left in the WAL into the database file
    /// once they stored [`DEFERRED_CHANGES_MAX`] changes or more, waiting
    /// for no reader or writer (a passive checkpoint: what another
    /// connection's reader still needs stays in the WAL for a later one).
    /// Run by a receiver at the start of a large batch, beside its
    /// verifying threads.
    pub fn checkpoint_wal(&mut self) -> Result<(), StoreError> {
        if self.wal_deferred < DEFERRED_CHANGES_MAX {
            return Ok(());
        }
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        self.wal_deferred = 0;
        Ok(())
    }

    /// [`Store::apply_incoming`] whose commit leaves its WAL frames for a
    /// later [`Store::checkpoint_wal`] (or the next commit of any kind, or
    /// closing the store) instead of copying them into the database file
    /// at once. Durable like any commit: the WAL is synced before it
    /// returns.
    pub fn apply_incoming_deferred(
        &mut self,
        source: Option<(&NodeId, [u8; 8])>,
        incoming: impl IntoIterator<Item = Incoming>,
        checkpoint: Option<(&NodeId, Checkpoint, &str)>,
    ) -> Result<ApplyReport, StoreError> {
        let report =
            self.apply_incoming_with(source, incoming, checkpoint, Checkpointing::Deferred)?;
        self.wal_deferred += report.new as u64;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use danvan_model::{DocId, NodeKey};

    use super::*;
    use crate::changes::{by_doc, parse};
    use crate::fresh::tests::record;

    /// New records `from..to` (two changes each) as received items.
    fn received(from: u16, to: u16) -> Vec<Incoming> {
        let key = NodeKey::from_secret([5; 32]);
        let changes = (from..to).flat_map(|i| {
            let mut id = [3u8; 16];
            id[..2].copy_from_slice(&i.to_be_bytes());
            record(&key, DocId::from_bytes(id))
        });
        by_doc(changes)
            .into_iter()
            .map(|(doc, list)| {
                Incoming::Doc(doc, list.into_iter().map(|c| parse(c, None)).collect())
            })
            .collect()
    }

    /// Changes in `file` read by itself, as a copy without its WAL.
    fn changes_in_file_alone(file: &Path, copy: &Path) -> i64 {
        std::fs::copy(file, copy).expect("copying the database file");
        let conn = Connection::open(copy).expect("the copy");
        conn.query_row("SELECT COUNT(*) FROM changes", [], |r| r.get(0))
            .expect("counting")
    }

    /// A deferred commit is durable when it returns (the WAL as a power
    /// cut leaves it holds every change) but leaves the database file as
    /// it was; the automatic checkpoint is back on; the changes are copied
    /// into the file once enough are deferred, by `checkpoint_wal` alone.
    #[test]
    fn a_deferred_commit_is_durable_and_copied_later() {
        let dir = crate::scratch_dir("wal-deferred");
        let mut store = Store::create(&dir, [7; 8]).expect("store");
        let db = dir.join(crate::DB_FILE);
        // The schema in the file itself, so that the file can be read alone.
        store
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("a first checkpoint");
        let first = received(0, 10);
        let report = store
            .apply_incoming_deferred(None, first, None)
            .expect("a deferred commit");
        assert_eq!(report.new, 20);
        let autocheckpoint: i64 = store
            .conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .expect("reading the setting");
        assert_eq!(autocheckpoint, AUTOCHECKPOINT_PAGES);
        // What a power cut right now would leave: the file and its WAL.
        let cut = crate::scratch_dir("wal-cut");
        std::fs::copy(&db, cut.join(crate::DB_FILE)).expect("copying the file");
        std::fs::copy(
            dir.join(format!("{}-wal", crate::DB_FILE)),
            cut.join(format!("{}-wal", crate::DB_FILE)),
        )
        .expect("copying the WAL");
        let after_cut = Connection::open(cut.join(crate::DB_FILE)).expect("the copy");
        let held: i64 = after_cut
            .query_row("SELECT COUNT(*) FROM changes", [], |r| r.get(0))
            .expect("counting");
        assert_eq!(held, 20, "every change of the commit survives in the WAL");
        assert_eq!(changes_in_file_alone(&db, &cut.join("alone.db")), 0);
        // Too few deferred changes: nothing is copied yet.
        store.checkpoint_wal().expect("a checkpoint");
        assert_eq!(changes_in_file_alone(&db, &cut.join("alone2.db")), 0);
        // Past DEFERRED_CHANGES_MAX, and more WAL pages than SQLite's own
        // checkpoint waits for.
        let records = u16::try_from(DEFERRED_CHANGES_MAX / 2).expect("a u16");
        let more = received(10, 10 + records);
        store
            .apply_incoming_deferred(None, more, None)
            .expect("a second deferred commit");
        // More WAL pages than a commit checkpoints at by itself, and still
        // none of it in the file: the commit deferred its checkpoint.
        let wal = std::fs::metadata(dir.join(format!("{}-wal", crate::DB_FILE)))
            .expect("the WAL")
            .len();
        let frames = (wal.saturating_sub(32) / (4096 + 24)) as i64;
        assert!(frames > AUTOCHECKPOINT_PAGES, "{frames} WAL pages");
        assert_eq!(changes_in_file_alone(&db, &cut.join("alone3.db")), 0);
        store.checkpoint_wal().expect("a checkpoint");
        let copied = changes_in_file_alone(&db, &cut.join("alone4.db"));
        assert_eq!(copied, 20 + 2 * i64::from(records));
        // The next commit starts the log again from its beginning; a
        // deferred one leaves the file at its length, and the first
        // ordinary one after the next complete copy (SQLite's own, after
        // 1,000 pages) cuts it back to what is kept.
        let wal_len = || {
            std::fs::metadata(dir.join(format!("{}-wal", crate::DB_FILE)))
                .expect("the WAL")
                .len()
        };
        let grown = wal_len();
        assert!(grown > WAL_BYTES_KEPT as u64, "{grown} B of WAL");
        store
            .apply_incoming_deferred(None, received(20_002, 20_003), None)
            .expect("a deferred commit");
        assert_eq!(wal_len(), grown);
        store
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .expect("a checkpoint");
        store
            .apply_incoming(None, received(20_000, 20_001), None)
            .expect("a commit");
        assert!(wal_len() <= WAL_BYTES_KEPT as u64, "{} B of WAL", wal_len());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&cut);
    }
}
