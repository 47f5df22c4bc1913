//! How an invite is shown: as text, as a QR code on the terminal, or as an
//! SVG/PNG file (`danvan invite … --qr`, `--qr-out`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use danvan_model::NodeId;
use danvan_node::Node;

/// How to show an invite besides its text.
#[derive(clap::Args, Default)]
pub(crate) struct InviteShow {
    /// In thêm lời mời dạng mã QR ngay trên cửa sổ lệnh (để máy kia quét)
    #[arg(long)]
    pub(crate) qr: bool,
    /// Ghi mã QR của lời mời ra tệp ảnh: đuôi .svg hoặc .png
    #[arg(long, value_name = "TỆP")]
    pub(crate) qr_out: Option<PathBuf>,
    /// Làm mã ngắn 10 ký tự (đọc qua điện thoại được) thay cho lời mời đầy đủ;
    /// dùng một lần, trạm đang chạy `danvan serve` đổi mã lấy lời mời
    #[arg(long, conflicts_with_all = ["qr", "qr_out"])]
    pub(crate) short: bool,
    /// Thời hạn của mã ngắn, ví dụ 24h (mặc định), 30m, 2d; tối đa 7 ngày
    #[arg(long, value_name = "THỜI_HẠN", requires = "short")]
    pub(crate) expires: Option<String>,
}

/// `join --code`: a short code instead of the full invite.
#[derive(clap::Args)]
pub(crate) struct JoinCode {
    /// Mã ngắn văn phòng thị xã đọc cho (ví dụ K7QF-M2XR-9D), thay cho lời mời đầy đủ
    #[arg(long, value_name = "MÃ", requires = "hub", conflicts_with = "invite")]
    pub(crate) code: Option<String>,
    /// Địa chỉ trạm thị xã để đổi mã ngắn lấy lời mời (IP:CỔNG hoặc TÊN-MÁY:CỔNG)
    #[arg(long, requires = "code")]
    pub(crate) hub: Option<danvan_node::PeerAddr>,
}

/// Reads `--expires`: a number followed by s, m, h or d.
fn parse_ttl(text: &str) -> Result<u64> {
    let text = text.trim();
    // The unit is the last character, whatever was typed (`2ngày` too).
    let split = text.char_indices().last().map_or(0, |(at, _)| at);
    let (number, unit) = text.split_at(split);
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(danvan_node::NodeError::ShortCodeTtl.into()),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| danvan_node::NodeError::ShortCodeTtl)?;
    Ok(n.saturating_mul(unit_ms))
}

/// `invite NODE_ID --short`: makes the code and says how to use it.
pub(crate) fn short(
    node: &mut Node,
    id: &NodeId,
    addr: Option<&str>,
    show: &InviteShow,
    json: bool,
) -> Result<()> {
    let ttl_ms = match &show.expires {
        Some(text) => parse_ttl(text)?,
        None => danvan_node::SHORT_CODE_TTL_DEFAULT_MS,
    };
    let made = node.short_invite(id, addr, ttl_ms)?;
    if json {
        crate::output::print_json(&serde_json::to_value(&made)?);
        return Ok(());
    }
    println!("{}", made.code);
    let hours = ttl_ms as f64 / 3_600_000.0;
    eprintln!(
        "Mã ngắn cho nút {}: dùng một lần, hết hạn sau {} giờ. Trên máy đó chạy:\n  danvan join --code {} --hub {}\n(trạm phải đang chạy `danvan serve` tại địa chỉ đó)",
        id.short(),
        if hours >= 1.0 {
            format!("{hours:.0}")
        } else {
            format!("{hours:.2}")
        },
        made.code,
        made.hub_addr
    );
    Ok(())
}

/// `join --code CODE --hub ADDR`.
pub(crate) fn join_code(
    dir: &std::path::Path,
    code: &str,
    hub: &danvan_node::PeerAddr,
    net: danvan_node::NetConfig,
    progress: &mut (dyn FnMut(&danvan_node::Progress) + Send),
) -> Result<danvan_node::SyncSummary> {
    let runtime = crate::runtime()?;
    let (invite, summary) = runtime.block_on(async {
        eprintln!("Đang đổi mã ngắn lấy lời mời tại trạm {hub}…");
        danvan_node::join_with_code(dir, code, hub, net, progress).await
    })?;
    eprintln!(
        "Đã nhận lời mời đã kiểm chứng: trạm {} tại {}, khóa thẩm quyền {}.",
        invite.hub.short(),
        invite.hub_addr,
        invite.authority.short()
    );
    Ok(summary)
}

/// Prints the invite text (last, so it can be copied), the QR code above it
/// when asked, and writes the image file when asked. Under `--json` the
/// invite is `{"node_id", "invite"}` and no terminal drawing is printed.
pub(crate) fn print_invite(id: &NodeId, text: &str, show: &InviteShow, json: bool) -> Result<()> {
    if json {
        if let Some(path) = &show.qr_out {
            write_image(&danvan_web::qr::code(text)?, path)?;
        }
        crate::output::print_json(
            &serde_json::json!({ "node_id": id.to_string(), "invite": text }),
        );
        return Ok(());
    }
    if show.qr || show.qr_out.is_some() {
        let code = danvan_web::qr::code(text).context("không vẽ được mã QR của lời mời")?;
        if let Some(path) = &show.qr_out {
            write_image(&code, path)?;
            eprintln!("Đã ghi mã QR của lời mời vào {}", path.display());
        }
        if show.qr {
            println!("{}", danvan_web::qr::terminal(&code));
            println!("Quét mã QR trên, hoặc nhập lời mời dưới đây bằng `danvan join LỜI_MỜI`:");
        }
    }
    println!("{text}");
    Ok(())
}

fn write_image(code: &danvan_web::qr::QrCode, path: &std::path::Path) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bytes = match ext.as_deref() {
        Some("svg") => danvan_web::qr::svg(code).into_bytes(),
        Some("png") => danvan_web::qr::png(code).context("không tạo được ảnh PNG")?,
        _ => bail!(
            "tệp {} phải có đuôi .svg hoặc .png để ghi mã QR",
            path.display()
        ),
    };
    std::fs::write(path, bytes).with_context(|| format!("không ghi được tệp {}", path.display()))
}
