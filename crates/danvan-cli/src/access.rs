//! `roster`, `invite`, `join` and `audit`.

use anyhow::{Context, Result};
use clap::Subcommand;
use danvan_model::{Invite, NodeId, Role};
use danvan_node::{MemberSpec, Node};

use crate::output::print_json;

#[derive(Subcommand)]
pub(crate) enum RosterCommand {
    /// Xem danh sách thành viên đang giữ
    Show {
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Thêm một nút, hoặc đổi vai trò, đơn vị, dự án của nút đã có (văn phòng thị xã)
    Add {
        /// Mã nút (in bằng `danvan id` trên máy đó)
        node_id: String,
        /// Đơn vị; tổ GPMB có thể nhiều đơn vị, cách nhau bằng dấu phẩy
        #[arg(long, value_delimiter = ',', required = true)]
        unit: Vec<String>,
        /// hub, officer (cán bộ đơn vị), field (tổ GPMB), viewer (chỉ xem)
        #[arg(long)]
        role: String,
        /// Dự án GPMB của tổ công tác (bắt buộc với field)
        #[arg(long)]
        project: Option<String>,
        /// Tên để người đọc nhận ra máy
        #[arg(long)]
        name: Option<String>,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Thu hồi quyền của một nút (máy mất, người chuyển công tác)
    Revoke {
        /// Mã nút
        node_id: String,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Chuyển giao thị xã cho khóa thẩm quyền kế nhiệm (của tỉnh): ký danh sách
    /// nêu khóa đó; mọi nút nhận được tự chuyển sang, không phải tham gia lại
    Handover {
        /// Mã khóa thẩm quyền kế nhiệm (in khi `init --authority` ở tỉnh)
        #[arg(long, value_name = "MÃ_KHÓA")]
        to: String,
        /// Mã nút trạm của tỉnh: ghi là trạm trong danh sách này, để các nút
        /// của thị xã đồng bộ được với trạm tỉnh ngay
        #[arg(long, value_name = "MÃ_NÚT")]
        hub: Option<String>,
        /// Ghi danh sách chuyển giao ra tệp, để tỉnh nhận bằng `roster adopt`
        #[arg(long, value_name = "TỆP")]
        out: Option<std::path::PathBuf>,
        /// Ghi đè tệp --out đã có
        #[arg(long)]
        force: bool,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Khóa thẩm quyền kế nhiệm nhận thị xã: thêm thành viên và cây đơn vị từ
    /// tệp danh sách chuyển giao của thị xã, ký danh sách mới mang theo nó
    Adopt {
        /// Tệp danh sách chuyển giao (từ `roster handover --out` của thị xã)
        file: std::path::PathBuf,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Ghi danh sách thành viên đang giữ (đã ký) ra tệp, để mang sang trạm
    /// (`roster apply`) — dùng trên máy giữ khóa thẩm quyền không nối mạng
    Sign {
        /// Tệp ghi ra
        #[arg(long, value_name = "TỆP")]
        out: std::path::PathBuf,
        /// Ghi đè tệp đã có
        #[arg(long)]
        force: bool,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Nhận tệp danh sách thành viên đã ký (từ `roster sign`), kiểm tra như
    /// danh sách nhận qua đồng bộ; tệp hỏng, giả hay cũ bị từ chối, không đổi gì
    Apply {
        /// Tệp danh sách thành viên
        file: std::path::PathBuf,
        /// Lần đầu trên trạm mới: mã khóa thẩm quyền (phải là khóa đã ký tệp)
        #[arg(long, value_name = "MÃ_KHÓA")]
        authority: Option<String>,
        /// In kết quả dạng JSON
        #[arg(long)]
        json: bool,
    },
    /// Thêm thay đổi đơn vị hành chính có ngày hiệu lực (sáp nhập, đổi tên,
    /// chuyển cấp trên, giải thể) rồi ký danh sách thành viên mới (văn phòng thị xã)
    UnitChange {
        #[command(subcommand)]
        command: UnitChangeCommand,
        /// In kết quả dạng JSON
        #[arg(long, global = true)]
        json: bool,
    },
}

/// When a unit change takes effect and on what basis.
#[derive(clap::Args)]
pub(crate) struct Effective {
    /// Ngày có hiệu lực, ví dụ 01/07/2025
    #[arg(long, value_name = "NGÀY")]
    on: String,
    /// Căn cứ, ví dụ "Nghị quyết 1677/NQ-UBTVQH15 ngày 16/6/2025"
    #[arg(long)]
    basis: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum UnitChangeCommand {
    /// Sáp nhập các đơn vị --from vào đơn vị --into (có sẵn, hoặc mới khi có --name)
    Merge {
        /// Các đơn vị bị sáp nhập, cách nhau bằng dấu phẩy
        #[arg(long, value_delimiter = ',', required = true)]
        from: Vec<String>,
        /// Mã (id) đơn vị nhận, ví dụ phuong-duc-pho
        #[arg(long)]
        into: String,
        /// Tên đầy đủ của đơn vị mới, ví dụ "Phường Đức Phổ"
        #[arg(long)]
        name: Option<String>,
        /// Loại đơn vị mới: province, town, commune, ward, village, organization
        #[arg(long)]
        kind: Option<String>,
        /// Mã đơn vị hành chính (Cục Thống kê) của đơn vị mới, ví dụ 21439
        #[arg(long)]
        code: Option<String>,
        /// Cấp trên của đơn vị mới (mặc định: cấp trên của đơn vị --from đầu tiên)
        #[arg(long)]
        parent: Option<String>,
        #[command(flatten)]
        effective: Effective,
    },
    /// Đổi tên (và mã) một đơn vị; mã id giữ nguyên
    Rename {
        /// Mã (id) đơn vị, ví dụ xa-khanh-cuong
        #[arg(long)]
        unit: String,
        /// Tên đầy đủ mới
        #[arg(long)]
        name: String,
        /// Mã đơn vị hành chính mới (nếu đổi)
        #[arg(long)]
        code: Option<String>,
        #[command(flatten)]
        effective: Effective,
    },
    /// Chuyển một đơn vị về trực thuộc đơn vị khác
    Move {
        /// Mã (id) đơn vị chuyển đi
        #[arg(long)]
        unit: String,
        /// Mã (id) đơn vị cấp trên mới
        #[arg(long)]
        parent: String,
        #[command(flatten)]
        effective: Effective,
    },
    /// Kết thúc các đơn vị (bỏ một cấp): hồ sơ của chúng thuộc về đơn vị cấp trên còn lại
    Abolish {
        /// Các đơn vị kết thúc, cách nhau bằng dấu phẩy
        #[arg(long, value_delimiter = ',', required = true)]
        units: Vec<String>,
        #[command(flatten)]
        effective: Effective,
    },
    /// Nạp tệp danh mục đơn vị (ví dụ crates/danvan-model/data/duc-pho-2025.toml):
    /// giữ nguyên các đơn vị và thay đổi đang có, thêm đơn vị và thay đổi mới của tệp
    Load {
        /// Tệp TOML: các [[unit]] như đang dùng, rồi các [[change]]
        file: std::path::PathBuf,
    },
}

fn unit_change(node: &mut Node, command: UnitChangeCommand, json: bool) -> Result<()> {
    use danvan_node::{MergeDraft, UnitChangeDraft as D, UnitChangeRequest};
    let request = |effective: Effective, action| UnitChangeRequest {
        on: effective.on,
        basis: effective.basis,
        action,
    };
    let request = match command {
        UnitChangeCommand::Load { file } => {
            let Some(done) = node
                .roster_load_units(&file)
                .with_context(|| format!("không nạp được tệp đơn vị {}", file.display()))?
            else {
                if json {
                    print_json(&serde_json::json!({
                        "roster_version": node.roster()?.map(|r| r.version()),
                        "units_added": 0, "changes_added": 0, "lines": [],
                    }));
                } else {
                    println!(
                        "Tệp {} không có đơn vị hay thay đổi nào mới; danh sách thành viên không đổi.",
                        file.display()
                    );
                }
                return Ok(());
            };
            print_unit_changes(&done, json);
            return Ok(());
        }
        UnitChangeCommand::Merge {
            from,
            into,
            name,
            kind,
            code,
            parent,
            effective,
        } => request(
            effective,
            D::Merge {
                units: from,
                into: MergeDraft {
                    into,
                    name,
                    kind,
                    code,
                    parent,
                },
            },
        ),
        UnitChangeCommand::Rename {
            unit,
            name,
            code,
            effective,
        } => request(effective, D::Rename { unit, name, code }),
        UnitChangeCommand::Move {
            unit,
            parent,
            effective,
        } => request(effective, D::Move { unit, parent }),
        UnitChangeCommand::Abolish { units, effective } => request(effective, D::Abolish { units }),
    };
    let done = node.roster_unit_change(&request)?;
    print_unit_changes(&done, json);
    Ok(())
}

fn print_unit_changes(done: &danvan_node::UnitChangesSigned, json: bool) {
    if json {
        print_json(&serde_json::json!({
            "roster_version": done.roster.version(),
            "units_added": done.units_added,
            "changes_added": done.lines.len(),
            "lines": done.lines,
        }));
        return;
    }
    if done.units_added > 0 {
        println!("Thêm {} đơn vị vào cây đơn vị.", done.units_added);
    }
    for line in &done.lines {
        println!("{}", crate::output::visible(line, false));
    }
    println!(
        "Đã ký danh sách thành viên phiên bản {} với {} thay đổi đơn vị; các nút nhận ở lần đồng bộ tới.",
        done.roster.version(),
        done.roster.units().changes().len()
    );
}

pub(crate) fn parse_id(text: &str) -> Result<NodeId> {
    text.parse::<NodeId>()
        .with_context(|| format!("mã nút {text:?}"))
}

pub(crate) fn roster(node: &mut Node, command: RosterCommand) -> Result<()> {
    match command {
        RosterCommand::Show { json } => {
            let Some(roster) = node.roster()? else {
                if json {
                    print_json(&serde_json::Value::Null);
                } else {
                    println!(
                        "Nút này chưa có danh sách thành viên: văn phòng thị xã tạo bằng `init --authority`, các nút khác nhận khi `join` và đồng bộ."
                    );
                }
                return Ok(());
            };
            if json {
                let mut v = serde_json::to_value(roster.roster())?;
                v["authority"] = roster.authority().to_string().into();
                v["pinned"] = node.pinned_authority()?.map(|p| p.to_string()).into();
                if let Some(obj) = v.as_object_mut() {
                    obj.remove("units");
                    // The carried handover rosters by who signed them, not
                    // their bytes.
                    obj.remove("handovers");
                }
                v["handovers_from"] = roster
                    .handovers()
                    .iter()
                    .map(|h| h.authority().to_string())
                    .collect::<Vec<_>>()
                    .into();
                print_json(&v);
                return Ok(());
            }
            let r = roster.roster();
            println!(
                "Danh sách thành viên thị xã {} — phiên bản {}, ký bởi khóa thẩm quyền {}",
                node.units().name(&r.town),
                r.version,
                roster.authority().short()
            );
            if let Some(pinned) = node.pinned_authority()?
                && pinned != roster.authority()
            {
                println!(
                    "Đã chuyển giao: kho này nay chỉ nhận danh sách do khóa thẩm quyền {pinned} ký."
                );
            }
            for h in roster.handovers() {
                println!(
                    "Nhận chuyển giao từ khóa thẩm quyền {} (danh sách phiên bản {}).",
                    h.authority().short(),
                    h.version()
                );
            }
            for m in &r.members {
                let units: Vec<&str> = m.units.iter().map(|u| node.units().name(u)).collect();
                println!(
                    "{}  {:<8} {:<28} {}{}{}",
                    m.node,
                    m.role.code(),
                    m.name.as_deref().unwrap_or("-"),
                    units.join(", "),
                    m.project
                        .as_ref()
                        .map(|p| format!(" — dự án {p}"))
                        .unwrap_or_default(),
                    if m.is_revoked() {
                        "  [ĐÃ THU HỒI]"
                    } else {
                        ""
                    }
                );
            }
        }
        RosterCommand::Add {
            node_id,
            unit,
            role,
            project,
            name,
            json,
        } => {
            let id = parse_id(&node_id)?;
            let role = Role::parse(&role)?;
            let roster = node.roster_add(
                &id,
                MemberSpec {
                    role,
                    units: unit.clone(),
                    project,
                    name,
                },
            )?;
            if json {
                print_json(&serde_json::json!({
                    "node_id": id.to_string(), "role": role.code(), "units": unit,
                    "roster_version": roster.version(),
                }));
                return Ok(());
            }
            let units: Vec<&str> = unit.iter().map(|u| node.units().name(u)).collect();
            println!(
                "Đã ghi nút {} — {} của {} — vào danh sách thành viên phiên bản {}.",
                id.short(),
                role.label_vi(),
                units.join(", "),
                roster.version()
            );
            if node.is_offline_authority()? {
                // No invite here: the hub makes it once it holds this roster.
                println!(
                    "Mang danh sách sang trạm: `danvan roster sign --out TỆP` ở đây, `danvan roster apply TỆP` trên trạm; rồi in lời mời trên trạm bằng: danvan invite {id}"
                );
            } else {
                println!("In lời mời cho máy đó bằng: danvan invite {id}");
            }
        }
        RosterCommand::UnitChange { command, json } => unit_change(node, command, json)?,
        RosterCommand::Handover {
            to,
            hub,
            out,
            force,
            json,
        } => crate::handover::handover(node, &to, hub.as_deref(), out.as_deref(), force, json)?,
        RosterCommand::Adopt { file, json } => crate::handover::adopt(node, &file, json)?,
        RosterCommand::Sign { out, force, json } => crate::handover::sign(node, &out, force, json)?,
        RosterCommand::Apply {
            file,
            authority,
            json,
        } => crate::handover::apply(node, &file, authority.as_deref(), json)?,
        RosterCommand::Revoke { node_id, json } => {
            let id = parse_id(&node_id)?;
            let (roster, kept) = node.roster_revoke(&id)?;
            if json {
                print_json(&serde_json::json!({
                    "node_id": id.to_string(), "roster_version": roster.version(), "kept_changes": kept,
                }));
                return Ok(());
            }
            println!(
                "Đã thu hồi nút {} (danh sách thành viên phiên bản {}). {} thay đổi nó ghi trước đó mà thị xã đang giữ vẫn có hiệu lực; mọi thay đổi khác do nó ký sẽ bị từ chối.",
                id.short(),
                roster.version(),
                kept
            );
            println!("Các nút nhận danh sách mới ở lần đồng bộ tới sẽ từ chối kết nối của nó.");
        }
    }
    Ok(())
}

pub(crate) fn invite(
    node: &mut Node,
    node_id: &str,
    addr: Option<&str>,
    show: &crate::invite::InviteShow,
    json: bool,
) -> Result<()> {
    let id = parse_id(node_id)?;
    if show.short {
        return crate::invite::short(node, &id, addr, show, json);
    }
    let text = node.invite(&id, addr)?;
    crate::invite::print_invite(&id, &text, show, json)
}

/// Reads an invite and says what it names.
pub(crate) fn parse_invite(text: &str) -> Result<Invite> {
    let invite = Invite::decode(text)?;
    eprintln!(
        "Đã nhận lời mời: trạm {} tại {}, khóa thẩm quyền {}. Đang đồng bộ…",
        invite.hub.short(),
        invite.hub_addr,
        invite.authority.short()
    );
    Ok(invite)
}

/// The first `len` characters of the text at `key` of an audit detail (a
/// hash or a node id shortened for reading), empty if there is none.
fn prefix<'a>(detail: &'a serde_json::Value, key: &str, len: usize) -> &'a str {
    let text = detail[key].as_str().unwrap_or("");
    text.get(..len).unwrap_or(text)
}

/// An audit line for personal data that left the machine.
fn outgoing_line(event: &str, d: &serde_json::Value) -> String {
    let what = match event {
        "export" => "XUẤT dữ liệu",
        "report" => "XUẤT báo cáo",
        _ => "XUẤT gói",
    };
    let to = match d["to"].as_str().unwrap_or("") {
        "stdout" => "ra màn hình".to_string(),
        "web" => "tải về qua web".to_string(),
        file => format!("vào tệp {file}"),
    };
    let sealed = match d["recipients"].as_array() {
        Some(r) if !r.is_empty() => format!(", mã hoá cho {} nút", r.len()),
        _ if event == "bundle-export" => ", KHÔNG mã hoá".to_string(),
        _ => String::new(),
    };
    format!(
        "{what} {to}{sealed}: {} hồ sơ, {} họ tên, {} số CCCD, {} địa chỉ, {} số tiền bồi thường",
        d["records"], d["names"], d["id_numbers"], d["addresses"], d["compensation"]
    )
}

pub(crate) fn audit(node: &Node, limit: usize, json: bool) -> Result<()> {
    let entries = node.audit_log(limit)?;
    if json {
        print_json(&serde_json::to_value(&entries)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!("Nhật ký kiểm tra trống.");
    }
    for e in entries {
        let when = time::OffsetDateTime::from_unix_timestamp_nanos(e.at as i128 * 1_000_000)
            .map(|t| {
                let t = t.to_offset(time::macros::offset!(+7));
                format!(
                    "{:02}/{:02}/{} {:02}:{:02}:{:02}",
                    t.day(),
                    u8::from(t.month()),
                    t.year(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )
            })
            .unwrap_or_default();
        let peer = e.peer.as_deref().map(|p| &p[..8]).unwrap_or("-");
        let d = &e.detail;
        let text = match e.event.as_str() {
            "session" => format!(
                "phiên đồng bộ: gửi {} thay đổi, nhận {} ({} mới, {} bị từ chối), {} byte gửi, {} byte nhận — {}",
                d["sent"],
                d["received"],
                d["stored"],
                d["rejected"],
                d["bytes_sent"],
                d["bytes_received"],
                d["result"]
                    .as_str()
                    .map(|r| if r == "ok" { "xong" } else { r })
                    .unwrap_or("")
            ),
            "rejected-change" => format!(
                "TỪ CHỐI thay đổi {} của nút {} (hồ sơ {}, qua {}): {}",
                prefix(d, "hash", 12),
                prefix(d, "author", 8),
                d["doc"].as_str().unwrap_or("-"),
                match d["via"].as_str() {
                    Some("bundle") => "gói chuyển tay",
                    _ => "đồng bộ",
                },
                d["reason"].as_str().unwrap_or("")
            ),
            "rejected-connection" => {
                format!("TỪ CHỐI kết nối: {}", d["reason"].as_str().unwrap_or(""))
            }
            "roster" if e.peer.is_none() => format!(
                "ghi danh sách thành viên phiên bản {} (thay phiên bản {})",
                d["version"], d["previous"]
            ),
            "roster" => format!(
                "nhận danh sách thành viên phiên bản {} (thay phiên bản {})",
                d["version"], d["previous"]
            ),
            "rejected-roster" => format!(
                "TỪ CHỐI danh sách thành viên: {}",
                d["reason"].as_str().unwrap_or("")
            ),
            "handover" => format!(
                "CHUYỂN GIAO khóa thẩm quyền {} → {} (danh sách thành viên phiên bản {}); từ nay chỉ nhận danh sách do khóa mới ký",
                prefix(d, "from", 8),
                prefix(d, "to", 8),
                d["version"]
            ),
            "copy-detected" => format!(
                "PHÁT HIỆN BẢN SAO: tệp dữ liệu không phải tệp lần trước (sao chép hoặc khôi phục từ bản sao lưu); đã đổi epoch {} → {} trước khi ghi, để mọi thay đổi của cả hai bản đều được giữ",
                d["old_epoch"].as_str().unwrap_or(""),
                d["new_epoch"].as_str().unwrap_or("")
            ),
            "set-aside" => format!(
                "GẠT RA thay đổi {} của nút {} (hồ sơ {}) khi nhận danh sách thành viên phiên bản {}: {}; vẫn giữ trên đĩa (bảng set_aside)",
                prefix(d, "hash", 12),
                prefix(d, "author", 8),
                d["doc"].as_str().unwrap_or("-"),
                d["roster"],
                d["reason"].as_str().unwrap_or("")
            ),
            "export" | "report" | "bundle-export" => outgoing_line(&e.event, d),
            "erased" => format!(
                "XOÁ dữ liệu cá nhân ({}) của hồ sơ {} theo yêu cầu; {} thay đổi trước đó vẫn giữ giá trị cũ",
                d["fields"]
                    .as_array()
                    .map(|f| f
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default(),
                d["doc"].as_str().unwrap_or("-"),
                d["earlier_changes"]
            ),
            other => format!("{other}: {d}"),
        };
        println!("{when}  {peer:<8}  {text}");
    }
    Ok(())
}
