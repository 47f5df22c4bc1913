//! Errors of node operations, as the CLI shows them.

use std::path::PathBuf;

/// What went wrong. Every variant leaves what is already stored intact.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// From the store; also a full disk or a failing disk while writing or
    /// reading any file ([`danvan_store::StoreError::DiskFull`],
    /// [`danvan_store::StoreError::DiskIo`]).
    #[error(transparent)]
    Store(#[from] danvan_store::StoreError),
    /// A record or value was refused.
    #[error(transparent)]
    Record(#[from] danvan_model::RecordError),
    /// A unit problem.
    #[error(transparent)]
    Unit(#[from] danvan_model::UnitError),
    /// A date or period problem.
    #[error(transparent)]
    Date(#[from] danvan_model::DateError),
    /// A report, due list or conclusion problem.
    #[error(transparent)]
    Report(#[from] danvan_report::ReportError),
    /// A bundle could not be read.
    #[error(transparent)]
    Bundle(#[from] danvan_proto::BundleError),
    /// A record of another kind than the command expects.
    #[error("hồ sơ {id} là loại {found}, lệnh này dành cho loại {expected}")]
    WrongKind {
        /// The record.
        id: String,
        /// What the command needs.
        expected: &'static str,
        /// What it is.
        found: String,
    },
    /// A CSV file with bad rows; nothing was imported.
    #[error("tệp CSV {path} có {count} dòng lỗi, không nhập dòng nào:\n{rows}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// How many rows are bad.
        count: usize,
        /// One line per bad row (the first ones).
        rows: String,
    },
    /// A change in a bundle or from a peer failed verification.
    #[error("gói thay đổi bị từ chối: {0}")]
    Rejected(String),
    /// The node key file is missing or damaged.
    #[error("khóa nút {path} hỏng hoặc thiếu: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A transport error.
    #[error(transparent)]
    Net(#[from] danvan_net::NetError),
    /// The sync session failed.
    #[error(transparent)]
    Proto(#[from] danvan_proto::ProtoError),
    /// The roster does not allow this node to do it.
    #[error("không được phép: {0}")]
    Denied(String),
    /// A value given on the command line is not usable.
    #[error("{0}")]
    Invalid(String),
    /// A file-system error.
    #[error("không đọc hoặc ghi được tệp {path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |error| file_error(path, error)
}

/// A file-system error on `path`: a disk fault (full disk, file-size limit,
/// `EIO`) as the store's disk error, anything else as [`NodeError::Io`].
pub fn file_error(path: &std::path::Path, error: std::io::Error) -> NodeError {
    match danvan_store::StoreError::from_io(path, error) {
        danvan_store::StoreError::Io { path, error } => NodeError::Io { path, error },
        disk => NodeError::Store(disk),
    }
}
