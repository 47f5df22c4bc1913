//! Disk faults: a full disk, a file-size limit, a failing read or write.
//!
//! They are told apart from other errors so the officer reads what happened
//! and what to do, in words, instead of an SQLite code or an OS error string.
//! SQLite reports `SQLITE_FULL` only when a write comes back short with
//! `ENOSPC`; any other failed write (`EFBIG` at a file-size limit, `EIO`, a
//! failed `fsync`) comes back as one of the `SQLITE_IOERR_*` codes, and the
//! OS error behind it is not exposed through rusqlite, so those messages say
//! the disk may be full rather than guess.
//!
//! This module knows nothing of `StoreError`: it only classifies, and
//! `error.rs` turns a [`DiskFault`] into the error the officer reads (so the
//! two modules import one way only).

use std::path::Path;

use rusqlite::ffi;

/// A disk fault, with what could not be read or written.
#[derive(Debug)]
pub(crate) enum DiskFault {
    /// The disk or a quota is full, or a file-size limit was reached.
    Full(String),
    /// The disk failed a read or write.
    Io(String),
}

/// `EIO` on every Unix danvan runs on; std has no error kind for it.
const EIO: i32 = 5;

/// The disk fault a file-system error on `path` is, if it is one.
pub(crate) fn io_fault(path: &Path, error: &std::io::Error) -> Option<DiskFault> {
    let (full, why) = io_fault_kind(error)?;
    let what = format!("tệp {} ({why})", path.display());
    Some(if full {
        DiskFault::Full(what)
    } else {
        DiskFault::Io(what)
    })
}

/// What a file-system error means for the officer, if it is a disk fault.
fn io_fault_kind(error: &std::io::Error) -> Option<(bool, &'static str)> {
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
pub(crate) fn sqlite_fault(error: &rusqlite::Error) -> Option<DiskFault> {
    let rusqlite::Error::SqliteFailure(e, _) = error else {
        return None;
    };
    if e.code == rusqlite::ErrorCode::DiskFull {
        return Some(DiskFault::Full("vào kho dữ liệu".into()));
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
    Some(DiskFault::Io(format!(
        "{what}; mã SQLite {}",
        e.extended_code
    )))
}
