//! `danvan`: the command-line tool of danvan, offline-first records and sync
//! for commune-level dân vận work. The only crate that uses `anyhow`; it
//! parses arguments, calls `danvan-node`, and prints in Vietnamese (or JSON).

mod access;
mod backup;
mod clap_vi;
mod conventions;
mod handover;
mod import;
mod interrupt;
mod invite;
mod lan;
mod output;
mod progress;
mod web;

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use danvan_model::{Kind, vocab};
use danvan_node::{
    ActivityDraft, Draft, HouseholdDraft, ListQuery, ModelDraft, Node, PetitionDraft,
    ProgressDraft, TaskDraft,
};

use output::{not_accepted, print_json, print_rows, print_shown};

/// The exit code of a command that did its work: 0, or
/// [`danvan_node::EXIT_REFUSED`] when some changes were refused.
static EXIT_STATUS: AtomicI32 = AtomicI32::new(0);

/// The exit code of a command stopped by Ctrl+C (128 + SIGINT, as shells
/// report it).
const EXIT_INTERRUPTED: i32 = danvan_node::EXIT_INTERRUPTED;

#[derive(Parser)]
#[command(
    name = "danvan",
    version,
    about = "Ghi nhận công tác dân vận ngoại tuyến và đồng bộ giữa các xã, phường và thị xã"
)]
struct Cli {
    /// Thư mục dữ liệu (mặc định: thư mục dữ liệu của hệ điều hành)
    #[arg(long, global = true, env = "DANVAN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Kết nối im lặng quá chừng này ms thì coi là đứt (mặc định 30000); dùng
    /// để thử nghiệm đường truyền xấu. Gói giữ kết nối gửi sau một phần ba khoảng này.
    #[arg(long, global = true, env = "DANVAN_IDLE_TIMEOUT_MS", hide = true)]
    idle_timeout_ms: Option<u64>,
    /// Đồng ý lưu ngày quá 30 ngày tới hoặc quá 20 năm trước (thường là gõ nhầm năm)
    #[arg(long, global = true)]
    yes: bool,
    /// Thử nghiệm: phiên bản giao thức đồng bộ mới nhất mà nút này dùng (đóng vai bản cũ)
    #[arg(long, global = true, hide = true, value_parser = clap::value_parser!(u16).range(1..))]
    protocol: Option<u16>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Khởi tạo thư mục dữ liệu: kho SQLite, khóa nút, cây đơn vị
    Init {
        /// Đơn vị của nút này (ví dụ pho-minh)
        #[arg(long)]
        unit: String,
        /// Văn phòng thị xã: tạo thêm khóa thẩm quyền và danh sách thành viên,
        /// nút này là trạm (hub) của thị xã
        #[arg(long)]
        authority: bool,
        /// Cùng --authority: chỉ giữ khóa thẩm quyền và danh sách thành viên,
        /// trên máy không nối mạng (không phục vụ, không đồng bộ); trạm nhận
        /// danh sách bằng tệp (`roster sign`, `roster apply`)
        #[arg(long, requires = "authority")]
        offline: bool,
        /// Tên hiển thị của nút
        #[arg(long)]
        name: Option<String>,
        /// Tệp cây đơn vị (TOML); mặc định là cây mẫu thị xã Đức Phổ
        #[arg(long)]
        units: Option<PathBuf>,
        /// Tạo kho KHÔNG mã hoá (mặc định kho được mã hoá bằng mật khẩu)
        #[arg(long)]
        plaintext: bool,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Cây đơn vị vào một ngày, và các đơn vị cũ đã sắp xếp vào đơn vị mới
    Units {
        /// Ngày xem cây đơn vị (mặc định hôm nay), ví dụ 30/06/2025
        #[arg(long, value_name = "NGÀY")]
        on: Option<String>,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Mã nút của máy này
    Id {
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Hoạt động dân vận
    Activity {
        #[command(subcommand)]
        command: AddOnly<ActivityAdd>,
    },
    /// Phản ánh, kiến nghị, khiếu nại, tố cáo
    Petition {
        #[command(subcommand)]
        command: AddOnly<PetitionAdd>,
    },
    /// Hộ bị ảnh hưởng giải phóng mặt bằng
    Household {
        #[command(subcommand)]
        command: HouseholdCommand,
    },
    /// Nhiệm vụ từ kết luận, nghị quyết
    Task {
        #[command(subcommand)]
        command: TaskCommand,
    },
    /// Báo cáo tiến độ nhiệm vụ của đơn vị
    Progress {
        #[command(subcommand)]
        command: AddOnly<ProgressAdd>,
    },
    /// Mô hình "Dân vận khéo"
    Model {
        #[command(subcommand)]
        command: AddOnly<ModelAdd>,
    },
    /// Sửa trường của hồ sơ: --set TRƯỜNG=GIÁ_TRỊ
    Edit {
        /// Mã hồ sơ, vài ký tự đầu của mã, hoặc số thứ tự nhiệm vụ (ví dụ 2.4)
        id: String,
        /// TRƯỜNG=GIÁ_TRỊ, lặp lại được; TRƯỜNG là mã hoặc tên tiếng Việt, không cần dấu (ví dụ "Tiêu đề=Họp dân thôn 3")
        #[arg(long = "set", required = true)]
        sets: Vec<String>,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Xem một hồ sơ
    Show {
        /// Mã hồ sơ, vài ký tự đầu của mã, hoặc số thứ tự nhiệm vụ (ví dụ 2.4)
        id: String,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Danh sách hồ sơ
    List {
        /// Loại hồ sơ: activity (hoạt động), petition (đơn thư), household (hộ GPMB), task (nhiệm vụ), progress (báo cáo tiến độ), model (mô hình)
        #[arg(long)]
        kind: Option<String>,
        /// Đơn vị (gồm đơn vị trực thuộc và đơn vị đã sáp nhập vào)
        #[arg(long)]
        unit: Option<String>,
        /// Kỳ: 2023, 2023-H1, 2023-Q3, 2023-07 hoặc 2023-01-01..2023-06-30
        #[arg(long)]
        period: Option<String>,
        /// Trạng thái (mã), ví dụ dang-giai-quyet
        #[arg(long)]
        status: Option<String>,
        /// Dự án GPMB
        #[arg(long)]
        project: Option<String>,
        /// Tìm theo nội dung, không cần gõ dấu
        #[arg(long)]
        search: Option<String>,
        /// Số hồ sơ tối đa
        #[arg(long)]
        limit: Option<usize>,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Lịch sử thay đổi của hồ sơ, theo thứ tự nhân quả
    History {
        /// Mã hồ sơ, vài ký tự đầu của mã, hoặc số thứ tự nhiệm vụ (ví dụ 2.4)
        id: String,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Các trường bị sửa đồng thời thành giá trị khác nhau
    Conflicts {
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Nhập hàng loạt từ tệp Excel (.xlsx) hoặc CSV; `import template` tạo tệp mẫu
    Import(import::ImportArgs),
    /// Xuất hồ sơ
    Export {
        /// csv hoặc json
        #[arg(long, default_value = "csv")]
        format: String,
        /// Chỉ xuất loại hồ sơ này: activity, petition, household, task, progress, model
        #[arg(long)]
        kind: Option<String>,
        /// Ghi ra tệp thay vì màn hình
        #[arg(long)]
        out: Option<PathBuf>,
        /// Ghi đè tệp --out nếu đã có
        #[arg(long)]
        force: bool,
    },
    /// Gói thay đổi để chuyển tay (USB, thư điện tử)
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
    /// Danh sách thành viên của thị xã (ký bằng khóa thẩm quyền): ai được kết nối, đọc, ghi
    Roster {
        #[command(subcommand)]
        command: access::RosterCommand,
    },
    /// In lời mời cho một nút đã có trong danh sách thành viên (văn phòng thị xã)
    Invite {
        /// Mã nút (in bằng `danvan id` trên máy đó)
        node_id: String,
        /// Địa chỉ trạm mà các nút kết nối tới (IP:CỔNG hoặc TÊN-MÁY:CỔNG); được ghi nhớ cho lần sau
        #[arg(long)]
        addr: Option<String>,
        #[command(flatten)]
        show: invite::InviteShow,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Tham gia thị xã bằng lời mời rồi đồng bộ với trạm
    Join {
        /// Chuỗi lời mời (dvmoi1-…); hoặc dùng --code và --hub
        #[arg(required_unless_present = "code")]
        invite: Option<String>,
        #[command(flatten)]
        code: invite::JoinCode,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Xoá dữ liệu cá nhân của công dân trong một hồ sơ theo yêu cầu hợp pháp (họ tên, số CCCD, địa chỉ): ghi một thay đổi mới; các thay đổi trước vẫn giữ giá trị cũ
    Erase {
        /// Mã hồ sơ
        id: String,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Nhật ký kiểm tra: các phiên đồng bộ, thay đổi và kết nối bị từ chối kèm lý do
    Audit {
        /// Số dòng mới nhất
        #[arg(long, default_value_t = 200)]
        limit: usize,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Danh sách nút tin cậy thủ công (nút chưa thuộc thị xã nào); khi đã có
    /// danh sách thành viên thì chỉ dùng làm sổ địa chỉ
    Trust {
        #[command(subcommand)]
        command: TrustCommand,
    },
    /// Nhận kết nối đồng bộ từ các nút khác; với --hub còn đồng bộ liên tục lên trạm thị xã
    Serve {
        /// Địa chỉ nhận kết nối đồng bộ (IP:CỔNG, UDP)
        #[arg(long, default_value = "0.0.0.0:7420")]
        listen: std::net::SocketAddr,
        /// Địa chỉ trạm thị xã để đồng bộ lên liên tục (IP:CỔNG hoặc TÊN-MÁY:CỔNG)
        #[arg(long)]
        hub: Option<danvan_node::PeerAddr>,
        /// Chạy cả trang web tại địa chỉ này (ví dụ 127.0.0.1:8420)
        #[arg(long)]
        web: Option<std::net::SocketAddr>,
    },
    /// Trang web cho cán bộ (mặc định http://127.0.0.1:8420/, chỉ máy này truy cập)
    Web {
        #[command(subcommand)]
        command: Option<WebCommand>,
        /// Địa chỉ lắng nghe; địa chỉ khác 127.0.0.1 cần tài khoản cán bộ
        #[arg(long, default_value = danvan_web::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
    },
    /// Một phiên đồng bộ với nút khác (mặc định: trạm thị xã trong lời mời); --live giữ kết nối và đẩy thay đổi mới ngay
    Sync {
        /// Địa chỉ nút kia (IP:CỔNG hoặc TÊN-MÁY:CỔNG); mặc định: trạm thị xã trong lời mời
        addr: Option<danvan_node::PeerAddr>,
        /// Giữ kết nối và đẩy thay đổi mới ngay (Ctrl+C để dừng)
        #[arg(long)]
        live: bool,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Lần đồng bộ gần nhất với từng nút
    Peers {
        #[command(flatten)]
        lan: lan::LanArgs,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Chạy thử: trạm thị xã, các xã và máy tổ công tác trên QUIC nội bộ
    Demo {
        /// Giữ lại thư mục dữ liệu của bản chạy thử tại đây
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Chạy kịch bản, in kết quả rồi thoát (không mở trang web)
        #[arg(long)]
        once: bool,
        /// Địa chỉ trang web của trạm thị xã; trang của phường Phổ Minh ở cổng kế tiếp
        /// (mặc định 127.0.0.1:8420, cổng bận thì lấy cổng trống tiếp theo)
        #[arg(long, value_name = "ADDR")]
        web: Option<std::net::SocketAddr>,
    },
    /// Báo cáo định kỳ theo đơn vị và kỳ: md, csv, xlsx, html (hoặc json)
    Report {
        /// Kỳ báo cáo: 2023-H1, 2023-H2, 2023, 2023-Q3, 2023-07, 2023-01-01..2023-06-30
        #[arg(long)]
        period: String,
        /// Đơn vị (mặc định: đơn vị của nút); gồm mọi đơn vị trực thuộc
        #[arg(long)]
        unit: Option<String>,
        /// md, csv, xlsx, html hoặc json (mặc định: theo đuôi tệp --out, nếu không thì md)
        #[arg(long)]
        format: Option<String>,
        /// Ghi ra tệp thay vì màn hình
        #[arg(long)]
        out: Option<PathBuf>,
        /// Ghi đè tệp --out nếu đã có
        #[arg(long)]
        force: bool,
        /// Ngày tính số liệu (mặc định hôm nay), dùng để tính đơn quá hạn
        #[arg(long, env = "DANVAN_TODAY")]
        today: Option<String>,
        /// Dòng theo đơn vị nào: old = đơn vị như ngày cuối kỳ (mặc định; kỳ
        /// trước sắp xếp theo đơn vị cũ, kỳ có sắp xếp theo đơn vị mới), new =
        /// đơn vị như hôm nay (kỳ cũ quy về đơn vị mới). Tổng số như nhau.
        #[arg(long, value_name = "old|new", conflicts_with = "as_of")]
        units: Option<String>,
        /// Dòng theo đơn vị như ngày này (ví dụ 01/07/2025)
        #[arg(long, value_name = "NGÀY")]
        as_of: Option<String>,
    },
    /// Việc đến hạn: đơn quá hạn hoặc sắp đến hạn, nhiệm vụ chưa báo cáo, hộ lâu chưa vận động
    Due {
        /// Liệt kê đơn đến hạn trong số ngày này (cùng các đơn đã quá hạn)
        #[arg(long, default_value_t = 7)]
        within: i64,
        /// Hộ chưa bàn giao mà không có lần vận động nào trong số ngày này
        #[arg(long, default_value_t = DEFAULT_STALE_DAYS)]
        stale_days: i64,
        /// Đơn vị (mặc định: đơn vị của nút)
        #[arg(long)]
        unit: Option<String>,
        /// Ngày tính (mặc định hôm nay)
        #[arg(long, env = "DANVAN_TODAY")]
        today: Option<String>,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Mã hoá tại chỗ một kho dữ liệu chưa mã hoá (bằng mật khẩu hoặc tệp khoá)
    Encrypt,
    /// Đổi mật khẩu của kho dữ liệu đã mã hoá
    Passphrase,
    /// Kiểm tra toàn vẹn kho dữ liệu
    Check {
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Sao lưu thư mục dữ liệu vào một tệp (dùng được khi danvan đang chạy)
    Backup {
        /// Tệp sao lưu (ví dụ danvan-2026-12-03.dvbak)
        #[arg(long)]
        out: PathBuf,
        /// Ghi đè tệp --out nếu đã có
        #[arg(long)]
        force: bool,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Tập lệnh gợi ý (tab) cho shell: bash, zsh, fish, powershell
    Completions {
        /// bash, zsh, fish hoặc powershell
        shell: conventions::Shell,
    },
    /// Trang hướng dẫn (man): danvan.1 ra màn hình, hoặc mọi trang vào --out
    Man {
        /// Thư mục ghi các trang man (danvan.1, danvan-household-add.1, …)
        #[arg(long, value_name = "THƯ_MỤC")]
        out: Option<PathBuf>,
    },
    /// Khôi phục thư mục dữ liệu từ tệp sao lưu; kho khôi phục nhận epoch mới
    Restore {
        /// Tệp do `danvan backup` tạo
        file: PathBuf,
        /// Khôi phục dù thư mục đã có kho (kho cũ được chuyển vào thư mục con, không bị xóa)
        #[arg(long)]
        force: bool,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum WebCommand {
    /// Tài khoản cán bộ đăng nhập trang web
    User {
        #[command(subcommand)]
        command: WebUserCommand,
    },
}

#[derive(Subcommand)]
enum WebUserCommand {
    /// Thêm (hoặc đặt lại mật khẩu) một tài khoản; mật khẩu đọc từ DANVAN_WEB_PASSWORD hoặc nhập từ bàn phím
    Add {
        /// Tên đăng nhập
        name: String,
    },
}

#[derive(Subcommand)]
enum AddOnly<T: Args> {
    /// Thêm mới
    Add(T),
}

#[derive(Subcommand)]
enum TaskCommand {
    /// Thêm mới
    Add(TaskAdd),
    /// Nhập nhiệm vụ từ văn bản kết luận (văn bản thuần hoặc Markdown): mỗi mục đánh số 1.1., 2.4. là một nhiệm vụ
    Import {
        /// Tệp văn bản kết luận
        file: PathBuf,
        /// Tên văn bản nguồn, ví dụ "Kết luận số 12-KL/TU ngày 17/7/2023"; ngày trong tên xác định kỳ áp dụng
        #[arg(long)]
        source: Option<String>,
        /// Đơn vị ban hành, sở hữu các nhiệm vụ (mặc định: đơn vị của nút)
        #[arg(long)]
        unit: Option<String>,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
}

/// Days without a visit after which a household not yet handed over is
/// listed by `due`: field teams visit every household at least monthly.
const DEFAULT_STALE_DAYS: i64 = 30;

#[derive(Args)]
struct Common {
    /// Đơn vị sở hữu hồ sơ (mặc định: đơn vị của nút)
    #[arg(long)]
    unit: Option<String>,
    /// In kết quả dạng JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ActivityAdd {
    /// Loại hoạt động: tuyen-truyen, tiep-dan, doi-thoai, giam-sat, hoa-giai, an-sinh, iuu, qcdc, diem-nong, …
    #[arg(long = "type")]
    activity_type: String,
    /// Ngày tổ chức (YYYY-MM-DD hoặc DD/MM/YYYY)
    #[arg(long)]
    date: String,
    /// Tiêu đề
    #[arg(long)]
    title: String,
    /// Địa điểm
    #[arg(long)]
    place: Option<String>,
    /// Đơn vị, người tổ chức
    #[arg(long)]
    organizers: Option<String>,
    /// Số người tham dự
    #[arg(long)]
    attendance: Option<i64>,
    /// Số lượt công dân được tiếp
    #[arg(long)]
    citizens: Option<i64>,
    /// Số vụ việc, ý kiến được nêu
    #[arg(long)]
    matters: Option<i64>,
    /// Tóm tắt nội dung
    #[arg(long)]
    summary: Option<String>,
    /// Kết quả
    #[arg(long)]
    results: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct PetitionAdd {
    /// Ngày tiếp nhận đơn
    #[arg(long)]
    received: String,
    /// Họ tên công dân
    #[arg(long)]
    citizen: String,
    /// Nội dung đơn
    #[arg(long)]
    content: String,
    /// phan-anh, kien-nghi, khieu-nai, to-cao
    #[arg(long = "type", default_value = "phan-anh")]
    petition_type: String,
    /// Lần khiếu nại: 1 hoặc 2
    #[arg(long, default_value_t = 1)]
    round: i64,
    /// Vụ việc phức tạp
    #[arg(long)]
    complex: bool,
    /// Vùng sâu, vùng xa
    #[arg(long)]
    remote: bool,
    /// Hình thức tiếp nhận: truc-tiep, tiep-dan, don-thu, dien-thoai, truc-tuyen, doi-thoai
    #[arg(long, default_value = "truc-tiep")]
    channel: String,
    /// Địa chỉ của công dân
    #[arg(long)]
    address: Option<String>,
    /// Số CCCD của công dân
    #[arg(long)]
    id_number: Option<String>,
    /// Lĩnh vực, ví dụ đất đai
    #[arg(long)]
    category: Option<String>,
    /// Đơn vị được giao giải quyết
    #[arg(long)]
    assign: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Subcommand)]
enum HouseholdCommand {
    /// Thêm hộ bị ảnh hưởng
    Add(HouseholdAdd),
    /// Ghi một lần vận động
    Visit {
        /// Mã hộ (hoặc vài ký tự đầu của mã)
        id: String,
        /// Ngày vận động (YYYY-MM-DD hoặc DD/MM/YYYY)
        #[arg(long)]
        date: String,
        /// Người vận động
        #[arg(long)]
        by: String,
        /// Kết quả vận động
        #[arg(long)]
        outcome: String,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Chuyển giai đoạn: kiem-dem, cong-khai, dong-y, nhan-tien, ban-giao; khieu-nai, het-khieu-nai
    Status {
        /// Mã hộ (hoặc vài ký tự đầu của mã)
        id: String,
        /// Giai đoạn mới (mã, xem trên)
        stage: String,
        /// Ngày (mặc định hôm nay)
        #[arg(long)]
        date: Option<String>,
        /// Người ghi nhận
        #[arg(long, default_value = "")]
        by: String,
        /// Ghi chú
        #[arg(long, default_value = "")]
        note: String,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct HouseholdAdd {
    /// Dự án GPMB của hộ
    #[arg(long)]
    project: String,
    /// Họ tên chủ hộ
    #[arg(long)]
    head: String,
    /// Thôn, tổ dân phố
    #[arg(long)]
    village: Option<String>,
    /// TỜ/THỬA:DIỆN_TÍCH_M2:LOẠI_ĐẤT, lặp lại được
    #[arg(long = "parcel")]
    parcels: Vec<String>,
    /// Kết quả kiểm đếm
    #[arg(long)]
    inventory: Option<String>,
    /// Số tiền bồi thường (đồng)
    #[arg(long)]
    compensation: Option<i64>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct TaskAdd {
    /// Số thứ tự trong kết luận, ví dụ 2.4
    #[arg(long)]
    number: String,
    /// Tên nhiệm vụ
    #[arg(long)]
    title: String,
    /// Toàn văn nhiệm vụ
    #[arg(long)]
    text: Option<String>,
    /// Đơn vị được giao, lặp lại được
    #[arg(long = "assign")]
    assign: Vec<String>,
    /// Thời hạn hoàn thành
    #[arg(long)]
    due: Option<String>,
    /// Văn bản nguồn, ví dụ "Kết luận số 12-KL/TU ngày 17/7/2023"
    #[arg(long)]
    source: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct ProgressAdd {
    /// Nhiệm vụ: mã, vài ký tự đầu của mã, hoặc số thứ tự (ví dụ 2.4)
    task: String,
    /// Kỳ báo cáo, ví dụ 2023-Q3
    #[arg(long)]
    period: String,
    /// chua-thuc-hien, dang-thuc-hien, hoan-thanh
    #[arg(long)]
    status: String,
    /// Nội dung báo cáo
    #[arg(long)]
    summary: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct ModelAdd {
    /// Tên mô hình
    #[arg(long)]
    name: String,
    /// kinh-te, van-hoa-xa-hoi, quoc-phong-an-ninh, xay-dung-he-thong-chinh-tri
    #[arg(long)]
    field: String,
    /// Năm công nhận
    #[arg(long)]
    year: i64,
    /// Kết quả
    #[arg(long)]
    results: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Subcommand)]
enum TrustCommand {
    /// Tin cậy một nút
    Add {
        /// Mã nút (in bằng `danvan id` trên máy đó)
        node_id: String,
        /// Địa chỉ HOST:PORT của nút (để ghim khóa khi kết nối tới)
        #[arg(long)]
        addr: Option<String>,
        /// Tên gợi nhớ của nút
        #[arg(long)]
        name: Option<String>,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Các nút tin cậy
    List {
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Thôi tin cậy một nút
    Remove {
        /// Mã nút
        node_id: String,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Ghi mọi thay đổi ra một tệp
    Export {
        /// Tệp ghi ra
        #[arg(long)]
        out: PathBuf,
        /// Ghi đè tệp --out nếu đã có
        #[arg(long)]
        force: bool,
        /// Mã hoá cho nút này (mã nút; lặp lại được cho nhiều nút, ví dụ máy chủ thị xã): chỉ nút đó đọc được gói, và gói chỉ gồm những hồ sơ nút đó được đọc theo danh sách thành viên
        #[arg(long = "for")]
        for_node: Vec<String>,
        /// Ghi gói KHÔNG mã hoá (mọi thay đổi; in ra dữ liệu cá nhân trong gói)
        #[arg(long, conflicts_with = "for_node")]
        plain: bool,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Hợp nhất thay đổi từ tệp của nút khác
    Import {
        /// Tệp gói thay đổi (.dvb)
        file: PathBuf,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
}

fn today() -> String {
    // Vietnam is UTC+7 all year.
    let now = time::OffsetDateTime::now_utc() + time::Duration::hours(7);
    danvan_model::format_date(now.date())
}

fn print_added(node: &Node, id: &danvan_model::DocId, kind: Kind, json: bool) {
    if json {
        print_json(
            &serde_json::json!({ "id": id.to_string(), "kind": kind.code(), "unit": node.unit() }),
        );
    } else {
        println!(
            "Đã lưu {} mã {} (mã ngắn {}).",
            kind.label_vi().to_lowercase(),
            id,
            id.short()
        );
    }
}

fn add(node: &mut Node, draft: &Draft, json: bool) -> Result<()> {
    let id = node.add_draft(draft)?;
    print_added(node, &id, draft.kind(), json);
    Ok(())
}

/// An optional value as a draft's text (empty when absent).
fn text(v: Option<String>) -> String {
    v.unwrap_or_default()
}

fn number(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

fn yes_no(v: bool) -> String {
    if v { "co" } else { "khong" }.to_string()
}

/// Every printer ends cleanly when its reader goes away (`danvan list |
/// head -1`): Rust ignores SIGPIPE, so a write to a closed pipe fails and
/// `println!` panics; that one panic ends the process quietly with 0 (the
/// reader has what it wanted), any other keeps the default report.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        // The OS's words: "Broken pipe" (Unix), "The pipe is being
        // closed" (Windows).
        let lower = message.to_lowercase();
        if message.starts_with("failed printing to stdout")
            && (lower.contains("broken pipe") || lower.contains("pipe is being closed"))
        {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() {
    quiet_on_closed_stdout();
    let cli = clap_vi::parse();
    danvan_node::passphrase::install_prompt();
    // Long-running commands say what their sessions do; the others stay quiet.
    let default_filter = match cli.command {
        Command::Serve { .. } | Command::Sync { live: true, .. } => "warn,danvan_node=info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DANVAN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    if let Err(err) = run(cli) {
        eprintln!("lỗi: {err:#}");
        std::process::exit(exit_code(&err));
    }
    std::process::exit(EXIT_STATUS.load(Ordering::Relaxed));
}

/// The exit code of a failed command: the node's error chooses it (2 not
/// found, 3 refused, 4 network, 5 locked, 6 disk, 7 damaged store; see
/// `NodeError::exit_code`); anything else is 1.
fn exit_code(err: &anyhow::Error) -> i32 {
    // A transparent error hides itself from the chain's next step, so each
    // error type that wraps a `NodeError` is asked directly.
    err.chain()
        .find_map(|cause| {
            if let Some(e) = cause.downcast_ref::<danvan_node::NodeError>() {
                Some(e.exit_code())
            } else {
                cause
                    .downcast_ref::<danvan_node::DraftError>()
                    .map(danvan_node::DraftError::exit_code)
            }
        })
        .unwrap_or(1)
}

/// The transport settings: the defaults, with a shorter idle timeout if asked.
/// Keep-alives go out after a third of it, so a healthy idle link stays up.
fn net_config(idle_timeout_ms: Option<u64>) -> danvan_node::NetConfig {
    let mut net = danvan_node::NetConfig::default();
    if let Some(idle) = idle_timeout_ms {
        net.idle_timeout_ms = idle;
        net.keep_alive_ms = net.keep_alive_ms.min(idle / 3).max(1);
    }
    net
}

fn run(cli: Cli) -> Result<()> {
    let dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(danvan_node::default_data_dir);
    // Neither opens the store: a backup reads it beside a running danvan,
    // a restore replaces it.
    match &cli.command {
        Command::Completions { shell } => return conventions::completions(*shell),
        Command::Man { out } => {
            let written = conventions::man(out.as_deref())?;
            if let Some(dir) = out {
                eprintln!("Đã ghi {} trang man vào {}", written.len(), dir.display());
            }
            return Ok(());
        }
        Command::Backup { out, force, json } => return backup::backup(&dir, out, *force, *json),
        Command::Encrypt => {
            danvan_node::passphrase::encrypt(&dir)?;
            println!("Đã mã hoá kho dữ liệu {}.", dir.display());
            return Ok(());
        }
        Command::Passphrase => {
            danvan_node::passphrase::change(&dir)?;
            println!("Đã đổi mật khẩu kho dữ liệu {}.", dir.display());
            return Ok(());
        }
        Command::Restore { file, force, json } => {
            return backup::restore(&dir, file, *force, *json);
        }
        _ => {}
    }
    // `import template` only writes a file.
    if let Command::Import(args) = &cli.command
        && let Some(done) = args.template()
    {
        return done;
    }
    match cli.command {
        Command::Init {
            unit,
            authority,
            offline,
            name,
            units,
            plaintext,
            json,
        } => {
            danvan_node::passphrase::check_init(&dir, plaintext)?;
            let node = if authority {
                Node::init_authority(&dir, &unit, name.as_deref(), units.as_deref(), offline)?
            } else {
                Node::init(&dir, &unit, name.as_deref(), units.as_deref())?
            };
            let roster = node.roster()?;
            if json {
                print_json(&serde_json::json!({
                    "data_dir": dir,
                    "node_id": node.id().to_string(),
                    "unit": unit,
                    "unit_name": node.units().name(&unit),
                    "authority": roster.as_ref().map(|r| r.authority().to_string()),
                    "roster_version": roster.as_ref().map(|r| r.version()),
                }));
                return Ok(());
            }
            println!("Đã khởi tạo thư mục dữ liệu {}", dir.display());
            println!("Đơn vị: {} ({})", node.units().name(&unit), unit);
            println!("Mã nút: {}", node.id());
            if let Some(roster) = roster {
                println!(
                    "Khóa thẩm quyền của thị xã: {} (tệp {}; giữ kín, sao lưu riêng)",
                    roster.authority(),
                    dir.join(danvan_node::AUTHORITY_KEY_FILE).display()
                );
                if offline {
                    println!(
                        "Danh sách thành viên phiên bản {}, chưa có trạm. Máy này không nối mạng: thêm trạm bằng `danvan roster add MÃ_NÚT_TRẠM --role hub --unit {unit}`, rồi `danvan roster sign --out TỆP` và trên trạm `danvan roster apply TỆP --authority {}`.",
                        roster.version(),
                        roster.authority()
                    );
                } else {
                    println!(
                        "Danh sách thành viên phiên bản {}: nút này là trạm thị xã.",
                        roster.version()
                    );
                }
            }
            return Ok(());
        }
        Command::Demo { keep, once, web } => {
            let runtime = runtime()?;
            if once {
                let report = runtime.block_on(danvan_node::demo::run(keep.as_deref()))?;
                print!("{report}");
            } else {
                let listen = match web {
                    Some(addr) => addr,
                    None => danvan_web::DEFAULT_LISTEN.parse()?,
                };
                runtime.block_on(web::demo(keep.as_deref(), listen))?;
            }
            return Ok(());
        }
        Command::Units { on, json } => {
            // Before `init`, show the bundled sample the node would start with.
            let units = if dir.join(danvan_node::UNITS_FILE).exists() {
                Node::open(&dir)?.units().clone()
            } else {
                danvan_model::UnitTree::sample()
            };
            let day = match on {
                Some(d) => danvan_model::parse_date(&d)?,
                None => danvan_node::today(),
            };
            output::print_units(&units, day, json);
            return Ok(());
        }
        _ => {}
    }
    let net = net_config(cli.idle_timeout_ms);
    let protocol = cli.protocol;
    let mut node = Node::open(&dir)?;
    node.confirm_unusual_dates(cli.yes);
    match cli.command {
        Command::Init { .. }
        | Command::Units { .. }
        | Command::Demo { .. }
        | Command::Backup { .. }
        | Command::Encrypt
        | Command::Passphrase
        | Command::Restore { .. }
        | Command::Completions { .. }
        | Command::Man { .. } => {
            unreachable!("handled above")
        }
        Command::Trust { command } => trust(&mut node, command)?,
        Command::Roster { command } => access::roster(&mut node, command)?,
        Command::Invite {
            node_id,
            addr,
            show,
            json,
        } => access::invite(&mut node, &node_id, addr.as_deref(), &show, json)?,
        Command::Join {
            code:
                invite::JoinCode {
                    code: Some(code),
                    hub: Some(hub),
                },
            json,
            ..
        } => {
            drop(node);
            let summary = invite::join_code(&dir, &code, &hub, net, &mut sync_progress(json))?;
            print_summary(&summary, json)?;
        }
        Command::Join { invite, json, .. } => {
            let invite = access::parse_invite(invite.as_deref().unwrap_or_default())?;
            drop(node);
            let summary = runtime()?.block_on(async {
                let mut progress = sync_progress(json);
                danvan_node::join_and_sync(&dir, &invite, net, &mut progress).await
            })?;
            print_summary(&summary, json)?;
        }
        Command::Audit { limit, json } => access::audit(&node, limit, json)?,
        Command::Erase { id, json } => erase(&mut node, &id, cli.yes, json)?,
        Command::Peers { lan, json } if lan.lan => lan::run(node, &lan, json, net)?,
        Command::Peers { json, .. } => {
            let peers = node.peers()?;
            if json {
                print_json(&serde_json::to_value(&peers)?);
            } else {
                output::print_peers(&node, &peers);
            }
        }
        Command::Web { command, listen } => web::run(node, &dir, command, listen)?,
        Command::Serve { listen, hub, web } => {
            node.check_may_go_online()?;
            if let Some(warning) = node.authority_key_warning() {
                eprintln!("{warning}");
            }
            let runtime = runtime()?;
            runtime.block_on(async move {
                let shared = danvan_node::SharedNode::new(node, true)?
                    .with_net_config(net)
                    .with_protocol_max(protocol)
                    .keeping_signatures();
                let endpoint = shared.bind(listen)?;
                // The port bound, when 0 was asked for.
                shared.with(|n| n.note_listen_addr(endpoint.local_addr()))??;
                // Laptops on the same Wi-Fi find this one with `peers --lan`.
                let _lan = danvan_node::advertise(&shared.id(), endpoint.local_addr().port())
                    .inspect_err(|e| tracing::warn!("{e}"))
                    .ok();
                let _web = match web {
                    Some(addr) => Some(web::spawn(shared.clone(), &dir, addr).await?),
                    None => None,
                };
                println!(
                    "Nút {} đang nhận đồng bộ tại {}{}",
                    shared.id(),
                    endpoint.local_addr(),
                    hub.as_ref()
                        .map(|h| format!(", đồng bộ liên tục lên trạm {h}"))
                        .unwrap_or_default()
                );
                shared
                    .serve(endpoint, hub, async {
                        let _ = tokio::signal::ctrl_c().await;
                    })
                    .await?;
                println!("Đã dừng.");
                anyhow::Ok(())
            })?;
        }
        Command::Sync { addr, live, json } => {
            node.check_may_go_online()?;
            sync(node, addr, live, json, net, protocol)?
        }
        Command::Id { json } => {
            if json {
                print_json(&serde_json::json!({
                    "node_id": node.id().to_string(),
                    "unit": node.unit(),
                    "name": node.name(),
                }));
            } else {
                println!("{}", node.id());
            }
        }
        Command::Activity {
            command: AddOnly::Add(a),
        } => {
            let draft = Draft::Activity(ActivityDraft {
                unit: text(a.common.unit),
                activity_type: a.activity_type,
                date: a.date,
                title: a.title,
                place: text(a.place),
                organizers: text(a.organizers),
                attendance: number(a.attendance),
                citizens: number(a.citizens),
                matters: number(a.matters),
                summary: text(a.summary),
                results: text(a.results),
            });
            add(&mut node, &draft, a.common.json)?;
        }
        Command::Petition {
            command: AddOnly::Add(p),
        } => {
            let draft = Draft::Petition(PetitionDraft {
                unit: text(p.common.unit),
                petition_type: p.petition_type,
                round: p.round.to_string(),
                complex: yes_no(p.complex),
                remote: yes_no(p.remote),
                channel: p.channel,
                received: p.received,
                citizen: p.citizen,
                address: text(p.address),
                id_number: text(p.id_number),
                content: p.content,
                category: text(p.category),
                assigned_unit: text(p.assign),
            });
            add(&mut node, &draft, p.common.json)?;
        }
        Command::Household { command } => household(&mut node, command)?,
        Command::Task {
            command:
                TaskCommand::Import {
                    file,
                    source,
                    unit,
                    json,
                },
        } => {
            let text = std::fs::read_to_string(&file).with_context(|| {
                format!(
                    "không đọc được tệp kết luận {} (cần văn bản UTF-8)",
                    file.display()
                )
            })?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let result = node
                .import_tasks(&text, source.as_deref(), &name, unit.as_deref())
                .with_context(|| format!("không nhập được nhiệm vụ từ {}", file.display()))?;
            if json {
                print_json(&serde_json::to_value(&result)?);
            } else {
                output::print_task_import(&node, &result);
            }
        }
        Command::Report {
            period,
            unit,
            format,
            out,
            force,
            today: day,
            units,
            as_of,
        } => {
            if let Some(path) = &out {
                danvan_node::check_out_path(path, force)?;
            }
            let period: danvan_model::Period = period.parse()?;
            let today = match day {
                Some(d) => danvan_model::parse_date(&d)?,
                None => danvan_model::parse_date(&today())?,
            };
            let format: danvan_report::Format = match (&format, &out) {
                (Some(f), _) => f.parse()?,
                (None, Some(path)) => path
                    .extension()
                    .and_then(|e| e.to_str())
                    .and_then(|e| e.parse().ok())
                    .unwrap_or(danvan_report::Format::Markdown),
                (None, None) => danvan_report::Format::Markdown,
            };
            let view = match (units.as_deref().map(str::trim), as_of) {
                (_, Some(d)) => danvan_report::UnitView::AsOf(danvan_model::parse_date(&d)?),
                (None | Some("old"), None) => danvan_report::UnitView::PeriodEnd,
                (Some("new"), None) => danvan_report::UnitView::AsOf(today),
                (Some(other), None) => bail!(
                    "--units {other:?} không rõ: old (đơn vị như ngày cuối kỳ) hoặc new (đơn vị hiện nay)"
                ),
            };
            let report = progress::run(false, |p| {
                node.report_reporting(unit.as_deref(), period, today, view, p)
            })?;
            let bytes = danvan_report::render(&report, format)?;
            match out {
                Some(path) => {
                    danvan_node::write_atomic(&path, &bytes).with_context(|| {
                        format!(
                            "không ghi được báo cáo vào {}: kiểm tra thư mục có tồn tại và có quyền ghi (kho dữ liệu không thay đổi)",
                            path.display()
                        )
                    })?;
                    eprintln!(
                        "Đã ghi báo cáo {} vào {}",
                        report.period_label,
                        path.display()
                    );
                    // Reports carry no personal field: logged all the same.
                    node.audit_outgoing(
                        "report",
                        danvan_node::Outgoing::File(&path),
                        &danvan_node::PersonalCounts::default(),
                        &[],
                    )?;
                }
                None => write_stdout(&bytes).context("không ghi được báo cáo ra màn hình")?,
            }
        }
        Command::Due {
            within,
            stale_days,
            unit,
            today: day,
            json,
        } => {
            if within < 0 || stale_days < 0 {
                bail!("--within và --stale-days phải là số ngày không âm");
            }
            let today = match day {
                Some(d) => danvan_model::parse_date(&d)?,
                None => danvan_model::parse_date(&today())?,
            };
            let list = node.due(unit.as_deref(), today, within, stale_days)?;
            if json {
                print_json(&serde_json::to_value(&list)?);
            } else {
                output::print_due(&list);
            }
        }
        Command::Task {
            command: TaskCommand::Add(t),
        } => {
            let draft = Draft::Task(TaskDraft {
                unit: text(t.common.unit),
                number: t.number,
                title: t.title,
                text: text(t.text),
                assigned: t.assign,
                due: text(t.due),
                source: text(t.source),
            });
            add(&mut node, &draft, t.common.json)?;
        }
        Command::Progress {
            command: AddOnly::Add(p),
        } => {
            let draft = Draft::Progress(ProgressDraft {
                unit: text(p.common.unit),
                task: p.task,
                period: p.period,
                status: p.status,
                summary: p.summary,
            });
            add(&mut node, &draft, p.common.json)?;
        }
        Command::Model {
            command: AddOnly::Add(m),
        } => {
            let draft = Draft::Model(ModelDraft {
                unit: text(m.common.unit),
                name: m.name,
                field: m.field,
                year: m.year.to_string(),
                results: text(m.results),
            });
            add(&mut node, &draft, m.common.json)?;
        }
        Command::Edit { id, sets, json } => {
            let doc = node.edit(&id, &sets)?;
            if json {
                print_json(&serde_json::json!({ "id": doc.to_string() }));
            } else {
                println!("Đã sửa hồ sơ {}.", doc.short());
            }
        }
        Command::Show { id, json } => {
            // The CCCD whole only for a node whose role may write the record.
            let shown = node.show_for_reader(&id)?;
            if json {
                print_json(&shown.to_json());
            } else {
                print_shown(&node, &shown);
            }
        }
        Command::List {
            kind,
            unit,
            period,
            status,
            project,
            search,
            limit,
            json,
        } => {
            let rows = node.query(&ListQuery {
                kind,
                unit,
                period,
                status,
                project,
                search,
                conflicts_only: false,
                limit,
            })?;
            if json {
                print_json(&serde_json::to_value(&rows)?);
            } else {
                print_rows(&node, &rows);
            }
        }
        Command::History { id, json } => {
            let entries = node.history(&id)?;
            if json {
                print_json(&serde_json::to_value(&entries)?);
            } else {
                output::print_history(&entries);
            }
        }
        Command::Conflicts { json } => {
            // A list: the CCCD masked whatever the role (whole on `show`).
            let all = node.conflicts_listed()?;
            if json {
                let list: Vec<serde_json::Value> = all
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "id": s.record.header().id,
                            "kind": s.record.kind().code(),
                            "title": s.record.summary().title,
                            "conflicts": s.conflicts,
                        })
                    })
                    .collect();
                print_json(&serde_json::Value::Array(list));
            } else {
                output::print_conflicts(&all);
            }
        }
        Command::Import(args) => import::run(&mut node, args)?,
        Command::Export {
            format,
            kind,
            out,
            force,
        } => {
            if let Some(path) = &out {
                danvan_node::check_out_path(path, force)?;
            }
            let kind = kind.map(|k| Kind::parse(&k)).transpose()?;
            let (text, counts) = node.export_counted(&format, kind)?;
            match out {
                Some(path) => {
                    danvan_node::write_atomic(&path, text.as_bytes())?;
                    node.audit_outgoing(
                        "export",
                        danvan_node::Outgoing::File(&path),
                        &counts,
                        &[],
                    )?;
                    eprintln!("Đã ghi {}", path.display());
                }
                None => {
                    write_stdout(text.as_bytes())?;
                    node.audit_outgoing("export", danvan_node::Outgoing::Stdout, &counts, &[])?;
                }
            }
        }
        Command::Bundle {
            command:
                BundleCommand::Export {
                    out,
                    for_node,
                    plain,
                    force,
                    json,
                },
        } => {
            danvan_node::check_out_path(&out, force)?;
            let for_nodes = for_node
                .iter()
                .map(|t| {
                    t.parse::<danvan_model::NodeId>()
                        .with_context(|| format!("mã nút {t:?}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let done = node.bundle_export(&out, &for_nodes, plain)?;
            node.audit_outgoing(
                "bundle-export",
                danvan_node::Outgoing::File(&out),
                &done.counts,
                &done.sealed_to,
            )?;
            let sealed_to: Vec<String> = done.sealed_to.iter().map(|n| n.to_string()).collect();
            if json {
                print_json(&serde_json::json!({
                    "file": out,
                    "changes": done.changes,
                    "sealed_to": sealed_to,
                    "personal": done.personal,
                }));
            } else {
                if let Some(personal) = &done.personal {
                    eprintln!("{}", personal.describe());
                }
                if sealed_to.is_empty() {
                    println!(
                        "Đã ghi {} thay đổi vào {} (không mã hoá).",
                        done.changes,
                        out.display()
                    );
                } else {
                    println!(
                        "Đã ghi {} thay đổi vào {}, mã hoá cho {} nút: {}.",
                        done.changes,
                        out.display(),
                        sealed_to.len(),
                        sealed_to.join(", ")
                    );
                }
            }
        }
        Command::Bundle {
            command: BundleCommand::Import { file, json },
        } => {
            let stop = interrupt::stop_on_ctrl_c()?;
            let imported = progress::run(json, |p| node.bundle_import_reporting(&file, &stop, p));
            let Some(report) = interrupt::stopped(imported)
                .with_context(|| format!("không nhập được gói {}", file.display()))?
            else {
                return Ok(());
            };
            let refused: Vec<serde_json::Value> = report
                .rejected
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "record": r.doc.to_string(),
                        "hash": hex(&r.hash),
                        "author": r.author.to_string(),
                        "reason": r.reason.to_string(),
                    })
                })
                .collect();
            if json {
                print_json(&serde_json::json!({
                    "new": report.new, "duplicate": report.duplicate, "documents": report.documents,
                    "refused_count": refused.len(), "refused": refused,
                }));
            } else {
                println!(
                    "Đã nhập {} thay đổi mới vào {} hồ sơ ({} thay đổi đã có, bỏ qua; {} bị từ chối).",
                    report.new,
                    report.documents,
                    report.duplicate,
                    refused.len()
                );
                for r in &report.rejected {
                    println!(
                        "  Từ chối thay đổi {} của hồ sơ {} (nút {}): {}",
                        &hex(&r.hash)[..12],
                        &r.doc.to_string()[..8],
                        r.author.short(),
                        r.reason
                    );
                }
            }
            if !report.rejected.is_empty() {
                EXIT_STATUS.store(danvan_node::EXIT_REFUSED, Ordering::Relaxed);
            }
        }
        Command::Check { json } => {
            let check = progress::run(json, |p| node.check_reporting(p))?;
            if json {
                print_json(&serde_json::json!({
                    "ok": check.ok(), "problems": check.problems, "warnings": check.warnings,
                    "records": check.records, "changes": check.changes, "documents": check.documents
                }));
            } else if check.ok() {
                for w in &check.warnings {
                    println!("{w}");
                }
                println!(
                    "Kho dữ liệu toàn vẹn: {} hồ sơ, {} tài liệu, {} thay đổi.",
                    check.records, check.documents, check.changes
                );
            } else {
                for p in &check.problems {
                    println!("- {p}");
                }
            }
            if !check.ok() {
                bail!("kho dữ liệu có {} lỗi", check.problems.len());
            }
        }
    }
    Ok(())
}

/// Writes a large output to stdout: when stdout is a file on a full disk,
/// this is an error with a clear message, not a panic of `print!`.
fn write_stdout(bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| danvan_node::file_error(std::path::Path::new("đầu ra chuẩn (stdout)"), e))?;
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn trust(node: &mut Node, command: TrustCommand) -> Result<()> {
    match command {
        TrustCommand::Add {
            node_id,
            addr,
            name,
            json,
        } => {
            let id: danvan_model::NodeId = node_id
                .parse()
                .with_context(|| format!("mã nút {node_id:?}"))?;
            node.trust_add(&id, addr.as_deref(), name.as_deref())?;
            if json {
                print_json(&serde_json::json!({
                    "node_id": id.to_string(), "addr": addr, "name": name,
                }));
                return Ok(());
            }
            println!(
                "Đã tin cậy nút {}{}.",
                id.short(),
                name.map(|n| format!(" ({n})")).unwrap_or_default()
            );
        }
        TrustCommand::List { json } => {
            let list = node.trusted()?;
            if json {
                let v: Vec<serde_json::Value> = list
                    .iter()
                    .map(|t| serde_json::json!({"id": t.id.to_string(), "addr": t.addr, "name": t.name}))
                    .collect();
                print_json(&serde_json::Value::Array(v));
            } else if list.is_empty() {
                println!(
                    "Chưa tin cậy nút nào. Thêm bằng `danvan trust add MÃ_NÚT --addr HOST:PORT`."
                );
            } else {
                for t in list {
                    println!(
                        "{}  {}  {}",
                        t.id,
                        t.addr.unwrap_or_default(),
                        t.name.unwrap_or_default()
                    );
                }
            }
        }
        TrustCommand::Remove { node_id, json } => {
            let id: danvan_model::NodeId = node_id
                .parse()
                .with_context(|| format!("mã nút {node_id:?}"))?;
            if !node.trust_remove(&id)? {
                bail!("nút {} không có trong danh sách tin cậy", id.short());
            }
            if json {
                print_json(&serde_json::json!({ "node_id": id.to_string() }));
            } else {
                println!("Đã thôi tin cậy nút {}.", id.short());
            }
        }
    }
    Ok(())
}

fn household(node: &mut Node, command: HouseholdCommand) -> Result<()> {
    match command {
        HouseholdCommand::Add(h) => {
            let draft = Draft::Household(HouseholdDraft {
                unit: text(h.common.unit),
                project: h.project,
                head: h.head,
                village: text(h.village),
                parcels: h.parcels,
                inventory: text(h.inventory),
                compensation_vnd: number(h.compensation),
            });
            add(node, &draft, h.common.json)?;
        }
        HouseholdCommand::Visit {
            id,
            date,
            by,
            outcome,
            json,
        } => {
            let doc = node.resolve(&id)?;
            node.household_visit(&id, &date, &by, &outcome)?;
            let date = danvan_model::normalize_date(&date)?;
            if json {
                print_json(&serde_json::json!({ "id": doc.to_string(), "date": date }));
            } else {
                println!("Đã ghi lần vận động ngày {date}.");
            }
        }
        HouseholdCommand::Status {
            id,
            stage,
            date,
            by,
            note,
            json,
        } => {
            let date = date.unwrap_or_else(today);
            let outcome = node.household_status(&id, &stage, &date, &by, &note)?;
            if json {
                let doc = node.resolve(&id)?;
                let (outcome, from) = match &outcome {
                    danvan_node::StageOutcome::Forward => ("forward", None),
                    danvan_node::StageOutcome::Backwards { from } => ("backwards", Some(from)),
                    danvan_node::StageOutcome::Unchanged => ("unchanged", None),
                    danvan_node::StageOutcome::ObjectionRaised => ("objection_raised", None),
                    danvan_node::StageOutcome::ObjectionResolved => ("objection_resolved", None),
                };
                print_json(&serde_json::json!({
                    "id": doc.to_string(), "stage": stage, "date": danvan_model::normalize_date(&date)?,
                    "outcome": outcome, "from": from,
                }));
                return Ok(());
            }
            let label = |code: &str| {
                let l = vocab::label(vocab::HOUSEHOLD_STAGES, code);
                if l.is_empty() {
                    code.to_string()
                } else {
                    l.to_string()
                }
            };
            match outcome {
                danvan_node::StageOutcome::Forward => {
                    println!("Đã chuyển sang giai đoạn: {}.", label(&stage))
                }
                danvan_node::StageOutcome::Backwards { from } => println!(
                    "CHÚ Ý: đã lùi giai đoạn từ \"{}\" về \"{}\"; việc lùi được ghi lại trong lịch sử hồ sơ.",
                    label(&from),
                    label(&stage)
                ),
                danvan_node::StageOutcome::Unchanged => {
                    println!("Hộ đã ở giai đoạn {}; không thay đổi.", label(&stage))
                }
                danvan_node::StageOutcome::ObjectionRaised => {
                    println!("Đã ghi nhận khiếu nại của hộ.")
                }
                danvan_node::StageOutcome::ObjectionResolved => {
                    println!("Đã ghi nhận khiếu nại được giải quyết.")
                }
            }
        }
    }
    Ok(())
}

/// The progress callback of a sync: a bar on a terminal, plain lines in a
/// log, JSON lines with `--json` (`progress.rs`).
fn sync_progress(json: bool) -> impl FnMut(&danvan_node::Progress) + Send {
    let mut shown = progress::SyncProgress::new(json);
    move |p: &danvan_node::Progress| shown.update(p)
}

fn print_summary(summary: &danvan_node::SyncSummary, json: bool) -> Result<()> {
    if json {
        print_json(&serde_json::to_value(summary)?);
    } else {
        println!(
            "Đồng bộ xong với {}: gửi {} thay đổi, nhận {} ({} mới, {} bị từ chối); {} byte gửi, {} byte nhận; {} lượt khứ hồi; {} ms.",
            &summary.peer[..8],
            summary.changes_sent,
            summary.changes_received,
            summary.changes_stored,
            summary.changes_rejected,
            summary.bytes_sent,
            summary.bytes_received,
            summary.round_trips,
            summary.elapsed_ms
        );
        if summary.changes_refused_by_peer > 0 {
            println!(
                "CHÚ Ý: nút bên kia không chấp nhận {} thay đổi gửi từ máy này:",
                summary.changes_refused_by_peer
            );
            for r in &summary.refused {
                println!(
                    "  hồ sơ {}: {}",
                    r.record.as_deref().map_or("?", |id| &id[..8]),
                    not_accepted(&r.reason)
                );
            }
            let unlisted =
                (summary.changes_refused_by_peer as usize).saturating_sub(summary.refused.len());
            if unlisted > 0 {
                println!("  … và {unlisted} thay đổi khác (xem `danvan list`).");
            }
        }
    }
    if summary.changes_refused_by_peer > 0 {
        EXIT_STATUS.store(danvan_node::EXIT_REFUSED, Ordering::Relaxed);
    }
    Ok(())
}

/// A hash in hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Damaged stored changes one `danvan sync` quarantines and goes on past;
/// more than that and the store needs `danvan check` first.
const QUARANTINED_PER_SYNC_MAX: usize = 8;

/// One sync session (or a live one) with `addr`, by default the town's hub.
fn sync(
    node: Node,
    addr: Option<danvan_node::PeerAddr>,
    live: bool,
    json: bool,
    net: danvan_node::NetConfig,
    protocol: Option<u16>,
) -> Result<()> {
    let runtime = runtime()?;
    runtime.block_on(async move {
        // This process only dials: its endpoint uses no connection ids,
        // which saves bytes on every check-in (danvan-net `dial_only`).
        let net = danvan_node::NetConfig {
            dial_only: true,
            ..net
        };
        let shared = danvan_node::SharedNode::new(node, live)?
            .with_net_config(net)
            .with_protocol_max(protocol);
        let addr = shared.sync_target(addr)?;
        // A name is looked up here for the socket's family, and again by
        // each session.
        let bind: std::net::SocketAddr = if addr
            .resolve(None)
            .await
            .map_err(danvan_node::NodeError::from)?
            .is_ipv6()
        {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        }
        .parse()?;
        let endpoint = shared.bind(bind)?;
        // What the sessions have done so far, for a Ctrl+C to report.
        let done = std::sync::Arc::new(std::sync::Mutex::new(danvan_node::SessionStats::default()));
        let mut progress = {
            let done = done.clone();
            let mut show = sync_progress(json);
            move |p: &danvan_node::Progress| {
                if let Ok(mut d) = done.lock() {
                    *d = p.stats;
                }
                show(p);
            }
        };
        if live && !json {
            println!("Đang đồng bộ liên tục với {addr} (Ctrl+C để dừng)…");
        }
        let rescope = || {
            if !json {
                println!(
                    "Danh sách thành viên mới đã đổi phạm vi đọc của nút này; đồng bộ lần nữa…"
                );
            }
        };
        let mut quarantined = 0;
        let summary = loop {
            let result = tokio::select! {
                s = shared.sync_settled(&endpoint, &addr, live, &mut progress, rescope) => s,
                _ = tokio::signal::ctrl_c() => {
                    if live {
                        println!("Đã dừng.");
                    } else {
                        // Every batch received was committed whole; the next
                        // sync goes on from the checkpoint.
                        let d = done.lock().map(|d| *d).unwrap_or_default();
                        println!(
                            "Đã dừng theo yêu cầu (Ctrl+C). Đã lưu {} thay đổi nhận được, đã gửi {}; không có gì đã lưu bị mất. Chạy lại `danvan sync` để tiếp tục từ chỗ dừng.",
                            d.changes_stored, d.changes_sent
                        );
                        EXIT_STATUS.store(EXIT_INTERRUPTED, Ordering::Relaxed);
                    }
                    return anyhow::Ok(());
                }
            };
            match result {
                // The session found a damaged stored change and quarantined
                // it: the rest syncs in the next session, at most
                // `QUARANTINED_PER_SYNC_MAX` times.
                Err(e)
                    if e.unsendable_change().is_some()
                        && quarantined < QUARANTINED_PER_SYNC_MAX =>
                {
                    quarantined += 1;
                    if !json {
                        println!("CHÚ Ý: {e}. Đồng bộ lại…");
                    }
                }
                other => break other?,
            }
        };
        // The bar is cleared before the summary is printed.
        drop(progress);
        print_summary(&summary, json)?;
        endpoint.close();
        anyhow::Ok(())
    })
}

/// `danvan erase`: asks on a terminal (or takes `--yes`), then clears the
/// record's personal fields and says what remains in its history.
fn erase(node: &mut Node, id: &str, yes: bool, json: bool) -> Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    let shown = node.show(id)?;
    node.check_record_write(&shown.record)?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "xoá dữ liệu cá nhân cần xác nhận: chạy trên màn hình lệnh để trả lời, hoặc thêm --yes (chưa xoá gì)"
            );
        }
        eprint!(
            "Xoá họ tên, số CCCD, địa chỉ của công dân trong hồ sơ “{}”? Gõ “co” để xác nhận: ",
            shown.record.summary().title
        );
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "co" | "có") {
            bail!("đã huỷ: không xoá gì");
        }
    }
    let erased = node.erase(id)?;
    if json {
        print_json(&serde_json::to_value(&erased)?);
    } else {
        println!(
            "Đã xoá {} của hồ sơ {} bằng một thay đổi mới; thay đổi này sẽ được gửi đi ở lần đồng bộ tới.",
            erased.fields.join(", "),
            erased.id
        );
        println!(
            "Còn lại trong lịch sử: {} thay đổi trước đó vẫn giữ giá trị cũ, trên máy này và trên mọi máy đã đồng bộ hồ sơ (xem PRIVACY.md).",
            erased.earlier_changes
        );
    }
    Ok(())
}
