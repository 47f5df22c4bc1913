//! Hubs above hubs, end to end with real processes: a province hub
//! (Quảng Ngãi's authority) above the former town hub of Đức Phổ; a commune
//! node that syncs only with the town hub and a ward node that syncs only
//! with the province hub. The town hands over to the province's authority;
//! the handover spreads and every node re-pins without re-joining; records
//! flow both ways across both levels; a node not on the province's roster
//! is refused. Then the authority key off the hub: an offline authority
//! signs rosters carried to the hub as files; a forged or older file is
//! refused, audited, and changes nothing.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use crate::access::{audit_reasons, enroll_at};
use crate::harness::{Dv, activity_args_in, wait_until};
use crate::loss::audit_events;
use crate::reform::gazetteer_arg;
use crate::sync::{Server, node_id};

/// A data directory of `unit` in the Đức Phổ 2025 gazetteer's tree, with
/// `extra` init options (`--authority`…).
fn init_in(name: &str, unit: &str, extra: &[&str]) -> Dv {
    let units = gazetteer_arg();
    let mut args = vec!["--unit", unit, "--units", units.as_str()];
    args.extend_from_slice(extra);
    Dv::init_with(name, &args)
}

/// The authority a node is pinned to now, as `roster show` reports the
/// signer of the roster it holds, and the version.
fn roster_of(dv: &Dv) -> (String, u64) {
    let v = dv.json(&["roster", "show"]);
    (
        v["authority"].as_str().expect("authority").to_string(),
        v["version"].as_u64().expect("version"),
    )
}

fn titles(dv: &Dv, kind: &str) -> BTreeSet<String> {
    dv.json(&["list", "--kind", kind])
        .as_array()
        .expect("list is an array")
        .iter()
        .map(|r| r["title"].as_str().unwrap_or("").to_string())
        .collect()
}

fn activity(dv: &Dv, unit: &str, title: &str) {
    dv.add(&activity_args_in(unit, "tuyen-truyen", "2026-12-01", title));
}

fn has(set: &BTreeSet<String>, title: &str) -> bool {
    set.iter().any(|t| t.contains(title))
}

#[test]
fn a_province_hub_above_a_town_hub_after_the_handover() {
    // The town as it ran before: its hub, and a commune node under it.
    let town = init_in("town", "duc-pho", &["--authority"]);
    let town_hub = Server::start(&town, &[]);
    let commune = init_in("commune", "xa-nguyen-nghiem", &[]);
    enroll_at(
        &town,
        &town_hub.addr.to_string(),
        &commune,
        &["--unit", "xa-nguyen-nghiem", "--role", "officer"],
    );
    let (town_authority, _) = roster_of(&town);
    assert_eq!(roster_of(&commune).0, town_authority);
    activity(
        &commune,
        "xa-nguyen-nghiem",
        "Tuyên truyền của xã Nguyễn Nghiêm",
    );
    commune.task("9.1", "Việc do xã Nguyễn Nghiêm giao", &[]);
    commune.ok(&["sync"]);

    // The province: its own authority and hub, the province above the
    // towns' and wards' units.
    let province = init_in("province", "quang-ngai", &["--authority"]);
    let province_hub = Server::start(&province, &[]);
    let (province_authority, _) = roster_of(&province);
    let province_hub_id = node_id(&province);

    // A successor's roster before the handover: refused by the town's
    // nodes as from any other key, and audited.
    let early = province.dir.join("../early.dvr");
    province.ok(&["roster", "sign", "--out", early.to_str().unwrap()]);
    commune.fails(
        &["roster", "apply", early.to_str().unwrap()],
        "không phải khóa thẩm quyền",
    );
    assert!(
        audit_reasons(&commune, "rejected-roster")
            .iter()
            .any(|r| r.contains("không phải khóa thẩm quyền")),
        "the refused roster is audited"
    );

    // The town hands over, naming the province's hub so its nodes may
    // sync with it at once; the town office's own store re-pins.
    let file = town.dir.join("../handover.dvr");
    let handed = town.json(&[
        "roster",
        "handover",
        "--to",
        &province_authority,
        "--hub",
        &province_hub_id,
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(handed["successor"], province_authority.as_str());
    let handover_version = handed["roster_version"].as_u64().unwrap();
    assert_eq!(audit_events(&town, "handover").len(), 1);
    // The roster held is still the town's, the pin already the province's.
    let shown = town.json(&["roster", "show"]);
    assert_eq!(shown["authority"], town_authority.as_str());
    assert_eq!(shown["pinned"], province_authority.as_str());
    assert_eq!(shown["successor"], province_authority.as_str());
    // The old key signs nothing any more.
    let stray = init_in("stray", "phuong-sa-huynh", &[]);
    let stray_id = node_id(&stray);
    town.fails(
        &[
            "roster",
            "add",
            &stray_id,
            "--unit",
            "phuong-sa-huynh",
            "--role",
            "officer",
        ],
        "đã chuyển giao",
    );

    // The province adopts the town: its members, its units, and the
    // handover carried inside the province's roster.
    let adopted = province.json(&["roster", "adopt", file.to_str().unwrap()]);
    assert_eq!(adopted["from"], town_authority.as_str());
    assert!(adopted["members_added"].as_u64().unwrap() >= 2, "{adopted}");
    assert!(adopted["roster_version"].as_u64().unwrap() > handover_version);

    // A ward node joins the province directly.
    let ward = init_in("ward", "phuong-duc-pho", &[]);
    enroll_at(
        &province,
        &province_hub.addr.to_string(),
        &ward,
        &["--unit", "phuong-duc-pho", "--role", "officer"],
    );
    // Adding the ward signed one more version.
    let province_version = roster_of(&province).1;
    assert!(province_version > adopted["roster_version"].as_u64().unwrap());
    assert_eq!(
        roster_of(&ward),
        (province_authority.clone(), province_version)
    );
    activity(&ward, "phuong-duc-pho", "Đối thoại của phường Đức Phổ");
    ward.task("9.2", "Việc do phường Đức Phổ giao", &[]);
    ward.ok(&["sync"]);

    // The former town hub syncs with the province hub as a peer.
    let province_addr = province_hub.addr.to_string();
    town.ok(&["sync", &province_addr]);
    assert_eq!(
        roster_of(&town),
        (province_authority.clone(), province_version)
    );
    // The commune never saw the handover roster alone: the province's
    // roster, through the town hub, carries it; the commune re-pins
    // without re-joining, and audits the handover.
    commune.ok(&["sync"]);
    assert_eq!(
        roster_of(&commune),
        (province_authority.clone(), province_version)
    );
    let handover = audit_events(&commune, "handover");
    assert_eq!(handover.len(), 1, "{handover:?}");
    assert_eq!(handover[0]["detail"]["from"], town_authority.as_str());
    assert_eq!(handover[0]["detail"]["to"], province_authority.as_str());
    let shown = commune.json(&["roster", "show"]);
    assert_eq!(shown["pinned"], province_authority.as_str());
    assert_eq!(shown["handovers_from"], serde_json::json!([town_authority]));

    // Store and forward across both levels, both ways.
    town.ok(&["sync", &province_addr]);
    commune.ok(&["sync"]);
    ward.ok(&["sync"]);
    for (dv, who) in [(&commune, "commune"), (&ward, "ward")] {
        let tasks = titles(dv, "task");
        assert!(has(&tasks, "xã Nguyễn Nghiêm giao"), "{who}: {tasks:?}");
        assert!(has(&tasks, "phường Đức Phổ giao"), "{who}: {tasks:?}");
    }
    for (dv, who) in [(&town, "town"), (&province, "province")] {
        let activities = titles(dv, "activity");
        assert!(
            has(&activities, "xã Nguyễn Nghiêm"),
            "{who}: {activities:?}"
        );
        assert!(has(&activities, "phường Đức Phổ"), "{who}: {activities:?}");
    }
    // Read scopes hold across the levels: each unit sees only its own
    // activities.
    assert!(!has(&titles(&ward, "activity"), "xã Nguyễn Nghiêm"));
    assert!(!has(&titles(&commune, "activity"), "phường Đức Phổ"));

    // The former town hub now keeps in step with the province on its own
    // (`serve --hub`, the upstream link): new work crosses both levels
    // with each end syncing only with its own hub.
    drop(town_hub);
    let town_hub = Server::start(&town, &["--hub", &province_addr]);
    // It listens on a new port: the commune syncs with it there.
    let town_addr = town_hub.addr.to_string();
    ward.task("9.3", "Việc mới của phường Đức Phổ", &[]);
    ward.ok(&["sync"]);
    wait_until(
        "the ward's new task reaches the commune",
        Duration::from_secs(20),
        || {
            commune.ok(&["sync", &town_addr]);
            has(&titles(&commune, "task"), "Việc mới của phường")
        },
    );
    commune.task("9.4", "Việc mới của xã Nguyễn Nghiêm", &[]);
    commune.ok(&["sync", &town_addr]);
    wait_until(
        "the commune's new task reaches the ward",
        Duration::from_secs(20),
        || {
            ward.ok(&["sync"]);
            has(&titles(&ward, "task"), "Việc mới của xã")
        },
    );

    // A node not on the province's roster is refused by the province hub.
    let province_id = node_id(&province);
    stray.ok(&["trust", "add", &province_id, "--addr", &province_addr]);
    let refused = stray.run(&["sync", &province_addr]);
    assert!(
        !refused.status.success(),
        "a stranger synced with the province"
    );
    wait_until(
        "the province hub audits the refused connection",
        Duration::from_secs(10),
        || {
            audit_events(&province, "rejected-connection")
                .iter()
                .any(|e| e["peer"].as_str() == Some(stray_id.as_str()))
        },
    );
    assert!(titles(&stray, "task").is_empty());
    drop(town_hub);
}

#[test]
fn the_authority_key_off_the_hub_signs_rosters_carried_as_files() {
    // The authority on a machine that never serves.
    let authority = init_in("authority", "duc-pho", &["--authority", "--offline"]);
    let (authority_id, first) = roster_of(&authority);
    assert_eq!(first, 1);
    assert!(
        authority.json(&["roster", "show"])["members"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for args in [
        &["serve", "--listen", "127.0.0.1:0"][..],
        &["sync", "127.0.0.1:9"][..],
    ] {
        authority.fails(args, "khóa thẩm quyền ngoại tuyến");
    }

    // The hub holds only rosters: the first one pins the authority.
    let hub = init_in("hub", "duc-pho", &[]);
    let hub_id = node_id(&hub);
    authority.ok(&[
        "roster", "add", &hub_id, "--unit", "duc-pho", "--role", "hub",
    ]);
    let dir = authority.dir.join("..");
    let sign = |name: &str| {
        let path = dir.join(name);
        let signed = authority.json(&["roster", "sign", "--out", path.to_str().unwrap()]);
        assert_eq!(signed["authority"], authority_id.as_str());
        path.to_str().unwrap().to_string()
    };
    let v2 = sign("v2.dvr");
    hub.fails(&["roster", "apply", &v2], "--authority");
    let applied = hub.json(&["roster", "apply", &v2, "--authority", &authority_id]);
    assert_eq!(applied["roster_version"], 2);
    assert!(!hub.dir.join("authority.key").exists());
    let check = hub.json(&["check"]);
    assert_eq!(check["warnings"], serde_json::json!([]), "{check}");

    // The hub serves; a new officer is added offline, the file carried.
    let server = Server::start(&hub, &[]);
    let officer = init_in("officer", "phuong-duc-pho", &[]);
    let officer_id = node_id(&officer);
    authority.ok(&[
        "roster",
        "add",
        &officer_id,
        "--unit",
        "phuong-duc-pho",
        "--role",
        "officer",
    ]);
    let v3 = sign("v3.dvr");
    assert_eq!(hub.json(&["roster", "apply", &v3])["roster_version"], 3);
    // The hub makes the invite with the authority it pinned.
    let invite = hub.ok(&["invite", &officer_id, "--addr", &server.addr.to_string()]);
    officer.ok(&["join", invite.trim()]);
    assert_eq!(roster_of(&officer), (authority_id.clone(), 3));
    activity(&officer, "phuong-duc-pho", "Tiếp dân phường Đức Phổ");
    officer.ok(&["sync"]);
    assert!(has(&titles(&hub, "activity"), "Tiếp dân phường Đức Phổ"));

    // An older file, a forged one (another authority's) and a damaged one:
    // refused, audited, nothing changed.
    hub.fails(&["roster", "apply", &v2], "không mới hơn");
    let forger = init_in("forger", "duc-pho", &["--authority", "--offline"]);
    forger.ok(&[
        "roster", "add", &hub_id, "--unit", "duc-pho", "--role", "hub",
    ]);
    forger.ok(&[
        "roster", "add", &hub_id, "--unit", "duc-pho", "--role", "viewer",
    ]);
    forger.ok(&[
        "roster", "add", &hub_id, "--unit", "duc-pho", "--role", "hub",
    ]);
    let forged = dir.join("forged.dvr");
    forger.ok(&["roster", "sign", "--out", forged.to_str().unwrap()]);
    hub.fails(
        &["roster", "apply", forged.to_str().unwrap()],
        "không phải khóa thẩm quyền",
    );
    let mut bytes = std::fs::read(&v3).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 1;
    let damaged = dir.join("damaged.dvr");
    std::fs::write(&damaged, bytes).unwrap();
    hub.fails(&["roster", "apply", damaged.to_str().unwrap()], "chữ ký");
    assert_eq!(roster_of(&hub), (authority_id.clone(), 3));
    assert_eq!(audit_reasons(&hub, "rejected-roster").len(), 3);

    // A hub that keeps the authority key still works, with a warning.
    let town = init_in("town", "duc-pho", &["--authority"]);
    let warned = town.json(&["check"]);
    assert_eq!(warned["ok"], true);
    assert!(
        warned["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("cảnh báo: khóa thẩm quyền")),
        "{warned}"
    );
    assert!(town.ok(&["check"]).contains("cảnh báo: khóa thẩm quyền"));
    let log = dir.join("serve.err");
    let mut serve = town
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start danvan serve");
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("serve prints its address");
    crate::harness::stop(&mut serve);
    assert!(line.contains("đang nhận đồng bộ"), "{line}");
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(stderr.contains("cảnh báo: khóa thẩm quyền"), "{stderr}");
    drop(server);
}
