//! Nothing lost silently, nothing wedged (issue 12), end to end with real
//! processes: work a peer refuses comes back to its author, and a bundle
//! import says what it refused.

use std::process::Output;

use crate::access::enroll;
use crate::harness::Dv;
use crate::sync::{Server, node_id};

/// The exit code of a sync or import in which changes were refused
/// (`danvan_node::EXIT_REFUSED`).
pub(crate) const EXIT_REFUSED: i32 = 8;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must finish with "some changes refused"; returns
/// its stdout.
fn refused(dv: &Dv, args: &[&str]) -> String {
    let out = dv.run(args);
    assert_eq!(
        out.status.code(),
        Some(EXIT_REFUSED),
        "danvan {args:?} should exit {EXIT_REFUSED}:\nstdout: {}\nstderr: {}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

/// A town hub and a commune officer enrolled in it.
fn town_and_officer() -> (Dv, Server, Dv) {
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    let hub = Server::start(&town, &[]);
    let minh = Dv::init("pho-minh");
    enroll(
        &town,
        &hub,
        &minh,
        &["--unit", "pho-minh", "--role", "officer"],
    );
    (town, hub, minh)
}

#[test]
fn work_the_hub_refuses_comes_back_to_its_author() {
    let (town, _hub, minh) = town_and_officer();
    let kept = minh.activity(
        "tuyen-truyen",
        "2024-03-01",
        "Tuyên truyền trước khi đổi vai trò",
    );
    minh.ok(&["sync"]);
    // Written offline; meanwhile the town makes the officer a viewer.
    let lost = minh.activity(
        "doi-thoai",
        "2024-03-02",
        "Đối thoại với Nhân dân khu phố 3",
    );
    let id = node_id(&minh);
    town.ok(&[
        "roster", "add", &id, "--unit", "pho-minh", "--role", "viewer",
    ]);

    let text = refused(&minh, &["sync"]);
    assert!(text.contains("không chấp nhận 1 thay đổi"), "{text}");
    assert!(
        text.contains(&format!("hồ sơ {}: chưa được chấp nhận: ", &lost[..8])),
        "{text}"
    );
    // The hub holds the earlier record, not the refused one.
    let at_town = town.ok(&["list"]);
    assert!(
        at_town.contains(&kept[..8]) && !at_town.contains(&lost[..8]),
        "{at_town}"
    );

    // The mark stays on the record after the session, in show and list
    // (text and JSON), and only on that record.
    let shown = minh.ok(&["show", &lost]);
    assert!(shown.contains("chưa được chấp nhận: "), "{shown}");
    let json = minh.json(&["show", &lost]);
    assert_eq!(json["refusals"].as_array().map(Vec::len), Some(1), "{json}");
    assert!(!minh.ok(&["show", &kept]).contains("chưa được chấp nhận"));
    let list = minh.ok(&["list"]);
    let line = list.lines().find(|l| l.starts_with(&lost[..8])).unwrap();
    assert!(line.contains("chưa được chấp nhận: "), "{list}");
    let rows = minh.json(&["list"]);
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == lost.as_str())
        .unwrap();
    assert!(
        row["refused"].as_str().is_some_and(|r| !r.is_empty()),
        "{row}"
    );

    // The next session sends nothing new and says so with exit 0; the
    // record still shows the refusal.
    let json = minh.json(&["sync"]);
    assert_eq!(json["changes_refused_by_peer"], 0, "{json}");
    assert!(minh.ok(&["show", &lost]).contains("chưa được chấp nhận: "));
}

#[test]
fn sync_json_lists_each_refused_change_with_its_reason() {
    let (town, _hub, minh) = town_and_officer();
    let first = minh.activity("tuyen-truyen", "2024-04-01", "Buổi một");
    let second = minh.activity("tuyen-truyen", "2024-04-02", "Buổi hai");
    let id = node_id(&minh);
    town.ok(&[
        "roster", "add", &id, "--unit", "pho-minh", "--role", "viewer",
    ]);
    let out = refused(&minh, &["sync", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["changes_refused_by_peer"], 2, "{json}");
    let mut records: Vec<&str> = json["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
            r["record"].as_str().unwrap()
        })
        .collect();
    records.sort();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort();
    assert_eq!(records, expected);
}

#[test]
fn bundle_import_reports_what_it_refused_and_exits_non_zero() {
    let (town, _hub, minh) = town_and_officer();
    // Written before the town makes the officer a viewer: the town's
    // roster no longer lets its signer write it.
    let outside = minh.activity("tuyen-truyen", "2024-05-01", "Buổi sau khi đổi vai trò");
    let id = node_id(&minh);
    town.ok(&[
        "roster", "add", &id, "--unit", "pho-minh", "--role", "viewer",
    ]);
    let bundle = minh.dir.join("gui.dvb");
    minh.ok(&["bundle", "export", "--out", bundle.to_str().unwrap()]);
    let text = refused(&town, &["bundle", "import", bundle.to_str().unwrap()]);
    assert!(text.contains("1 bị từ chối"), "{text}");
    assert!(
        text.contains(&format!("của hồ sơ {}", &outside[..8])),
        "{text}"
    );
    let out = refused(
        &town,
        &["bundle", "import", bundle.to_str().unwrap(), "--json"],
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["refused_count"], 1, "{json}");
    assert_eq!(json["refused"][0]["record"], outside.as_str(), "{json}");
    assert!(!town.ok(&["list"]).contains(&outside[..8]));
}
