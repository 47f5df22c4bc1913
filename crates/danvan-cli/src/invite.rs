//! How an invite is shown: as text, as a QR code on the terminal, or as an
//! SVG/PNG file (`danvan invite … --qr`, `--qr-out`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// How to show an invite besides its text.
#[derive(clap::Args, Default)]
pub(crate) struct InviteShow {
    /// In thêm lời mời dạng mã QR ngay trên cửa sổ lệnh (để máy kia quét)
    #[arg(long)]
    pub(crate) qr: bool,
    /// Ghi mã QR của lời mời ra tệp ảnh: đuôi .svg hoặc .png
    #[arg(long, value_name = "TỆP")]
    pub(crate) qr_out: Option<PathBuf>,
}

/// Prints the invite text (last, so it can be copied), the QR code above it
/// when asked, and writes the image file when asked.
pub(crate) fn print_invite(text: &str, show: &InviteShow) -> Result<()> {
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
