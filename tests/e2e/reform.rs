//! The 2025 reform end to end through the real `danvan` binary: the town
//! office adds dated unit changes to the roster (typed, or the Đức Phổ
//! gazetteer) and bad ones are refused; `units` shows the tree of a day and
//! the old → new mapping; an officer of a merged ward reads and writes
//! exactly its former units' records, made before the merge, over real
//! QUIC; reports show a period by the old or the new units with the same
//! totals (the seed conclusion's tasks, and a seeded random 2023–2026
//! history: `DANVAN_REFORM_SEED` repeats one); the web app's report page
//! offers both; a roster that rewrites a published change is refused by a
//! peer and audited.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::access::enroll_officer;
use crate::harness::{Dv, activity_args_in, field_numbers, field_texts};
use crate::sync::Server;

/// The five units of 1 July 2025 and the former units of each.
const REFORM: [(&str, &[&str]); 5] = [
    (
        "phuong-duc-pho",
        &[
            "nguyen-nghiem",
            "pho-hoa",
            "pho-minh",
            "pho-vinh",
            "pho-ninh",
        ],
    ),
    ("phuong-sa-huynh", &["pho-thanh", "pho-chau"]),
    (
        "phuong-tra-cau",
        &["pho-van", "pho-quang", "pho-an", "pho-thuan"],
    ),
    ("xa-nguyen-nghiem", &["pho-nhon", "pho-phong"]),
    ("xa-khanh-cuong", &["pho-khanh", "pho-cuong"]),
];

fn gazetteer() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/danvan-model/data/duc-pho-2025.toml")
}

pub(crate) fn gazetteer_arg() -> String {
    gazetteer().to_str().expect("utf-8 path").to_string()
}

fn roster_version(dv: &Dv) -> u64 {
    dv.json(&["roster", "show"])["version"]
        .as_u64()
        .expect("roster version")
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The ids of the commune-level units `units --on DAY` lists.
fn communes_on(dv: &Dv, day: Option<&str>) -> BTreeSet<String> {
    let mut args = vec!["units"];
    if let Some(day) = day {
        args.extend(["--on", day]);
    }
    dv.json(&args)["units"]
        .as_array()
        .expect("units")
        .iter()
        .filter(|u| u["kind"] == "ward" || u["kind"] == "commune")
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every field `field` of the records `list ARGS` shows.
fn listed(dv: &Dv, args: &[&str], field: &str) -> BTreeSet<String> {
    let mut all = vec!["list"];
    all.extend_from_slice(args);
    dv.json(&all)
        .as_array()
        .expect("list is an array")
        .iter()
        .map(|r| r[field].as_str().expect(field).to_string())
        .collect()
}

#[test]
fn the_town_office_adds_unit_changes_and_bad_ones_change_nothing() {
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    assert_eq!(roster_version(&town), 1);
    let fifteen = communes_on(&town, None);
    assert_eq!(fifteen.len(), 15);

    fn change<'a>(args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["roster", "unit-change"];
        all.extend_from_slice(args);
        all
    }
    // Phổ Minh renamed "X" on a day: refused on a day that is not one, and
    // once the merge has ended Phổ Minh.
    let rename_minh_on = |on| change(&["rename", "--unit", "pho-minh", "--name", "X", "--on", on]);
    // Refused with the reason; no roster signed, nothing stored changed.
    for (args, needle) in [
        (
            change(&[
                "merge",
                "--from",
                "pho-minh,pho-hoa",
                "--into",
                "pho-minh",
                "--on",
                "01/07/2025",
            ]),
            "không thể sáp nhập đơn vị \"pho-minh\" vào chính nó",
        ),
        (
            change(&[
                "merge",
                "--from",
                "pho-minh,zz",
                "--into",
                "pho-hoa",
                "--on",
                "01/07/2025",
            ]),
            "không có đơn vị \"zz\"",
        ),
        (
            change(&[
                "move",
                "--unit",
                "duc-pho",
                "--parent",
                "pho-minh",
                "--on",
                "01/07/2025",
            ]),
            "vòng lặp",
        ),
        (
            change(&[
                "merge",
                "--from",
                "pho-minh",
                "--into",
                "phuong-x",
                "--name",
                "Phường X",
                "--on",
                "01/07/2025",
            ]),
            "đơn vị mới cần --kind",
        ),
        (rename_minh_on("31/02/2025"), "ngày không hợp lệ"),
    ] {
        town.fails(&args, needle);
        assert_eq!(roster_version(&town), 1, "{args:?}");
    }
    assert!(town.ok(&["units"]).contains("Cây đơn vị ngày"));

    // The gazetteer: the sample's units plus the changes of 1/7/2025.
    let gazetteer = gazetteer_arg();
    let out = town.ok(&change(&["load", &gazetteer]));
    assert!(out.contains("Thêm 1 đơn vị"), "{out}");
    assert!(
        out.contains("sáp nhập thành Phường Đức Phổ (mã 21439) (theo Nghị quyết 1677/NQ-UBTVQH15"),
        "{out}"
    );
    assert!(out.contains("phiên bản 2 với 7 thay đổi đơn vị"), "{out}");
    assert_eq!(roster_version(&town), 2);
    // The tree of a day before and after.
    assert_eq!(communes_on(&town, Some("30/06/2025")), fifteen);
    let five: BTreeSet<String> = REFORM.iter().map(|(new, _)| new.to_string()).collect();
    assert_eq!(communes_on(&town, Some("01/07/2025")), five);
    assert_eq!(communes_on(&town, None), five);
    let units = town.json(&["units"]);
    let mapping = units["mapping"].as_array().unwrap();
    for (new, former) in REFORM {
        for old in former {
            assert!(
                mapping
                    .iter()
                    .any(|m| m["old"] == *old && m["new"] == new && m["since"] == "2025-07-01"),
                "{old} → {new} missing: {mapping:?}"
            );
        }
    }
    let ward = units["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "phuong-duc-pho")
        .unwrap();
    assert_eq!(
        (&ward["code"], &ward["parent"]),
        (&"21439".into(), &"quang-ngai".into())
    );
    let text = town.ok(&["units", "--on", "01/07/2025"]);
    assert!(
        text.contains(
            "Phường Phổ Minh [pho-minh] → Phường Đức Phổ [phuong-duc-pho], từ ngày 1/7/2025"
        ),
        "{text}"
    );
    // Loading the same file again adds nothing and signs nothing.
    let again = town.ok(&change(&["load", &gazetteer]));
    assert!(
        again.contains("không có đơn vị hay thay đổi nào mới"),
        "{again}"
    );
    assert_eq!(roster_version(&town), 2);

    // Dated before the last change, or naming a unit ended by then.
    town.fails(
        &change(&[
            "rename",
            "--unit",
            "xa-khanh-cuong",
            "--name",
            "Xã K",
            "--on",
            "01/06/2025",
        ]),
        "trước ngày 1/7/2025",
    );
    town.fails(&rename_minh_on("01/08/2025"), "không còn từ ngày 1/7/2025");
    assert_eq!(roster_version(&town), 2);

    // A merge into a new unit, dated in the future: listed from its day.
    let out = town.ok(&change(&[
        "merge",
        "--from",
        "xa-nguyen-nghiem,xa-khanh-cuong",
        "--into",
        "xa-thu",
        "--name",
        "Xã Thử",
        "--kind",
        "commune",
        "--code",
        "99999",
        "--on",
        "01/01/2099",
        "--basis",
        "Nghị quyết thử",
    ]));
    assert!(out.contains("Từ ngày 1/1/2099: Xã Nguyễn Nghiêm, Xã Khánh Cường sáp nhập thành Xã Thử (mã 99999) (theo Nghị quyết thử)."), "{out}");
    assert_eq!(roster_version(&town), 3);
    assert_eq!(communes_on(&town, None), five);
    let later = communes_on(&town, Some("01/01/2099"));
    assert!(
        later.contains("xa-thu") && !later.contains("xa-khanh-cuong"),
        "{later:?}"
    );
    assert!(town.ok(&["units"]).contains("(chưa có hiệu lực)"));
    // The gazetteer now lacks a published change: refused.
    town.fails(
        &change(&["load", &gazetteer]),
        "bỏ mất 1 thay đổi đã ban hành",
    );
    assert_eq!(roster_version(&town), 3);
}

#[test]
fn an_officer_of_a_merged_ward_reads_and_writes_exactly_its_former_units() {
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    let hub = Server::start(&town, &[]);
    let minh = Dv::init("pho-minh");
    let hoa = Dv::init("pho-hoa");
    let thanh = Dv::init("pho-thanh");
    for (dv, unit) in [
        (&minh, "pho-minh"),
        (&hoa, "pho-hoa"),
        (&thanh, "pho-thanh"),
    ] {
        enroll_officer(&town, &hub, dv, unit);
    }
    // Work of 2024, under the old units.
    let a_minh = minh.activity("tiep-dan", "2024-03-05", "Tiếp dân khu phố 1");
    let a_hoa = hoa.activity("tuyen-truyen", "2024-04-10", "Tuyên truyền Luật Đất đai");
    let a_thanh = thanh.activity("doi-thoai", "2024-05-20", "Đối thoại với ngư dân");
    for dv in [&minh, &hoa, &thanh] {
        dv.ok(&["sync"]);
    }
    // The town office applies the reform; a machine for the new ward.
    town.ok(&["roster", "unit-change", "load", &gazetteer_arg()]);
    let gazetteer = gazetteer_arg();
    let ward = Dv::init_with(
        "ward",
        &["--unit", "phuong-duc-pho", "--units", gazetteer.as_str()],
    );
    enroll_officer(&town, &hub, &ward, "phuong-duc-pho");
    // Exactly its former units' records, made before the merge.
    assert_eq!(
        listed(&ward, &["--kind", "activity"], "id"),
        set(&[&a_minh, &a_hoa])
    );
    assert_eq!(
        listed(&ward, &["--kind", "activity"], "unit"),
        set(&["pho-minh", "pho-hoa"])
    );
    // `--unit` of the new ward covers the units merged into it.
    assert_eq!(
        listed(&ward, &["--unit", "phuong-duc-pho"], "id"),
        set(&[&a_minh, &a_hoa])
    );
    assert_eq!(listed(&ward, &["--unit", "pho-hoa"], "id"), set(&[&a_hoa]));
    // It writes them, and records for its former units; not another ward's.
    ward.ok(&["edit", &a_minh, "--set", "results=Đã trả lời 3 kiến nghị"]);
    let a_ward = ward.activity("hoa-giai", "2025-08-02", "Hòa giải tranh chấp ranh đất");
    let a_old = ward.add(&activity_args_in(
        "pho-hoa",
        "tuyen-truyen",
        "2025-06-20",
        "Ghi bổ sung hoạt động trước sắp xếp",
    ));
    ward.fails(
        &activity_args_in("pho-thanh", "tuyen-truyen", "2025-08-01", "X"),
        "không được",
    );
    ward.ok(&["sync"]);
    // The hub took every change; the officer listed under Phổ Minh works
    // for the merged ward now, and sees the edit and its neighbours' work.
    let rejected = |dv: &Dv| {
        dv.json(&["audit"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "rejected-change")
            .count()
    };
    assert_eq!(rejected(&town), 0);
    minh.ok(&["sync"]);
    assert_eq!(
        listed(&minh, &["--kind", "activity"], "id"),
        set(&[&a_minh, &a_hoa, &a_ward, &a_old])
    );
    let shown = minh.json(&["show", &a_minh]);
    assert_eq!(shown["results"], "Đã trả lời 3 kiến nghị");
    // Phổ Thạnh went to Sa Huỳnh: it sees none of it, and its own.
    thanh.ok(&["sync"]);
    assert_eq!(
        listed(&thanh, &["--kind", "activity"], "id"),
        set(&[&a_thanh])
    );
    assert_eq!(rejected(&minh) + rejected(&thanh) + rejected(&ward), 0);
}

fn report(dv: &Dv, period: &str, unit: &str, view: &[&str]) -> Value {
    let mut args = vec![
        "report",
        "--period",
        period,
        "--unit",
        unit,
        "--format",
        "json",
        "--today",
        "2026-06-30",
    ];
    args.extend_from_slice(view);
    let text = dv.ok(&args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("report JSON ({e}): {text}"))
}

/// The totals of a report that do not depend on its rows.
fn totals(r: &Value) -> Vec<Value> {
    vec![
        r["activities"]["total"].clone(),
        r["activities"]["attendance"].clone(),
        r["activities"]["citizens"].clone(),
        r["petitions"]["total"].clone(),
        r["models"]["total"].clone(),
        r["tasks"]["tasks"].as_array().unwrap().len().into(),
    ]
}

fn rows(r: &Value, section: &str) -> Vec<String> {
    field_texts(&r[section]["by_unit"], "unit_name")
}

#[test]
fn reports_show_a_period_by_the_old_or_the_new_units_with_the_same_totals() {
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    // The seed conclusion of 17/7/2023: its tasks, assigned to the units.
    let seed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/danvan-report/testdata/ket-luan-2023-07-17.txt");
    town.ok(&[
        "task",
        "import",
        seed.to_str().unwrap(),
        "--source",
        "Kết luận số 12-KL/TU ngày 17/7/2023",
    ]);
    let tasks = town.json(&["list", "--kind", "task"]);
    let task = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"].as_str().unwrap().starts_with("2.4. "))
        .expect("task 2.4")["id"]
        .as_str()
        .unwrap()
        .to_string();
    town.ok(&["roster", "unit-change", "load", &gazetteer_arg()]);
    // 2023 work in communes of three future units, and the town's own
    // (entered after the reform's roster: records keep their old unit).
    for (unit, date, attendance) in [
        ("pho-minh", "2023-08-01", "40"),
        ("pho-hoa", "2023-09-12", "25"),
        ("pho-thanh", "2023-10-03", "60"),
        ("pho-an", "2023-11-20", "15"),
        ("duc-pho-ubnd", "2023-12-01", "80"),
        // 2025, either side of the merge.
        ("pho-minh", "2025-03-01", "10"),
        ("phuong-duc-pho", "2025-09-01", "20"),
        // Kon Tum's, under the province since 1/7/2025: never Đức Phổ's.
        ("kon-tum", "2023-09-15", "500"),
    ] {
        let mut args = activity_args_in(unit, "tuyen-truyen", date, "Tuyên truyền");
        args.extend(["--attendance", attendance]);
        town.add(&args);
    }
    for unit in ["pho-minh", "pho-chau", "pho-khanh"] {
        town.add(&[
            "petition",
            "add",
            "--unit",
            unit,
            "--received",
            "2023-10-10",
            "--citizen",
            "Nguyễn Văn A",
            "--content",
            "Kiến nghị sửa đường",
        ]);
    }
    town.add(&[
        "progress",
        "add",
        &task,
        "--unit",
        "pho-minh",
        "--period",
        "2023-H2",
        "--status",
        "hoan-thanh",
        "--summary",
        "Đã tổ chức đối thoại",
    ]);

    // 2023-H2 by the units of the period's end (old) and of today (new).
    let old = report(&town, "2023-H2", "duc-pho", &[]);
    let old_explicit = report(&town, "2023-H2", "duc-pho", &["--units", "old"]);
    assert_eq!(old, old_explicit);
    let new = report(&town, "2023-H2", "duc-pho", &["--units", "new"]);
    let as_of = report(&town, "2023-H2", "duc-pho", &["--as-of", "01/07/2025"]);
    assert_eq!(new, as_of);
    assert_eq!(old["unit_name"], "Thị xã Đức Phổ");
    // The town was abolished: by today's units it is reported as its
    // former units, never as the whole province (Kon Tum's record).
    assert_eq!(new["unit_name"], "Thị xã Đức Phổ (cũ)");
    assert_eq!(totals(&old), totals(&new));
    assert_eq!(old["activities"]["total"], 5);
    assert_eq!(old["activities"]["attendance"], 220);
    assert_eq!(old["petitions"]["total"]["received"], 3);
    assert_eq!(
        rows(&old, "activities"),
        [
            "Ủy ban nhân dân thị xã",
            "Phường Phổ Hòa",
            "Phường Phổ Minh",
            "Phường Phổ Thạnh",
            "Xã Phổ An"
        ]
    );
    assert_eq!(
        rows(&new, "activities"),
        [
            "Thị xã Đức Phổ (cũ)",
            "Phường Đức Phổ",
            "Phường Sa Huỳnh",
            "Phường Trà Câu"
        ]
    );
    assert_eq!(
        rows(&new, "petitions"),
        ["Phường Đức Phổ", "Phường Sa Huỳnh", "Xã Khánh Cường"]
    );
    // Task 2.4 by the new units: Phổ Minh's report is Phường Đức Phổ's.
    let assignment = |r: &Value, unit: &str| -> Value {
        r["tasks"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["number"] == "2.4")
            .expect("task 2.4 in the report")["assigned"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["unit"] == unit)
            .unwrap_or_else(|| panic!("{unit} assigned"))
            .clone()
    };
    assert_eq!(assignment(&old, "pho-minh")["status_label"], "Hoàn thành");
    assert_eq!(
        assignment(&new, "phuong-duc-pho")["status_label"],
        "Hoàn thành"
    );
    // The ward's report of the past period by today's units is its five
    // former units' figures.
    let ward = report(&town, "2023-H2", "phuong-duc-pho", &["--units", "new"]);
    assert_eq!(ward["activities"]["total"], 2);
    assert_eq!(ward["activities"]["attendance"], 65);

    // 2025 spans the change: shown by the new units, saying what they took in.
    let spanning = report(&town, "2025", "phuong-duc-pho", &[]);
    assert_eq!(spanning["activities"]["total"], 2);
    let lines: Vec<&str> = spanning["unit_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("Số liệu của Phường Đức Phổ (mã 21439) gồm cả số liệu của Phường Nguyễn Nghiêm, Phường Phổ Hòa, Phường Phổ Minh")),
        "{lines:?}"
    );
    let md = town.ok(&[
        "report",
        "--period",
        "2025",
        "--unit",
        "phuong-duc-pho",
        "--today",
        "2026-06-30",
    ]);
    assert!(md.contains("Sắp xếp đơn vị hành chính"), "{md}");
    // What is due at a merged commune is due at its new ward: Phổ Thạnh's
    // list is Sa Huỳnh's, with Phổ Châu's overdue petition.
    let due = town.json(&["due", "--unit", "pho-thanh", "--today", "2026-06-30"]);
    let overdue: BTreeSet<String> = field_texts(&due["petitions"], "unit").into_iter().collect();
    assert_eq!(overdue, set(&["pho-chau"]));
    town.fails(
        &["report", "--period", "2023", "--units", "both"],
        "--units \"both\" không rõ",
    );
}

#[test]
fn a_roster_rewriting_a_published_unit_change_is_refused_and_audited() {
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    town.ok(&["roster", "unit-change", "load", &gazetteer_arg()]);
    let mut hub = Server::start(&town, &[]);
    let minh = Dv::init("pho-minh");
    enroll_officer(&town, &hub, &minh, "pho-minh");
    assert_eq!(roster_version(&minh), 3);
    // A roster signed by the town's own authority key that changes the code
    // of a published merge: held by a hub built from other code.
    hub.kill();
    let conn = crate::harness::open_db(&town.dir);
    let held: Vec<u8> = conn
        .query_row("SELECT value FROM meta WHERE key = 'roster'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let held = danvan_model::SignedRoster::decode(&held).unwrap();
    let secret = crate::sealed_keys::unsealed_secret(&town, "authority.key");
    let authority = danvan_model::NodeKey::from_secret(secret);
    let mut forged = held.roster().clone();
    forged.version = 4;
    forged.units = forged.units.replace("code = \"21439\"", "code = \"21440\"");
    let forged = danvan_model::SignedRoster::sign(&authority, &forged).unwrap();
    for (key, value) in [
        ("roster", forged.bytes().to_vec()),
        ("roster_version", 4u64.to_be_bytes().to_vec()),
    ] {
        conn.execute(
            "UPDATE meta SET value = ?2 WHERE key = ?1",
            rusqlite::params![key, value],
        )
        .unwrap();
    }
    drop(conn);
    let hub = Server::start(&town, &[]);
    let out = minh.run(&["sync", &hub.addr.to_string()]);
    assert!(!out.status.success(), "the sync went through");
    assert_eq!(roster_version(&minh), 3);
    let audit = minh.json(&["audit"]);
    let refused: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "rejected-roster")
        .collect();
    assert_eq!(refused.len(), 1, "{audit}");
    let reason = refused[0]["detail"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("thay đổi đơn vị thứ 1 đã ban hành ở phiên bản 3 bị sửa"),
        "{reason}"
    );
}

#[test]
fn the_web_report_page_shows_a_period_by_the_old_or_the_new_units() {
    use crate::browser::{Browser, WebServer};
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    town.ok(&["roster", "unit-change", "load", &gazetteer_arg()]);
    for (unit, date) in [("pho-minh", "2023-08-01"), ("pho-hoa", "2023-09-12")] {
        town.add(&activity_args_in(
            unit,
            "tuyen-truyen",
            date,
            "Tuyên truyền",
        ));
    }
    let web = WebServer::web(&town, "127.0.0.1:0");
    let browser = Browser::open();
    browser.goto(&web.url("/bao-cao?period=2023-H2&unit=duc-pho"));
    browser.wait_for("#report");
    let old = browser.text("#report");
    assert!(
        old.contains("Phường Phổ Minh") && old.contains("Phường Phổ Hòa"),
        "{old}"
    );
    assert!(!old.contains("Phường Đức Phổ"), "{old}");
    // The form's choice: the same period by today's units.
    browser.select("select[name=units]", "new");
    browser.click("form.filters button[type=submit]");
    browser.wait_until(
        "the report by the new units",
        std::time::Duration::from_secs(20),
        |b| b.url().contains("units=new"),
    );
    browser.wait_for("#report");
    let new = browser.text("#report");
    assert!(new.contains("Phường Đức Phổ"), "{new}");
    // The abolished town by today's units: its former units, named as the
    // old town, never the province.
    assert!(new.contains("Thị xã Đức Phổ (cũ)"), "{new}");
    assert!(!new.contains("Tỉnh Quảng Ngãi"), "{new}");
    assert!(new.contains("gồm cả số liệu của"), "{new}");
    let href = browser
        .attr("a[href^='/bao-cao/tai-ve/csv']", "href")
        .expect("csv link");
    assert!(href.contains("units=new"), "{href}");
    let (status, body) = crate::browser::http_request(web.addr, "GET", &href, &[], "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Phường Đức Phổ"), "{body}");
    // The records list's unit filter covers the units merged into the ward.
    for (unit, rows) in [
        ("phuong-duc-pho", 2),
        ("pho-hoa", 1),
        ("phuong-sa-huynh", 0),
    ] {
        browser.goto(&web.url(&format!("/ho-so?unit={unit}")));
        browser.wait_for("main");
        assert_eq!(browser.count("#records tbody tr"), rows, "{unit}");
    }
}

/// The new unit a record of `unit` is read under from 1/7/2025 (the
/// town's organizations go to the province).
fn new_unit_of(unit: &str) -> &'static str {
    REFORM
        .iter()
        .find(|(new, former)| *new == unit || former.contains(&unit))
        .map(|(new, _)| *new)
        .unwrap_or("quang-ngai")
}

#[test]
fn a_generated_history_adds_up_the_same_by_the_old_and_the_new_units() {
    let seed = crate::harness::seed_from_env("DANVAN_REFORM_SEED");
    println!("DANVAN_REFORM_SEED={seed}");
    let mut state = seed | 1;
    let mut next = move |n: u64| {
        // xorshift64*: reproducible from the printed seed.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
    };
    let old_units: Vec<&str> = REFORM
        .iter()
        .flat_map(|(_, former)| former.iter().copied())
        .chain(["duc-pho-ubnd", "duc-pho-mttq"])
        .collect();
    let new_units: Vec<&str> = REFORM.iter().map(|(new, _)| *new).collect();
    // 2023 to mid-2026: old units before the merge; after it the new
    // units, and now and then a late entry under an old one.
    let mut generated = Vec::new();
    let mut csv = String::from("type,date,title,attendance,unit\n");
    for i in 0..300 {
        let year = 2023 + next(4);
        let month = 1 + next(if year == 2026 { 6 } else { 12 });
        let date = format!("{year:04}-{month:02}-{:02}", 1 + next(28));
        let unit = if date.as_str() < "2025-07-01" || next(5) == 0 {
            old_units[next(old_units.len() as u64) as usize]
        } else {
            new_units[next(new_units.len() as u64) as usize]
        };
        let attendance = 10 + next(90);
        csv.push_str(&format!(
            "tuyen-truyen,{date},Hoạt động {i},{attendance},{unit}\n"
        ));
        generated.push((date, unit, attendance));
    }
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    town.ok(&["roster", "unit-change", "load", &gazetteer_arg()]);
    let file = town.dir.with_file_name("history.csv");
    std::fs::write(&file, csv).unwrap();
    town.ok(&["import", "activity", "--csv", file.to_str().unwrap()]);

    for (period, from, to) in [
        ("2023", "2023-01-01", "2023-12-31"),
        ("2024", "2024-01-01", "2024-12-31"),
        ("2025", "2025-01-01", "2025-12-31"),
        ("2026-H1", "2026-01-01", "2026-06-30"),
    ] {
        let held: Vec<&(String, &str, u64)> = generated
            .iter()
            .filter(|(d, _, _)| from <= d.as_str() && d.as_str() <= to)
            .collect();
        let attendance: u64 = held.iter().map(|(_, _, a)| a).sum();
        let old = report(&town, period, "duc-pho", &[]);
        let new = report(&town, period, "duc-pho", &["--units", "new"]);
        for r in [&old, &new] {
            assert_eq!(r["activities"]["total"], held.len() as u64, "{period}");
            assert_eq!(r["activities"]["attendance"], attendance, "{period}");
            let by_unit: u64 = field_numbers(&r["activities"]["by_unit"], "count")
                .iter()
                .sum();
            assert_eq!(by_unit, held.len() as u64, "{period}");
        }
        // Each new unit's row is the records of its former units.
        for new_unit in &new_units {
            let expected = held
                .iter()
                .filter(|(_, u, _)| new_unit_of(u) == *new_unit)
                .count() as u64;
            let ward = report(&town, period, new_unit, &["--units", "new"]);
            assert_eq!(ward["activities"]["total"], expected, "{period} {new_unit}");
        }
    }
}

#[test]
fn a_scope_widened_by_a_merge_lists_only_the_records_that_became_readable() {
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    let hub = Server::start(&town, &[]);
    let minh = Dv::init("pho-minh");
    enroll_officer(&town, &hub, &minh, "pho-minh");
    // The town holds Phổ Minh's work (the officer pulls it), Phổ Hòa's
    // (readable once both are Phường Đức Phổ) and Phổ Thạnh's (never).
    let mut made = BTreeMap::new();
    for (unit, n) in [("pho-minh", 12), ("pho-hoa", 5), ("pho-thanh", 7)] {
        for i in 0..n {
            let id = town.add(&activity_args_in(
                unit,
                "tuyen-truyen",
                "2024-03-05",
                &format!("Tuyên truyền {unit} {i}"),
            ));
            made.entry(unit).or_insert_with(Vec::new).push(id);
        }
    }
    // An empty store is sent bodies inline, without a list of hashes.
    let first = minh.json(&["sync"]);
    assert_eq!(first["changes_stored"], 12, "{first}");
    // The reform: Phổ Minh's officer now reads Phường Đức Phổ, Phổ Hòa
    // included. Its checkpoint was made under the old scope, so it pulls
    // from 0 — and the hub lists only Phổ Hòa's 5, not the 12 it holds.
    town.ok(&["roster", "unit-change", "load", &gazetteer_arg()]);
    let widened = minh.json(&["sync"]);
    assert_eq!(widened["hashes_offered_to_us"], 5, "{widened}");
    assert_eq!(widened["changes_stored"], 5, "{widened}");
    let mut readable: BTreeSet<String> = made["pho-minh"].iter().cloned().collect();
    readable.extend(made["pho-hoa"].iter().cloned());
    assert_eq!(listed(&minh, &["--kind", "activity"], "id"), readable);
    // Nothing is missed: a new record of either unit comes next time, once.
    let later = town.add(&activity_args_in(
        "pho-hoa",
        "tuyen-truyen",
        "2025-08-01",
        "Sau sắp xếp",
    ));
    let next = minh.json(&["sync"]);
    assert_eq!(next["hashes_offered_to_us"], 1, "{next}");
    readable.insert(later);
    assert_eq!(listed(&minh, &["--kind", "activity"], "id"), readable);
}
