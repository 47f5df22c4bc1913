//! `danvan encrypt`: a plaintext store encrypted in place, crash-safe.
//!
//! The plaintext database is checkpointed, exported by `sqlcipher_export`
//! into `danvan.db.encrypting` under the new key, fsynced, and only then
//! renamed over `danvan.db` (atomic; the directory fsynced). Until the rename
//! the plaintext store is whole and opens as before; after it, the encrypted
//! one. A leftover temporary file of an interrupted run is removed by the
//! next run. The plaintext `-wal`/`-shm` (empty after the checkpoint) are
//! removed before the rename, so no plaintext page sits beside the
//! encrypted file.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::cipher;
use crate::error::OpenError;
use crate::lock::take_lock;
use crate::private;
use crate::{DB_FILE, META_FILE, hex};

/// Name of the encrypted copy while it is written.
pub const ENCRYPTING_FILE: &str = "danvan.db.encrypting";

/// Where a test may stop the conversion (`DANVAN_TEST_STOP_AT`): the process
/// says so on stderr and waits to be killed.
fn stop_point(name: &str) {
    if std::env::var("DANVAN_TEST_STOP_AT").is_ok_and(|v| v == name) {
        eprintln!("dừng tại {name}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

/// Encrypts the plaintext store of `dir` in place with the key of the
/// configured source (a prompt asks twice). Refused when the store is
/// already encrypted or no source exists.
pub fn encrypt_in_place(dir: &Path) -> Result<(), OpenError> {
    let db = dir.join(DB_FILE);
    if !db.exists() {
        return Err(OpenError::NotInitialized(dir.to_path_buf()));
    }
    let _lock = take_lock(dir)?;
    if cipher::is_encrypted(&db) {
        return Err(OpenError::Passphrase(
            "kho dữ liệu đã được mã hoá; đổi mật khẩu bằng `danvan passphrase`".into(),
        ));
    }
    private::tighten(dir)?;
    let tmp = dir.join(ENCRYPTING_FILE);
    let _ = std::fs::remove_file(&tmp);
    let (key, salt) = cipher::key_to_create(dir)?
        .ok_or_else(|| OpenError::NeedPassphrase(cipher::how_to_give()))?;
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    private::touch_private(&tmp)?;
    conn.execute(
        "ATTACH DATABASE ?1 AS encrypted KEY ?2",
        rusqlite::params![
            tmp.to_string_lossy(),
            format!("x'{}{}'", hex(key.bytes()), hex(&salt))
        ],
    )?;
    conn.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
    conn.execute_batch(&format!("PRAGMA encrypted.user_version = {version}"))?;
    conn.execute("DETACH DATABASE encrypted", [])?;
    drop(conn);
    stop_point("exported");
    // The file keeps its inode through the rename: record it, so the store
    // is not taken for a copy (and given a new epoch) on its next open.
    {
        let enc = Connection::open(&tmp)?;
        cipher::unlock(&enc, &key)?;
        enc.pragma_update(None, "journal_mode", "DELETE")?;
        let file = crate::file_identity(&tmp)?;
        enc.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            rusqlite::params![META_FILE, file.as_bytes()],
        )?;
    }
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| {
            OpenError::Store(crate::StoreError::Io {
                path: tmp.clone(),
                error: e,
            })
        })?;
    stop_point("synced");
    for side in ["danvan.db-wal", "danvan.db-shm"] {
        let _ = std::fs::remove_file(dir.join(side));
    }
    std::fs::rename(&tmp, &db).map_err(|e| {
        OpenError::Store(crate::StoreError::Io {
            path: db.clone(),
            error: e,
        })
    })?;
    private::sync_dir(dir)?;
    cipher::remember(dir, Some(&key));
    stop_point("renamed");
    Ok(())
}

/// The variable naming the file of the new passphrase for `danvan
/// passphrase` (else it is asked twice on the terminal).
pub const NEW_PASSPHRASE_FILE_ENV: &str = "DANVAN_NEW_PASSPHRASE_FILE";

/// `danvan passphrase`: the encrypted store of `dir` re-keyed under
/// `new_passphrase` (the current one from the usual sources). The salt and
/// parameters in `danvan.kdf` stay, so no file but the database changes and
/// `PRAGMA rekey` is one SQLite transaction: a crash leaves the store under
/// the old passphrase or the new one, whole. `before_rekey(old, new)` runs
/// once the old key is known to open the store, under the store's lock,
/// before the database changes (the key files are sealed under both keys
/// there); an error from it leaves the database as it was.
pub fn change_passphrase<E: From<OpenError>>(
    dir: &Path,
    new_passphrase: &str,
    before_rekey: impl FnOnce(&cipher::StoreKey, &cipher::StoreKey) -> Result<(), E>,
) -> Result<(), E> {
    let db = dir.join(DB_FILE);
    if !db.exists() {
        return Err(OpenError::NotInitialized(dir.to_path_buf()).into());
    }
    let _lock = take_lock(dir)?;
    if !cipher::is_encrypted(&db) {
        return Err(OpenError::Passphrase(
            "kho dữ liệu chưa được mã hoá; hãy chạy `danvan encrypt` trước".into(),
        )
        .into());
    }
    if dir.join(cipher::STORE_KEY_FILE).exists() || std::env::var_os(cipher::KEY_FILE_ENV).is_some()
    {
        return Err(
            OpenError::Passphrase("kho này dùng tệp khoá, không dùng mật khẩu".into()).into(),
        );
    }
    let kdf = cipher::Kdf::read(dir)?;
    let old = cipher::key_to_open(dir)?;
    let new = kdf.derive(new_passphrase)?;
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(OpenError::from)?;
    cipher::unlock(&conn, &old)?;
    cipher::remember(dir, Some(&old));
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(OpenError::from)?;
    before_rekey(&old, &new)?;
    // Rekey in rollback-journal mode: one transaction whose hot journal
    // (pages under the old key) undoes an interrupted rekey.
    let rekey = || -> Result<(), rusqlite::Error> {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        conn.pragma_update(None, "journal_mode", "DELETE")?;
        stop_point("rekeying");
        conn.execute_batch(&format!("PRAGMA rekey = \"x'{}'\";", hex(new.bytes())))?;
        conn.pragma_update(None, "journal_mode", "WAL")
    };
    rekey().map_err(OpenError::from)?;
    cipher::remember(dir, Some(&new));
    stop_point("rekeyed");
    Ok(())
}
