//! Disk faults: a full disk, a file-size limit, a failing read or write.
//!
//! They are told apart from other errors so the officer reads what happened
//! and what to do, in words, instead of an SQLite code or an OS error string.
//! SQLite reports `SQLITE_FULL` only when a write comes back short with
//! `ENOSPC`; any other failed write (`EFBIG` at a file-size limit, `EIO`, a
//! failed `fsync`) comes back as one of the `SQLITE_IOERR_*` codes, and the
//! OS error behind it is not exposed through rusqlite, so those messages say
//! the disk may be full rather than guess.

use std::path::Path;

use rusqlite::ffi;

use crate::StoreError;

/// `EIO` on every Unix danvan runs on; std has no error kind for it.
const EIO: i32 = 5;

/// What a file-system error means for the officer, if it is a disk fault.
fn io_fault(error: &std::io::Error) -> Option<(bool, &'static str)> {
    use std::io::ErrorKind;
    Some(match error.kind() {
        ErrorKind::StorageFull => (true, "hết chỗ trống"),
        ErrorKind::QuotaExceeded => (true, "vượt hạn mức dung lượng"),
        ErrorKind::FileTooLarge => (true, "tệp vượt giới hạn kích thước cho phép"),
        _ if cfg!(unix) && error.raw_os_error() == Some(EIO) => {
            (false, "thiết bị báo lỗi vào/ra (EIO)")
        }
        _ => return None,
    })
}

/// The disk fault an SQLite error is, if it is one.
pub(crate) fn sqlite_fault(error: &rusqlite::Error) -> Option<StoreError> {
    let rusqlite::Error::SqliteFailure(e, _) = error else {
        return None;
    };
    if e.code == rusqlite::ErrorCode::DiskFull {
        return Some(StoreError::DiskFull("vào kho dữ liệu".into()));
    }
    if e.code != rusqlite::ErrorCode::SystemIoFailure || e.extended_code == ffi::SQLITE_IOERR_NOMEM
    {
        return None;
    }
    let what = match e.extended_code {
        ffi::SQLITE_IOERR_READ | ffi::SQLITE_IOERR_SHORT_READ => "không đọc được kho dữ liệu",
        ffi::SQLITE_IOERR_WRITE => {
            "không ghi được vào kho dữ liệu (ổ đĩa có thể đã đầy, tệp vượt giới hạn kích thước, hoặc đĩa hỏng)"
        }
        ffi::SQLITE_IOERR_FSYNC | ffi::SQLITE_IOERR_DIR_FSYNC => {
            "không đẩy được dữ liệu xuống đĩa (fsync)"
        }
        ffi::SQLITE_IOERR_TRUNCATE
        | ffi::SQLITE_IOERR_SHMSIZE
        | ffi::SQLITE_IOERR_SHMMAP
        | ffi::SQLITE_IOERR_MMAP => "không nới rộng được tệp của kho dữ liệu (ổ đĩa có thể đã đầy)",
        _ => "không đọc hoặc ghi được tệp của kho dữ liệu",
    };
    Some(StoreError::DiskIo(format!(
        "{what}; mã SQLite {}",
        e.extended_code
    )))
}

impl StoreError {
    /// A file-system error on `path`: [`StoreError::DiskFull`] or
    /// [`StoreError::DiskIo`] when it is a disk fault, [`StoreError::Io`]
    /// otherwise. For any file danvan writes (exports, bundles, keys), not
    /// only the store's own.
    pub fn from_io(path: &Path, error: std::io::Error) -> StoreError {
        match io_fault(&error) {
            Some((true, why)) => StoreError::DiskFull(format!("tệp {} ({why})", path.display())),
            Some((false, why)) => StoreError::DiskIo(format!("tệp {} ({why})", path.display())),
            None => StoreError::Io {
                path: path.to_path_buf(),
                error,
            },
        }
    }

    /// Whether this is a disk fault (full disk, file-size limit, I/O error).
    pub fn is_disk_fault(&self) -> bool {
        matches!(self, StoreError::DiskFull(_) | StoreError::DiskIo(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_are_classified() {
        let p = Path::new("/x/bao-cao.csv");
        let full = StoreError::from_io(p, std::io::Error::from_raw_os_error(28));
        assert!(matches!(full, StoreError::DiskFull(_)), "{full:?}");
        assert!(
            full.to_string()
                .starts_with("ổ đĩa đầy: không ghi được tệp /x/bao-cao.csv")
        );
        let big = StoreError::from_io(p, std::io::Error::from_raw_os_error(27));
        assert!(
            big.to_string().contains("vượt giới hạn kích thước"),
            "{big}"
        );
        let eio = StoreError::from_io(p, std::io::Error::from_raw_os_error(EIO));
        assert!(
            eio.to_string()
                .starts_with("lỗi đọc/ghi đĩa: tệp /x/bao-cao.csv")
        );
        let other = StoreError::from_io(p, std::io::ErrorKind::NotFound.into());
        assert!(matches!(other, StoreError::Io { .. }) && !other.is_disk_fault());
    }

    #[test]
    fn sqlite_full_and_ioerr_are_disk_faults() {
        let fail = |code: i32| {
            StoreError::from(rusqlite::Error::SqliteFailure(
                ffi::Error::new(code),
                Some("disk I/O error".into()),
            ))
        };
        assert!(matches!(fail(ffi::SQLITE_FULL), StoreError::DiskFull(_)));
        let write = fail(ffi::SQLITE_IOERR_WRITE);
        assert!(matches!(write, StoreError::DiskIo(_)));
        assert!(write.to_string().contains("ổ đĩa có thể đã đầy"), "{write}");
        assert!(fail(ffi::SQLITE_IOERR_FSYNC).is_disk_fault());
        assert!(!fail(ffi::SQLITE_IOERR_NOMEM).is_disk_fault());
        assert!(!fail(ffi::SQLITE_CONSTRAINT).is_disk_fault());
    }
}
