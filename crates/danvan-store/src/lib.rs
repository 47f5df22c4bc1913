//! The SQLite store of a danvan node: the append-only change log (the feed
//! peers sync from), per-document snapshots, the projection tables that
//! lists, search and reports read, and per-peer checkpoints.
//!
//! Synchronous, one writer: a data directory is locked by the process that
//! opens it. A write returns only after its transaction has committed with
//! `synchronous=FULL`, so anything acknowledged survives a power cut. This
//! crate never verifies signatures (callers hand it changes whose signatures
//! they checked); it admits each received change by the model's rules and
//! the roster it holds, inside the transaction that stores it. It never
//! talks to the network.

mod access;
mod disk;
mod schema;

pub use access::AuditEntry;
pub use schema::SCHEMA_VERSION;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use automerge::{Automerge, ReadDoc};
use danvan_model::{
    ChangeError, DocHeader, DocId, NodeId, Scope, SignedChange, SignedRoster, admit_change,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

/// File name of the database inside a data directory.
pub const DB_FILE: &str = "danvan.db";
/// File name of the lock inside a data directory.
pub const LOCK_FILE: &str = "danvan.lock";
/// Changes after a snapshot before the snapshot is refreshed.
const SNAPSHOT_AFTER_CHANGES: i64 = 16;
/// Largest number of rows a list returns unless asked for fewer.
pub const LIST_ROWS_MAX: usize = 1_000_000;

/// What went wrong in the store. Nothing already committed is lost by any of these.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory does not exist.
    #[error("không có thư mục dữ liệu {0}: hãy chạy `danvan --data-dir {0} init --unit …` trước")]
    NoDataDir(PathBuf),
    /// The directory exists but holds no store.
    #[error("thư mục {0} chưa được khởi tạo: hãy chạy `danvan --data-dir {0} init --unit …`")]
    NotInitialized(PathBuf),
    /// `init` on a directory that already has a store.
    #[error("thư mục {0} đã có dữ liệu danvan; không khởi tạo lại để khỏi mất dữ liệu")]
    AlreadyInitialized(PathBuf),
    /// Another process holds the data directory.
    #[error(
        "thư mục dữ liệu {0} đang được một tiến trình danvan khác sử dụng; hãy đợi nó xong hoặc dừng nó"
    )]
    Locked(PathBuf),
    /// The store was written by a newer danvan.
    #[error(
        "dữ liệu được tạo bởi phiên bản danvan mới hơn (lược đồ {found}, bản này hỗ trợ tới {supported}); hãy cập nhật danvan"
    )]
    TooNew {
        /// Schema version found.
        found: i64,
        /// Newest this build knows.
        supported: i64,
    },
    /// The disk is full (or a file-size limit was reached): the write was
    /// rolled back. Says what could not be written.
    #[error(
        "ổ đĩa đầy: không ghi được {0} — không có gì đã lưu bị mất; hãy giải phóng chỗ trống rồi chạy lại"
    )]
    DiskFull(String),
    /// The disk failed a read or write (`SQLITE_IOERR_*`, `EIO`): the
    /// operation was rolled back. Says what failed.
    #[error(
        "lỗi đọc/ghi đĩa: {0} — thao tác bị hủy, không có gì đã lưu bị mất; hãy kiểm tra chỗ trống và ổ đĩa, chạy `danvan check`, rồi chạy lại"
    )]
    DiskIo(String),
    /// No record with that id or prefix.
    #[error("không tìm thấy hồ sơ {0:?}")]
    NotFound(String),
    /// A prefix matches several records.
    #[error("mã {prefix:?} trùng với nhiều hồ sơ: {matches}; hãy gõ thêm ký tự")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// Some of the ids it matches.
        matches: String,
    },
    /// Stored data could not be read back.
    #[error("dữ liệu lưu trữ bị hỏng: {0}")]
    Corrupt(String),
    /// A file-system error.
    #[error("không đọc hoặc ghi được tệp {path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// Refused by the roster or the authority pinning.
    #[error("{0}")]
    Access(String),
    /// Any other SQLite error.
    #[error("lỗi SQLite: {0}")]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        disk::sqlite_fault(&e).unwrap_or(StoreError::Sqlite(e))
    }
}

/// How far this node has pulled from a peer's feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The peer's store epoch the seq belongs to.
    pub epoch: [u8; 8],
    /// The highest seq of the peer's feed already stored here.
    pub seq: u64,
}

/// One entry of the change feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedEntry {
    /// Local sequence number.
    pub seq: u64,
    /// Change hash.
    pub hash: [u8; 32],
    /// Bytes of the change body.
    pub body_len: u32,
}

/// A change as stored, with its local sequence number.
#[derive(Clone, Debug)]
pub struct StoredChange {
    /// Local sequence number.
    pub seq: u64,
    /// The signed change.
    pub change: SignedChange,
}

/// What applying a batch of changes did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Changes stored for the first time.
    pub new: usize,
    /// Changes already held (no-ops).
    pub duplicate: usize,
    /// Documents touched.
    pub documents: usize,
    /// Changes refused (not stored; each logged in the audit log).
    pub rejected: Vec<Rejection>,
}

/// A received change the store refused.
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

/// Filters of a record list. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Kind code.
    pub kind: Option<String>,
    /// Unit ids (already rolled up through the unit tree).
    pub units: Option<Vec<String>>,
    /// Days `[from, to]` the record must overlap, YYYY-MM-DD.
    pub period: Option<(String, String)>,
    /// Status or stage code.
    pub status: Option<String>,
    /// Project.
    pub project: Option<String>,
    /// Folded words that must all occur in the record's text.
    pub words: Vec<String>,
    /// Only records with conflicts.
    pub conflicts_only: bool,
    /// At most this many rows.
    pub limit: Option<usize>,
}

/// One row of a record list.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Row {
    /// Record id.
    pub id: String,
    /// Kind code.
    pub kind: String,
    /// Owning unit.
    pub unit: String,
    /// Project.
    pub project: Option<String>,
    /// Title.
    pub title: String,
    /// Date.
    pub date: Option<String>,
    /// Status or stage.
    pub status: Option<String>,
    /// Number of conflicting fields.
    pub conflicts: i64,
}

/// A node on the trust list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedNode {
    /// Its id.
    pub id: NodeId,
    /// Where to dial it, if known.
    pub addr: Option<String>,
    /// A display name.
    pub name: Option<String>,
}

/// Per-peer sync figures, as `danvan peers` shows them.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PeerRow {
    /// The peer.
    pub peer: String,
    /// Last successful sync, ms since 1970 (this node's clock).
    pub last_sync: Option<i64>,
    /// Changes sent in the last session.
    pub sent: i64,
    /// Changes received in the last session.
    pub received: i64,
    /// Application bytes sent in the last session.
    pub bytes_sent: i64,
    /// Application bytes received in the last session.
    pub bytes_received: i64,
    /// Changes the peer's feed had that we had not pulled, at the end of the last session.
    pub behind: i64,
    /// How far we have pulled from its feed.
    pub seq: i64,
}

/// The store of one data directory.
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    epoch: [u8; 8],
    /// This node, for checking that what it receives is in its own scope.
    me: Option<NodeId>,
    roster_cache: RefCell<Option<(u64, Arc<SignedRoster>)>>,
    // Held for the life of the store: one process per data directory.
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::from_io(path, error)
}

/// How long a command waits for another process to release the data
/// directory before it gives up with [`StoreError::Locked`].
pub const LOCK_WAIT_MS: u64 = 3_000;

fn take_lock(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    wait_lock(&file, dir, LOCK_WAIT_MS)?;
    Ok(file)
}

fn wait_lock(file: &File, dir: &Path, wait_ms: u64) -> Result<(), StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(wait_ms);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::Locked(dir.to_path_buf()));
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Io {
                    path: dir.join(LOCK_FILE),
                    error: e,
                });
            }
        }
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // 32 MiB of page cache (the default is 2 MiB): the change-hash index is
    // written at random during a sync, and misses dominate past ~10k records.
    conn.pragma_update(None, "cache_size", -32_768)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

fn doc_id(bytes: Vec<u8>) -> Result<DocId, StoreError> {
    let arr: [u8; 16] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("mã tài liệu sai độ dài".into()))?;
    Ok(DocId::from_bytes(arr))
}

fn node_id(bytes: Vec<u8>) -> Result<NodeId, StoreError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("mã nút sai độ dài".into()))?;
    Ok(NodeId::from_bytes(arr))
}

fn hash32(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("mã băm sai độ dài".into()))
}

fn signed_from_row(
    hash: Vec<u8>,
    doc: Vec<u8>,
    author: Vec<u8>,
    signature: Vec<u8>,
    body: Vec<u8>,
) -> Result<SignedChange, StoreError> {
    Ok(SignedChange {
        hash: hash32(hash)?,
        doc: doc_id(doc)?,
        author: node_id(author)?,
        signature: signature
            .try_into()
            .map_err(|_| StoreError::Corrupt("chữ ký sai độ dài".into()))?,
        body,
    })
}

impl Store {
    /// Creates a new store in `dir` (created if missing) with a fresh epoch.
    pub fn create(dir: &Path, epoch: [u8; 8]) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock = take_lock(dir)?;
        let db = dir.join(DB_FILE);
        if db.exists() {
            return Err(StoreError::AlreadyInitialized(dir.to_path_buf()));
        }
        let mut conn = Connection::open(&db)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('epoch', ?1)",
            params![epoch.to_vec()],
        )?;
        Ok(Store {
            conn,
            dir: dir.to_path_buf(),
            epoch,
            me: None,
            roster_cache: RefCell::new(None),
            _lock: lock,
        })
    }

    /// Opens the store of `dir`, taking its lock.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        if !dir.is_dir() {
            return Err(StoreError::NoDataDir(dir.to_path_buf()));
        }
        let db = dir.join(DB_FILE);
        if !db.exists() {
            return Err(StoreError::NotInitialized(dir.to_path_buf()));
        }
        let lock = take_lock(dir)?;
        let mut conn = Connection::open_with_flags(
            &db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        let epoch: Vec<u8> = conn
            .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::Corrupt("thiếu epoch của kho".into()))?;
        let epoch: [u8; 8] = epoch
            .try_into()
            .map_err(|_| StoreError::Corrupt("epoch sai độ dài".into()))?;
        Ok(Store {
            conn,
            dir: dir.to_path_buf(),
            epoch,
            me: None,
            roster_cache: RefCell::new(None),
            _lock: lock,
        })
    }

    /// Lets other processes use the data directory until [`Store::relock`]:
    /// a long-running sync holds the directory only while it touches the
    /// store, so officers can record work meanwhile.
    pub fn unlock(&mut self) -> Result<(), StoreError> {
        self._lock
            .unlock()
            .map_err(io_err(&self.dir.join(LOCK_FILE)))
    }

    /// Takes the directory back after [`Store::unlock`], waiting up to `wait_ms`.
    pub fn relock(&mut self, wait_ms: u64) -> Result<(), StoreError> {
        wait_lock(&self._lock, &self.dir, wait_ms)
    }

    /// Tells the store which node it belongs to: received changes outside
    /// this node's read scope (per the roster) are then refused.
    pub fn set_self(&mut self, me: NodeId) {
        self.me = Some(me);
    }

    /// What this node may read, per the roster held (`None`: no roster, or
    /// this node is not in it).
    pub fn own_scope(&self) -> Result<Option<Scope>, StoreError> {
        Ok(match (self.roster()?, self.me) {
            (Some(roster), Some(me)) => roster.scope(&me),
            _ => None,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store epoch: random, new whenever a store is created.
    pub fn epoch(&self) -> [u8; 8] {
        self.epoch
    }

    /// A metadata value.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a metadata value.
    pub fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// The highest seq of the change log (0 when empty).
    pub fn latest_seq(&self) -> Result<u64, StoreError> {
        let seq: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM changes", [], |r| r.get(0))?;
        Ok(seq.unwrap_or(0) as u64)
    }

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
        let epoch = self.epoch;
        Ok(WriteBatch(self.conn.transaction()?, epoch))
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
        let roster = self.roster()?;
        let own = self.own_scope()?;
        let tx = self.conn.transaction()?;
        let mut report = ApplyReport::default();
        let mut seen = HashSet::new();
        let mut by_doc: BTreeMap<DocId, Vec<&SignedChange>> = BTreeMap::new();
        {
            let mut exists = tx.prepare_cached("SELECT 1 FROM changes WHERE hash = ?1")?;
            for change in changes {
                if !seen.insert(change.hash) || exists.exists(params![change.hash.to_vec()])? {
                    report.duplicate += 1;
                } else {
                    by_doc.entry(change.doc).or_default().push(change);
                }
            }
        }
        for (doc, list) in by_doc {
            let mut automerge = load_doc(&tx, &doc)?.unwrap_or_default();
            let mut header = DocHeader::of(&automerge);
            let mut stored = 0;
            for signed in list {
                let verdict = automerge::Change::try_from(signed.body.as_slice())
                    .map_err(|e| ChangeError::Malformed(e.to_string()))
                    .and_then(|parsed| {
                        let admitted =
                            admit_change(&automerge, header.as_ref(), signed, &parsed, |scope| {
                                if let Some(roster) = &roster {
                                    roster
                                        .check_write(&signed.author, &signed.hash, scope)
                                        .map_err(|d| ChangeError::Denied(d.to_string()))?;
                                }
                                match &own {
                                    Some(own) if !own.may_read(scope) => Err(ChangeError::Denied(
                                        "hồ sơ ngoài phạm vi đọc của nút nhận".into(),
                                    )),
                                    _ => Ok(()),
                                }
                            })?;
                        Ok((parsed, admitted))
                    });
                match verdict {
                    Ok((parsed, admitted)) => {
                        let epoch = actor_epoch(&parsed)?;
                        match admitted.created {
                            // A creation was applied to a new document already.
                            Some(created) => automerge = created,
                            None => apply_guarded(&mut automerge, vec![parsed], &doc)?,
                        }
                        insert_change(&tx, signed, Some(epoch), source)?;
                        header = Some(admitted.header);
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
                after_write(&tx, &doc, &automerge, stored as i64, None)?;
            }
        }
        if let Some((peer, cp, scope)) = checkpoint {
            set_checkpoint(&tx, peer, cp, scope)?;
        }
        tx.commit()?;
        Ok(report)
    }

    /// Resolves a full id or a unique prefix of one.
    pub fn resolve(&self, text: &str) -> Result<DocId, StoreError> {
        let prefix = text.trim().to_ascii_lowercase();
        if prefix.is_empty() {
            return Err(StoreError::NotFound(text.to_string()));
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT doc, id FROM records WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 5",
        )?;
        let upper = format!("{prefix}~");
        let rows: Vec<(Vec<u8>, String)> = stmt
            .query_map(params![prefix, upper], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        match rows.len() {
            0 => Err(StoreError::NotFound(text.to_string())),
            1 => doc_id(rows.into_iter().next().map(|r| r.0).unwrap_or_default()),
            _ => Err(StoreError::Ambiguous {
                prefix: text.to_string(),
                matches: rows
                    .iter()
                    .map(|r| r.1.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Lists records from the projection.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<Row>, StoreError> {
        let (sql, values) = list_query(
            "id, kind, unit, project, title, date, status, conflicts",
            filter,
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                Ok(Row {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    unit: r.get(2)?,
                    project: r.get(3)?,
                    title: r.get(4)?,
                    date: r.get(5)?,
                    status: r.get(6)?,
                    conflicts: r.get(7)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The full JSON of the listed records, from the projection.
    pub fn list_json(&self, filter: &ListFilter) -> Result<Vec<serde_json::Value>, StoreError> {
        let (sql, values) = list_query("json", filter);
        let mut stmt = self.conn.prepare(&sql)?;
        let texts = stmt
            .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                r.get::<_, String>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        texts
            .into_iter()
            .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }

    /// Hands the JSON text of every record the filter selects to `each`, in
    /// no particular order and without a row limit (`filter.limit` is
    /// ignored): for reports, which read many rows and need no order, so
    /// that neither SQLite sorts them nor the caller holds them all as text.
    pub fn for_each_json<E>(
        &self,
        filter: &ListFilter,
        mut each: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<Result<(), E>, StoreError> {
        let (sql, values) = filter_query("json", filter);
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
        while let Some(row) = rows.next()? {
            let text = row
                .get_ref(0)?
                .as_str()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if let Err(e) = each(text) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
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
    pub fn feed(
        &self,
        peer: &NodeId,
        peer_epoch: [u8; 8],
        since: u64,
        limit: usize,
        scope: Option<&Scope>,
    ) -> Result<(Vec<FeedEntry>, u64), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.seq, c.hash, length(c.body), c.author, c.actor_epoch, c.source, c.source_epoch,
                    d.kind, d.unit, d.project
             FROM changes c LEFT JOIN documents d ON d.doc = c.doc
             WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![since as i64, limit as i64])?;
        let mut out = Vec::new();
        let mut scanned = since;
        let (peer_key, epoch) = (&peer.as_bytes()[..], &peer_epoch[..]);
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            scanned = seq as u64;
            let author: Vec<u8> = r.get(3)?;
            let actor_epoch: Vec<u8> = r.get(4)?;
            if author == peer_key && actor_epoch == epoch {
                continue;
            }
            let source: Option<Vec<u8>> = r.get(5)?;
            let source_epoch: Option<Vec<u8>> = r.get(6)?;
            if source.as_deref() == Some(peer_key) && source_epoch.as_deref() == Some(epoch) {
                continue;
            }
            if let Some(scope) = scope {
                let kind: Option<String> = r.get(7)?;
                let unit: Option<String> = r.get(8)?;
                let project: Option<String> = r.get(9)?;
                let readable = match (&kind, &unit) {
                    (Some(kind), Some(unit)) => scope.may_read(&danvan_model::DocScope {
                        kind,
                        unit,
                        project: project.as_deref(),
                    }),
                    // A document without a readable header yet: not offered.
                    _ => false,
                };
                if !readable {
                    continue;
                }
            }
            out.push(FeedEntry {
                seq: seq as u64,
                hash: hash32(r.get(1)?)?,
                body_len: r.get::<_, i64>(2)? as u32,
            });
        }
        Ok((out, scanned))
    }

    /// Which of these hashes are stored.
    pub fn has_changes(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM changes WHERE hash = ?1")?;
        hashes
            .iter()
            .map(|h| Ok(stmt.exists(params![h.to_vec()])?))
            .collect()
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

    /// Adds or updates a trusted node.
    pub fn trust(
        &mut self,
        peer: &NodeId,
        addr: Option<&str>,
        name: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO trusted (peer, addr, name, added) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (peer) DO UPDATE SET addr = COALESCE(excluded.addr, addr), name = COALESCE(excluded.name, name)",
            params![peer.as_bytes().to_vec(), addr, name, now_ms],
        )?;
        Ok(())
    }

    /// Removes a trusted node; false if it was not trusted.
    pub fn untrust(&mut self, peer: &NodeId) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM trusted WHERE peer = ?1",
            params![peer.as_bytes().to_vec()],
        )? == 1)
    }

    /// The trusted nodes.
    pub fn trusted(&self) -> Result<Vec<TrustedNode>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT peer, addr, name FROM trusted ORDER BY added")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(TrustedNode {
                id: node_id(r.get(0)?)?,
                addr: r.get(1)?,
                name: r.get(2)?,
            });
        }
        Ok(out)
    }

    /// Records the figures of a finished session with a peer.
    #[allow(clippy::too_many_arguments)]
    pub fn record_session(
        &mut self,
        peer: &NodeId,
        now_ms: i64,
        sent: u64,
        received: u64,
        bytes_sent: u64,
        bytes_received: u64,
        behind: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO peers (peer, last_sync, sent, received, bytes_sent, bytes_received, behind)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (peer) DO UPDATE SET last_sync = excluded.last_sync, sent = excluded.sent,
               received = excluded.received, bytes_sent = excluded.bytes_sent,
               bytes_received = excluded.bytes_received, behind = excluded.behind",
            params![
                peer.as_bytes().to_vec(),
                now_ms,
                sent as i64,
                received as i64,
                bytes_sent as i64,
                bytes_received as i64,
                behind as i64
            ],
        )?;
        Ok(())
    }

    /// Per-peer figures.
    pub fn peers(&self) -> Result<Vec<PeerRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT peer, last_sync, sent, received, bytes_sent, bytes_received, behind, seq FROM peers ORDER BY last_sync DESC",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    PeerRow {
                        peer: String::new(),
                        last_sync: r.get(1)?,
                        sent: r.get(2)?,
                        received: r.get(3)?,
                        bytes_sent: r.get(4)?,
                        bytes_received: r.get(5)?,
                        behind: r.get(6)?,
                        seq: r.get(7)?,
                    },
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(peer, mut row)| {
                row.peer = node_id(peer)?.to_string();
                Ok(row)
            })
            .collect()
    }

    /// Rebuilds every projection row from the documents.
    pub fn rebuild_projections(&mut self) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM records", [])?;
        tx.execute("DELETE FROM record_search", [])?;
        let docs: Vec<Vec<u8>> = {
            let mut stmt = tx.prepare("SELECT doc FROM documents")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut n = 0;
        for doc in docs {
            let doc = doc_id(doc)?;
            if let Some(automerge) = load_doc(&tx, &doc)? {
                n += project(&tx, &doc, &automerge)? as usize;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Runs SQLite's integrity check and loads every document. Returns the
    /// problems found (empty when all is well).
    pub fn check(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if lines != ["ok"] {
            problems.extend(lines);
        }
        let docs: Vec<Vec<u8>> = {
            let mut stmt = self.conn.prepare("SELECT doc FROM documents")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        for doc in docs {
            let doc = doc_id(doc)?;
            match load_doc(&self.conn, &doc) {
                Ok(Some(am)) => {
                    if let Err(e) = danvan_model::read_record(&am)
                        && am.get_missing_deps(&[]).is_empty()
                    {
                        problems.push(format!("hồ sơ {doc}: {e}"));
                    }
                }
                Ok(None) => problems.push(format!("hồ sơ {doc}: không có thay đổi nào")),
                Err(e) => problems.push(format!("hồ sơ {doc}: {e}")),
            }
        }
        Ok(problems)
    }

    /// Counts: (records in the projection, changes, documents).
    pub fn counts(&self) -> Result<(u64, u64, u64), StoreError> {
        let q = |sql: &str| -> Result<u64, StoreError> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        Ok((
            q("SELECT COUNT(*) FROM records")?,
            q("SELECT COUNT(*) FROM changes")?,
            q("SELECT COUNT(*) FROM documents")?,
        ))
    }

    /// Record counts grouped by (unit, kind), from the projection.
    pub fn counts_by_unit(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT unit, kind, COUNT(*) FROM records GROUP BY unit, kind ORDER BY unit, kind",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

/// Local writes inside one transaction; dropped without commit, it rolls back.
pub struct WriteBatch<'a>(Transaction<'a>, [u8; 8]);

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
            new += insert_change(&self.0, change, Some(self.1), None)? as i64;
        }
        after_write(&self.0, &write.doc, write.automerge, new, write.created)
    }

    /// Commits durably.
    pub fn commit(self) -> Result<(), StoreError> {
        self.0.commit()?;
        Ok(())
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

fn list_query(columns: &str, f: &ListFilter) -> (String, Vec<rusqlite::types::Value>) {
    let (mut sql, values) = filter_query(columns, f);
    sql.push_str(" ORDER BY date_from DESC, id");
    let limit = f.limit.unwrap_or(LIST_ROWS_MAX).min(LIST_ROWS_MAX);
    sql.push_str(&format!(" LIMIT {limit}"));
    (sql, values)
}

/// The `SELECT … WHERE …` of a filter, without order or limit.
fn filter_query(columns: &str, f: &ListFilter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    // With a text search, the small `record_search` table is scanned first
    // (CROSS JOIN fixes that order in SQLite) and only matching records are
    // looked up; otherwise `records`' own indexes serve the filters.
    let source = if f.words.is_empty() {
        "records"
    } else {
        "record_search CROSS JOIN records ON records.doc = record_search.doc"
    };
    let mut sql = format!("SELECT {columns} FROM {source} WHERE 1=1");
    let mut values: Vec<Value> = Vec::new();
    if let Some(kind) = &f.kind {
        values.push(Value::Text(kind.clone()));
        sql.push_str(&format!(" AND kind = ?{}", values.len()));
    }
    if let Some(units) = &f.units {
        let mut marks = Vec::new();
        for u in units {
            values.push(Value::Text(u.clone()));
            marks.push(format!("?{}", values.len()));
        }
        sql.push_str(&format!(" AND unit IN ({})", marks.join(",")));
    }
    if let Some((from, to)) = &f.period {
        values.push(Value::Text(to.clone()));
        sql.push_str(&format!(" AND date_from <= ?{}", values.len()));
        values.push(Value::Text(from.clone()));
        sql.push_str(&format!(" AND date_to >= ?{}", values.len()));
    }
    if let Some(status) = &f.status {
        values.push(Value::Text(status.clone()));
        sql.push_str(&format!(" AND status = ?{}", values.len()));
    }
    if let Some(project) = &f.project {
        values.push(Value::Text(project.clone()));
        sql.push_str(&format!(" AND project = ?{}", values.len()));
    }
    for word in &f.words {
        let escaped = word
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        values.push(Value::Text(format!("%{escaped}%")));
        sql.push_str(&format!(" AND search LIKE ?{} ESCAPE '\\'", values.len()));
    }
    if f.conflicts_only {
        sql.push_str(" AND conflicts > 0");
    }
    (sql, values)
}

/// Inserts one change; false if its hash was already stored.
fn insert_change(
    tx: &Connection,
    change: &SignedChange,
    actor_epoch: Option<[u8; 8]>,
    source: Option<(&NodeId, [u8; 8])>,
) -> Result<bool, StoreError> {
    let actor_epoch = match actor_epoch {
        Some(e) => e,
        None => actor_epoch_of(&change.body)?,
    };
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO changes (hash, doc, author, signature, body, actor_epoch, source, source_epoch)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let n = stmt.execute(params![
        change.hash.to_vec(),
        change.doc.as_bytes().to_vec(),
        change.author.as_bytes().to_vec(),
        change.signature.to_vec(),
        change.body,
        actor_epoch.to_vec(),
        source.map(|s| s.0.as_bytes().to_vec()),
        source.map(|s| s.1.to_vec()),
    ])?;
    Ok(n == 1)
}

/// The epoch suffix of a change's actor id (see `NodeKey::actor`).
fn actor_epoch_of(body: &[u8]) -> Result<[u8; 8], StoreError> {
    let change = automerge::Change::try_from(body)
        .map_err(|e| StoreError::Corrupt(format!("thay đổi không đọc được: {e}")))?;
    actor_epoch(&change)
}

fn actor_epoch(change: &automerge::Change) -> Result<[u8; 8], StoreError> {
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

fn load_doc(conn: &Connection, doc: &DocId) -> Result<Option<Automerge>, StoreError> {
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
fn apply_guarded(
    automerge: &mut Automerge,
    changes: Vec<automerge::Change>,
    doc: &DocId,
) -> Result<(), StoreError> {
    // Automerge 0.12 panics on some sequences of well-formed, validly
    // signed changes (an actor missing from its table in `import_ops`; found
    // by fuzzing, see fuzz/regressions/store_apply/). A peer must not be able
    // to crash the node that way: the panic becomes an error, the batch that
    // brought the change is rolled back, and this document is dropped.
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
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
    })?;
    applied.map_err(|e| StoreError::Corrupt(format!("hồ sơ {doc}: {e}")))
}

/// Bookkeeping after `new` changes of a document were stored: the document
/// row, the snapshot when due, and the projection.
fn after_write(
    tx: &Connection,
    doc: &DocId,
    automerge: &Automerge,
    new: i64,
    created: Option<&danvan_model::Record>,
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
    // A document waiting for missing dependencies is not snapshotted: the
    // snapshot would silently leave the waiting changes out.
    if pending >= SNAPSHOT_AFTER_CHANGES && automerge.get_missing_deps(&[]).is_empty() {
        let max_seq: i64 = tx
            .prepare_cached("SELECT MAX(seq) FROM changes WHERE doc = ?1")?
            .query_row(params![key], |r| r.get(0))?;
        tx.prepare_cached(
            "UPDATE documents SET snapshot = ?2, snapshot_seq = ?3, pending = 0 WHERE doc = ?1",
        )?
        .execute(params![key, automerge.save(), max_seq])?;
    }
    match created {
        Some(record) => write_projection(tx, doc, record, 0)?,
        None => {
            project(tx, doc, automerge)?;
        }
    }
    Ok(())
}

/// Writes the projection row of a document; false if it holds no readable
/// record yet (e.g. its first change has not arrived).
fn project(tx: &Connection, doc: &DocId, automerge: &Automerge) -> Result<bool, StoreError> {
    let Ok(record) = danvan_model::read_record(automerge) else {
        return Ok(false);
    };
    let conflicts = danvan_model::conflicts(automerge, record.kind()).len() as i64;
    write_projection(tx, doc, &record, conflicts)?;
    Ok(true)
}

fn write_projection(
    tx: &Connection,
    doc: &DocId,
    record: &danvan_model::Record,
    conflicts: i64,
) -> Result<(), StoreError> {
    let summary = record.summary();
    let key = doc.as_bytes().to_vec();
    let header = record.header();
    tx.prepare_cached("UPDATE documents SET kind = ?2, unit = ?3, project = ?4 WHERE doc = ?1")?
        .execute(params![key, header.kind, header.unit, header.project])?;
    tx.prepare_cached(
        "INSERT INTO records (doc, id, kind, unit, project, title, date, date_from, date_to, status, conflicts, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (doc) DO UPDATE SET id = excluded.id, kind = excluded.kind, unit = excluded.unit,
           project = excluded.project, title = excluded.title, date = excluded.date,
           date_from = excluded.date_from, date_to = excluded.date_to, status = excluded.status,
           conflicts = excluded.conflicts, json = excluded.json",
    )?
    .execute(params![
        key,
        doc.to_string(),
        summary.kind,
        summary.unit,
        summary.project,
        summary.title,
        summary.date,
        summary.date_from,
        summary.date_to,
        summary.status,
        conflicts,
        record.to_json().to_string(),
    ])?;
    tx.prepare_cached(
        "INSERT INTO record_search (doc, search) VALUES (?1, ?2)
         ON CONFLICT (doc) DO UPDATE SET search = excluded.search",
    )?
    .execute(params![key, summary.search])?;
    Ok(())
}
