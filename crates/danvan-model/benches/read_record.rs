//! Reading records out of their documents, as a cold sync's verifying
//! threads do for each new record: `DocHeader::of` on the creation,
//! `read_record` and `conflicts` for the projection. Times the reads as they
//! were before the cache (every field a `get` on the document, kept below as
//! `before`) and as they are now, on the same documents in the same
//! process, alternating, and prints both per record and their ratio.
//!
//! The documents are like the sync benchmark's corpus (`danvan-bench`
//! `corpus.rs`): 60 % households, created with 1–3 parcels and then given a
//! visit, an amount, a stage move and another visit; 40 % activities whose
//! attendance, matters, results and organizers are filled in afterwards.
//! Five changes each, saved and loaded as a receiver builds them.
//!
//! Run with `cargo bench -p danvan-model --bench read_record`; the record
//! count and the rounds are the arguments after `--` (default 10,000 and 5).

use std::hint::black_box;
use std::time::{Duration, Instant};

use automerge::{Automerge, ScalarValue};
use danvan_model::{
    Activity, DocHeader, Header, Household, Kind, Parcel, Record, RecordError, SCHEMA_VERSION,
    StageEvent, Visit, vocab,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The reads as they were before the cache: one copy, shared with the
/// equivalence test.
#[path = "read_record/uncached.rs"]
mod before;

fn header(rng: &mut ChaCha8Rng, kind: Kind) -> Header {
    Header {
        id: danvan_model::DocId::from_bytes(rng.r#gen()).to_string(),
        kind: kind.code().into(),
        unit: "pho-minh".into(),
        project: (kind == Kind::Household).then(|| vocab::PROJECTS[0].0.to_string()),
        schema: SCHEMA_VERSION,
        creator: "A".repeat(52),
        created_at: 1_735_689_600_000 + rng.gen_range(0..10_000_000),
    }
}

fn commit(
    doc: &mut Automerge,
    edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<(), RecordError>,
) {
    doc.transact(edit)
        .map_err(|f| f.error)
        .expect("a generated edit applies");
}

fn visit(rng: &mut ChaCha8Rng) -> Visit {
    Visit {
        date: format!("2025-0{}-1{}", rng.gen_range(1..10), rng.gen_range(0..10)),
        by: format!("Tổ công tác, đồng chí Nguyễn Văn {}", rng.gen_range(1..100)),
        outcome: "Hộ đồng ý phương án bồi thường, hẹn ngày bàn giao mặt bằng".into(),
        node: "ABCDEFGH".into(),
    }
}

/// One record's document, five changes, loaded from its saved bytes.
fn document(rng: &mut ChaCha8Rng) -> Automerge {
    let mut doc = Automerge::new();
    let set = |kind: Kind, field: &str, value: ScalarValue| {
        let spec = danvan_model::field_spec(kind, field).expect("a field of the kind");
        move |tx: &mut automerge::transaction::Transaction<'_>| {
            danvan_model::set_field(tx, spec, Some(value))
        }
    };
    if rng.gen_bool(0.6) {
        let parcels = (0..rng.gen_range(1..=3))
            .map(|_| Parcel {
                sheet: rng.gen_range(1..=60).to_string(),
                number: rng.gen_range(1..=900).to_string(),
                area_m2: rng.gen_range(40.0..3000.0),
                land_type: "LUC".into(),
            })
            .collect();
        let record = Record::Household(Household {
            header: header(rng, Kind::Household),
            head: "Nguyễn Văn An".into(),
            village: Some("Thôn 3".into()),
            parcels,
            inventory: Some("Nhà cấp 4 diện tích 80 m², mái ngói; 12 cây dừa".into()),
            compensation_vnd: None,
            stage: vocab::HOUSEHOLD_STAGES[0].0.into(),
            stage_log: Vec::new(),
            objections: Vec::new(),
            visits: Vec::new(),
        });
        commit(&mut doc, |tx| danvan_model::write_new(tx, &record));
        let first = visit(rng);
        commit(&mut doc, |tx| danvan_model::append_visit(tx, first));
        let amount = rng.gen_range(30_000..2_500_000) * 1000_i64;
        commit(
            &mut doc,
            set(Kind::Household, "compensation_vnd", amount.into()),
        );
        let (from, to) = (vocab::HOUSEHOLD_STAGES[0].0, vocab::HOUSEHOLD_STAGES[1].0);
        let event = StageEvent {
            stage: to.into(),
            from: from.into(),
            backwards: false,
            date: "2025-03-04".into(),
            by: "Tổ công tác".into(),
            node: "ABCDEFGH".into(),
        };
        commit(&mut doc, |tx| danvan_model::move_stage(tx, from, event));
        let second = visit(rng);
        commit(&mut doc, |tx| danvan_model::append_visit(tx, second));
    } else {
        let record = Record::Activity(Activity {
            header: header(rng, Kind::Activity),
            activity_type: vocab::ACTIVITY_DIALOGUE.into(),
            date: "2025-02-17".into(),
            title: "Đối thoại với hộ dân bị ảnh hưởng dự án cao tốc".into(),
            place: Some("Nhà văn hóa thôn 2".into()),
            organizers: Some("Ban Dân vận".into()),
            attendance: None,
            citizens: None,
            matters: None,
            summary: Some("Tuyên truyền chủ trương, chính sách bồi thường".into()),
            results: None,
            petitions: Vec::new(),
            tasks: Vec::new(),
        });
        commit(&mut doc, |tx| danvan_model::write_new(tx, &record));
        let attendance = rng.gen_range(12_i64..180);
        commit(
            &mut doc,
            set(Kind::Activity, "attendance", attendance.into()),
        );
        let matters = rng.gen_range(1_i64..12);
        commit(&mut doc, set(Kind::Activity, "matters", matters.into()));
        let results = format!("{} hộ thống nhất phương án", rng.gen_range(1..60));
        commit(&mut doc, set(Kind::Activity, "results", results.into()));
        let organizers = "Ban Dân vận Đảng ủy, Ủy ban MTTQ Việt Nam phường".to_string();
        commit(
            &mut doc,
            set(Kind::Activity, "organizers", organizers.into()),
        );
    }
    Automerge::load(&doc.save()).expect("a saved document loads")
}

/// One pass over every document; the time per document.
fn pass(docs: &[Automerge], read: impl Fn(&Automerge)) -> Duration {
    let started = Instant::now();
    for doc in docs {
        read(doc);
    }
    started.elapsed() / docs.len() as u32
}

fn main() {
    // `cargo bench` passes `--bench`; the numbers are ours.
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let records = numbers.first().copied().unwrap_or(10_000);
    let rounds = numbers.get(1).copied().unwrap_or(5);
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let started = Instant::now();
    let docs: Vec<Automerge> = (0..records).map(|_| document(&mut rng)).collect();
    println!(
        "{records} documents, 5 changes each, built in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The same answers first: a speed-up of a different result is none.
    for doc in &docs {
        let record = danvan_model::read_record(doc).expect("a generated record reads");
        assert_eq!(Ok(&record), before::read_record(doc).as_ref());
        let header = DocHeader::of(doc).expect("a generated record has a header");
        assert_eq!(
            Some((header.kind, header.unit, header.project)),
            before::doc_header(doc).map(|(kind, unit, project, _)| (kind, unit, project))
        );
        assert_eq!(
            danvan_model::conflicts(doc, record.kind()),
            before::conflicts(doc, record.kind())
        );
    }

    type Read = fn(&Automerge);
    let reads: [(&str, Read, Read); 3] = [
        (
            "read_record",
            |doc| {
                black_box(before::read_record(doc).ok());
            },
            |doc| {
                black_box(danvan_model::read_record(doc).ok());
            },
        ),
        (
            "read_record + conflicts",
            |doc| {
                let record = before::read_record(doc).expect("reads");
                black_box(before::conflicts(doc, record.kind()));
            },
            |doc| {
                let record = danvan_model::read_record(doc).expect("reads");
                black_box(danvan_model::conflicts(doc, record.kind()));
            },
        ),
        (
            "DocHeader::of",
            |doc| {
                black_box(before::doc_header(doc));
            },
            |doc| {
                black_box(DocHeader::of(doc));
            },
        ),
    ];
    println!("per record, best of {rounds} alternating rounds (before, after):");
    for (name, old, new) in reads {
        let mut best = (Duration::MAX, Duration::MAX);
        for round in 0..rounds {
            // Alternate which goes first, so that neither always runs on a
            // warmer cache or a quieter moment.
            let (a, b) = if round % 2 == 0 {
                let a = pass(&docs, old);
                (a, pass(&docs, new))
            } else {
                let b = pass(&docs, new);
                (pass(&docs, old), b)
            };
            best = (best.0.min(a), best.1.min(b));
        }
        println!(
            "  {name:<24} before {:>6.1} µs  after {:>6.1} µs  after/before {:.2}",
            best.0.as_secs_f64() * 1e6,
            best.1.as_secs_f64() * 1e6,
            best.1.as_secs_f64() / best.0.as_secs_f64(),
        );
    }
}
