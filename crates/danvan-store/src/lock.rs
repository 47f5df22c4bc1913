//! One process per data directory: the `danvan.lock` file lock, taken on
//! open and released between store accesses by a long-running sync.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{OpenError, StoreError, io_err};
use crate::{LOCK_FILE, Store};

/// How long a command waits for another process to release the data
/// directory before it gives up with [`OpenError::Locked`].
pub const LOCK_WAIT_MS: u64 = 3_000;

pub(crate) fn take_lock(dir: &Path) -> Result<File, OpenError> {
    let path = dir.join(LOCK_FILE);
    let mut opts = OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(crate::private::FILE_MODE);
    }
    let file = opts.open(&path).map_err(io_err(&path))?;
    wait_lock(&file, dir, LOCK_WAIT_MS)?;
    Ok(file)
}

fn wait_lock(file: &File, dir: &Path, wait_ms: u64) -> Result<(), OpenError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(wait_ms);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {
                if std::time::Instant::now() >= deadline {
                    return Err(OpenError::Locked(dir.to_path_buf()));
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(OpenError::Store(StoreError::Io {
                    path: dir.join(LOCK_FILE),
                    error: e,
                }));
            }
        }
    }
}

impl Store {
    /// Lets other processes use the data directory until [`Store::relock`]:
    /// a long-running sync holds the directory only while it touches the
    /// store, so officers can record work meanwhile.
    pub fn unlock(&mut self) -> Result<(), StoreError> {
        self._lock
            .unlock()
            .map_err(io_err(&self.dir.join(LOCK_FILE)))
    }

    /// Takes the directory back after [`Store::unlock`], waiting up to `wait_ms`.
    pub fn relock(&mut self, wait_ms: u64) -> Result<(), OpenError> {
        wait_lock(&self._lock, &self.dir, wait_ms)
    }
}

/// A data directory held by this process without opening its store: a
/// restore replaces the store's files under it. Released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Takes the lock of `dir` (which must exist), waiting like an open does.
pub fn lock_dir(dir: &Path) -> Result<DirLock, OpenError> {
    Ok(DirLock {
        _file: take_lock(dir)?,
    })
}
