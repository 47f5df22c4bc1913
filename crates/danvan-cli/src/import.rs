//! `danvan import KIND FILE` and `danvan import template KIND --out FILE`:
//! arguments in, the node's import or template out. The columns, their
//! reading and every decision about rows are the node's
//! (`danvan_node::import`).

use std::path::PathBuf;

use anyhow::{Result, bail};
use danvan_model::Kind;
use danvan_node::Node;

use crate::{interrupt, print_json, progress};

/// Nhập hàng loạt hồ sơ từ tệp Excel (.xlsx) hoặc CSV
#[derive(clap::Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = danvan_node::import::columns::columns_help()
)]
pub(crate) struct ImportArgs {
    #[command(subcommand)]
    command: Option<ImportCommand>,
    /// Loại hồ sơ: household (hộ bị ảnh hưởng GPMB) hoặc activity (hoạt động dân vận)
    #[arg(required = true)]
    kind: Option<String>,
    /// Tệp cần nhập: .xlsx, hoặc .csv (UTF-8, UTF-16, Windows-1258; cột ngăn bằng dấu phẩy, chấm phẩy hoặc tab)
    file: Option<PathBuf>,
    /// Tệp CSV cần nhập (cách viết cũ, như TỆP)
    #[arg(long, value_name = "TỆP", conflicts_with = "file")]
    csv: Option<PathBuf>,
    /// Trang tính cần đọc trong tệp Excel (mặc định: trang đầu tiên)
    #[arg(long, value_name = "TÊN")]
    sheet: Option<String>,
    /// In kết quả dạng JSON; tiến độ là các dòng JSON trên stderr
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand, Debug)]
enum ImportCommand {
    /// Tạo tệp Excel mẫu: tên cột tiếng Việt, một dòng ví dụ, trang «Hướng dẫn»
    Template {
        /// Loại hồ sơ: household hoặc activity
        kind: String,
        /// Tệp .xlsx cần ghi
        #[arg(long, value_name = "TỆP")]
        out: PathBuf,
        /// Ghi đè tệp --out nếu đã có
        #[arg(long)]
        force: bool,
    },
}

impl ImportArgs {
    /// `import template`, which needs no data directory.
    pub(crate) fn template(&self) -> Option<Result<()>> {
        let ImportCommand::Template { kind, out, force } = self.command.as_ref()?;
        Some(write_template(kind, out, *force))
    }
}

fn write_template(kind: &str, out: &std::path::Path, force: bool) -> Result<()> {
    let kind = Kind::parse(kind)?;
    danvan_node::check_out_path(out, force)?;
    let bytes = danvan_node::import::template::template(kind)?;
    danvan_node::write_atomic(out, &bytes)?;
    println!(
        "Đã ghi tệp mẫu {} ({}): điền từ dòng 2, rồi chạy `danvan import {} {}`.",
        out.display(),
        kind.label_vi().to_lowercase(),
        kind.code(),
        out.display()
    );
    Ok(())
}

/// `danvan import KIND FILE`.
pub(crate) fn run(node: &mut Node, args: ImportArgs) -> Result<()> {
    let (Some(kind), Some(file)) = (args.kind, args.file.or(args.csv)) else {
        bail!("thiếu tệp cần nhập: danvan import household TỆP.xlsx (xem danvan import --help)");
    };
    let kind = Kind::parse(&kind)?;
    let stop = interrupt::stop_on_ctrl_c()?;
    let result = progress::run(args.json, |p| {
        node.import_file(kind, &file, args.sheet.as_deref(), &stop, p)
    });
    let Some(summary) = interrupt::stopped(result)? else {
        return Ok(());
    };
    if args.json {
        print_json(&serde_json::json!({
            "imported": summary.new,
            "new": summary.new,
            "existing": summary.existing,
            "rows": summary.rows,
            "read_as": summary.read_as,
        }));
    } else {
        println!(
            "Đã nhập {} hồ sơ {} mới từ {} ({} dòng; {} dòng đã có trong kho, không tạo lại). Đã đọc: {}.",
            summary.new,
            kind.label_vi().to_lowercase(),
            file.display(),
            summary.rows,
            summary.existing,
            summary.read_as
        );
    }
    Ok(())
}
