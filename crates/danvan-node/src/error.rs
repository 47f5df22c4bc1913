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
    /// The data directory could not be opened, created or locked.
    #[error(transparent)]
    Open(#[from] danvan_store::OpenError),
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
    #[error("hồ sơ {id} là {found}, lệnh này dành cho {expected}")]
    WrongKind {
        /// The record.
        id: String,
        /// What the command needs, named ([`danvan_model::Kind::named`]).
        expected: String,
        /// What it is, named.
        found: String,
    },
    /// A day far ahead or decades back, not confirmed (`--yes`).
    #[error("{field} {date} {why}: nếu đúng là ngày này, chạy lại lệnh với --yes; chưa lưu gì")]
    UnusualDate {
        /// The field, in Vietnamese.
        field: String,
        /// The day as stored (YYYY-MM-DD).
        date: String,
        /// How far it is.
        why: danvan_model::UnusualDate,
    },
    /// A CSV or Excel file with bad rows; nothing was imported.
    #[error("tệp {} có {count} dòng lỗi, không nhập dòng nào:\n{rows}", .path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// How many rows are bad.
        count: usize,
        /// One line per bad row (the first ones).
        rows: String,
    },
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
    /// A typed short code that is not one.
    #[error(transparent)]
    ShortCodeForm(#[from] danvan_proto::code::BadShortCode),
    /// The hub refused a short code.
    #[error("{}", short_code_refusal(*.0))]
    ShortCodeRefused(danvan_proto::code::CodeRefusal),
    /// The answer to a short code did not prove the code: a wrong code, or
    /// not the town's hub at that address.
    #[error(
        "máy tại {0} không chứng minh được mã ngắn này (mã sai, hoặc đó không phải trạm của thị xã): không ghi gì; kiểm tra lại mã và địa chỉ trạm"
    )]
    ShortCodeUnproven(String),
    /// mDNS could not be used.
    #[error("không dùng được mDNS để tìm máy trong mạng nội bộ: {0}")]
    Lan(String),
    /// A machine found on the LAN that is not in the roster.
    #[error(
        "máy {0} không có trong danh sách thành viên: không đồng bộ với máy lạ (văn phòng thị xã thêm nó bằng `roster add` nếu đó là máy của đơn vị)"
    )]
    LanUnknown(String),
    /// `peers --lan --sync-with ID` named a machine that did not answer.
    #[error("không tìm thấy máy {0} trong mạng nội bộ (máy đó có đang chạy `danvan serve`?)")]
    LanNotFound(String),
    /// `--expires` out of range.
    #[error("thời hạn mã ngắn phải từ 1 giây đến 7 ngày, ví dụ 24h, 30m, 2d")]
    ShortCodeTtl,
    /// Too many short codes waiting at the hub.
    #[error(
        "đang có quá nhiều mã ngắn chưa dùng (tối đa {0}): chờ chúng hết hạn hoặc dùng lời mời đầy đủ"
    )]
    ShortCodesFull(usize),
    /// The peer ended the stream before the session was over.
    #[error("nút {0} đóng phiên đồng bộ trước khi xong")]
    PeerClosed(String),
    /// The sync session failed.
    #[error(transparent)]
    Proto(#[from] danvan_proto::ProtoError),
    /// The roster does not let a node read or write a record.
    #[error("không được phép: {0}")]
    Denied(#[from] danvan_model::Denied),
    /// A roster or an invite could not be made or read.
    #[error(transparent)]
    Roster(#[from] danvan_model::RosterError),
    /// A record id that is not one.
    #[error(transparent)]
    DocId(#[from] danvan_model::DocIdError),
    /// A roster command on a data directory without the town's authority key.
    #[error(
        "chỉ văn phòng thị xã (thư mục dữ liệu có khóa thẩm quyền, tạo bằng `init --authority`) mới sửa được danh sách thành viên"
    )]
    NotAuthority,
    /// The authority key file is not the key this store is pinned to.
    #[error("khóa thẩm quyền {} không khớp khóa mà kho này ghi nhận", .0.display())]
    AuthorityMismatch(PathBuf),
    /// An operation that needs a roster, on a store that holds none.
    #[error("kho này chưa có danh sách thành viên")]
    NoRoster,
    /// A roster command after this town's authority handed over to another.
    #[error(
        "thị xã đã chuyển giao cho khóa thẩm quyền {0}: danh sách thành viên nay do nơi giữ khóa đó ký"
    )]
    HandedOver(String),
    /// A handover, an adopted roster or a roster file that cannot be used
    /// here; nothing was changed.
    #[error("{0}; không thay đổi gì")]
    HandoverInput(String),
    /// `serve` or `sync` on the offline authority's data directory.
    #[error(
        "thư mục này giữ khóa thẩm quyền ngoại tuyến (tạo bằng `init --authority --offline`): không phục vụ và không đồng bộ; ký danh sách bằng `danvan roster sign --out TỆP` rồi mang sang trạm và chạy `danvan roster apply TỆP`"
    )]
    OfflineAuthority,
    /// A unit change asked for with a missing or unreadable value (the
    /// replay's own refusals are [`NodeError::Unit`]).
    #[error("thay đổi đơn vị không hợp lệ: {0}; danh sách thành viên không đổi")]
    UnitChangeInput(String),
    /// `bundle export --for` on a store that holds no roster.
    #[error("--for cần danh sách thành viên: nút này chưa thuộc thị xã nào")]
    ExportForWithoutRoster,
    /// A sealed bundle this node cannot open.
    #[error(transparent)]
    Sealed(#[from] danvan_proto::OpenError),
    /// `bundle export` with neither a recipient nor `--plain`.
    #[error(
        "gói chứa dữ liệu cá nhân của công dân nên phải mã hoá: thêm --for MÃ_NÚT (nút nhận, có thể nhiều lần, ví dụ mã nút của máy chủ thị xã), hoặc --plain để ghi tệp không mã hoá"
    )]
    BundleNeedsRecipient,
    /// A node (short id) that the roster does not list.
    #[error("nút {0} không có trong danh sách thành viên")]
    NotMember(String),
    /// A node (short id) the roster does not list or has revoked, so no
    /// scope to export for.
    #[error("không được phép: nút {0} không có trong danh sách thành viên hoặc đã bị thu hồi")]
    NoScope(String),
    /// An invite for a node the roster does not let in.
    #[error("{0}: hãy thêm bằng `roster add` trước")]
    InviteRefused(danvan_model::Denied),
    /// A revoked node (short id) cannot come back.
    #[error(
        "nút {0} đã bị thu hồi; khóa đã thu hồi không dùng lại được — hãy khởi tạo máy với khóa mới"
    )]
    Revoked(String),
    /// A node (short id) revoked already.
    #[error("nút {0} đã bị thu hồi từ trước")]
    AlreadyRevoked(String),
    /// Revoking the town office's own node.
    #[error("không thu hồi chính trạm văn phòng thị xã")]
    RevokeHub,
    /// A member without a unit.
    #[error("cần ít nhất một đơn vị (--unit)")]
    NoUnit,
    /// A field team without a project.
    #[error("tổ GPMB (field) cần dự án: thêm --project, ví dụ --project cao-toc-bac-nam")]
    FieldWithoutProject,
    /// A project only a field team may have.
    #[error("chỉ tổ GPMB (field) mới gắn với dự án")]
    ProjectWithoutField,
    /// A project code outside the vocabulary.
    #[error("dự án {project:?} không có trong danh mục (dùng: {known})")]
    UnknownProject {
        /// The code given.
        project: String,
        /// The codes known.
        known: String,
    },
    /// An address that is not `IP:port` or `HOST:port`.
    #[error("địa chỉ {0:?} không hợp lệ (dạng IP:CỔNG hoặc TÊN-MÁY:CỔNG)")]
    BadAddress(String),
    /// An invite with no hub address to put in it.
    #[error(
        "chưa biết địa chỉ trạm mà các nút kết nối tới: thêm --addr IP:CỔNG hoặc TÊN-MÁY:CỔNG (ví dụ --addr 10.0.0.5:7700)"
    )]
    NoHubAddress,
    /// `sync` with no address on a node that has not joined a town.
    #[error(
        "chưa biết địa chỉ trạm: hãy ghi `danvan sync IP:CỔNG`, hoặc tham gia thị xã bằng `danvan join LỜI_MỜI`"
    )]
    NoSyncTarget,
    /// No task has this number in its conclusion.
    #[error("không có nhiệm vụ số {0}: xem danh sách bằng `danvan list --kind task`")]
    NoTaskNumbered(String),
    /// Several conclusions have a task with this number.
    #[error("có {count} nhiệm vụ số {number} (từ các văn bản khác nhau): hãy dùng mã hồ sơ")]
    TaskNumberAmbiguous {
        /// The number given.
        number: String,
        /// How many tasks have it.
        count: usize,
    },
    /// An invite made for another node.
    #[error("lời mời này dành cho nút {invited}, không phải nút này ({me})")]
    InviteForOther {
        /// The node invited (short id).
        invited: String,
        /// This node (short id).
        me: String,
    },
    /// An invite whose hub address is not `IP:port`.
    #[error("địa chỉ trạm trong lời mời không hợp lệ: {0}")]
    InviteBadAddress(String),
    /// `--set` not of the form `FIELD=VALUE`.
    #[error("--set cần dạng TRƯỜNG=GIÁ_TRỊ, nhận được {0:?}")]
    BadSet(String),
    /// An edit with nothing to set.
    #[error("không có --set nào: không có gì để sửa")]
    NothingToSet,
    /// A parcel not of the form `SHEET/PARCEL:AREA:LAND_TYPE`.
    #[error(
        "thửa đất {0:?} không hợp lệ: dùng TỜ/THỬA:DIỆN_TÍCH_M2:LOẠI_ĐẤT, ví dụ 12/345:250.5:ONT"
    )]
    BadParcel(String),
    /// A number field that is not a non-negative integer.
    #[error("{field}: {text:?} không phải số nguyên không âm")]
    NotANumber {
        /// The field.
        field: String,
        /// What was given.
        text: String,
    },
    /// A kind that CSV import does not take.
    #[error("chỉ nhập được hộ GPMB (household) hoặc hoạt động (activity) từ tệp, không phải {0}")]
    CsvKind(String),
    /// A restore into a data directory that has a store, without `--force`.
    #[error("thư mục {} đã có kho dữ liệu; không khôi phục đè — thêm --force để khôi phục (kho hiện có được chuyển vào thư mục con truoc-khoi-phuc-…, không bị xóa)", .0.display())]
    RestoreOver(PathBuf),
    /// An output file that already exists, without `--force`.
    #[error("tệp {} đã có; không ghi đè — chọn tên khác hoặc thêm --force để ghi đè", .0.display())]
    OutExists(PathBuf),
    /// An input that is not a regular file (a device, a FIFO, a directory).
    #[error("{} không phải tệp thường (thiết bị, ống hay thư mục); không đọc gì — hãy chọn một tệp gói .dvb", .0.display())]
    NotAFile(PathBuf),
    /// An input file over its size bound.
    #[error("tệp {} quá lớn ({bytes} byte, tối đa {max})", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// The bound.
        max: u64,
    },
    /// A CSV file that cannot be read as CSV (the message says where).
    #[error("{0}")]
    CsvRead(String),
    /// A CSV file with an unsupported column.
    #[error("{}: cột «{column}» không có trong mẫu nhập (các cột: {known}; xem danvan import --help)", .path.display())]
    CsvColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The columns supported.
        known: String,
    },
    /// A CSV file over the row bound.
    #[error("{}: quá {max} dòng; hãy chia tệp thành nhiều phần (không dòng nào được nhập)", .path.display())]
    CsvTooLong {
        /// The file.
        path: PathBuf,
        /// The bound.
        max: usize,
    },
    /// A CSV file with no data row.
    #[error("{}: không có dòng dữ liệu nào", .0.display())]
    CsvEmpty(PathBuf),
    /// `erase` of a record that holds no citizen's personal field.
    #[error(
        "hồ sơ loại {0} không chứa dữ liệu cá nhân của công dân để xoá (chỉ đơn thư và hộ GPMB)"
    )]
    NothingToErase(String),
    /// An export that could not be encoded.
    #[error("{0}")]
    Export(String),
    /// An export format other than csv or json.
    #[error("định dạng {0:?} không hỗ trợ (dùng csv hoặc json)")]
    ExportFormat(String),
    /// The demo: a task of it failed.
    #[error("{0}")]
    Demo(String),
    /// The demo: the nodes did not converge.
    #[error("các nút chưa hội tụ sau khi đồng bộ")]
    NotConverged,
    /// A file-system error.
    #[error("không đọc hoặc ghi được tệp {path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// Stopped by Ctrl+C between two steps: what was committed before
    /// stays, nothing is half-written; the text says what was kept.
    #[error("Đã dừng theo yêu cầu (Ctrl+C). {kept}")]
    Interrupted {
        /// What was kept, in Vietnamese.
        kept: String,
    },
    /// A bundle that checked whole failed while it was being imported
    /// (the file changed meanwhile): the batches before stay.
    #[error(
        "gói thay đổi {path} đổi trong lúc nhập ({cause}); đã nhập {kept} thay đổi hợp lệ trước đó, phần còn lại không nhập — hãy chép lại tệp và nhập lại"
    )]
    BundleChanged {
        /// The file.
        path: PathBuf,
        /// Changes stored before the failure.
        kept: usize,
        /// What failed.
        cause: danvan_proto::BundleError,
    },
}

/// The exit code of a command stopped by Ctrl+C (128 + SIGINT, as shells
/// report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// The exit code of a sync or bundle import that finished, but in which
/// changes were refused: the peer did not accept work sent from here, or
/// the import refused some of the bundle's changes. Not an error of the
/// command, yet not silent: scripts and the officer must see it.
pub const EXIT_REFUSED: i32 = 8;

impl NodeError {
    /// The stored change this error found unsendable, and why: the sync
    /// driver quarantines it, and a sync may run again without it.
    pub fn unsendable_change(&self) -> Option<([u8; 32], String)> {
        let store = match self {
            NodeError::Store(e) => Some(e),
            NodeError::Proto(danvan_proto::ProtoError::Replica(r)) => r
                .cause()
                .and_then(|c| c.downcast_ref::<danvan_store::StoreError>()),
            _ => None,
        };
        match store {
            Some(danvan_store::StoreError::Unsendable { hash, reason }) => {
                Some((*hash, reason.clone()))
            }
            _ => None,
        }
    }

    /// The process exit code for this error, so scripts can tell failures
    /// apart without reading Vietnamese:
    ///
    /// | code | meaning |
    /// |---|---|
    /// | 1 | general failure, or input that is not usable |
    /// | 2 | not found: an unknown record or node id |
    /// | 3 | refused by access control (the roster, the authority, a peer's trust) |
    /// | 4 | the peer is unreachable, or the network or the session failed |
    /// | 5 | another danvan process holds the data directory |
    /// | 6 | the disk is full or failed a read or write |
    /// | 7 | the store or a key file is damaged |
    /// | 8 | the command did its work, but some changes were refused ([`EXIT_REFUSED`]) |
    /// | 130 | stopped by Ctrl+C; what was kept is said ([`EXIT_INTERRUPTED`]) |
    ///
    /// A store error met during sync keeps its code: a full disk is 6
    /// whether a command or a sync session wrote.
    pub fn exit_code(&self) -> i32 {
        use danvan_net::NetError;
        use danvan_proto::ProtoError;
        match self {
            NodeError::Store(e) => store_exit_code(e),
            NodeError::Open(e) => open_exit_code(e),
            NodeError::Proto(ProtoError::Replica(r)) => r
                .cause()
                .and_then(|c| c.downcast_ref::<danvan_store::StoreError>())
                .map_or(1, store_exit_code),
            NodeError::Proto(ProtoError::ChangeTooLarge { .. }) => 1,
            NodeError::Proto(_) | NodeError::PeerClosed(_) => 4,
            NodeError::Net(
                NetError::Untrusted { .. }
                | NetError::UnexpectedPeer { .. }
                | NetError::RefusedByPeer { .. },
            ) => 3,
            NodeError::Net(NetError::Config(_) | NetError::Certificate(_)) => 1,
            NodeError::Net(_) => 4,
            NodeError::ShortCodeRefused(_)
            | NodeError::ShortCodeUnproven(_)
            | NodeError::LanUnknown(_) => 3,
            NodeError::Lan(_) | NodeError::LanNotFound(_) => 4,
            NodeError::Denied(_)
            | NodeError::NotAuthority
            | NodeError::AuthorityMismatch(_)
            | NodeError::HandedOver(_)
            | NodeError::OfflineAuthority
            | NodeError::InviteRefused(_)
            | NodeError::NoScope(_) => 3,
            NodeError::NotMember(_) | NodeError::NoTaskNumbered(_) => 2,
            NodeError::Key { .. } => 7,
            NodeError::Record(_)
            | NodeError::Unit(_)
            | NodeError::Date(_)
            | NodeError::Report(_)
            | NodeError::Bundle(_)
            | NodeError::WrongKind { .. }
            | NodeError::UnusualDate { .. }
            | NodeError::Csv { .. }
            | NodeError::Roster(_)
            | NodeError::HandoverInput(_)
            | NodeError::DocId(_)
            | NodeError::ExportForWithoutRoster
            | NodeError::Sealed(_)
            | NodeError::BundleNeedsRecipient
            | NodeError::NoRoster
            | NodeError::UnitChangeInput(_)
            | NodeError::Revoked(_)
            | NodeError::AlreadyRevoked(_)
            | NodeError::RevokeHub
            | NodeError::NoUnit
            | NodeError::FieldWithoutProject
            | NodeError::ProjectWithoutField
            | NodeError::UnknownProject { .. }
            | NodeError::BadAddress(_)
            | NodeError::NoHubAddress
            | NodeError::NoSyncTarget
            | NodeError::TaskNumberAmbiguous { .. }
            | NodeError::InviteForOther { .. }
            | NodeError::InviteBadAddress(_)
            | NodeError::BadSet(_)
            | NodeError::NotAFile(_)
            | NodeError::OutExists(_)
            | NodeError::RestoreOver(_)
            | NodeError::NothingToSet
            | NodeError::BadParcel(_)
            | NodeError::NotANumber { .. }
            | NodeError::CsvKind(_)
            | NodeError::TooLarge { .. }
            | NodeError::CsvRead(_)
            | NodeError::CsvColumn { .. }
            | NodeError::CsvTooLong { .. }
            | NodeError::CsvEmpty(_)
            | NodeError::Export(_)
            | NodeError::NothingToErase(_)
            | NodeError::ExportFormat(_)
            | NodeError::Demo(_)
            | NodeError::NotConverged
            | NodeError::Io { .. }
            | NodeError::BundleChanged { .. }
            | NodeError::ShortCodeForm(_)
            | NodeError::ShortCodeTtl
            | NodeError::ShortCodesFull(_) => 1,
            NodeError::Interrupted { .. } => EXIT_INTERRUPTED,
        }
    }
}

/// Exit code of a wrong, missing or unreadable store passphrase or key.
pub(crate) const EXIT_PASSPHRASE: i32 = 9;

/// The exit code of an open error (see [`NodeError::exit_code`]).
fn open_exit_code(e: &danvan_store::OpenError) -> i32 {
    use danvan_store::OpenError;
    match e {
        OpenError::Locked(_) => 5,
        OpenError::Store(e) => store_exit_code(e),
        OpenError::WrongPassphrase | OpenError::NeedPassphrase(_) | OpenError::Passphrase(_) => {
            EXIT_PASSPHRASE
        }
        OpenError::NoDataDir(_)
        | OpenError::NotInitialized(_)
        | OpenError::AlreadyInitialized(_)
        | OpenError::TooNew { .. } => 1,
    }
}

/// The exit code of a store error (see [`NodeError::exit_code`]).
fn store_exit_code(e: &danvan_store::StoreError) -> i32 {
    use danvan_store::StoreError;
    match e {
        StoreError::NotFound(_) => 2,
        StoreError::Access(_) => 3,
        StoreError::DiskFull(_) | StoreError::DiskIo(_) => 6,
        _ if e.is_damage() => 7,
        StoreError::Ambiguous { .. }
        | StoreError::ChangeTooLarge { .. }
        | StoreError::Unsendable { .. }
        | StoreError::Io { .. }
        | StoreError::NotABackup { .. }
        | StoreError::Corrupt(_)
        | StoreError::Sqlite(_) => 1,
    }
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

/// What the joiner is told when the hub refuses a short code.
fn short_code_refusal(why: danvan_proto::code::CodeRefusal) -> &'static str {
    use danvan_proto::code::CodeRefusal;
    match why {
        CodeRefusal::Wrong => {
            "trạm không nhận mã ngắn này cho máy này: mã sai hoặc mã làm cho máy khác; không ghi gì. Kiểm tra lại mã, hoặc nhờ văn phòng thị xã làm mã mới"
        }
        CodeRefusal::Used => {
            "mã ngắn này đã được dùng (mỗi mã chỉ dùng một lần): nhờ văn phòng thị xã làm mã mới bằng `danvan invite MÃ_NÚT --short`"
        }
        CodeRefusal::Expired => {
            "mã ngắn này đã hết hạn: nhờ văn phòng thị xã làm mã mới bằng `danvan invite MÃ_NÚT --short`"
        }
        CodeRefusal::TooMany => {
            "trạm đã nhận quá nhiều mã sai: mã này không dùng được nữa, hoặc hãy thử lại sau một phút; nếu vẫn bị từ chối, nhờ văn phòng thị xã làm mã mới"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use danvan_proto::{ProtoError, ReplicaError};
    use danvan_store::StoreError;

    /// A store error that crossed the sync engine.
    fn during_sync(e: StoreError) -> NodeError {
        NodeError::Proto(ProtoError::Replica(ReplicaError::from_store(e)))
    }

    #[test]
    fn exit_codes_tell_failures_apart_even_across_sync() {
        let full = || StoreError::DiskFull("vào kho dữ liệu".into());
        assert_eq!(NodeError::Store(full()).exit_code(), 6);
        let synced = during_sync(full());
        assert_eq!(synced.exit_code(), 6);
        // The message is the store's own, quoted once.
        assert!(synced.to_string().contains("ổ đĩa đầy"), "{synced}");
        assert_eq!(during_sync(StoreError::DiskIo("x".into())).exit_code(), 6);
        assert_eq!(during_sync(StoreError::Corrupt("x".into())).exit_code(), 7);
        assert_eq!(during_sync(StoreError::Access("x".into())).exit_code(), 3);
        assert_eq!(
            NodeError::Open(danvan_store::OpenError::Locked("/d".into())).exit_code(),
            5
        );
        let sqlite_full = danvan_store::OpenError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        ));
        assert_eq!(NodeError::Open(sqlite_full).exit_code(), 6);
        assert_eq!(
            NodeError::Store(StoreError::NotFound("abc".into())).exit_code(),
            2
        );
        assert_eq!(NodeError::PeerClosed("ABCD".into()).exit_code(), 4);
        assert_eq!(NodeError::NotAuthority.exit_code(), 3);
        assert_eq!(NodeError::NotMember("ABCD".into()).exit_code(), 2);
        assert_eq!(NodeError::NothingToSet.exit_code(), 1);
        assert_eq!(
            NodeError::Proto(ProtoError::Replica(ReplicaError::new("x"))).exit_code(),
            1
        );
        // Unreachable (4) and refused by a peer that answered (3) differ.
        let addr: std::net::SocketAddr = "192.0.2.1:7420".parse().expect("an address");
        let unreachable = danvan_net::NetError::ConnectTimeout {
            addr,
            timeout_ms: 10_000,
        };
        assert_eq!(NodeError::Net(unreachable).exit_code(), 4);
        let refused = danvan_net::NetError::RefusedByPeer {
            addr,
            us: danvan_model::NodeKey::from_secret([7; 32]).id(),
        };
        assert_eq!(NodeError::Net(refused).exit_code(), 3);
        let unusual = NodeError::UnusualDate {
            field: "ngày".into(),
            date: "1976-01-01".into(),
            why: danvan_model::UnusualDate::Past(50),
        };
        assert_eq!(unusual.exit_code(), 1);
    }
}
