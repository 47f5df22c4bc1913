//! The node key and the authority key on disk: sealed under the store key
//! when the store is encrypted (danvan-store's `sealed_key`), 64 hex digits
//! when it is not (an old or `--plaintext` store). Every read and write of
//! those files goes through here.

use std::path::Path;

use danvan_model::NodeKey;
use danvan_store::sealed_key::{self, UnsealError};
use danvan_store::{DB_FILE, OpenError, cipher};

use crate::access::AUTHORITY_KEY_FILE;
use crate::error::NodeError;
use crate::node::{KEY_FILE, write_private};

/// The secret key files of a data directory.
const SECRET_FILES: [&str; 2] = [KEY_FILE, AUTHORITY_KEY_FILE];

/// The key of the store of `dir` (`None`: plaintext): the one this process
/// opened it with, else from the usual sources (no store open here, so the
/// database file may be read).
fn store_key(dir: &Path) -> Result<Option<cipher::StoreKey>, NodeError> {
    match cipher::opened(dir) {
        Some(key) => Ok(key),
        None if cipher::is_encrypted(&dir.join(DB_FILE)) => Ok(Some(cipher::key_to_open(dir)?)),
        None => Ok(None),
    }
}

fn bad(path: &Path, reason: &str) -> NodeError {
    NodeError::Key {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The secret in the key file `path` of the data directory `dir`, sealed or
/// plaintext. A sealed file is opened with the store's key (asked for, or
/// remembered from opening the store); a key that does not open it is the
/// wrong passphrase.
pub(crate) fn read_secret(dir: &Path, path: &Path) -> Result<[u8; 32], NodeError> {
    let bytes = std::fs::read(path).map_err(|e| bad(path, &e.to_string()))?;
    if !sealed_key::is_sealed(&bytes) {
        let text = std::str::from_utf8(&bytes).map_err(|_| bad(path, "không phải 64 ký tự hex"))?;
        return parse_hex(text.trim()).ok_or_else(|| bad(path, "không phải 64 ký tự hex"));
    }
    // A key this process opened the store with was checked by SQLCipher.
    let checked = matches!(cipher::opened(dir), Some(Some(_)));
    let key = store_key(dir)?.ok_or_else(|| {
        bad(
            path,
            "tệp khoá đã mã hoá nhưng kho dữ liệu không mã hoá: hãy khôi phục từ bản sao lưu",
        )
    })?;
    let secret = match sealed_key::unseal(&key, &bytes) {
        Ok(secret) => secret,
        Err(UnsealError::WrongKey) => return Err(OpenError::WrongPassphrase.into()),
        Err(UnsealError::Malformed) => return Err(bad(path, "tệp khoá mã hoá bị hỏng")),
    };
    if sealed_key::slots(&bytes) == 1 {
        // A file of one slot is sealed under the key the store has (see
        // `reseal`): this key opens the store too.
        cipher::remember(dir, Some(&key));
        return Ok(secret);
    }
    // Two slots: a `danvan passphrase` stopped between sealing under the
    // old and the new key and sealing under the new one alone, and the
    // database is under one of them. Only the key it opens with counts
    // (the other passphrase is refused here, as it is by the store), and
    // the file is sealed under that key alone, so the other passphrase
    // opens nothing from now on.
    if !checked {
        cipher::check_key(dir, &key)?;
        cipher::remember(dir, Some(&key));
    }
    danvan_store::private::write_private_atomic(path, &sealed_key::seal(&[&key], &secret))?;
    Ok(secret)
}

/// Finishes a passphrase change a crash interrupted: every key file of
/// `dir` still sealed under two keys is sealed under the store's key alone
/// (by [`read_secret`]). Returns how many were.
pub(crate) fn finish_passphrase_change(dir: &Path) -> Result<usize, NodeError> {
    let mut finished = 0;
    for name in SECRET_FILES {
        let path = dir.join(name);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if sealed_key::slots(&bytes) > 1 {
            read_secret(dir, &path)?;
            finished += 1;
        }
    }
    Ok(finished)
}

/// The key in the key file `path` of `dir`.
pub(crate) fn read_key(dir: &Path, path: &Path) -> Result<NodeKey, NodeError> {
    read_secret(dir, path).map(NodeKey::from_secret)
}

fn parse_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

fn plain_text(secret: &[u8; 32]) -> String {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}\n")
}

/// Creates the key file `path` of `dir` (never over an existing file) with
/// `key`: sealed when the store is encrypted.
pub(crate) fn create(dir: &Path, path: &Path, key: &NodeKey) -> Result<(), NodeError> {
    match store_key(dir)? {
        Some(store_key) => write_private(path, sealed_key::seal(&[&store_key], &key.secret())),
        None => write_private(path, plain_text(&key.secret())),
    }
}

/// Seals the plaintext key files of the encrypted store of `dir` (after
/// `danvan encrypt`, or a store encrypted by a build that left them
/// plaintext): each written sealed beside itself, fsynced, renamed over
/// it. Returns how many were sealed; nothing on a plaintext store.
pub(crate) fn seal_plaintext(dir: &Path) -> Result<usize, NodeError> {
    let Some(store_key) = store_key(dir)? else {
        return Ok(0);
    };
    let mut sealed = 0;
    for name in SECRET_FILES {
        let path = dir.join(name);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if sealed_key::is_sealed(&bytes) {
            continue;
        }
        let secret = read_secret(dir, &path)?;
        danvan_store::private::write_private_atomic(
            &path,
            &sealed_key::seal(&[&store_key], &secret),
        )?;
        sealed += 1;
    }
    Ok(sealed)
}

/// Rewrites every key file of `dir` sealed under each of `keys` (atomic:
/// beside it, fsync, rename): before a passphrase change under the old and
/// the new key, after it under the new one alone.
pub(crate) fn reseal(dir: &Path, keys: &[&cipher::StoreKey]) -> Result<(), NodeError> {
    for name in SECRET_FILES {
        let path = dir.join(name);
        if !path.exists() {
            continue;
        }
        let secret = read_secret(dir, &path)?;
        danvan_store::private::write_private_atomic(&path, &sealed_key::seal(keys, &secret))?;
    }
    Ok(())
}
