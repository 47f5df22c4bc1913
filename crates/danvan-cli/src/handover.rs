//! `roster handover`, `roster adopt`, `roster sign` and `roster apply`: the
//! town handed over to the province's authority, and rosters carried as
//! files from an offline authority to the hub.

use std::path::Path;

use anyhow::{Context, Result};
use danvan_model::SignedRoster;
use danvan_node::Node;

use crate::access::parse_id;
use crate::output::print_json;

/// What every one of these commands prints about the roster it left.
fn roster_json(roster: &SignedRoster) -> serde_json::Value {
    serde_json::json!({
        "roster_version": roster.version(),
        "authority": roster.authority().to_string(),
        "successor": roster.successor().map(|s| s.to_string()),
        "members": roster.roster().members.len(),
    })
}

pub(crate) fn handover(
    node: &mut Node,
    to: &str,
    hub: Option<&str>,
    out: Option<&Path>,
    force: bool,
    json: bool,
) -> Result<()> {
    let successor = parse_id(to)?;
    let hub = hub.map(parse_id).transpose()?;
    if let Some(out) = out {
        danvan_node::check_out_path(out, force)?;
    }
    let roster = node.roster_handover(&successor, hub.as_ref())?;
    if let Some(out) = out {
        node.roster_sign(out, true)
            .with_context(|| format!("không ghi được tệp {}", out.display()))?;
    }
    if json {
        let mut v = roster_json(&roster);
        v["file"] = out.map(|o| o.display().to_string()).into();
        print_json(&v);
        return Ok(());
    }
    println!(
        "Đã ký danh sách thành viên phiên bản {} chuyển giao thị xã cho khóa thẩm quyền {}.",
        roster.version(),
        successor
    );
    println!(
        "Kho này và mọi nút nhận danh sách (đồng bộ, tệp, gói chuyển tay) từ nay chỉ nhận danh sách do khóa đó ký; không nút nào phải tham gia lại."
    );
    if let Some(out) = out {
        println!(
            "Đã ghi tệp {}: mang sang tỉnh và chạy `danvan roster adopt {}`.",
            out.display(),
            out.display()
        );
    }
    Ok(())
}

pub(crate) fn adopt(node: &mut Node, file: &Path, json: bool) -> Result<()> {
    let bytes = danvan_node::read_roster_file(file)?;
    let adopted = node.roster_adopt(&bytes)?;
    if json {
        let mut v = roster_json(&adopted.roster);
        v["from"] = adopted.from.to_string().into();
        v["members_added"] = adopted.members_added.into();
        v["units_taken"] = adopted.units_taken.into();
        print_json(&v);
        return Ok(());
    }
    println!(
        "Đã nhận chuyển giao từ khóa thẩm quyền {}: thêm {} thành viên{}; danh sách thành viên phiên bản {} mang theo danh sách chuyển giao.",
        adopted.from.short(),
        adopted.members_added,
        if adopted.units_taken {
            ", dùng cây đơn vị của thị xã"
        } else {
            ""
        },
        adopted.roster.version()
    );
    println!(
        "Các nút của thị xã nhận danh sách này ở lần đồng bộ tới (qua trạm thị xã hay trạm tỉnh) và tự chuyển sang khóa của tỉnh."
    );
    Ok(())
}

pub(crate) fn sign(node: &mut Node, out: &Path, force: bool, json: bool) -> Result<()> {
    let roster = node.roster_sign(out, force)?;
    if json {
        let mut v = roster_json(&roster);
        v["file"] = out.display().to_string().into();
        print_json(&v);
        return Ok(());
    }
    println!(
        "Đã ghi danh sách thành viên phiên bản {} (ký bởi khóa {}) vào {}.",
        roster.version(),
        roster.authority().short(),
        out.display()
    );
    println!(
        "Trên trạm: `danvan roster apply {}` (lần đầu thêm `--authority {}`).",
        out.display(),
        roster.authority()
    );
    Ok(())
}

pub(crate) fn apply(
    node: &mut Node,
    file: &Path,
    authority: Option<&str>,
    json: bool,
) -> Result<()> {
    let pin = authority.map(parse_id).transpose()?;
    let previous = node.roster()?.map_or(0, |r| r.version());
    let roster = node
        .roster_apply(file, pin.as_ref())
        .with_context(|| format!("không nhận tệp danh sách thành viên {}", file.display()))?;
    if json {
        let mut v = roster_json(&roster);
        v["previous"] = previous.into();
        v["file"] = file.display().to_string().into();
        print_json(&v);
        return Ok(());
    }
    println!(
        "Đã nhận danh sách thành viên phiên bản {} (thay phiên bản {}), ký bởi khóa {}; các nút nhận ở lần đồng bộ tới.",
        roster.version(),
        previous,
        roster.authority().short()
    );
    Ok(())
}
