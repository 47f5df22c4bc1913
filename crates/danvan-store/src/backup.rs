//! Backups of a data directory and their restore.
//!
//! A backup file is itself a SQLite database: the store as SQLite's online
//! backup API copied it at one moment, while other processes (a running
//! `danvan serve`) keep writing, plus a `backup_files` table holding the data
//! directory's other files (the node key, the unit tree, …). Restoring one
//! gives the store a new epoch before anything is written, so the changes
//! this node made after the backup (already at the hub, under the old
//! epoch) flow back on the next sync instead of being shadowed by new
//! changes reusing their sequence numbers.

use std::path::Path;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::cipher;
use crate::error::{OpenError, StoreError};
use crate::schema::SCHEMA_VERSION;
use crate::{DB_FILE, META_FILE, access};

/// The table of a backup file that holds the data directory's other files.
const FILES_TABLE: &str = "backup_files";
/// How often a backup step that found the database busy is retried.
const BUSY_RETRIES: u32 = 50;
/// Largest file a backup carries besides the database (keys, unit trees and
/// account lists are a few kilobytes).
pub const BACKUP_FILE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// What a backup file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupContents {
    /// Changes in the change log.
    pub changes: u64,
    /// Records (documents).
    pub records: u64,
    /// The store epoch when the backup was taken.
    pub epoch: [u8; 8],
    /// When it was taken (Unix milliseconds), if the file says.
    pub taken_at: Option<i64>,
    /// The other files it carries, by name.
    pub files: Vec<String>,
}

/// Copies the database of `dir` into `dest`, a new empty file the caller
/// created (exclusively, with the mode it wants), and stores `files`
/// (name, contents) beside it. Takes no danvan lock: SQLite gives the copy
/// one consistent moment while other processes keep writing. A wrong or
/// missing passphrase is an [`OpenError`] of its own (not damage): it is
/// found before anything is written to `dest`.
pub fn backup_database(
    dir: &Path,
    dest: &Path,
    files: &[(String, Vec<u8>)],
) -> Result<BackupContents, OpenError> {
    let db = dir.join(DB_FILE);
    let src = crate::connect(
        dir,
        &db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut out = Connection::open(dest)?;
    // An encrypted store's backup is encrypted with the same key and salt.
    if let Some(key) = crate::open_key(dir)? {
        let salt = cipher::file_salt(&db).unwrap_or_default();
        key.apply_new(&out, &salt)?;
    }
    {
        let backup = Backup::new(&src, &mut out)?;
        let mut tries = 0;
        // All pages in one step: one read transaction, one moment, and a
        // writer elsewhere cannot make the copy start over.
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked if tries < BUSY_RETRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                _ => {
                    return Err(StoreError::Corrupt(
                        "cơ sở dữ liệu bận quá lâu, chưa sao lưu được; hãy chạy lại".into(),
                    )
                    .into());
                }
            }
        }
    }
    // One self-contained file: no -wal beside it.
    out.pragma_update(None, "journal_mode", "DELETE")?;
    let tx = out.transaction()?;
    tx.execute_batch(&format!(
        "CREATE TABLE {FILES_TABLE} (name TEXT PRIMARY KEY, body BLOB NOT NULL)"
    ))?;
    for (name, body) in files {
        tx.execute(
            &format!("INSERT INTO {FILES_TABLE} (name, body) VALUES (?1, ?2)"),
            params![name, body],
        )?;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('backup_taken_at', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![access::now_ms().to_string().into_bytes()],
    )?;
    tx.commit()?;
    let contents = read_contents(&out, dest)?;
    drop(out);
    Ok(contents)
}

/// Checks that `file` is a backup this build can restore (a sound SQLite
/// database, a store schema not newer than this build's, an epoch, the
/// files table) and says what it holds. Opens it read-only. A wrong or
/// missing passphrase for an encrypted backup is that [`OpenError`], not
/// "not a backup".
pub fn inspect_backup(file: &Path) -> Result<BackupContents, OpenError> {
    let not = |reason: String| StoreError::NotABackup {
        path: file.to_path_buf(),
        reason,
    };
    let conn = open_file(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| match e {
        OpenError::Store(StoreError::Corrupt(reason)) => not(reason).into(),
        OpenError::Store(other) => not(other.to_string()).into(),
        passphrase => passphrase,
    })?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| not(format!("không đọc được như cơ sở dữ liệu SQLite ({e})")))?;
    if check != "ok" {
        return Err(not(format!("tệp bị hỏng ({check})")).into());
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(not(format!(
            "được tạo bởi bản danvan mới hơn (lược đồ {version}, bản này hỗ trợ tới {SCHEMA_VERSION}); hãy cập nhật danvan"
        ))
        .into());
    }
    let has_files: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [FILES_TABLE],
        |r| r.get(0),
    )?;
    if !has_files || version == 0 {
        return Err(
            not("không phải tệp do `danvan backup` tạo (thiếu phần tệp kèm theo)".into()).into(),
        );
    }
    Ok(read_contents(&conn, file)?)
}

/// The other files a backup carries (name, contents), each at most
/// [`BACKUP_FILE_BYTES_MAX`].
pub fn backup_files(file: &Path) -> Result<Vec<(String, Vec<u8>)>, OpenError> {
    let conn = open_file(file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(&format!(
        "SELECT name, body FROM {FILES_TABLE} WHERE length(body) <= ?1 ORDER BY name"
    ))?;
    let rows = stmt
        .query_map([BACKUP_FILE_BYTES_MAX as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<Vec<(String, Vec<u8>)>, _>>()?;
    Ok(rows)
}

/// Makes `db`, a copy of a backup file about to become a data directory's
/// database, a store life of its own: `new_epoch`, the files table dropped,
/// the old file identity forgotten (the next open records this file's), and
/// an audit entry naming both epochs. One transaction.
pub fn adopt_restored(db: &Path, new_epoch: [u8; 8], from: &Path) -> Result<[u8; 8], OpenError> {
    let mut conn = open_file(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let old = crate::read_epoch(&conn)?;
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'epoch'",
        params![new_epoch.to_vec()],
    )?;
    tx.execute(
        "DELETE FROM meta WHERE key IN (?1, 'backup_taken_at')",
        [META_FILE],
    )?;
    tx.execute_batch(&format!("DROP TABLE IF EXISTS {FILES_TABLE}"))?;
    access::audit_insert(
        &tx,
        "restored",
        None,
        &serde_json::json!({
            "from": from.display().to_string(),
            "old_epoch": crate::hex(&old),
            "new_epoch": crate::hex(&new_epoch),
        }),
    )?;
    tx.commit()?;
    Ok(old)
}

/// SQLite's smallest page: every SQLite or SQLCipher file is a whole
/// number of pages, so a length that is not a multiple of it is no backup.
const PAGE_BYTES_MIN: u64 = 512;

/// Opens a backup file (or its copy) by itself, keyed when encrypted. A
/// key that does not read a file shaped like an encrypted database (whole
/// pages) is the wrong passphrase; any other file is not a backup.
fn open_file(file: &Path, flags: OpenFlags) -> Result<Connection, OpenError> {
    let conn = Connection::open_with_flags(file, flags)?;
    if cipher::is_encrypted(file) {
        let len = std::fs::metadata(file).map_or(0, |m| m.len());
        if len == 0 || !len.is_multiple_of(PAGE_BYTES_MIN) {
            return Err(StoreError::Corrupt(
                "không phải tệp do `danvan backup` tạo (không phải cơ sở dữ liệu)".into(),
            )
            .into());
        }
        let key = cipher::key_for_file(file)?;
        cipher::unlock(&conn, &key).map_err(|e| match e {
            OpenError::WrongPassphrase => OpenError::Passphrase(format!(
                "sai mật khẩu: không mở được bản sao lưu {} (hoặc tệp không phải bản sao lưu danvan) — không có gì bị thay đổi; bản sao lưu mở bằng mật khẩu kho có lúc sao lưu (nếu đã đổi mật khẩu, dùng mật khẩu cũ)",
                file.display()
            )),
            other => other,
        })?;
    }
    Ok(conn)
}

fn read_contents(conn: &Connection, file: &Path) -> Result<BackupContents, StoreError> {
    let count = |sql: &str| -> Result<u64, StoreError> {
        Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
    };
    let epoch: Vec<u8> = conn
        .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| StoreError::NotABackup {
            path: file.to_path_buf(),
            reason: "thiếu epoch của kho".into(),
        })?;
    let epoch: [u8; 8] = epoch.try_into().map_err(|_| StoreError::NotABackup {
        path: file.to_path_buf(),
        reason: "epoch sai độ dài".into(),
    })?;
    let taken_at = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'backup_taken_at'",
            [],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .optional()?
        .and_then(|v| String::from_utf8(v).ok()?.parse().ok());
    let mut stmt = conn.prepare(&format!("SELECT name FROM {FILES_TABLE} ORDER BY name"))?;
    let files = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(BackupContents {
        changes: count("SELECT count(*) FROM changes")?,
        records: count("SELECT count(*) FROM documents")?,
        epoch,
        taken_at,
        files,
    })
}
