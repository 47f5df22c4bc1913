//! Least exposure at rest: the data directory 0700, every file danvan writes
//! in it 0600, whatever the umask.
//!
//! SQLite creates the `-wal` and `-shm` files with the mode of the database
//! file, so creating the database file 0600 first covers them; a store made
//! by an older build (0644 under umask 022) is tightened on open.

use std::io::Write;
use std::path::Path;

use crate::error::StoreError;

/// Mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in it.
pub const FILE_MODE: u32 = 0o600;

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Io {
        path: path.to_path_buf(),
        error: e,
    }
}

/// Creates `dir` if missing and makes it 0700.
pub fn private_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    set_mode(dir, DIR_MODE)
}

/// Sets `path`'s mode (Unix; nothing elsewhere).
pub fn set_mode(path: &Path, mode: u32) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(io_error(path))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Creates `path` empty with mode 0600 if it does not exist.
pub fn touch_private(path: &Path) -> Result<(), StoreError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(FILE_MODE);
    }
    opts.open(path).map_err(io_error(path))?;
    set_mode(path, FILE_MODE)
}

/// Writes `bytes` to `path` 0600, durably and atomically (a temporary file
/// beside it, fsync, rename, fsync of the directory).
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp-write");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(FILE_MODE);
    }
    let mut file = opts.open(&tmp).map_err(io_error(&tmp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io_error(path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Fsyncs a directory, so a rename in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Tightens a data directory made by an older build: the directory 0700 and
/// every regular file directly in it 0600.
pub fn tighten(dir: &Path) -> Result<(), StoreError> {
    set_mode(dir, DIR_MODE)?;
    let entries = std::fs::read_dir(dir).map_err(io_error(dir))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
                set_mode(&path, FILE_MODE)?;
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
    }
    Ok(())
}
