//! `danvan backup` and `danvan restore`: a data directory into one file and
//! back (the file format and the new epoch: danvan-store's `backup` module).

use std::path::{Path, PathBuf};

use danvan_store::{BackupContents, DB_FILE, OpenError, StoreError};

use crate::access::AUTHORITY_KEY_FILE;
use crate::error::{NodeError, io};
use crate::node::{KEY_FILE, UNITS_FILE, WEB_USERS_FILE, random_bytes, write_private};
use crate::transfer::{check_out_path, temp_beside};

/// The files of a data directory a backup carries besides the database.
/// A restore writes back only these names, whatever a backup file lists.
const CARRIED: [&str; 4] = [KEY_FILE, UNITS_FILE, AUTHORITY_KEY_FILE, WEB_USERS_FILE];
/// SQLite's files beside the database, moved aside with it.
const DB_SIDE_FILES: [&str; 2] = ["danvan.db-wal", "danvan.db-shm"];

/// A backup written.
#[derive(Debug)]
pub struct BackupDone {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// What it holds.
    pub contents: BackupContents,
}

/// A restore done.
#[derive(Debug)]
pub struct RestoreDone {
    /// What the backup held.
    pub contents: BackupContents,
    /// The epoch of the store the backup was taken from.
    pub old_epoch: [u8; 8],
    /// The restored store's own epoch.
    pub new_epoch: [u8; 8],
    /// Where the store that was in the data directory was moved, if any.
    pub kept_aside: Option<PathBuf>,
}

/// Backs the data directory `dir` up into `out` (refused if it exists,
/// unless `force`), while other danvan processes may keep using it. The file
/// is readable by its owner only: it holds the node key.
pub fn backup(dir: &Path, out: &Path, force: bool) -> Result<BackupDone, NodeError> {
    require_store(dir)?;
    check_out_path(out, force)?;
    let mut files = Vec::new();
    for name in CARRIED {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(body) => files.push((name.to_string(), body)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && name != KEY_FILE => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    let tmp = temp_beside(out);
    write_private(&tmp, [])?;
    let written = (|| {
        let contents = danvan_store::backup_database(dir, &tmp, &files)?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io(&tmp))?;
        let bytes = std::fs::metadata(&tmp).map_err(io(&tmp))?.len();
        std::fs::rename(&tmp, out).map_err(io(out))?;
        Ok::<_, NodeError>((contents, bytes))
    })();
    match written {
        Ok((contents, bytes)) => Ok(BackupDone {
            path: out.to_path_buf(),
            bytes,
            contents,
        }),
        Err(e) => {
            // A partial backup on a full disk would keep it full.
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Restores the backup `file` into the data directory `dir` (created if
/// missing). A store already there is refused unless `force`; then it is
/// moved, with its key and unit tree, into a subdirectory
/// `truoc-khoi-phuc-…` — never deleted. The restored store gets a new epoch.
/// Nothing is changed when the file is not a backup this build restores,
/// and a failure after the move puts the old store back.
pub fn restore(dir: &Path, file: &Path, force: bool) -> Result<RestoreDone, NodeError> {
    let contents = danvan_store::inspect_backup(file)?;
    if !contents.files.iter().any(|n| n == KEY_FILE) {
        return Err(StoreError::NotABackup {
            path: file.to_path_buf(),
            reason: format!("thiếu khóa của máy ({KEY_FILE})"),
        }
        .into());
    }
    let files: Vec<(String, Vec<u8>)> = danvan_store::backup_files(file)?
        .into_iter()
        .filter(|(name, _)| CARRIED.contains(&name.as_str()))
        .collect();
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let _lock = danvan_store::lock_dir(dir)?;
    let target = dir.join(DB_FILE);
    let kept_aside = if target.exists() {
        if !force {
            return Err(NodeError::RestoreOver(dir.to_path_buf()));
        }
        Some(move_aside(dir)?)
    } else {
        None
    };
    match put_in_place(dir, file, &files) {
        Ok((old_epoch, new_epoch)) => Ok(RestoreDone {
            contents,
            old_epoch,
            new_epoch,
            kept_aside,
        }),
        Err(e) => {
            if let Some(aside) = &kept_aside {
                move_back(dir, aside);
            }
            Err(e)
        }
    }
}

fn require_store(dir: &Path) -> Result<(), NodeError> {
    if !dir.is_dir() {
        return Err(OpenError::NoDataDir(dir.to_path_buf()).into());
    }
    if !dir.join(DB_FILE).exists() {
        return Err(OpenError::NotInitialized(dir.to_path_buf()).into());
    }
    Ok(())
}

/// The store's files that a restore replaces.
fn replaced() -> impl Iterator<Item = &'static str> {
    std::iter::once(DB_FILE).chain(DB_SIDE_FILES).chain(CARRIED)
}

fn move_aside(dir: &Path) -> Result<PathBuf, NodeError> {
    let aside = dir.join(format!("truoc-khoi-phuc-{}", crate::node::now_ms()));
    std::fs::create_dir(&aside).map_err(io(&aside))?;
    for name in replaced() {
        let from = dir.join(name);
        if from.exists() {
            std::fs::rename(&from, aside.join(name)).map_err(io(&from))?;
        }
    }
    Ok(aside)
}

/// Puts the files moved aside back (after a failed restore). Best effort:
/// what cannot be moved stays in the aside directory, where it was safe.
fn move_back(dir: &Path, aside: &Path) {
    for name in replaced() {
        let from = aside.join(name);
        if from.exists() {
            let _ = std::fs::remove_file(dir.join(name));
            let _ = std::fs::rename(&from, dir.join(name));
        }
    }
    let _ = std::fs::remove_dir(aside);
}

/// Copies the backup beside the database's name, gives it a new epoch,
/// writes the carried files, and only then renames it into place.
fn put_in_place(
    dir: &Path,
    file: &Path,
    files: &[(String, Vec<u8>)],
) -> Result<([u8; 8], [u8; 8]), NodeError> {
    let target = dir.join(DB_FILE);
    let tmp = temp_beside(&target);
    write_private(&tmp, [])?;
    let done = (|| {
        let mut from = std::fs::File::open(file).map_err(io(file))?;
        let mut to = std::fs::OpenOptions::new()
            .write(true)
            .open(&tmp)
            .map_err(io(&tmp))?;
        std::io::copy(&mut from, &mut to)
            .and_then(|_| to.sync_all())
            .map_err(io(&tmp))?;
        drop(to);
        let new_epoch = random_bytes::<8>();
        let old_epoch = danvan_store::adopt_restored(&tmp, new_epoch, file)?;
        for (name, body) in files {
            write_private(&dir.join(name), body)?;
        }
        danvan_store::cipher::adopt_kdf(dir, file)?;
        std::fs::rename(&tmp, &target).map_err(io(&target))?;
        Ok((old_epoch, new_epoch))
    })();
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
        for (name, _) in files {
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    done
}
