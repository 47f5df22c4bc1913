//! `danvan demo`: the whole system on one machine. A town hub, commune
//! nodes and two field laptops, each with its own data directory and a real
//! QUIC endpoint on loopback, record work offline, sync laptop to laptop,
//! then everyone through the hub; the report says who has what and what it
//! cost on the wire. The town's authority key is in a directory of its own
//! ([`AUTHORITY_DIR`]) that never serves or syncs, as on the offline
//! machine of a real town: every roster is signed there and carried to the
//! hub as a file, and the hub holds only rosters.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use danvan_model::{Invite, Kind, Petition, Record, Role, Task, vocab};

use crate::error::NodeError;
use crate::node::{Node, random_bytes};
use crate::sync::{SharedNode, SyncSummary};

struct Member {
    label: &'static str,
    unit: &'static str,
    node: SharedNode,
    /// The petitions of 2023 it recorded (a commune's), which the live
    /// demo closes.
    petitions: Vec<String>,
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn petition(
    node: &Node,
    received: &str,
    citizen: &str,
    content: &str,
    kind: &str,
    category: &str,
) -> Result<Record, NodeError> {
    Ok(Record::Petition(Petition {
        header: node.new_header(Kind::Petition, None, None)?,
        petition_type: kind.into(),
        round: 1,
        complex: false,
        remote: false,
        channel: "tiep-dan".into(),
        received: received.into(),
        citizen: citizen.into(),
        address: None,
        id_number: None,
        content: content.into(),
        category: Some(category.into()),
        assigned_unit: None,
        status: vocab::PETITION_NEW.into(),
        answer: None,
        resolved: None,
    }))
}

fn task(node: &Node, number: &str, title: &str, assigned: &[&str]) -> Result<Record, NodeError> {
    Ok(Record::Task(Task {
        header: node.new_header(Kind::Task, None, None)?,
        source: Some("Kết luận của Ban Thường vụ Thị ủy ngày 17/7/2023".into()),
        number: number.into(),
        title: title.into(),
        text: None,
        assigned: assigned.iter().map(|s| s.to_string()).collect(),
        due: Some("2023-12-31".into()),
    }))
}

/// Work a commune records offline; returns the ids of its petitions.
fn commune_work(node: &mut Node, unit_name: &str) -> Result<Vec<String>, NodeError> {
    let records = [
        node.new_activity(
            None,
            vocab::ACTIVITY_DIALOGUE,
            "2023-07-25",
            &format!("Đối thoại trực tiếp giữa Bí thư Đảng ủy với Nhân dân {unit_name}"),
            Some("Hội trường UBND".into()),
            Some("Đảng ủy, UBND, Ủy ban MTTQ".into()),
            Some(110),
            None,
            Some(8),
            Some(
                "Nhân dân nêu ý kiến về bồi thường, hỗ trợ GPMB và đường giao thông nông thôn"
                    .into(),
            ),
            None,
        )?,
        node.new_activity(
            None,
            vocab::ACTIVITY_RECEPTION,
            "2023-08-03",
            "Tiếp công dân định kỳ của Chủ tịch UBND",
            None,
            None,
            None,
            Some(14),
            Some(6),
            None,
            None,
        )?,
        node.new_activity(
            None,
            vocab::ACTIVITY_PROPAGANDA,
            "2023-08-15",
            "Tuyên truyền chống khai thác hải sản bất hợp pháp (IUU)",
            Some("Cảng cá".into()),
            Some("Hội Nông dân, Đồn Biên phòng".into()),
            Some(85),
            None,
            None,
            None,
            None,
        )?,
        petition(
            node,
            "2023-08-03",
            "Nguyễn Văn Hùng",
            "Đề nghị sửa chữa tuyến mương thoát nước bị hư hỏng sau mưa lớn",
            vocab::PETITION_PROPOSAL,
            "hạ tầng",
        )?,
        petition(
            node,
            "2023-08-20",
            "Lê Thị Mai",
            "Khiếu nại việc áp giá bồi thường cây trồng trên đất nông nghiệp",
            vocab::PETITION_COMPLAINT,
            "đất đai",
        )?,
    ];
    let mut petitions = Vec::new();
    for r in &records {
        let id = node.add(r)?;
        if r.kind() == Kind::Petition {
            petitions.push(id.to_string());
        }
    }
    Ok(petitions)
}

async fn sync(member: &Member, hub: SocketAddr) -> Result<SyncSummary, NodeError> {
    let endpoint = member.node.bind(loopback())?;
    let summary = member
        .node
        .sync_with(&endpoint, hub, false, &mut |_| {})
        .await;
    endpoint.close();
    summary
}

fn count(node: &SharedNode) -> Result<(u64, u64), NodeError> {
    node.with(|n| -> Result<_, NodeError> {
        let (records, changes, _) = n.store().counts()?;
        Ok((records, changes))
    })?
}

/// Runs the demo; returns the report to print. The data directories are
/// removed afterwards unless `keep` names where to leave them.
pub async fn run(keep: Option<&Path>) -> Result<String, NodeError> {
    let base: PathBuf = match keep {
        Some(dir) => dir.to_path_buf(),
        None => temp_base(),
    };
    let result = run_in(&base).await.map(|(out, _, _)| out);
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&base);
    }
    result
}

/// A fresh directory under the system's temporary directory.
fn temp_base() -> PathBuf {
    std::env::temp_dir().join(format!(
        "danvan-demo-{}",
        random_bytes::<4>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ))
}

/// Where the demo keeps the town's authority key: a data directory of its
/// own, standing for a machine that is never connected (it serves nothing
/// and never syncs).
pub const AUTHORITY_DIR: &str = "co-quan-ky";

/// Where the demo "carries" signed roster files from the authority's
/// directory to the hub (a USB stick in real life).
pub const CARRY_DIR: &str = "usb";

/// Signs the roster the offline authority holds into a file under
/// [`CARRY_DIR`] and applies that file on the hub, as an officer does with
/// a USB stick (`roster sign --out`, then `roster apply`); `pin` on the
/// hub's first roster. Returns the file's name, relative to `base`.
fn carry_roster(
    base: &Path,
    authority: &Node,
    hub: &mut Node,
    pin: Option<&danvan_model::NodeId>,
) -> Result<(String, u64), NodeError> {
    let version = authority.roster()?.ok_or(NodeError::NoRoster)?.version();
    let name = format!("{CARRY_DIR}/danh-sach-v{version}.dvr");
    let carry = base.join(CARRY_DIR);
    std::fs::create_dir_all(&carry).map_err(crate::error::io(&carry))?;
    authority.roster_sign(&base.join(&name), false)?;
    let applied = hub.roster_apply(&base.join(&name), pin)?;
    Ok((name, applied.version()))
}

async fn run_in(base: &Path) -> Result<(String, Vec<Member>, Node), NodeError> {
    let mut out = String::new();
    let plan: [(&str, &str, &str); 6] = [
        ("hub", "duc-pho", "Trạm thị xã (Ban Dân vận Thị ủy)"),
        ("pho-minh", "pho-minh", "Phường Phổ Minh"),
        ("pho-an", "pho-an", "Xã Phổ An"),
        ("pho-thanh", "pho-thanh", "Phường Phổ Thạnh"),
        ("laptop-1", "pho-minh", "Máy tổ công tác GPMB số 1"),
        ("laptop-2", "pho-minh", "Máy tổ công tác GPMB số 2"),
    ];
    let _ = writeln!(out, "danvan demo — dữ liệu tại {}", base.display());
    // The town's authority key is made in a directory of its own that never
    // serves or syncs (the offline machine); the hub holds only the rosters
    // it signs, carried over as files. Each commune officer and each field
    // laptop is added there with its role, and joins with an invite the hub
    // makes (the roster comes with the first contact).
    crate::passphrase::demo_store_key(&base.join(AUTHORITY_DIR))?;
    let mut authority = Node::init_authority(
        &base.join(AUTHORITY_DIR),
        "duc-pho",
        Some("Máy giữ khóa thẩm quyền (không nối mạng)"),
        None,
        true,
    )?;
    let mut nodes = Vec::new();
    for (dir, unit, label) in plan {
        crate::passphrase::demo_store_key(&base.join(dir))?;
        let node = Node::init(&base.join(dir), unit, Some(label), None)?;
        nodes.push((label, unit, node));
    }
    for (i, (label, unit, node)) in nodes.iter().enumerate() {
        let field = i >= 4;
        let spec = crate::MemberSpec {
            role: match i {
                0 => Role::Hub,
                _ if field => Role::Field,
                _ => Role::Officer,
            },
            units: vec![unit.to_string()],
            project: field.then(|| "cao-toc-bac-nam".to_string()),
            name: Some(label.to_string()),
        };
        authority.roster_add(&node.id(), spec)?;
    }
    let authority_id = authority.pinned_authority()?.ok_or(NodeError::NoRoster)?;
    let (file, _) = carry_roster(base, &authority, &mut nodes[0].2, Some(&authority_id))?;
    let hub_addr_for_invites = "127.0.0.1:7420";
    for i in 1..nodes.len() {
        let id = nodes[i].2.id();
        let invite = nodes[0].2.invite(&id, Some(hub_addr_for_invites))?;
        nodes[i].2.join(&Invite::decode(&invite)?)?;
    }
    let roster = nodes[0].2.roster()?.ok_or(NodeError::NoRoster)?;
    for (_, _, node) in &mut nodes[1..] {
        node.store_mut().install_roster(roster.bytes(), None)?;
    }
    let _ = writeln!(
        out,
        "   khóa thẩm quyền của thị xã ở {AUTHORITY_DIR}/ (máy giữ khóa, không nối mạng: không phục vụ, không đồng bộ);\n   trạm (hub/) chỉ giữ danh sách thành viên đã ký"
    );
    let _ = writeln!(
        out,
        "   danh sách thành viên phiên bản {}: 1 trạm, 3 cán bộ xã/phường, 2 máy tổ GPMB (dự án cao tốc, phường Phổ Minh);\n   ký ở {AUTHORITY_DIR}/, mang sang trạm bằng tệp {file}; trạm kiểm tra chữ ký rồi áp dụng, và làm lời mời",
        roster.version()
    );

    // 1. Offline work.
    let _ = writeln!(out, "\n1. Ghi nhận ngoại tuyến");
    {
        let hub = &mut nodes[0].2;
        let tasks = [
            task(
                hub,
                "1.5",
                "Tổ chức Hội nghị đối thoại trực tiếp giữa Bí thư với công dân",
                &["pho-minh", "pho-an", "pho-thanh"],
            )?,
            task(
                hub,
                "1.6",
                "Chỉ đạo Tổ công tác tuyên truyền, vận động, hỗ trợ GPMB Dự án đường Cao tốc Bắc - Nam phía Đông",
                &["duc-pho-to-gpmb"],
            )?,
            task(
                hub,
                "1.7",
                "Triển khai phong trào thi đua \"Dân vận khéo\"",
                &["pho-minh", "pho-an", "pho-thanh"],
            )?,
        ];
        for t in &tasks {
            hub.add(t)?;
        }
    }
    let mut petitions = vec![Vec::new(); nodes.len()];
    for (i, (label, _, node)) in nodes.iter_mut().enumerate().take(4).skip(1) {
        let name = label.to_string();
        petitions[i] = commune_work(node, &name)?;
    }
    let shared_household = {
        let laptop = &mut nodes[4].2;
        let mut first = None;
        for (head, village, parcel) in [
            ("Võ Văn Tám", "Tổ dân phố Vĩnh Xuân", "18/112:420.5:ONT"),
            ("Huỳnh Thị Lệ", "Tổ dân phố Vĩnh Xuân", "18/115:1250:LUC"),
            ("Phạm Văn Bảy", "Tổ dân phố Trung Hòa", "19/40:300:CLN"),
        ] {
            let record = laptop.new_household(
                None,
                "cao-toc-bac-nam",
                head,
                Some(village.into()),
                vec![crate::parse_parcel(parcel)?],
                Some("Nhà cấp 4, tường rào, cây ăn quả".into()),
                None,
                None,
            )?;
            let id = laptop.add(&record)?;
            first.get_or_insert(id);
        }
        first.expect("three households added").to_string()
    };
    let members: Vec<Member> = nodes
        .into_iter()
        .zip(petitions)
        .map(|((label, unit, node), petitions)| {
            Ok(Member {
                label,
                unit,
                node: SharedNode::new(node, false)?,
                petitions,
            })
        })
        .collect::<Result<_, NodeError>>()?;
    for m in &members {
        let (records, changes) = count(&m.node)?;
        let _ = writeln!(
            out,
            "   {:<36} {:>3} hồ sơ, {:>3} thay đổi",
            m.label, records, changes
        );
    }

    // 2. Laptop to laptop on site, no hub.
    let _ = writeln!(
        out,
        "\n2. Hai máy tổ công tác đồng bộ trực tiếp tại thôn (không qua trạm)"
    );
    let laptop1_endpoint = members[4].node.bind(loopback())?;
    let laptop1_addr = laptop1_endpoint.local_addr();
    let (stop1, serve1) = members[4].node.serve_in_background(laptop1_endpoint);
    let first = sync(&members[5], laptop1_addr).await?;
    let _ = writeln!(
        out,
        "   máy 2 ← máy 1: nhận {} thay đổi, {} byte, {} lượt khứ hồi",
        first.changes_stored, first.bytes_received, first.round_trips
    );
    // Both laptops edit the same household apart.
    members[4].node.with(|n| -> Result<(), NodeError> {
        n.household_visit(
            &shared_household,
            "2023-09-05",
            "Anh Nguyễn Văn Tâm",
            "Hộ nghe giải thích về đơn giá, xin thêm thời gian",
        )?;
        n.edit(&shared_household, &["compensation_vnd=850000000".into()])?;
        n.household_status(
            &shared_household,
            vocab::STAGE_PLAN_POSTED,
            "2023-09-05",
            "Tổ công tác",
            "",
        )?;
        Ok(())
    })??;
    members[5].node.with(|n| -> Result<(), NodeError> {
        n.household_visit(
            &shared_household,
            "2023-09-06",
            "Chị Trần Thị Hoa",
            "Hộ đồng ý phương án, hẹn ngày nhận tiền",
        )?;
        n.edit(&shared_household, &["compensation_vnd=870000000".into()])?;
        n.household_status(
            &shared_household,
            vocab::STAGE_AGREED,
            "2023-09-06",
            "Tổ công tác",
            "",
        )?;
        Ok(())
    })??;
    let direct = sync(&members[5], laptop1_addr).await?;
    let _ = writeln!(
        out,
        "   sau khi cùng sửa một hộ khi mất sóng: gửi {} / nhận {} thay đổi, {} + {} byte, {} lượt khứ hồi",
        direct.changes_sent,
        direct.changes_stored,
        direct.bytes_sent,
        direct.bytes_received,
        direct.round_trips
    );
    let _ = stop1.send(());
    serve1.await.map_err(|e| NodeError::Demo(e.to_string()))??;

    // 3. Everyone through the hub.
    let _ = writeln!(out, "\n3. Tất cả đồng bộ qua trạm thị xã");
    let hub_endpoint = members[0].node.bind(loopback())?;
    let hub_addr = hub_endpoint.local_addr();
    let (stop, serve) = members[0].node.serve_in_background(hub_endpoint);
    let mut total_bytes = 0u64;
    let mut total_round_trips = 0u64;
    let mut sessions = 0u64;
    for round in 1..=2 {
        for m in &members[1..] {
            let s = sync(m, hub_addr).await?;
            total_bytes += s.bytes_sent + s.bytes_received;
            total_round_trips += s.round_trips;
            sessions += 1;
            let _ = writeln!(
                out,
                "   lượt {round}, {:<34} gửi {:>3}, nhận {:>3} thay đổi; {:>6} byte; {} lượt khứ hồi",
                m.label,
                s.changes_sent,
                s.changes_stored,
                s.bytes_sent + s.bytes_received,
                s.round_trips
            );
        }
    }
    let _ = stop.send(());
    serve.await.map_err(|e| NodeError::Demo(e.to_string()))??;
    let _ = writeln!(
        out,
        "   tổng: {sessions} phiên, {total_bytes} byte dữ liệu ứng dụng, {total_round_trips} lượt khứ hồi"
    );

    // 4. Who has what.
    let _ = writeln!(out, "\n4. Mỗi nút có gì sau khi đồng bộ");
    let mut counts = Vec::new();
    for m in &members {
        let (records, changes) = count(&m.node)?;
        counts.push(records);
        let _ = writeln!(
            out,
            "   {:<36} {:>3} hồ sơ, {:>3} thay đổi  (đơn vị {})",
            m.label, records, changes, m.unit
        );
    }
    // Converged: every node holds exactly the hub's records it may read,
    // and the household edited apart is the same wherever it is held.
    let all_rows = members[0]
        .node
        .with(|n| n.list(&crate::ListFilter::default()))??;
    let mut converged = true;
    let mut shown = Vec::new();
    for m in &members {
        let scope = roster.scope(&m.node.id());
        let expected: std::collections::BTreeSet<String> = all_rows
            .iter()
            .filter(|r| {
                scope.as_ref().is_some_and(|s| {
                    s.may_read(&danvan_model::DocScope {
                        kind: &r.kind,
                        unit: &r.unit,
                        project: r.project.as_deref(),
                    })
                })
            })
            .map(|r| r.id.clone())
            .collect();
        let held: std::collections::BTreeSet<String> = m
            .node
            .with(|n| n.list(&crate::ListFilter::default()))??
            .into_iter()
            .map(|r| r.id)
            .collect();
        converged &= expected == held;
        if held.contains(&shared_household) {
            shown.push(
                m.node
                    .with(|n| n.show(&shared_household).map(|s| s.to_json().to_string()))??,
            );
        }
    }
    converged &= shown.len() == 4 && shown.iter().all(|s| *s == shown[0]);
    let household: serde_json::Value = serde_json::from_str(&shown[0]).unwrap_or_default();
    let _ = writeln!(
        out,
        "   hộ {} sau khi hợp nhất: giai đoạn \"{}\", {} lần vận động, xung đột: {}",
        household["head"].as_str().unwrap_or(""),
        vocab::label(
            vocab::HOUSEHOLD_STAGES,
            household["stage"].as_str().unwrap_or("")
        ),
        household["visits"].as_array().map(Vec::len).unwrap_or(0),
        household["conflicts"]
            .as_array()
            .map(|c| c
                .iter()
                .map(|x| format!("{} = {}", x["label_vi"].as_str().unwrap_or(""), x["values"]))
                .collect::<Vec<_>>()
                .join("; "))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "không".into())
    );

    // 5. Merged counts per unit at the hub.
    let _ = writeln!(out, "\n5. Số liệu hợp nhất tại trạm thị xã, theo đơn vị");
    let by_unit = members[0].node.with(|n| -> Result<_, NodeError> {
        let rows = n.store().counts_by_unit()?;
        Ok(rows
            .into_iter()
            .map(|(unit, kind, count)| (n.units().name(&unit).to_string(), kind, count))
            .collect::<Vec<_>>())
    })??;
    for (unit, kind, count) in by_unit {
        let label = Kind::parse(&kind).map(|k| k.label_vi()).unwrap_or("?");
        let _ = writeln!(out, "   {unit:<34} {label:<42} {count:>3}");
    }
    if !converged {
        return Err(NodeError::NotConverged);
    }
    let _ = writeln!(
        out,
        "\nMọi nút đã hội tụ: trạm giữ {} hồ sơ, mỗi nút giữ đúng những hồ sơ vai trò của nó được đọc (xã không thấy kiến nghị của xã khác, máy tổ GPMB chỉ thấy hộ của dự án); hồ sơ hộ dùng chung giống hệt nhau trên cả {} nút giữ nó.",
        counts[0],
        shown.len()
    );
    Ok((out, members, authority))
}

/// The demo town left running after its scripted run, for the web app to
/// show: every node open in this process, the hub taking sync connections
/// on loopback, and this week's work recorded so every page has something
/// on it. [`DemoTown::stop`] ends it.
pub struct DemoTown {
    /// What the scripted run printed.
    pub summary: String,
    /// Where the data directories are.
    pub base: PathBuf,
    /// The town hub (Văn phòng thị xã).
    pub hub: SharedNode,
    /// The node of Phường Phổ Minh.
    pub commune: SharedNode,
    /// Where the hub takes sync connections.
    pub hub_sync_addr: SocketAddr,
    remove_on_stop: bool,
    others: Vec<SharedNode>,
    stop: tokio::sync::oneshot::Sender<()>,
    serve: tokio::task::JoinHandle<Result<(), NodeError>>,
}

impl DemoTown {
    /// Runs the scripted demo, records this week's work, and leaves the
    /// town running. The data directories go under `keep`, or under a
    /// temporary directory removed by [`DemoTown::stop`].
    pub async fn start(keep: Option<&Path>) -> Result<DemoTown, NodeError> {
        let base = keep.map(Path::to_path_buf).unwrap_or_else(temp_base);
        let started = DemoTown::start_in(&base, keep.is_none()).await;
        if started.is_err() && keep.is_none() {
            let _ = std::fs::remove_dir_all(&base);
        }
        started
    }

    async fn start_in(base: &Path, remove_on_stop: bool) -> Result<DemoTown, NodeError> {
        let (mut summary, members, mut authority) = run_in(base).await?;
        let hub = members[0].node.clone();
        let endpoint = hub.bind(loopback())?;
        let hub_sync_addr = endpoint.local_addr();
        let (stop, serve) = hub.serve_in_background(endpoint);
        // The invites named a made-up address; every node now learns where
        // the hub really listens, so "Đồng bộ ngay" on any page reaches it.
        let hub_id = hub.id();
        let addr = hub_sync_addr.to_string();
        for m in &members[1..] {
            m.node
                .with(|n| n.trust_add(&hub_id, Some(&addr), Some("Trạm văn phòng thị xã")))??;
        }
        // The town applies the 2025 reform (the Đức Phổ gazetteer), signed
        // on the authority's machine and carried to the hub as a file: the
        // report page then shows a past period by the old units or the new.
        let reform =
            authority.roster_load_units_text(danvan_model::DUC_PHO_2025_UNITS_TOML.to_string())?;
        if let Some(reform) = reform {
            let (file, _) = hub.with(|n| carry_roster(base, &authority, n, None))??;
            hub.refresh()?;
            let _ = writeln!(
                summary,
                "\nThị xã áp dụng sắp xếp đơn vị hành chính ngày 1/7/2025 (danh sách thành viên phiên bản {}, ký ở {AUTHORITY_DIR}/, trạm áp dụng tệp {file}): 15 xã, phường thành 5.",
                reform.roster.version()
            );
        }
        // The authority's directory is closed: the officer may now sign
        // there with the command line while the demo runs.
        drop(authority);
        let today = (time::OffsetDateTime::now_utc() + time::Duration::hours(7)).date();
        this_week(&members, today)?;
        sync_all(&members, hub_sync_addr).await?;
        // The communes report on the town's new task once they hold it.
        progress_this_week(&members, today)?;
        sync_all(&members, hub_sync_addr).await?;
        let _ = writeln!(
            summary,
            "\nĐã ghi thêm công việc của tuần này (đến ngày {}/{}/{}) và đồng bộ qua trạm.",
            today.day(),
            u8::from(today.month()),
            today.year()
        );
        let authority_dir = base.join(AUTHORITY_DIR);
        let laptop = members[5].node.id();
        let _ = writeln!(
            summary,
            "\nKhóa thẩm quyền của thị xã ở {dir} (máy giữ khóa, không nối mạng: không có trang web, không đồng bộ); trạm chỉ giữ danh sách thành viên đã ký.\n\
             Thêm, thu hồi máy hay đổi đơn vị: ký ở máy giữ khóa rồi mang tệp sang trạm. Ví dụ giao thêm Xã Phổ An cho máy tổ GPMB số 2:\n\
             \x20 danvan --data-dir {dir} roster add {laptop} --unit pho-minh,pho-an --role field --project cao-toc-bac-nam\n\
             \x20 danvan --data-dir {dir} roster sign --out {file}\n\
             rồi ở trang Thị xã của trạm bấm «Áp dụng danh sách đã ký» và chọn tệp đó.",
            dir = authority_dir.display(),
            file = base.join(CARRY_DIR).join("danh-sach-moi.dvr").display(),
        );
        let mut nodes = members.into_iter().map(|m| m.node);
        let hub = nodes.next().expect("the hub");
        let commune = nodes.next().expect("Phổ Minh");
        Ok(DemoTown {
            summary,
            base: base.to_path_buf(),
            hub,
            commune,
            hub_sync_addr,
            remove_on_stop,
            others: nodes.collect(),
            stop,
            serve,
        })
    }

    /// Stops the hub, closes every node, and removes the data directories
    /// unless they were kept.
    pub async fn stop(self) -> Result<(), NodeError> {
        let DemoTown {
            base,
            hub,
            commune,
            remove_on_stop,
            others,
            stop,
            serve,
            ..
        } = self;
        let _ = stop.send(());
        let served = serve.await.map_err(|e| NodeError::Demo(e.to_string()));
        drop((hub, commune, others));
        if remove_on_stop {
            let _ = std::fs::remove_dir_all(&base);
        }
        served?
    }
}

/// Two rounds through the hub, so what one node sent reaches every other.
async fn sync_all(members: &[Member], hub: SocketAddr) -> Result<(), NodeError> {
    for _ in 0..2 {
        for m in &members[1..] {
            sync(m, hub).await?;
        }
    }
    Ok(())
}

/// A draft refused: in the demo's own data, a bug of the demo.
fn demo_add(node: &SharedNode, draft: crate::Draft) -> Result<String, NodeError> {
    node.with(|n| n.add_draft(&draft))?
        .map(|id| id.to_string())
        .map_err(|e| NodeError::Demo(e.to_string()))
}

/// This week's work, dated from `today`, so the pages of the current
/// period are not empty: activities, a petition near its deadline and one
/// past it in each commune, a task of the town with progress from each
/// commune, and households at every stage of the land clearance.
fn this_week(members: &[Member], today: time::Date) -> Result<(), NodeError> {
    use crate::{ActivityDraft, Draft, HouseholdDraft, PetitionDraft, TaskDraft};
    let day = |back: i64| danvan_model::format_date(today - time::Duration::days(back));
    demo_add(
        &members[0].node,
        Draft::Task(TaskDraft {
            number: "2.1".into(),
            title: "Vận động Nhân dân tham gia giữ gìn vệ sinh môi trường, xây dựng nông thôn mới"
                .into(),
            assigned: vec!["pho-minh".into(), "pho-an".into(), "pho-thanh".into()],
            due: danvan_model::format_date(today + time::Duration::days(20)),
            source: "Kết luận của Ban Thường vụ Thị ủy".into(),
            ..TaskDraft::default()
        }),
    )?;
    // The communes see the new task only after a sync; the older ones they
    // already hold.
    for (i, m) in members[1..=3].iter().enumerate() {
        let unit_name = m.label;
        demo_add(
            &m.node,
            Draft::Activity(ActivityDraft {
                activity_type: vocab::ACTIVITY_PROPAGANDA.into(),
                date: day(2 + i as i64),
                title: format!("Tuyên truyền Luật Đất đai 2024 cho Nhân dân {unit_name}"),
                place: "Nhà văn hóa khu dân cư".into(),
                attendance: format!("{}", 60 + 15 * i),
                ..ActivityDraft::default()
            }),
        )?;
        demo_add(
            &m.node,
            Draft::Activity(ActivityDraft {
                activity_type: vocab::ACTIVITY_RECEPTION.into(),
                date: day(5),
                title: "Tiếp công dân định kỳ của Bí thư Đảng ủy".into(),
                citizens: format!("{}", 9 + i),
                matters: "4".into(),
                ..ActivityDraft::default()
            }),
        )?;
        // (type, received days ago, citizen in each commune, content, category)
        let petitions = [
            (
                vocab::PETITION_PROPOSAL,
                11,
                ["Trần Văn Sáu", "Đinh Thị Hạnh", "Bùi Văn Lực"],
                "Đề nghị lắp đèn chiếu sáng tuyến đường liên thôn",
                "hạ tầng",
            ),
            (
                vocab::PETITION_FEEDBACK,
                24,
                ["Ngô Thị Lan", "Võ Văn Hải", "Lê Văn Tư"],
                "Phản ánh nước thải từ cơ sở chế biến hải sản gây ô nhiễm",
                "môi trường",
            ),
        ];
        for (petition_type, back, citizens, content, category) in petitions {
            demo_add(
                &m.node,
                Draft::Petition(PetitionDraft {
                    petition_type: petition_type.into(),
                    received: day(back),
                    citizen: citizens[i].into(),
                    content: content.into(),
                    category: category.into(),
                    ..PetitionDraft::default()
                }),
            )?;
        }
    }
    // Households of the expressway across the stages, as the field team
    // moved them this month.
    let laptop = &members[4].node;
    let stages: [(&str, &str, &[&str]); 4] = [
        (
            "Nguyễn Thị Cúc",
            "18/120:310:ONT",
            &[vocab::STAGE_PLAN_POSTED],
        ),
        (
            "Đặng Văn Phúc",
            "18/121:540:LUC",
            &[
                vocab::STAGE_PLAN_POSTED,
                vocab::STAGE_AGREED,
                vocab::STAGE_PAID,
            ],
        ),
        (
            "Trương Thị Nga",
            "19/52:275.5:ONT",
            &[
                vocab::STAGE_PLAN_POSTED,
                vocab::STAGE_AGREED,
                vocab::STAGE_PAID,
                vocab::STAGE_HANDED_OVER,
            ],
        ),
        ("Lý Văn Quang", "19/53:820:CLN", &[]),
    ];
    for (i, (head, parcel, moves)) in stages.into_iter().enumerate() {
        let id = demo_add(
            laptop,
            Draft::Household(HouseholdDraft {
                project: "cao-toc-bac-nam".into(),
                head: head.into(),
                village: "Tổ dân phố Vĩnh Xuân".into(),
                parcels: vec![parcel.into()],
                compensation_vnd: format!("{}", 350_000_000 + 120_000_000 * i),
                ..HouseholdDraft::default()
            }),
        )?;
        laptop.with(|n| -> Result<(), NodeError> {
            n.household_visit(
                &id,
                &day(6),
                "Tổ công tác GPMB số 1",
                "Giải thích chính sách bồi thường, hỗ trợ tái định cư",
            )?;
            for stage in moves {
                n.household_status(&id, stage, &day(3), "Tổ công tác GPMB số 1", "")?;
            }
            Ok(())
        })??;
    }
    Ok(())
}

/// The communes' progress on the town's new task this period, and the
/// petitions of 2023 closed, so the overview lists what is due now.
fn progress_this_week(members: &[Member], today: time::Date) -> Result<(), NodeError> {
    let period = danvan_model::Period::half_of(today).to_string();
    let progress = [
        (
            vocab::PROGRESS_DONE,
            "Ra quân tổng vệ sinh, 320 lượt người tham gia",
        ),
        (
            vocab::PROGRESS_UNDER_WAY,
            "Đã phát động ở 3/5 thôn, còn 2 thôn trong tháng tới",
        ),
    ];
    // The third commune has not reported yet: the overview shows it.
    for (m, (status, summary)) in members[1..=2].iter().zip(progress) {
        demo_add(
            &m.node,
            crate::Draft::Progress(crate::ProgressDraft {
                task: "2.1".into(),
                period: period.clone(),
                status: status.into(),
                summary: summary.into(),
                ..crate::ProgressDraft::default()
            }),
        )?;
    }
    for m in &members[1..=3] {
        for id in &m.petitions {
            m.node.with(|n| {
                n.edit(
                    id,
                    &[
                        format!("status={}", vocab::PETITION_RESOLVED),
                        "resolved=2023-09-15".into(),
                        "answer=Đã trả lời công dân bằng văn bản".into(),
                    ],
                )
            })??;
        }
    }
    Ok(())
}
