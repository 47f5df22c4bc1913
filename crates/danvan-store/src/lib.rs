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
mod backup;
mod changes;
pub mod cipher;
pub mod convert;
mod disk;
mod documents;
mod error;
mod fresh;
mod lock;
mod peers;
pub mod private;
mod projection;
mod refusals;
mod revocation;
mod schema;
pub mod sealed_key;
mod search;
mod wal;

pub use access::AuditEntry;
pub use backup::{
    BACKUP_FILE_BYTES_MAX, BackupContents, adopt_restored, backup_database, backup_files,
    inspect_backup,
};
pub use changes::{Incoming, Parsed, StoredChange, by_doc};
pub use danvan_model::{ApplyReport, Checkpoint, FeedEntry, Rejection};
pub use documents::{LocalWrite, WriteBatch};
pub use error::{OpenError, StoreError};
pub use fresh::{NewDoc, build_new};
pub use lock::{DirLock, LOCK_WAIT_MS, lock_dir};
pub use peers::{PeerRow, TrustedNode};
pub use projection::{ListFilter, Row};
pub use refusals::{Refusal, RefusedRecord};
pub use revocation::SetAside;
pub use schema::SCHEMA_VERSION;
pub use search::{Hit, Tier};

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use automerge::ReadDoc;
use danvan_model::{DocId, NodeId, Scope, SignedChange, SignedRoster};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::documents::load_doc;
use crate::error::io_err;
use crate::lock::take_lock;

/// File name of the database inside a data directory.
pub const DB_FILE: &str = "danvan.db";
/// File name of the lock inside a data directory.
pub const LOCK_FILE: &str = "danvan.lock";
/// Changes after a snapshot before the snapshot is refreshed.
const SNAPSHOT_AFTER_CHANGES: i64 = 16;
/// The `meta` key of the database file's identity (see `Store::detect_copy`).
pub(crate) const META_FILE: &str = "file";

/// The identity of a file that a copy does not keep: device and inode on
/// Unix, the creation time elsewhere.
pub(crate) fn file_identity(path: &Path) -> Result<String, StoreError> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(format!("{}:{}", meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let created = meta.created().map_err(io_err(path))?;
        let nanos = created
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Ok(format!("created:{nanos}"))
    }
}

/// Today in Vietnam by this machine's clock: the day the roster's scopes
/// are judged on (the unit changes in force then). A clock set wrong moves
/// only when a dated unit change starts to count, never what a change says.
pub fn today() -> time::Date {
    danvan_model::vietnam_day(access::now_ms())
}

/// The store epoch kept in `meta`.
pub(crate) fn read_epoch(conn: &Connection) -> Result<[u8; 8], StoreError> {
    let epoch: Vec<u8> = conn
        .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| StoreError::Corrupt("thiếu epoch của kho".into()))?;
    epoch
        .try_into()
        .map_err(|_| StoreError::Corrupt("epoch sai độ dài".into()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Largest number of rows a list returns unless asked for fewer.
pub const LIST_ROWS_MAX: usize = 1_000_000;

/// The store of one data directory.
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    epoch: [u8; 8],
    /// This node, for checking that what it receives is in its own scope.
    me: Option<NodeId>,
    roster_cache: RefCell<Option<(u64, Arc<SignedRoster>)>>,
    /// Changes stored by commits that left their WAL frames uncopied
    /// since the last [`Store::checkpoint_wal`] (`wal.rs`).
    wal_deferred: u64,
    // Held for the life of the store: one process per data directory.
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "journal_size_limit", wal::WAL_BYTES_KEPT)?;
    // 32 MiB of page cache (the default is 2 MiB): the change-hash index is
    // written at random during a sync, and misses dominate past ~10k records.
    conn.pragma_update(None, "cache_size", -32_768)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// The key of the store of `dir`: `None` for a plaintext store (a legacy
/// one, or one made without a passphrase), else the key from the sources
/// `cipher` reads (a prompt last).
pub fn open_key(dir: &Path) -> Result<Option<cipher::StoreKey>, OpenError> {
    if cipher::is_encrypted(&dir.join(DB_FILE)) {
        cipher::key_to_open(dir).map(Some)
    } else {
        Ok(None)
    }
}

/// Opens another connection to the database file `db` of `dir` (backups,
/// checks, benchmarks, tests; a backup file by itself), keyed when the store is encrypted.
pub fn connect(dir: &Path, db: &Path, flags: OpenFlags) -> Result<Connection, OpenError> {
    let key = if cipher::is_encrypted(db) && db != dir.join(DB_FILE) {
        Some(cipher::key_for_file(db)?)
    } else {
        open_key(dir)?
    };
    let conn = Connection::open_with_flags(db, flags)?;
    if let Some(key) = &key {
        cipher::unlock(&conn, key)?;
    }
    Ok(conn)
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
        // Empty: held without a signature of its own (covered by a later
        // change of its author; `covered_by`).
        signature: (!signature.is_empty())
            .then(|| signature.try_into())
            .transpose()
            .map_err(|_| StoreError::Corrupt("chữ ký sai độ dài".into()))?,
        body,
    })
}

impl Store {
    /// The store over an open, migrated connection, holding `lock`; this node
    /// is not known yet (`set_self`).
    fn with_connection(conn: Connection, dir: &Path, epoch: [u8; 8], lock: File) -> Store {
        Store {
            conn,
            dir: dir.to_path_buf(),
            epoch,
            me: None,
            roster_cache: RefCell::new(None),
            wal_deferred: 0,
            _lock: lock,
        }
    }

    /// Creates a new store in `dir` (created if missing) with a fresh epoch.
    pub fn create(dir: &Path, epoch: [u8; 8]) -> Result<Store, OpenError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        private::private_dir(dir)?;
        let lock = take_lock(dir)?;
        let db = dir.join(DB_FILE);
        if db.exists() {
            return Err(OpenError::AlreadyInitialized(dir.to_path_buf()));
        }
        let key = cipher::key_to_create(dir)?;
        // Created 0600 first: SQLite gives its -wal and -shm the same mode.
        private::touch_private(&db)?;
        let mut conn = Connection::open(&db)?;
        if let Some((key, salt)) = &key {
            key.apply_new(&conn, salt)?;
        }
        cipher::remember(dir, key.as_ref().map(|(k, _)| k));
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('epoch', ?1)",
            params![epoch.to_vec()],
        )?;
        let mut store = Store::with_connection(conn, dir, epoch, lock);
        let file = file_identity(&db)?;
        store.set_meta(META_FILE, file.as_bytes())?;
        Ok(store)
    }

    /// Opens the store of `dir`, taking its lock.
    pub fn open(dir: &Path) -> Result<Store, OpenError> {
        if !dir.is_dir() {
            return Err(OpenError::NoDataDir(dir.to_path_buf()));
        }
        let db = dir.join(DB_FILE);
        if !db.exists() {
            return Err(OpenError::NotInitialized(dir.to_path_buf()));
        }
        let lock = take_lock(dir)?;
        let key = open_key(dir)?;
        private::tighten(dir)?;
        let mut conn = Connection::open_with_flags(
            &db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        if let Some(key) = &key {
            cipher::unlock(&conn, key)?;
        }
        cipher::remember(dir, key.as_ref());
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        let epoch = read_epoch(&conn)?;
        let mut store = Store::with_connection(conn, dir, epoch, lock);
        store.detect_copy(&db)?;
        Ok(store)
    }

    /// A data directory copied (`cp -a`, a copy on a USB stick) or restored
    /// from a backup keeps the original's key and epoch: its next writes
    /// would use Automerge sequence numbers the original uses too, and
    /// peers would take it for the original's store life. The database
    /// file's identity (device and inode; elsewhere its creation time) is
    /// kept in `meta`; when the file opened is another one, this is a copy,
    /// and it gets a new epoch before anything is written. A copy detected
    /// wrongly (a file moved to another disk) only costs one sync that
    /// offers hashes from the start.
    fn detect_copy(&mut self, db: &Path) -> Result<(), StoreError> {
        let file = file_identity(db)?;
        match self.meta(META_FILE)? {
            Some(held) if held == file.as_bytes() => Ok(()),
            // A store made by a build before this check: remember this file.
            None => self.set_meta(META_FILE, file.as_bytes()),
            Some(held) => {
                let mut epoch = [0u8; 8];
                getrandom::fill(&mut epoch).map_err(|e| {
                    StoreError::Corrupt(format!("không lấy được số ngẫu nhiên: {e}"))
                })?;
                let old = self.epoch;
                let tx = self.conn.transaction()?;
                for (key, value) in [("epoch", &epoch[..]), (META_FILE, file.as_bytes())] {
                    tx.execute(
                        "INSERT INTO meta (key, value) VALUES (?1, ?2)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        params![key, value],
                    )?;
                }
                access::audit_insert(
                    &tx,
                    "copy-detected",
                    None,
                    &serde_json::json!({
                        "old_epoch": hex(&old),
                        "new_epoch": hex(&epoch),
                        "file_was": String::from_utf8_lossy(&held),
                        "file_is": file,
                    }),
                )?;
                tx.commit()?;
                self.epoch = epoch;
                Ok(())
            }
        }
    }

    /// Tells the store which node it belongs to: received changes outside
    /// this node's read scope (per the roster) are then refused.
    pub fn set_self(&mut self, me: NodeId) {
        self.me = Some(me);
    }

    /// What this node may read today, per the roster held (`None`: no
    /// roster, or this node is not in it): its units resolved through the
    /// unit changes in force today ([`today`]).
    pub fn own_scope(&self) -> Result<Option<Scope>, StoreError> {
        Ok(match (self.roster()?, self.me) {
            (Some(roster), Some(me)) => roster.scope_on(&me, today()),
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
}

/// A new directory under the system temp dir for a test's store, named by
/// `label`, the process and the clock.
#[cfg(test)]
pub(crate) fn scratch_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "danvan-{label}-{}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
