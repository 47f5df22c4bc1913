//! `danvan backup` and `danvan restore`: printing what the node did.

use std::path::Path;

use anyhow::Result;

use crate::output::{local_time, print_json};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Megabytes with a Vietnamese decimal comma: 12,3 MB.
fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0).replace('.', ",")
}

pub(crate) fn backup(dir: &Path, out: &Path, force: bool, json: bool) -> Result<()> {
    let done = danvan_node::backup(dir, out, force)?;
    let c = &done.contents;
    if json {
        print_json(&serde_json::json!({
            "path": done.path, "bytes": done.bytes, "records": c.records,
            "changes": c.changes, "files": c.files, "epoch": hex(&c.epoch),
        }));
    } else {
        println!(
            "Đã sao lưu vào {} ({}): {} hồ sơ, {} thay đổi; kèm {}.",
            done.path.display(),
            megabytes(done.bytes),
            c.records,
            c.changes,
            c.files.join(", ")
        );
        println!("Tệp sao lưu chứa khóa của máy: cất giữ kín như chính thư mục dữ liệu.");
    }
    Ok(())
}

pub(crate) fn restore(dir: &Path, file: &Path, force: bool, json: bool) -> Result<()> {
    let done = danvan_node::restore(dir, file, force)?;
    let c = &done.contents;
    if json {
        print_json(&serde_json::json!({
            "records": c.records, "changes": c.changes, "taken_at": c.taken_at,
            "old_epoch": hex(&done.old_epoch), "new_epoch": hex(&done.new_epoch),
            "kept_aside": done.kept_aside,
        }));
        return Ok(());
    }
    let when = c
        .taken_at
        .and_then(local_time)
        .map(|t| format!(" (sao lưu lúc {t})"))
        .unwrap_or_default();
    println!(
        "Đã khôi phục {} từ {}{when}: {} hồ sơ, {} thay đổi.",
        dir.display(),
        file.display(),
        c.records,
        c.changes
    );
    println!(
        "Kho khôi phục mang epoch mới {} (bản sao lưu: {}): những gì máy này ghi sau lần sao lưu \
         và đã gửi lên trạm sẽ về lại ở lần `danvan sync` tới, không bị ghi đè.",
        hex(&done.new_epoch),
        hex(&done.old_epoch)
    );
    if let Some(aside) = &done.kept_aside {
        println!("Kho cũ được giữ nguyên ở {}.", aside.display());
    }
    Ok(())
}
