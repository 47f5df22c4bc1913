//! Stores of many records for the sync benchmarks, each record an Automerge
//! document made of its creation and four later edits, as a commune's work
//! looks after a few weeks: land-clearance households that get visits, an
//! amount and a stage move; activities whose figures and results are filled
//! in afterwards.
//!
//! Going through the CLI would take hours at 100,000 records, so the records
//! are built directly: `Node::prepare_new` for the creation, then one
//! Automerge transaction per edit with the node's actor, through the same
//! `danvan_model` editing functions the CLI uses, every change signed with
//! the node key and written with `Store::batch`. A generated store is cached
//! on disk (see [`cached_store`]) and copied for each run, since generating
//! 100,000 records takes minutes and the benchmarks never modify the cache.

use std::path::{Path, PathBuf};

use automerge::transaction::CommitOptions;
use automerge::{Automerge, ScalarValue};
use danvan_model::{
    Activity, DocId, Header, Household, Kind, Parcel, Record, SCHEMA_VERSION, SignedChange,
    StageEvent, Visit, vocab,
};
use danvan_node::Node;
use danvan_store::LocalWrite;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::{BenchError, Options, sample};

/// Changes per generated record: the creation and four edits.
pub(crate) const CHANGES_PER_RECORD: usize = 5;
/// The unit of the node that writes the generated store (the town, as a hub).
pub(crate) const HUB_UNIT: &str = "duc-pho";
/// Bump when the generated content changes, so that old caches are not used.
const CORPUS_VERSION: u32 = 1;
/// Records written per SQLite transaction while generating.
const RECORDS_PER_BATCH: usize = 2_000;
/// 2025-01-01 in ms since 1970: device times of the generated changes start here.
const YEAR_START_MS: i64 = 1_735_689_600_000;
const DAY_MS: i64 = 86_400_000;

/// Where generated stores are cached: `danvan-bench-cache` next to the
/// scratch directories (`--dir`, else the system's temporary directory).
pub(crate) fn cache_dir(options: &Options) -> PathBuf {
    options
        .dir
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join("danvan-bench-cache")
}

/// The directory of a generated store of `records` records in the cache
/// (`danvan-bench-cache` next to the scratch directories), generating it
/// first if missing. The cache is never modified: copy it with
/// [`copy_store`] before opening it.
pub(crate) fn cached_store(options: &Options, records: usize) -> Result<PathBuf, BenchError> {
    let base = cache_dir(options);
    // The store's schema is part of the key: a cache written by an older
    // layout is not reused.
    let dir = base.join(format!(
        "corpus-v{CORPUS_VERSION}-s{}-{records}",
        danvan_store::SCHEMA_VERSION
    ));
    if dir.join(danvan_store::DB_FILE).exists() {
        eprintln!("  {records} records: cached in {}", dir.display());
        return Ok(dir);
    }
    std::fs::create_dir_all(&base).map_err(|e| format!("cannot create {}: {e}", base.display()))?;
    // Generated aside and renamed into place, so that an interrupted run
    // never leaves a half-written store that looks complete.
    let partial = base.join(format!(
        "corpus-v{CORPUS_VERSION}-{records}.partial-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&partial);
    eprintln!(
        "  {records} records: generating ({CHANGES_PER_RECORD} changes each) into {}",
        dir.display()
    );
    let started = std::time::Instant::now();
    generate(&partial, records)?;
    std::fs::rename(&partial, &dir)
        .map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
    eprintln!("    generated in {:.1} s", started.elapsed().as_secs_f64());
    Ok(dir)
}

/// Copies a closed data directory (database, node key, unit tree) to `to`.
pub(crate) fn copy_store(from: &Path, to: &Path) -> Result<(), BenchError> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for name in [
        danvan_store::DB_FILE.to_string(),
        format!("{}-wal", danvan_store::DB_FILE),
        danvan_node::KEY_FILE.to_string(),
        danvan_node::UNITS_FILE.to_string(),
    ] {
        let source = from.join(&name);
        if source.exists() {
            std::fs::copy(&source, to.join(&name))
                .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
        }
    }
    Ok(())
}

/// Writes a new store of `records` records into `dir`.
fn generate(dir: &Path, records: usize) -> Result<(), BenchError> {
    let mut node = Node::init(dir, HUB_UNIT, Some("Trạm thị xã Đức Phổ"), None)
        .map_err(|e| format!("init {}: {e}", dir.display()))?;
    let mut rng = sample::rng(10);
    write_in_batches(
        &mut node,
        records,
        |node, n| record(node, &mut rng, n, &CORPUS_TIMELINE, None, None),
        |_| {},
        &mut [],
    )?;
    Ok(())
}

/// Writes `records` records made by `build` (given the record's number)
/// through the store's batch writer, `RECORDS_PER_BATCH` per transaction;
/// `written` is told the count after each batch. The same signed changes
/// are written to every store of `mirrors` too (a hub and the other nodes
/// that read them), so that they start in sync with `node`.
pub(crate) fn write_in_batches(
    node: &mut Node,
    records: usize,
    mut build: impl FnMut(&Node, i64) -> Result<(DocId, Automerge, Vec<SignedChange>), BenchError>,
    mut written_so_far: impl FnMut(usize),
    mirrors: &mut [&mut Node],
) -> Result<(), BenchError> {
    let mut written = 0;
    while written < records {
        let n = (records - written).min(RECORDS_PER_BATCH);
        let mut built = Vec::with_capacity(n);
        for i in 0..n {
            built.push(build(node, (written + i) as i64)?);
        }
        for store in std::iter::once(&mut *node).chain(mirrors.iter_mut().map(|m| &mut **m)) {
            let mut batch = store.store_mut().batch()?;
            for (doc, automerge, changes) in &built {
                batch.write(&LocalWrite {
                    doc: *doc,
                    changes: changes.clone(),
                    automerge,
                    created: None,
                })?;
            }
            batch.commit()?;
        }
        written += n;
        written_so_far(written);
    }
    Ok(())
}

/// When the generated records were made: record `n` is created at
/// `start_ms + n * step_ms`, plus up to one step.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeline {
    /// Device time of the first record, ms since 1970.
    pub(crate) start_ms: i64,
    /// Time between records, ms.
    pub(crate) step_ms: i64,
    /// Whether an activity's date is the day it was recorded; otherwise
    /// it is the sample's day in 2025.
    pub(crate) dated_activities: bool,
}

/// The sync benchmarks' stores: through 2025, a few records a minute.
const CORPUS_TIMELINE: Timeline = Timeline {
    start_ms: YEAR_START_MS,
    step_ms: 17_000,
    dated_activities: false,
};

/// Villages of a unit that `sample::COMMUNES` does not list.
const GENERIC_VILLAGES: &[&str] = &["Thôn 1", "Thôn 2", "Thôn 3", "Thôn 4", "Thôn 5"];

/// One record with its five signed changes: a household (60% when
/// `household` is `None`) or an activity, in `unit` (`None`: a commune of
/// `sample::COMMUNES` at random).
pub(crate) fn record(
    node: &Node,
    rng: &mut ChaCha8Rng,
    n: i64,
    timeline: &Timeline,
    household: Option<bool>,
    unit: Option<&str>,
) -> Result<(DocId, Automerge, Vec<SignedChange>), BenchError> {
    let (unit, villages) = match unit {
        Some(unit) => (unit, GENERIC_VILLAGES),
        None => sample::COMMUNES[rng.gen_range(0..sample::COMMUNES.len())],
    };
    let village = villages[rng.gen_range(0..villages.len())];
    let created_at = timeline.start_ms + n * timeline.step_ms + rng.gen_range(0..timeline.step_ms);
    let household = household.unwrap_or_else(|| rng.gen_bool(0.6));
    let header = Header {
        id: DocId::from_bytes(rng.r#gen()).to_string(),
        kind: if household {
            Kind::Household
        } else {
            Kind::Activity
        }
        .code()
        .into(),
        unit: unit.into(),
        project: household.then(|| vocab::PROJECTS[0].0.to_string()),
        schema: SCHEMA_VERSION,
        creator: node.id().to_string(),
        created_at,
    };
    let record = if household {
        new_household(header, village, rng)
    } else {
        let date = timeline
            .dated_activities
            .then(|| danvan_model::format_date(time_to_date(created_at)));
        new_activity(header, date, rng)
    };
    let (doc, mut automerge, _) = node
        .prepare_new(&record)
        .map_err(|e| format!("building a record: {e}"))?;
    let by_node = node.id().short();
    for edit in 1..CHANGES_PER_RECORD as i64 {
        let time = created_at + edit * rng.gen_range(1..6) * DAY_MS;
        let date = danvan_model::format_date(time_to_date(time));
        let (message, result) = if household {
            household_edit(&mut automerge, edit, time, &date, &by_node, rng)
        } else {
            activity_edit(&mut automerge, edit, time, rng)
        };
        result.map_err(|e| format!("{message}: {e}"))?;
    }
    // Ed25519 signatures are deterministic, so re-signing the creation
    // gives the signature `prepare_new` made.
    let changes = automerge
        .get_changes(&[])
        .into_iter()
        .map(|mut c| node.key().sign_change(&doc, &mut c))
        .collect();
    Ok((doc, automerge, changes))
}

pub(crate) fn time_to_date(ms: i64) -> time::Date {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN)
}

type EditResult = Result<(), danvan_model::RecordError>;

fn commit(
    automerge: &mut Automerge,
    message: String,
    time: i64,
    edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> EditResult,
) -> EditResult {
    automerge
        .transact_with(
            |_| {
                CommitOptions::default()
                    .with_message(message.clone())
                    .with_time(time)
            },
            edit,
        )
        .map(|_| ())
        .map_err(|f| f.error)
}

fn set(
    tx: &mut automerge::transaction::Transaction<'_>,
    kind: Kind,
    field: &str,
    value: ScalarValue,
) -> EditResult {
    danvan_model::set_field(tx, danvan_model::field_spec(kind, field)?, Some(value))
}

/// Edits 1–4 of a household: a visit, the amount, a stage move, another visit.
fn household_edit(
    automerge: &mut Automerge,
    edit: i64,
    time: i64,
    date: &str,
    node: &str,
    rng: &mut ChaCha8Rng,
) -> (&'static str, EditResult) {
    let visit = |rng: &mut ChaCha8Rng| Visit {
        date: date.into(),
        by: format!("Tổ công tác, đồng chí {}", sample::person(rng)),
        outcome: sample::visit_outcome(rng).into(),
        node: node.into(),
    };
    match edit {
        1 | 4 => {
            let v = visit(rng);
            let r = commit(automerge, "ghi lần vận động".into(), time, |tx| {
                danvan_model::append_visit(tx, v)
            });
            ("visit", r)
        }
        2 => {
            // Whole thousands of đồng, 30 million to 2.5 billion.
            let amount = rng.gen_range(30_000..2_500_000) * 1000_i64;
            let r = commit(automerge, "sửa compensation_vnd".into(), time, |tx| {
                set(tx, Kind::Household, "compensation_vnd", amount.into())
            });
            ("amount", r)
        }
        _ => {
            let (from, to) = (vocab::HOUSEHOLD_STAGES[0].0, vocab::HOUSEHOLD_STAGES[1].0);
            let by = format!("Tổ công tác, đồng chí {}", sample::person(rng));
            let r = commit(
                automerge,
                format!("chuyển giai đoạn {from} → {to}"),
                time,
                |tx| {
                    danvan_model::move_stage(
                        tx,
                        from,
                        StageEvent {
                            stage: to.into(),
                            from: from.into(),
                            backwards: false,
                            date: date.into(),
                            by,
                            node: node.into(),
                        },
                    )
                },
            );
            ("stage", r)
        }
    }
}

/// Edits 1–4 of an activity: figures and results filled in after the event.
fn activity_edit(
    automerge: &mut Automerge,
    edit: i64,
    time: i64,
    rng: &mut ChaCha8Rng,
) -> (&'static str, EditResult) {
    let (field, value): (&'static str, ScalarValue) = match edit {
        1 => ("attendance", rng.gen_range(12_i64..180).into()),
        2 => ("matters", rng.gen_range(1_i64..12).into()),
        3 => (
            "results",
            format!(
                "{} hộ thống nhất phương án; {} ý kiến được trả lời tại hội nghị, {} ý kiến \
                 chuyển Ủy ban nhân dân thị xã xem xét, trả lời bằng văn bản.",
                rng.gen_range(1..60),
                rng.gen_range(1..8),
                rng.gen_range(1..5)
            )
            .into(),
        ),
        _ => (
            "organizers",
            format!(
                "Ban Dân vận Đảng ủy, Ủy ban MTTQ Việt Nam phường, Hội Nông dân, Hội Liên hiệp \
                 Phụ nữ; chủ trì: đồng chí {}",
                sample::person(rng)
            )
            .into(),
        ),
    };
    let r = commit(automerge, format!("sửa {field}"), time, |tx| {
        set(tx, Kind::Activity, field, value)
    });
    (field, r)
}

fn new_household(header: Header, village: &str, rng: &mut ChaCha8Rng) -> Record {
    let sheet = rng.gen_range(1..=60);
    let parcels = (0..rng.gen_range(1..=3))
        .map(|_| Parcel {
            sheet: sheet.to_string(),
            number: rng.gen_range(1..=900).to_string(),
            area_m2: (rng.gen_range(400.0..30_000.0_f64)).round() / 10.0,
            land_type: ["LUC", "ONT", "CLN", "BHK", "RSX"][rng.gen_range(0..5)].into(),
        })
        .collect();
    Record::Household(Household {
        header,
        head: sample::person(rng),
        village: Some(village.into()),
        parcels,
        inventory: Some(format!(
            "Nhà cấp 4 diện tích {} m², mái ngói; {} cây dừa, hàng rào lưới B40",
            rng.gen_range(30..160),
            rng.gen_range(2..40)
        )),
        compensation_vnd: None,
        stage: vocab::HOUSEHOLD_STAGES[0].0.into(),
        stage_log: Vec::new(),
        objections: Vec::new(),
        visits: Vec::new(),
    })
}

fn new_activity(header: Header, date: Option<String>, rng: &mut ChaCha8Rng) -> Record {
    let a = sample::activity(rng);
    Record::Activity(Activity {
        header,
        activity_type: a.activity_type.into(),
        date: date.unwrap_or(a.date),
        title: a.title,
        place: Some(a.place),
        organizers: Some(a.organizers),
        attendance: None,
        citizens: None,
        matters: None,
        summary: Some(a.summary),
        results: None,
        petitions: Vec::new(),
        tasks: Vec::new(),
    })
}
