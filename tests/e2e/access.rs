//! Who may read and write, end to end with real processes: a town office
//! (authority + hub), two communes' officers and a field laptop, joined by
//! invites; read scope whether syncing through the hub or directly; writes
//! refused by role; unknown keys refused both ways; revocation; a scope
//! widened below the checkpoint; the audit log.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::{Dv, wait_until};
use crate::sync::{Server, node_id};

const PROJECT: &str = "cao-toc-bac-nam";
const OTHER_PROJECT: &str = "ven-bien-dung-quat-sa-huynh";

/// One field of every record of `kind` that `dv` can list.
fn column(dv: &Dv, kind: &str, field: &str) -> BTreeSet<String> {
    dv.json(&["list", "--kind", kind])
        .as_array()
        .expect("list is an array")
        .iter()
        .map(|r| r[field].as_str().expect(field).to_string())
        .collect()
}

fn ids(dv: &Dv, kind: &str) -> BTreeSet<String> {
    column(dv, kind, "id")
}

fn units_of(dv: &Dv, kind: &str) -> BTreeSet<String> {
    column(dv, kind, "unit")
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn petition(dv: &Dv, citizen: &str) -> String {
    dv.add(&[
        "petition",
        "add",
        "--received",
        "2023-03-01",
        "--citizen",
        citizen,
        "--id-number",
        "051090001234",
        "--content",
        "Kiến nghị làm lại đường bê tông thôn",
    ])
}

/// `petition add` arguments, for another unit if given.
fn petition_args(unit: Option<&str>) -> Vec<&str> {
    let mut args = vec!["petition", "add"];
    if let Some(unit) = unit {
        args.extend(["--unit", unit]);
    }
    args.extend([
        "--received",
        "2023-03-02",
        "--citizen",
        "X",
        "--content",
        "Y",
    ]);
    args
}

fn household(dv: &Dv, unit: &str, project: &str, head: &str) -> String {
    dv.add(&[
        "household",
        "add",
        "--unit",
        unit,
        "--project",
        project,
        "--head",
        head,
    ])
}

pub(crate) fn audit_reasons(dv: &Dv, event: &str) -> Vec<String> {
    dv.json(&["audit"])
        .as_array()
        .expect("audit is an array")
        .iter()
        .filter(|e| e["event"] == event)
        .map(|e| e["detail"]["reason"].as_str().unwrap_or("").to_string())
        .collect()
}

/// `town` adds `node` with ARGS and the node joins (and syncs) with the invite.
pub(crate) fn enroll(town: &Dv, hub: &Server, node: &Dv, args: &[&str]) {
    enroll_at(town, &hub.addr.to_string(), node, args);
}

/// [`enroll`] with the hub's address as written in the invite (`IP:PORT`
/// or `HOST:PORT`).
pub(crate) fn enroll_at(town: &Dv, addr: &str, node: &Dv, args: &[&str]) {
    let id = node_id(node);
    let mut add = vec!["roster", "add", id.as_str()];
    add.extend_from_slice(args);
    town.ok(&add);
    let invite = town.ok(&["invite", id.as_str(), "--addr", addr]);
    assert!(invite.trim().starts_with("dvmoi1-"), "{invite}");
    node.ok(&["join", invite.trim()]);
}

/// [`enroll`] as the officer of `unit`.
pub(crate) fn enroll_officer(town: &Dv, hub: &Server, node: &Dv, unit: &str) {
    enroll(town, hub, node, &["--unit", unit, "--role", "officer"]);
}

#[test]
fn roster_scopes_reads_and_writes_across_hub_direct_sync_and_revocation() {
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    let minh = Dv::init("pho-minh");
    let ninh = Dv::init("pho-ninh");
    let field = Dv::init("pho-minh");
    let hub = Server::start(&town, &[]);
    enroll_officer(&town, &hub, &minh, "pho-minh");
    enroll_officer(&town, &hub, &ninh, "pho-ninh");
    enroll(
        &town,
        &hub,
        &field,
        &[
            "--unit",
            "pho-minh,pho-ninh",
            "--role",
            "field",
            "--project",
            PROJECT,
        ],
    );

    // Work recorded offline in each place.
    let p_minh = petition(&minh, "Nguyễn Văn An");
    let p_ninh = petition(&ninh, "Trần Thị Bình");
    let a_minh = minh.activity("tiep-dan", "2023-03-05", "Tiếp xúc cử tri khu phố 1");
    let task = town.add(&[
        "task",
        "add",
        "--number",
        "2.4",
        "--title",
        "Các xã, phường thực hiện tốt công tác dân vận chính quyền",
        "--assign",
        "pho-minh",
        "--assign",
        "pho-ninh",
    ]);
    let h_minh = household(&town, "pho-minh", PROJECT, "Lê Văn Cư");
    let h_ninh = household(&town, "pho-ninh", PROJECT, "Phạm Thị Dung");
    let h_other = household(&town, "pho-ninh", OTHER_PROJECT, "Võ Văn Em");

    // The field laptop may not write a petition, nor a case outside its
    // project or units: refused before anything is made.
    field.fails(&petition_args(None), "không được phép");
    field.fails(
        &[
            "household",
            "add",
            "--unit",
            "pho-ninh",
            "--project",
            OTHER_PROJECT,
            "--head",
            "Z",
        ],
        "không được phép",
    );
    field.fails(
        &[
            "household",
            "add",
            "--unit",
            "pho-thanh",
            "--project",
            PROJECT,
            "--head",
            "Z",
        ],
        "không được phép",
    );
    // An officer may not write another unit's records.
    minh.fails(&petition_args(Some("pho-ninh")), "không được phép");

    for _ in 0..2 {
        for dv in [&minh, &ninh, &field] {
            dv.ok(&["sync"]);
        }
    }
    // Every node holds the town's newest roster: it syncs first in every session.
    for dv in [&minh, &ninh, &field] {
        let roster = dv.json(&["roster", "show"]);
        assert_eq!(roster["version"], 4, "{roster}");
        assert_eq!(roster["members"].as_array().unwrap().len(), 4);
    }
    // The hub sees everything.
    assert_eq!(ids(&town, "petition"), set(&[&p_minh, &p_ninh]));
    assert_eq!(ids(&town, "household"), set(&[&h_minh, &h_ninh, &h_other]));
    assert!(ids(&town, "activity").contains(&a_minh));
    // Each commune: its own records and the town's tasks, not the other's petitions.
    assert_eq!(ids(&minh, "petition"), set(&[&p_minh]));
    assert_eq!(ids(&ninh, "petition"), set(&[&p_ninh]));
    assert_eq!(ids(&minh, "task"), set(&[&task]));
    assert_eq!(ids(&ninh, "task"), set(&[&task]));
    assert_eq!(ids(&minh, "household"), set(&[&h_minh]));
    assert!(ids(&ninh, "activity").is_empty());
    // The field laptop: its project's cases in its units, and the tasks.
    assert_eq!(ids(&field, "household"), set(&[&h_minh, &h_ninh]));
    assert!(ids(&field, "petition").is_empty() && ids(&field, "activity").is_empty());
    assert_eq!(ids(&field, "task"), set(&[&task]));

    // A bundle made at the town for the field laptop carries only what it
    // may read, like a sync.
    let bundle = town.dir.join("for-field.dvb");
    let field_id = node_id(&field);
    town.ok(&[
        "bundle",
        "export",
        "--out",
        bundle.to_str().unwrap(),
        "--for",
        &field_id,
    ]);
    // It is sealed to the field laptop: another node carrying it reads
    // nothing of it; the field laptop opens it (it holds all of it already).
    let carrier = Dv::init("pho-minh");
    carrier.fails(
        &["bundle", "import", bundle.to_str().unwrap()],
        "mã hoá cho nút khác",
    );
    assert!(ids(&carrier, "household").is_empty());
    let imported = field.json(&["bundle", "import", bundle.to_str().unwrap()]);
    assert_eq!(imported["new"], 0, "{imported}");
    assert_eq!(ids(&field, "household"), set(&[&h_minh, &h_ninh]));
    assert!(ids(&field, "petition").is_empty());

    // The field laptop edits a case it holds; the edit reaches the hub and
    // the commune, and the record's unit cannot be changed by an edit.
    field.ok(&[
        "household",
        "visit",
        &h_ninh,
        "--date",
        "2023-04-01",
        "--by",
        "Tổ GPMB",
        "--outcome",
        "Đã vận động",
    ]);
    field.ok(&["sync"]);
    ninh.ok(&["sync"]);
    let shown = ninh.json(&["show", &h_ninh]);
    assert_eq!(
        shown["visits"].as_array().map(|v| v.len()),
        Some(1),
        "{shown}"
    );

    // Direct sync between the two communes: nothing of the other's petitions travels.
    let ninh_server = Server::start(&ninh, &[]);
    minh.ok(&["sync", &ninh_server.addr.to_string()]);
    assert_eq!(ids(&minh, "petition"), set(&[&p_minh]));
    drop(ninh_server);
    let minh_server = Server::start(&minh, &[]);
    ninh.ok(&["sync", &minh_server.addr.to_string()]);
    assert_eq!(ids(&ninh, "petition"), set(&[&p_ninh]));
    assert_eq!(units_of(&ninh, "household"), set(&["pho-ninh"]));

    // An unknown key is refused at the handshake, in both directions.
    let stranger = Dv::init("pho-minh");
    let stranger_id = node_id(&stranger);
    stranger.ok(&[
        "trust",
        "add",
        &node_id(&town),
        "--addr",
        &hub.addr.to_string(),
    ]);
    let out = stranger.run(&["sync", &hub.addr.to_string()]);
    assert!(!out.status.success(), "the hub accepted an unknown key");
    let stranger_server = Server::start(&stranger, &[]);
    stranger.ok(&["trust", "add", &node_id(&minh)]);
    let out = minh.run(&["sync", &stranger_server.addr.to_string()]);
    assert!(
        !out.status.success(),
        "a commune accepted an unknown server key"
    );
    drop(stranger_server);
    // `serve` flushes refused connections to its audit log every second.
    let refused_logged = |e: &serde_json::Value| {
        e["event"] == "rejected-connection" && e["peer"].as_str() == Some(stranger_id.as_str())
    };
    wait_until(
        "the hub's audit log to name the refused key",
        Duration::from_secs(10),
        || {
            town.json(&["audit"])
                .as_array()
                .unwrap()
                .iter()
                .any(refused_logged)
        },
    );
    assert!(
        audit_reasons(&minh, "rejected-connection")
            .iter()
            .any(|r| r.contains("không có trong danh sách thành viên"))
    );

    // A widened scope brings what became readable, below the checkpoint.
    town.ok(&[
        "roster",
        "add",
        &node_id(&minh),
        "--unit",
        "pho-minh,pho-ninh",
        "--role",
        "officer",
    ]);
    minh.ok(&["sync"]);
    assert_eq!(ids(&minh, "petition"), set(&[&p_minh, &p_ninh]));

    // Revocation: the hub refuses the revoked node at the handshake; a
    // record it wrote before stays; what it signs afterwards is refused
    // everywhere, even when carried in a bundle.
    let ninh_id = node_id(&ninh);
    town.ok(&["roster", "revoke", &ninh_id]);
    let out = ninh.run(&["sync"]);
    assert!(
        !out.status.success(),
        "a revoked node could still sync with the hub"
    );
    let late = petition(&ninh, "Sau khi thu hồi");
    let bundle = ninh.dir.join("late.dvb");
    ninh.ok(&[
        "bundle",
        "export",
        "--plain",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    let before = town.snapshot();
    let out = town.run(&["bundle", "import", bundle.to_str().unwrap()]);
    // The import finishes, and says with its exit code that it refused some.
    assert_eq!(
        out.status.code(),
        Some(crate::loss::EXIT_REFUSED),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        before,
        town.snapshot(),
        "a revoked node's new record was stored"
    );
    assert!(!ids(&town, "petition").contains(&late));
    assert!(
        ids(&town, "petition").contains(&p_ninh),
        "what it wrote before stays"
    );
    assert!(
        audit_reasons(&town, "rejected-change")
            .iter()
            .any(|r| r.contains("thu hồi"))
    );
    // A commune that got the new roster refuses the revoked node too.
    minh.ok(&["sync"]);
    let minh_server = Server::start(&minh, &[]);
    let out = ninh.run(&["sync", &minh_server.addr.to_string()]);
    assert!(
        !out.status.success(),
        "a commune with the new roster accepted a revoked node"
    );
    drop(minh_server);

    // The audit log shows the sessions and the refusals, in Vietnamese.
    let text = town.ok(&["audit"]);
    assert!(
        text.contains("phiên đồng bộ") && text.contains("TỪ CHỐI"),
        "{text}"
    );
}
