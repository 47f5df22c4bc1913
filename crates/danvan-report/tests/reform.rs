//! Reports across unit changes: the Đức Phổ reform of 1 July 2025, and
//! random merge trees with random records, where every view of the units
//! must give the same totals and each row exactly its units' records.
//!
//! The random cases are seeded; `DANVAN_SEED` replays one, and a failing
//! seed is printed.

use std::collections::BTreeMap;

use danvan_model::{
    Activity, Header, Period, Petition, Progress, Record, Task, UnitError, UnitTree, format_date,
    parse_date, vocab,
};
use danvan_report::{
    DueList, DueRequest, Format, Report, ReportRequest, UnitView, build_report_by, due, render,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::{Date, Duration};

fn day(text: &str) -> Date {
    parse_date(text).unwrap()
}

fn header(n: usize, kind: &str, unit: &str) -> Header {
    Header {
        id: format!("r{n:05}"),
        kind: kind.into(),
        unit: unit.into(),
        project: None,
        schema: 1,
        creator: "test".into(),
        created_at: 0,
    }
}

fn activity(n: usize, unit: &str, date: Date, attendance: i64) -> Record {
    Record::Activity(Activity {
        header: header(n, "activity", unit),
        activity_type: vocab::ACTIVITY_PROPAGANDA.into(),
        date: format_date(date),
        title: format!("Tuyên truyền {n}"),
        place: None,
        organizers: None,
        attendance: Some(attendance),
        citizens: None,
        matters: None,
        summary: None,
        results: None,
        petitions: Vec::new(),
        tasks: Vec::new(),
    })
}

fn petition(n: usize, unit: &str, date: Date) -> Record {
    Record::Petition(Petition {
        header: header(n, "petition", unit),
        petition_type: vocab::PETITION_FEEDBACK.into(),
        round: 1,
        complex: false,
        remote: false,
        channel: "truc-tiep".into(),
        received: format_date(date),
        citizen: "Công dân".into(),
        address: None,
        id_number: None,
        content: "Phản ánh".into(),
        category: None,
        assigned_unit: None,
        status: vocab::PETITION_NEW.into(),
        answer: None,
        resolved: None,
    })
}

fn report(tree: &UnitTree, unit: &str, period: &str, view: UnitView, records: &[Record]) -> Report {
    let req = ReportRequest {
        units: tree,
        unit,
        period: period.parse().unwrap(),
        today: day("2027-01-01"),
    };
    build_report_by(&req, view, records).unwrap()
}

/// Activities per row, with the rows' names.
fn activity_rows(r: &Report) -> Vec<(String, u64)> {
    r.activities
        .by_unit
        .iter()
        .map(|row| (row.unit_name.clone(), row.count))
        .collect()
}

/// What is due for Đức Phổ on 1/3/2026, within 30 days.
fn town_due_in_2026(tree: &UnitTree, records: &[Record]) -> DueList {
    due(
        &DueRequest {
            units: tree,
            unit: "duc-pho",
            today: day("2026-03-01"),
            within_days: 30,
            stale_days: 30,
        },
        records,
    )
    .unwrap()
}

/// The first line of a report on Đức Phổ after the reform says the town
/// ended and whose figures these are.
fn says_the_town_ended(r: &Report) {
    assert!(
        r.unit_changes[0].starts_with(
            "Thị xã Đức Phổ kết thúc hoạt động từ ngày 1/7/2025; báo cáo gồm số liệu của các đơn vị trước đây thuộc thị xã"
        ),
        "{:#?}",
        r.unit_changes
    );
}

#[test]
fn duc_pho_before_the_reform_by_old_or_new_units() {
    let tree = UnitTree::duc_pho_2025();
    let records = vec![
        activity(1, "pho-minh", day("2024-03-01"), 50),
        activity(2, "pho-hoa", day("2024-04-01"), 30),
        activity(3, "pho-chau", day("2024-05-01"), 20),
        activity(4, "duc-pho-ubnd", day("2024-05-02"), 10),
        petition(5, "pho-an", day("2024-02-01")),
        // Made in August 2025 by a laptop still on the old roster.
        activity(6, "pho-minh", day("2025-08-01"), 5),
        // Made under the new ward.
        activity(7, "phuong-duc-pho", day("2025-09-01"), 7),
    ];
    // 2024 by the units of 2024: the town and its communes.
    let old = report(&tree, "duc-pho", "2024", UnitView::PeriodEnd, &records);
    assert_eq!(old.unit_name, "Thị xã Đức Phổ");
    assert_eq!(
        activity_rows(&old),
        [
            ("Ủy ban nhân dân thị xã".to_string(), 1),
            ("Phường Phổ Hòa".to_string(), 1),
            ("Phường Phổ Minh".to_string(), 1),
            ("Xã Phổ Châu".to_string(), 1),
        ]
    );
    assert!(old.unit_changes.is_empty());
    // 2024 mapped to the units of 2026: the abolished town is reported as
    // its former units ("(cũ)"), each commune's records under its new ward,
    // the town's own (its organizations went up with it) in its own row.
    let mapped = report(
        &tree,
        "duc-pho",
        "2024",
        UnitView::AsOf(day("2026-01-01")),
        &records,
    );
    assert_eq!(mapped.unit_name, "Thị xã Đức Phổ (cũ)");
    assert_eq!(
        activity_rows(&mapped),
        [
            ("Thị xã Đức Phổ (cũ)".to_string(), 1),
            ("Phường Đức Phổ".to_string(), 2),
            ("Phường Sa Huỳnh".to_string(), 1),
        ]
    );
    assert_eq!(mapped.activities.total, old.activities.total);
    assert_eq!(mapped.activities.attendance, old.activities.attendance);
    assert_eq!(mapped.petitions.total.received, 1);
    assert_eq!(mapped.petitions.by_unit[0].unit_name, "Phường Trà Câu");
    // 2025 spans the change: shown by the new units, with a line for each
    // row saying which former units it took in.
    let spanning = report(&tree, "duc-pho", "2025", UnitView::PeriodEnd, &records);
    assert_eq!(
        activity_rows(&spanning),
        [("Phường Đức Phổ".to_string(), 2)]
    );
    assert!(
        spanning.unit_changes.contains(
            &"Số liệu của Phường Đức Phổ (mã 21439) gồm cả số liệu của Phường Nguyễn Nghiêm, Phường Phổ Hòa, Phường Phổ Minh, Phường Phổ Ninh, Phường Phổ Vinh, đã sắp xếp vào đơn vị này từ ngày 1/7/2025."
                .to_string()
        ),
        "{:#?}",
        spanning.unit_changes
    );
    says_the_town_ended(&spanning);
    assert_eq!(spanning.unit_changes.len(), 6);
    // The line is in every rendering.
    let md = String::from_utf8(render(&spanning, Format::Markdown).unwrap()).unwrap();
    assert!(md.contains("Sắp xếp đơn vị hành chính:** Số liệu của Phường Sa Huỳnh (mã 21478)"));
}

#[test]
fn tasks_of_2023_by_old_units_then_by_new_units() {
    let tree = UnitTree::duc_pho_2025();
    let task = Record::Task(Task {
        header: header(1, "task", "duc-pho"),
        source: Some("Kết luận số 01-KL/TU ngày 17/7/2023".into()),
        number: "1.5".into(),
        title: "Đối thoại với Nhân dân".into(),
        text: None,
        assigned: vec!["pho-minh".into(), "pho-hoa".into(), "pho-chau".into()],
        due: None,
    });
    let progress = |n, unit: &str, period: &str, status: &str| {
        Record::Progress(Progress {
            header: header(n, "progress", unit),
            task: "r00001".into(),
            period: period.into(),
            status: status.into(),
            summary: String::new(),
        })
    };
    let records = vec![
        task,
        progress(2, "pho-minh", "2023-H2", vocab::PROGRESS_DONE),
        progress(3, "pho-chau", "2023-H2", vocab::PROGRESS_UNDER_WAY),
    ];
    let assignments = |r: &Report| -> Vec<(String, String)> {
        r.tasks.tasks[0]
            .assigned
            .iter()
            .map(|a| (a.unit_name.clone(), a.status_label.clone()))
            .collect()
    };
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    let old = report(&tree, "duc-pho", "2023-H2", UnitView::PeriodEnd, &records);
    assert_eq!(
        assignments(&old),
        [
            pair("Phường Phổ Hòa", "Chưa báo cáo"),
            pair("Phường Phổ Minh", "Hoàn thành"),
            pair("Xã Phổ Châu", "Đang thực hiện"),
        ]
    );
    // By the new units, Phổ Minh and Phổ Hòa are one assignment of Phường
    // Đức Phổ, reported by Phổ Minh.
    let new = report(
        &tree,
        "duc-pho",
        "2023-H2",
        UnitView::AsOf(day("2026-01-01")),
        &records,
    );
    assert_eq!(
        assignments(&new),
        [
            pair("Phường Đức Phổ", "Hoàn thành"),
            pair("Phường Sa Huỳnh", "Đang thực hiện"),
        ]
    );
    // What is due in 2026 is due at the new units.
    let due_list = town_due_in_2026(&tree, &records);
    let due_units: Vec<&str> = due_list.tasks.iter().map(|t| t.unit.as_str()).collect();
    assert_eq!(due_units, ["phuong-duc-pho", "phuong-sa-huynh"]);
}

#[test]
fn a_generated_duc_pho_history_2023_to_2026_adds_up_by_old_and_new_units() {
    let tree = UnitTree::duc_pho_2025();
    let reform = day("2025-07-01");
    let mut rng = ChaCha8Rng::seed_from_u64(2025);
    let communes = |on: Date| -> Vec<String> {
        tree.as_of(on)
            .units()
            .iter()
            .filter(|u| u.kind.is_commune_level() && u.exists_on(on))
            .map(|u| u.id.clone())
            .collect()
    };
    let (old, new) = (communes(day("2025-06-30")), communes(reform));
    assert_eq!((old.len(), new.len()), (15, 5));
    let records: Vec<Record> = (0..2_000)
        .map(|n| {
            let date = day("2023-01-01") + Duration::days(rng.gen_range(0..4 * 365));
            // After the reform, one record in ten still comes from a
            // laptop that writes under its old commune.
            let units = if date < reform || rng.gen_bool(0.1) {
                &old
            } else {
                &new
            };
            let unit = &units[rng.gen_range(0..units.len())];
            if rng.gen_bool(0.5) {
                activity(n, unit, date, rng.gen_range(0..200))
            } else {
                petition(n, unit, date)
            }
        })
        .collect();
    let figures = |r: &Report| {
        (
            r.activities.total,
            r.activities.attendance,
            r.petitions.total.received,
        )
    };
    for period in [
        "2023",
        "2024",
        "2025-H1",
        "2025-H2",
        "2025",
        "2026",
        "2023-01-01..2026-12-31",
    ] {
        let by_old = report(
            &tree,
            "quang-ngai",
            period,
            UnitView::AsOf(day("2025-06-30")),
            &records,
        );
        let by_new = report(
            &tree,
            "quang-ngai",
            period,
            UnitView::AsOf(day("2026-12-31")),
            &records,
        );
        let default = report(&tree, "quang-ngai", period, UnitView::PeriodEnd, &records);
        assert_eq!(figures(&by_old), figures(&by_new), "{period}");
        assert_eq!(figures(&default), figures(&by_new), "{period}");
        assert!(by_old.activities.total > 0, "{period}");
        // By the old units, the rows are the town (its 15 communes under
        // it), and, once the reform is in the period, the new units for the
        // records made under them (no old unit can hold those); by the new
        // units, the 5 units themselves.
        let rows = |r: &Report| -> Vec<String> {
            r.activities
                .by_unit
                .iter()
                .map(|row| row.unit.clone())
                .collect()
        };
        let before_reform = period.parse::<Period>().unwrap().end < reform;
        let mut expected_old = vec!["duc-pho".to_string()];
        if !before_reform {
            expected_old.extend(new.iter().cloned());
        }
        assert_eq!(rows(&by_old), expected_old, "{period}");
        assert_eq!(rows(&by_new), new, "{period}");
        if before_reform {
            let by_town = report(&tree, "duc-pho", period, UnitView::PeriodEnd, &records);
            assert_eq!(figures(&by_town), figures(&by_old), "{period}");
            let town_rows = rows(&by_town);
            assert!(
                town_rows.len() == 15 && town_rows.iter().all(|u| old.contains(u)),
                "{period}"
            );
            let row_sum: u64 = by_town.activities.by_unit.iter().map(|r| r.count).sum();
            assert_eq!(row_sum, by_town.activities.total);
        }
    }
}

/// A random tree: province `p` above 1–3 towns, each with 2–6 communes and
/// up to 2 organizations, some communes with a village.
fn random_base(rng: &mut ChaCha8Rng) -> String {
    let mut text = String::from("[[unit]]\nid = \"p\"\nname = \"Tỉnh P\"\nkind = \"province\"\n");
    let unit = |text: &mut String, id: &str, kind: &str, parent: &str| {
        text.push_str(&format!(
            "[[unit]]\nid = \"{id}\"\nname = \"Đơn vị {id}\"\nkind = \"{kind}\"\nparent = \"{parent}\"\n"
        ));
    };
    for t in 0..rng.gen_range(1..=3) {
        let town = format!("t{t}");
        unit(&mut text, &town, "town", "p");
        for o in 0..rng.gen_range(0..=2) {
            unit(&mut text, &format!("{town}o{o}"), "organization", &town);
        }
        for c in 0..rng.gen_range(2..=6) {
            let commune = format!("{town}c{c}");
            unit(&mut text, &commune, "commune", &town);
            if rng.gen_bool(0.3) {
                unit(&mut text, &format!("{commune}v"), "village", &commune);
            }
        }
    }
    text
}

/// One random change on `day` among `ids` (some of them invalid on
/// purpose: merges into a unit below, moves under oneself, names that
/// ended).
fn random_change(rng: &mut ChaCha8Rng, ids: &[String], day: Date, n: usize) -> String {
    let pick = |rng: &mut ChaCha8Rng| ids[rng.gen_range(0..ids.len())].clone();
    let list = |rng: &mut ChaCha8Rng| {
        let mut units: Vec<String> = (0..rng.gen_range(1..=4)).map(|_| pick(rng)).collect();
        units.sort();
        units.dedup();
        units
            .iter()
            .map(|u| format!("\"{u}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let head = format!("[[change]]\ndate = \"{}\"\n", format_date(day));
    match rng.gen_range(0..10) {
        0..=4 => {
            let units = list(rng);
            if rng.gen_bool(0.6) {
                let parent = if rng.gen_bool(0.5) {
                    "p".to_string()
                } else {
                    pick(rng)
                };
                format!(
                    "{head}action = \"merge\"\nunits = [{units}]\ninto = \"n{n}\"\nnew = {{ name = \"Đơn vị mới {n}\", kind = \"ward\", parent = \"{parent}\" }}\n"
                )
            } else {
                format!(
                    "{head}action = \"merge\"\nunits = [{units}]\ninto = \"{}\"\n",
                    pick(rng)
                )
            }
        }
        5 => format!(
            "{head}action = \"rename\"\nunit = \"{}\"\nname = \"Tên mới {n}\"\n",
            pick(rng)
        ),
        6 | 7 => format!(
            "{head}action = \"move\"\nunit = \"{}\"\nparent = \"{}\"\n",
            pick(rng),
            pick(rng)
        ),
        _ => format!("{head}action = \"abolish\"\nunits = [{}]\n", list(rng)),
    }
}

/// A random tree with a random valid change list: each random change is
/// kept only if the list stays valid; refused ones must be refused as a
/// change error, never a panic or another error.
fn random_tree(rng: &mut ChaCha8Rng) -> (UnitTree, usize) {
    let mut text = random_base(rng);
    let mut tree = UnitTree::from_toml(&text).unwrap();
    let mut date = day("2023-01-01");
    let mut refused = 0;
    for n in 0..rng.gen_range(1..=12) {
        date += Duration::days(rng.gen_range(0..200));
        // `p` is never named, so the root stays and every record is in it.
        let ids: Vec<String> = tree
            .units()
            .iter()
            .map(|u| u.id.clone())
            .filter(|id| id != "p")
            .collect();
        let candidate = format!("{text}{}", random_change(rng, &ids, date, n));
        match UnitTree::from_toml(&candidate) {
            Ok(t) => {
                text = candidate;
                tree = t;
            }
            Err(UnitError::Change(_)) => refused += 1,
            Err(e) => panic!("a random change was refused as {e:?}:\n{candidate}"),
        }
    }
    (tree, refused)
}

/// The row a record of `unit` counts under in `view`, worked out apart
/// from the report: the unit it is read under, climbed to the root's child.
fn expected_row(view: &UnitTree, unit: &str) -> String {
    let mut cur = view.current(unit);
    loop {
        match view.get(&cur).and_then(|u| u.parent.clone()) {
            None => return cur,
            Some(parent) if parent == "p" => return cur,
            Some(parent) => cur = parent,
        }
    }
}

fn seeds() -> Vec<u64> {
    match std::env::var("DANVAN_SEED") {
        Ok(seed) => vec![seed.parse().expect("DANVAN_SEED is a number")],
        Err(_) => (0..300).collect(),
    }
}

#[test]
fn totals_are_the_same_in_every_view_of_random_merge_trees() {
    let (mut changes, mut refused, mut cases) = (0, 0, 0);
    for seed in seeds() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (tree, r) = random_tree(&mut rng);
        changes += tree.changes().len();
        refused += r;
        let all: Vec<String> = tree.units().iter().map(|u| u.id.clone()).collect();
        let records: Vec<Record> = (0..rng.gen_range(10..80))
            .map(|n| {
                let date = day("2023-01-01") + Duration::days(rng.gen_range(0..4 * 365));
                // Mostly a unit that exists that day; sometimes any unit
                // (a laptop on an old roster, or a record entered late).
                let existing: Vec<&String> = all
                    .iter()
                    .filter(|id| tree.as_of(date).get(id).unwrap().exists_on(date))
                    .collect();
                let unit = if rng.gen_bool(0.8) && !existing.is_empty() {
                    existing[rng.gen_range(0..existing.len())].clone()
                } else {
                    all[rng.gen_range(0..all.len())].clone()
                };
                if rng.gen_bool(0.5) {
                    activity(n, &unit, date, rng.gen_range(0..100))
                } else {
                    petition(n, &unit, date)
                }
            })
            .collect();
        let start = day("2023-01-01") + Duration::days(rng.gen_range(0..3 * 365));
        let end = start + Duration::days(rng.gen_range(0..500));
        let period = format!("{}..{}", format_date(start), format_date(end));
        let in_period = |r: &&Record| {
            let date = match r {
                Record::Activity(a) => &a.date,
                Record::Petition(p) => &p.received,
                _ => unreachable!(),
            };
            Period::contains(&period.parse().unwrap(), day(date))
        };
        let views = [
            UnitView::PeriodEnd,
            UnitView::AsOf(day("2022-12-31")),
            UnitView::AsOf(day("2030-01-01")),
            UnitView::AsOf(day("2023-01-01") + Duration::days(rng.gen_range(0..4 * 365))),
        ];
        let mut totals = Vec::new();
        for view in views {
            let r = report(&tree, "p", &period, view, &records);
            let shown = tree.as_of(view.day(&period.parse().unwrap()));
            // Each row holds exactly the records of the units read under it.
            let mut expected: BTreeMap<(&str, String), u64> = BTreeMap::new();
            for record in records.iter().filter(in_period) {
                let row = expected_row(&shown, &record.header().unit);
                *expected
                    .entry((record.header().kind.as_str(), row))
                    .or_default() += 1;
            }
            let mut got: BTreeMap<(&str, String), u64> = BTreeMap::new();
            for row in &r.activities.by_unit {
                got.insert(("activity", row.unit.clone()), row.count);
            }
            // A petition row also shows older petitions still open: only
            // those received in the period are compared.
            for row in r
                .petitions
                .by_unit
                .iter()
                .filter(|row| row.figures.received > 0)
            {
                got.insert(("petition", row.unit.clone()), row.figures.received);
            }
            assert_eq!(got, expected, "seed {seed}, view {view:?}, period {period}");
            totals.push((
                r.activities.total,
                r.activities.attendance,
                r.petitions.total.received,
            ));
        }
        let direct = records.iter().filter(in_period).count() as u64;
        assert_eq!(totals[0].0 + totals[0].2, direct, "seed {seed}");
        assert!(
            totals.iter().all(|t| *t == totals[0]),
            "seed {seed}: totals differ between views: {totals:?}"
        );
        // Every record's unit resolves, on any day, to a unit of that
        // day's view that has not ended, and resolving again changes nothing.
        for id in &all {
            let on = day("2023-01-01") + Duration::days(rng.gen_range(0..4 * 365));
            let now = tree.resolve(id, on);
            let unit = tree.as_of(on).get(&now).cloned().unwrap();
            assert!(
                unit.merged_into.is_none(),
                "seed {seed}: {id} → {now} on {on}"
            );
            assert_eq!(tree.resolve(&now, on), now);
        }
        cases += 1;
    }
    println!(
        "{cases} random merge trees: {changes} changes kept, {refused} random changes refused"
    );
    assert!(changes > cases, "too few valid changes to mean anything");
    assert!(refused > 0, "no invalid change was generated");
}

/// The Đức Phổ gazetteer with a second town under the province, abolished
/// on the same day, so the province holds records that are not Đức Phổ's.
fn two_towns() -> UnitTree {
    let text = format!(
        "{}\n[[unit]]\nid = \"tu-nghia\"\nname = \"Huyện Tư Nghĩa\"\nkind = \"town\"\nparent = \"quang-ngai\"\n\n[[unit]]\nid = \"nghia-ky\"\nname = \"Xã Nghĩa Kỳ\"\nkind = \"commune\"\nparent = \"tu-nghia\"\n\n[[change]]\ndate = \"2025-07-01\"\naction = \"abolish\"\nunits = [\"tu-nghia\"]\n",
        danvan_model::DUC_PHO_2025_UNITS_TOML
    );
    UnitTree::from_toml(&text).unwrap()
}

#[test]
fn an_abolished_town_by_the_new_units_covers_only_its_former_units() {
    let tree = two_towns();
    let records = vec![
        activity(1, "pho-minh", day("2024-03-01"), 50),
        activity(2, "pho-chau", day("2024-05-01"), 20),
        activity(3, "duc-pho-ubnd", day("2024-05-02"), 10),
        // Not Đức Phổ's: another town's commune, the province, Kon Tum.
        activity(4, "nghia-ky", day("2024-06-01"), 1000),
        activity(5, "quang-ngai", day("2024-06-02"), 1000),
        activity(6, "kon-tum", day("2024-06-03"), 1000),
        // After the reform: under the new ward, and another town's commune.
        activity(7, "phuong-duc-pho", day("2025-09-01"), 7),
        activity(8, "nghia-ky", day("2025-09-02"), 1000),
    ];
    let new_units = UnitView::AsOf(day("2026-01-01"));
    let old = report(&tree, "duc-pho", "2024", UnitView::PeriodEnd, &records);
    let mapped = report(&tree, "duc-pho", "2024", new_units, &records);
    assert_eq!(old.activities.total, 3);
    assert_eq!(mapped.activities.total, 3);
    assert_eq!(mapped.activities.attendance, 80);
    assert_eq!(mapped.unit, "duc-pho");
    assert_eq!(mapped.unit_name, "Thị xã Đức Phổ (cũ)");
    // The other town under the province changes no row: the rows are the
    // ones the Đức Phổ gazetteer alone gives (checked by name above).
    let alone = report(
        &UnitTree::duc_pho_2025(),
        "duc-pho",
        "2024",
        new_units,
        &records,
    );
    assert_eq!(activity_rows(&mapped), activity_rows(&alone));
    assert_eq!(activity_rows(&mapped).len(), 3);
    // No line says the old town took in Kon Tum or the other town.
    assert!(
        mapped
            .unit_changes
            .iter()
            .all(|l| !l.contains("Kon Tum") && !l.contains("Tư Nghĩa")),
        "{:#?}",
        mapped.unit_changes
    );
    says_the_town_ended(&mapped);
    // A period spanning the reform: the new ward's own records count, the
    // other town's do not.
    let spanning = report(
        &tree,
        "duc-pho",
        "2024-01-01..2025-12-31",
        new_units,
        &records,
    );
    assert_eq!(spanning.activities.total, 4);
    assert_eq!(spanning.activities.attendance, 87);
    // The province by the new units still counts everything.
    let province = report(
        &tree,
        "quang-ngai",
        "2024-01-01..2025-12-31",
        new_units,
        &records,
    );
    assert_eq!(province.activities.total, 8);
    // What is due for the old town in 2026 is its former units' only.
    let open = vec![
        petition(1, "pho-an", day("2025-01-02")),
        petition(2, "nghia-ky", day("2025-01-03")),
    ];
    let due_list = town_due_in_2026(&tree, &open);
    let due_units: Vec<&str> = due_list.petitions.iter().map(|p| p.unit.as_str()).collect();
    assert_eq!(due_units, ["pho-an"]);
}
