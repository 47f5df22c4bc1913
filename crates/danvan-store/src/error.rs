//! What can go wrong in the store, in Vietnamese for the officer.

use std::path::{Path, PathBuf};

use crate::disk::{self, DiskFault};

/// Why a data directory could not be opened, created or locked again.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
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
    /// The store is encrypted and the key read does not open it.
    #[error(
        "sai mật khẩu (hoặc sai tệp khoá): không mở được kho dữ liệu đã mã hoá — không có gì bị thay đổi; hãy nhập lại đúng mật khẩu"
    )]
    WrongPassphrase,
    /// The store is encrypted and no passphrase or key was given.
    #[error("kho dữ liệu đã được mã hoá, cần mật khẩu: {0}")]
    NeedPassphrase(String),
    /// A passphrase or key file could not be read or is malformed.
    #[error("mật khẩu/khoá: {0}")]
    Passphrase(String),
    /// Reading or preparing the store failed: a disk fault, damage, SQLite.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for OpenError {
    fn from(e: rusqlite::Error) -> Self {
        OpenError::Store(e.into())
    }
}

/// What went wrong in the store once open: applying changes, writing
/// records, or querying. Nothing already committed is lost by any of these.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
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
    /// A local write would store a change larger than sync carries.
    #[error(
        "thay đổi dài {bytes} byte, vượt giới hạn {max} byte mà đồng bộ mang được — hãy rút ngắn nội dung; chưa lưu gì"
    )]
    ChangeTooLarge {
        /// The body length.
        bytes: usize,
        /// The bound.
        max: usize,
    },
    /// A stored change cannot be sent: its body is not the change its hash
    /// names. It is quarantined (never offered again); the next sync goes on
    /// without it.
    #[error(
        "thay đổi {} lưu trong kho bị hỏng ({reason}) — đã cách ly, lần đồng bộ sau sẽ bỏ qua nó; chạy `danvan check` để xem",
        hex12(.hash)
    )]
    Unsendable {
        /// The change hash.
        hash: [u8; 32],
        /// What is wrong with it.
        reason: String,
    },
    /// A file given to `restore` is not a backup this build can restore.
    #[error("tệp {path} không phải bản sao lưu khôi phục được: {reason}; không thay đổi gì")]
    NotABackup {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Any other SQLite error.
    #[error("lỗi SQLite: {0}")]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        disk::sqlite_fault(&e).map_or(StoreError::Sqlite(e), StoreError::from)
    }
}

/// The first 12 hex digits of a hash, as messages show it.
fn hex12(hash: &[u8; 32]) -> String {
    hash[..6].iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::from_io(path, error)
}

impl From<DiskFault> for StoreError {
    fn from(fault: DiskFault) -> Self {
        match fault {
            DiskFault::Full(what) => StoreError::DiskFull(what),
            DiskFault::Io(what) => StoreError::DiskIo(what),
        }
    }
}

impl StoreError {
    /// A file-system error on `path`: [`StoreError::DiskFull`] or
    /// [`StoreError::DiskIo`] when it is a disk fault, [`StoreError::Io`]
    /// otherwise. For any file danvan writes (exports, bundles, keys), not
    /// only the store's own.
    pub fn from_io(path: &Path, error: std::io::Error) -> StoreError {
        match disk::io_fault(path, &error) {
            Some(fault) => fault.into(),
            None => StoreError::Io {
                path: path.to_path_buf(),
                error,
            },
        }
    }

    /// Whether stored data is damaged: unreadable rows, or SQLite finding
    /// the database file corrupt or not a database at all.
    pub fn is_damage(&self) -> bool {
        match self {
            StoreError::Corrupt(_) | StoreError::Unsendable { .. } => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ),
            _ => false,
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
    use rusqlite::ffi;

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
        let eio = StoreError::from_io(p, std::io::Error::from_raw_os_error(5));
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
