//! Benchmark of `Node::report`: a 6-month report over 200,000 records of 15
//! communes and wards, in every format. Targets: under 500 ms for md, csv,
//! html and json, under 3 s for xlsx.
//!
//! Building 200,000 records through Automerge takes minutes, so the
//! projection rows the report reads are written straight into the store's
//! `records` table, exactly as the store would project them
//! (`Record::summary` and `Record::to_json`). Run with
//! `cargo bench -p danvan-node --bench report`.

use std::time::{Duration, Instant};

use danvan_model::{
    Activity, DocId, Header, Household, Model, Parcel, Petition, Progress, Record, Task, Visit,
    format_date, parse_date,
};
use danvan_report::Format;

const RECORDS: usize = 200_000;
const RUNS: usize = 5;

fn header(i: usize, kind: &str, unit: &str, project: Option<&str>) -> Header {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    Header {
        id: DocId::from_bytes(bytes).to_string(),
        kind: kind.into(),
        unit: unit.into(),
        project: project.map(str::to_string),
        schema: 1,
        creator: "bench".into(),
        created_at: 0,
    }
}

fn record(i: usize, communes: &[String], tasks: &[String]) -> Record {
    let unit = &communes[i % communes.len()];
    // Days spread over 2023: about half fall in the first half.
    let day = format_date(
        parse_date("2023-01-01").unwrap() + time::Duration::days((i * 7919 % 365) as i64),
    );
    match i % 20 {
        0..=11 => Record::Activity(Activity {
            header: header(i, "activity", unit, None),
            activity_type: [
                "tuyen-truyen",
                "tiep-dan",
                "doi-thoai",
                "giam-sat",
                "hoa-giai",
            ][i % 5]
                .into(),
            date: day,
            title: format!("Hoạt động số {i}"),
            place: Some("Nhà văn hóa thôn".into()),
            organizers: Some("Ban Dân vận".into()),
            attendance: Some((i % 200) as i64),
            citizens: Some((i % 17) as i64),
            matters: Some((i % 5) as i64),
            summary: Some("Tuyên truyền chủ trương, chính sách".into()),
            results: None,
            petitions: vec![],
            tasks: vec![],
        }),
        12..=15 => Record::Petition(Petition {
            header: header(i, "petition", unit, None),
            petition_type: ["phan-anh", "kien-nghi", "khieu-nai", "to-cao"][i % 4].into(),
            round: 1,
            complex: i.is_multiple_of(3),
            remote: false,
            channel: "truc-tiep".into(),
            received: day.clone(),
            citizen: "Công dân".into(),
            address: None,
            id_number: None,
            content: "Phản ánh về đất đai, môi trường".into(),
            category: Some(["Đất đai", "Môi trường", "Giao thông", "Chính sách"][i % 4].into()),
            assigned_unit: None,
            status: if i.is_multiple_of(2) {
                "da-giai-quyet"
            } else {
                "dang-xu-ly"
            }
            .into(),
            answer: None,
            resolved: i.is_multiple_of(2).then(|| day.clone()),
        }),
        16 | 17 => Record::Household(Household {
            header: header(i, "household", unit, Some("cao-toc-bac-nam")),
            head: format!("Hộ {i}"),
            village: Some("Thôn 1".into()),
            parcels: vec![Parcel {
                sheet: "10".into(),
                number: i.to_string(),
                area_m2: 100.0 + (i % 900) as f64,
                land_type: "LUC".into(),
            }],
            inventory: None,
            compensation_vnd: Some(100_000_000),
            stage: ["kiem-dem", "cong-khai", "dong-y", "nhan-tien", "ban-giao"][i % 5].into(),
            stage_log: vec![],
            objections: vec![],
            visits: (0..3)
                .map(|v| Visit {
                    date: day.clone(),
                    by: format!("Tổ {v}"),
                    outcome: "Vận động".into(),
                    node: "bench".into(),
                })
                .collect(),
        }),
        18 => Record::Progress(Progress {
            header: header(i, "progress", unit, None),
            task: tasks[i % tasks.len()].clone(),
            period: ["2023-H1", "2023-Q1", "2023-Q2", "2023-H2"][i % 4].into(),
            status: "dang-thuc-hien".into(),
            summary: "Đang triển khai".into(),
        }),
        _ => Record::Model(Model {
            header: header(i, "model", unit, None),
            name: format!("Mô hình {i}"),
            field: [
                "kinh-te",
                "van-hoa-xa-hoi",
                "quoc-phong-an-ninh",
                "xay-dung-he-thong-chinh-tri",
            ][i % 4]
                .into(),
            year: 2023,
            results: None,
        }),
    }
}

fn insert(conn: &rusqlite::Connection, r: &Record) {
    let s = r.summary();
    let doc: DocId = s.id.parse().unwrap();
    conn.prepare_cached(
        "INSERT INTO records (doc, id, kind, unit, project, title, date, date_from, date_to, status, conflicts, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11)",
    )
    .unwrap()
    .execute(rusqlite::params![
        doc.as_bytes().to_vec(),
        s.id,
        s.kind,
        s.unit,
        s.project,
        s.title,
        s.date,
        s.date_from,
        s.date_to,
        s.status,
        r.to_json().to_string(),
    ])
    .unwrap();
    conn.prepare_cached(
        "INSERT INTO record_search (doc, search, id, kind, unit, project, title, date, date_from, date_to, status)
         SELECT doc, ?2, id, kind, unit, project, title, date, date_from, date_to, status
         FROM records WHERE doc = ?1",
    )
    .unwrap()
    .execute(rusqlite::params![doc.as_bytes().to_vec(), s.search])
    .unwrap();
}

/// This process's CPU time, every thread, in ms (Linux `/proc/self/stat`,
/// user + system, in clock ticks of 10 ms).
fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) * 10.0)
}

/// The calling thread's time on a CPU and waiting for one, in ms (Linux
/// `/proc/thread-self/schedstat`).
fn thread_sched_ms() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut f = stat.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some((f.next()?? / 1e6, f.next()?? / 1e6))
}

fn main() {
    let dir = std::env::temp_dir().join(format!("danvan-bench-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let node = danvan_node::Node::init(&dir, "duc-pho", None, None).unwrap();
    let communes: Vec<String> = node
        .units()
        .units()
        .iter()
        .filter(|u| u.kind.is_commune_level())
        .map(|u| u.id.clone())
        .collect();
    drop(node);
    assert_eq!(communes.len(), 15);

    let started = Instant::now();
    {
        let mut conn = rusqlite::Connection::open(dir.join(danvan_store::DB_FILE)).unwrap();
        let tx = conn.transaction().unwrap();
        let task_count = 16;
        let mut task_ids = Vec::new();
        for t in 0..task_count {
            let rec = Record::Task(Task {
                header: header(RECORDS + t, "task", "duc-pho", None),
                source: Some("Kết luận số 12-KL/TU ngày 17/7/2022".into()),
                number: format!("{}.{}", 1 + t / 10, 1 + t % 10),
                title: format!("Nhiệm vụ {t}"),
                text: Some("Nội dung nhiệm vụ".into()),
                assigned: communes.clone(),
                due: None,
            });
            task_ids.push(rec.header().id.clone());
            insert(&tx, &rec);
        }
        for i in 0..RECORDS {
            insert(&tx, &record(i, &communes, &task_ids));
        }
        tx.commit().unwrap();
    }
    println!(
        "wrote {RECORDS} projection rows (+16 tasks) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let node = danvan_node::Node::open(&dir).unwrap();
    let period: danvan_model::Period = "2023-H1".parse().unwrap();
    let today = parse_date("2023-12-31").unwrap();
    let report = node.report(Some("duc-pho"), period, today).unwrap();
    println!(
        "report 2023-H1: {} activities, {} petitions received, {} households, {} task assignments",
        report.activities.total,
        report.petitions.total.received,
        report
            .land
            .projects
            .iter()
            .map(|p| p.total.households)
            .sum::<u64>(),
        report.tasks.assignments
    );
    for kind in [
        "activity",
        "petition",
        "household",
        "model",
        "progress",
        "task",
    ] {
        let t = Instant::now();
        let mut n = 0usize;
        let mut bytes = 0usize;
        node.store()
            .for_each_json(
                &danvan_store::ListFilter {
                    kind: Some(kind.into()),
                    units: Some(node.unit_filter("duc-pho").unwrap()),
                    period: (kind == "activity")
                        .then(|| ("2023-01-01".to_string(), "2023-06-30".to_string())),
                    ..Default::default()
                },
                |text| {
                    n += 1;
                    bytes += text.len();
                    Ok::<(), ()>(())
                },
            )
            .unwrap()
            .unwrap();
        println!(
            "diagnostic, projection scan of {kind} by (kind, unit) index: {n} rows, {bytes} bytes, {:.0} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    let t = Instant::now();
    let (cpu, thread) = (process_cpu_ms(), thread_sched_ms());
    for _ in 0..RUNS {
        node.report(Some("duc-pho"), period, today).unwrap();
    }
    println!(
        "reading and aggregating alone: {:.0} ms per report",
        t.elapsed().as_secs_f64() * 1e3 / RUNS as f64
    );
    // On a shared machine the wall time says as much about the other
    // processes as about the report: the CPU it used (every thread), and
    // how long the calling thread ran and waited for a CPU.
    if let (Some(a), Some(b), Some((run0, wait0)), Some((run1, wait1))) =
        (cpu, process_cpu_ms(), thread, thread_sched_ms())
    {
        println!(
            "  per report: CPU {:.0} ms (every thread); calling thread on CPU {:.0} ms, waiting for a CPU {:.0} ms",
            (b - a) / RUNS as f64,
            (run1 - run0) / RUNS as f64,
            (wait1 - wait0) / RUNS as f64
        );
    }
    for format in [
        Format::Markdown,
        Format::Csv,
        Format::Html,
        Format::Json,
        Format::Xlsx,
    ] {
        let mut times: Vec<Duration> = Vec::new();
        let mut bytes = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let report = node.report(Some("duc-pho"), period, today).unwrap();
            let out = danvan_report::render(&report, format).unwrap();
            times.push(t.elapsed());
            bytes = out.len();
        }
        times.sort();
        println!(
            "{:>5}: median {:>6.0} ms, min {:>6.0} ms, max {:>6.0} ms ({} bytes)",
            format.extension(),
            times[RUNS / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            times[RUNS - 1].as_secs_f64() * 1e3,
            bytes
        );
    }
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
