//! Erasure of a citizen's personal fields (issue 14, item 5), measured.
//!
//! `danvan erase` writes one change that clears the fields; the changes
//! before it keep the old values. This group measures what that leaves and
//! what compacting the history would cost and break:
//!
//! 1. One petition with a realistic history through a real [`Node`] on a
//!    real SQLite file: created, edited [`EDITS_ONE`] times, erased. Are the
//!    erased values found by a byte search of its saved document, of every
//!    row of the store (read through SQLite, so it works on an encrypted
//!    store too), of the raw store files (plaintext store only), and can
//!    Automerge read them back from the history? Then compaction: a fresh
//!    document written from the current state alone — its bytes, whether
//!    the values are gone, and what merging the old history back (as any
//!    other node holding it would send it) does.
//! 2. [`RECORDS`] petitions, each created, edited [`EDITS_MANY`] times and
//!    erased, as Automerge documents in memory (the record code of
//!    danvan-model, without signing or storing: a durable commit per edit
//!    would make this a disk benchmark): the erased values still readable,
//!    the bytes before and after compaction, and the time per record.

use std::path::Path;
use std::time::Instant;

use automerge::{ActorId, Automerge, ReadDoc, Value};
use danvan_model::{Kind, Petition, Record, field_spec, parse_field};
use danvan_node::{ERASED_NAME, Node};

use crate::figure::{Figure, Figures};
use crate::measure::ScratchDir;
use crate::{BenchError, Options};

/// Edits of the single petition before it is erased: a case handled for
/// months (status, category, answers, content corrections).
const EDITS_ONE: usize = 40;
/// Edits of each of the many petitions before it is erased.
const EDITS_MANY: usize = 6;
/// Petitions in the large set (`--quick`: a tenth).
const RECORDS: usize = 10_000;
/// The unit the petitions belong to.
const UNIT: &str = "pho-minh";
/// The personal fields of a petition, as `danvan erase` clears them.
const PERSONAL: [&str; 3] = ["citizen", "id_number", "address"];

/// The personal values of petition `i`: its citizen, CCCD and address,
/// each unique so that a search finds only this record's.
fn personal(i: usize) -> [String; 3] {
    [
        format!("Trần Thị Bích Ngọc {i}"),
        format!("0512{i:06}90"),
        format!("Thôn Vĩnh Xuân {i}, Phổ Minh"),
    ]
}

/// Petition `i` with its personal values.
fn petition(header: danvan_model::Header, i: usize) -> Record {
    let [citizen, id_number, address] = personal(i);
    Record::Petition(Petition {
        header,
        petition_type: "kien-nghi".into(),
        round: 1,
        complex: false,
        remote: false,
        channel: "truc-tiep".into(),
        received: "2025-03-02".into(),
        citizen,
        address: Some(address),
        id_number: Some(id_number),
        content: "Đề nghị xem xét đơn giá bồi thường đất nông nghiệp".into(),
        category: None,
        assigned_unit: None,
        status: danvan_model::vocab::PETITION_NEW.into(),
        answer: None,
        resolved: None,
    })
}

/// Edit `step` of a petition's handling, as `edit --set` takes it.
fn edit(step: usize) -> String {
    use danvan_model::vocab::{PETITION_IN_PROGRESS, PETITION_NEW};
    match step % 4 {
        0 => format!(
            "status={}",
            if step.is_multiple_of(8) {
                PETITION_IN_PROGRESS
            } else {
                PETITION_NEW
            }
        ),
        1 => format!("category=Đất đai, lần {step}"),
        2 => format!("answer=Đã mời công dân làm việc lần {step}; đang xác minh hồ sơ thửa đất"),
        _ => format!(
            "content=Đề nghị xem xét đơn giá bồi thường đất nông nghiệp (bổ sung lần {step})"
        ),
    }
}

/// How many of `values` occur in `bytes` (a `strings`-style search).
fn found_in(bytes: &[u8], values: &[String]) -> usize {
    values
        .iter()
        .filter(|v| bytes.windows(v.len()).any(|w| w == v.as_bytes()))
        .count()
}

/// How many of `values` Automerge reads back from the document's history:
/// the personal fields as of every change.
fn recoverable(doc: &Automerge, values: &[String]) -> usize {
    let mut seen = vec![false; values.len()];
    for change in doc.get_changes(&[]) {
        let heads = [change.hash()];
        for field in PERSONAL {
            if let Ok(Some((Value::Scalar(s), _))) = doc.get_at(automerge::ROOT, field, &heads)
                && let Some(text) = s.as_str()
            {
                for (seen, v) in seen.iter_mut().zip(values) {
                    *seen |= text == v;
                }
            }
        }
    }
    seen.iter().filter(|s| **s).count()
}

/// The compaction measured: a fresh document holding the current state of
/// `doc` and none of its history (one change, by `actor`).
fn compact(doc: &Automerge, actor: &ActorId) -> Result<Automerge, BenchError> {
    let record = danvan_model::read_record(doc)?;
    let mut fresh = Automerge::new();
    fresh.set_actor(actor.clone());
    fresh
        .transact(|tx| danvan_model::write_new(tx, &record))
        .map_err(|f| format!("writing the compacted document: {}", f.error))?;
    Ok(fresh)
}

/// How many of `values` occur in any text or blob of any row of the store
/// of `dir`, read through SQLite (keyed when encrypted).
fn store_rows_hold(dir: &Path, values: &[String]) -> Result<usize, BenchError> {
    use rusqlite::types::ValueRef;
    let db = dir.join(danvan_store::DB_FILE);
    let conn = danvan_store::connect(dir, &db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut seen = vec![false; values.len()];
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\""))?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            for c in 0..columns {
                let bytes = match row.get_ref(c)? {
                    ValueRef::Text(b) | ValueRef::Blob(b) => b,
                    _ => continue,
                };
                for (seen, v) in seen.iter_mut().zip(values) {
                    *seen |= bytes.windows(v.len()).any(|w| w == v.as_bytes());
                }
            }
        }
    }
    Ok(seen.iter().filter(|s| **s).count())
}

pub(crate) fn run(options: &Options) -> Result<Vec<Figure>, BenchError> {
    let scratch = ScratchDir::new(options)?;
    let mut figures = Figures::new("erasure");
    let dir = scratch.path().join("one");
    let mut node = Node::init(&dir, UNIT, None, None).map_err(node_err("init"))?;
    one_petition(&mut node, &dir, &mut figures)?;
    let records = if options.quick { RECORDS / 10 } else { RECORDS };
    many_petitions(&node, records, &mut figures)?;
    Ok(figures.into_vec())
}

fn node_err(step: &str) -> impl FnOnce(danvan_node::NodeError) -> BenchError + '_ {
    move |e| format!("{step}: {e}").into()
}

/// Part 1: one petition through a real node and store.
fn one_petition(node: &mut Node, dir: &Path, figures: &mut Figures) -> Result<(), BenchError> {
    let header = node
        .new_header(Kind::Petition, None, None)
        .map_err(node_err("header"))?;
    let values = personal(0).to_vec();
    let id = node
        .add(&petition(header, 0))
        .map_err(node_err("add"))?
        .to_string();
    for step in 0..EDITS_ONE {
        node.edit(&id, &[edit(step)]).map_err(node_err("edit"))?;
    }
    node.erase(&id).map_err(node_err("erase"))?;
    let (_, doc) = node.load(&id).map_err(node_err("load"))?;
    let shown = node
        .show(&id)
        .map_err(node_err("show"))?
        .to_json()
        .to_string();
    if found_in(shown.as_bytes(), &values) != 0 {
        return Err("the erased petition still shows a personal value".into());
    }
    let n = values.len() as f64;
    let name = |what: &str| format!("1 petition ({EDITS_ONE} edits, erased): {what}");
    figures.info(
        name("changes in its history"),
        doc.get_changes(&[]).len() as f64,
        "changes",
    );
    let saved = doc.save();
    eprintln!(
        "  one petition: erased; searching its saved document, the store's rows and files for its {} personal values",
        values.len()
    );
    figures.info(
        name("erased values found by a byte search of its saved document"),
        found_in(&saved, &values) as f64 / n,
        "share",
    );
    figures.info(
        name("… and of it saved without compression"),
        found_in(&doc.save_nocompress(), &values) as f64 / n,
        "share",
    );
    figures.info(
        name("erased values Automerge reads back from its history"),
        recoverable(&doc, &values) as f64 / n,
        "share",
    );
    figures.info(
        name("erased values in the store's rows (read through SQLite)"),
        store_rows_hold(dir, &values)? as f64 / n,
        "share",
    );
    if !danvan_store::cipher::is_encrypted(&dir.join(danvan_store::DB_FILE)) {
        let mut raw = Vec::new();
        for file in ["danvan.db", "danvan.db-wal"] {
            raw.extend(std::fs::read(dir.join(file)).unwrap_or_default());
        }
        figures.info(
            name("erased values found by a byte search of the plaintext store files"),
            found_in(&raw, &values) as f64 / n,
            "share",
        );
    }

    // Compaction, and what the old history does to it when it comes back.
    let actor = ActorId::random();
    let fresh = compact(&doc, &actor)?;
    let fresh_saved = fresh.save();
    if danvan_model::read_record(&fresh)? != danvan_model::read_record(&doc)? {
        return Err("the compacted document does not read as the same record".into());
    }
    figures.info(
        name("saved document before compaction"),
        saved.len() as f64,
        "bytes",
    );
    figures.info(
        name("saved document after compaction"),
        fresh_saved.len() as f64,
        "bytes",
    );
    figures.info(
        name("erased values readable after compaction (bytes or history)"),
        (found_in(&fresh_saved, &values) + recoverable(&fresh, &values)) as f64 / n,
        "share",
    );
    figures.info(
        name("compacted heads equal the old heads"),
        f64::from(u8::from(fresh.get_heads() == doc.get_heads())),
        "yes=1",
    );
    let mut merged = fresh.clone();
    merged.merge(&mut doc.clone())?;
    figures.info(
        name("erased values readable again once the old history is merged back"),
        recoverable(&merged, &values) as f64 / n,
        "share",
    );
    figures.info(
        name("fields in conflict after that merge"),
        danvan_model::conflicts(&merged, Kind::Petition).len() as f64,
        "fields",
    );
    Ok(())
}

/// Writes `record`, its edits and the erasure into a new document by
/// `actor`, one transaction each, as a node would.
fn handled_and_erased(
    record: &Record,
    edits: usize,
    actor: &ActorId,
) -> Result<Automerge, BenchError> {
    let mut doc = Automerge::new();
    doc.set_actor(actor.clone());
    let fail = |f: automerge::transaction::Failure<danvan_model::RecordError>| -> BenchError {
        f.error.to_string().into()
    };
    doc.transact(|tx| danvan_model::write_new(tx, record))
        .map_err(fail)?;
    let sets: Vec<(String, String)> = (0..edits)
        .map(edit)
        .chain(
            PERSONAL
                .iter()
                .map(|f| format!("{f}={}", if *f == "citizen" { ERASED_NAME } else { "" })),
        )
        .map(|set| {
            let (field, value) = set.split_once('=').unwrap_or((&set, ""));
            (field.to_string(), value.to_string())
        })
        .collect();
    // Each edit its own change, the erasure one change of all three fields.
    let (edits, erasure) = sets.split_at(edits);
    for batch in edits.iter().map(std::slice::from_ref).chain([erasure]) {
        doc.transact(|tx| {
            for (field, value) in batch {
                let spec = field_spec(Kind::Petition, field)?;
                danvan_model::set_field(tx, spec, parse_field(spec, value)?)?;
            }
            Ok(())
        })
        .map_err(fail)?;
    }
    Ok(doc)
}

/// Part 2: many petitions as documents in memory.
fn many_petitions(node: &Node, records: usize, figures: &mut Figures) -> Result<(), BenchError> {
    eprintln!(
        "  {records} petitions: each created, edited {EDITS_MANY} times and erased, then compacted"
    );
    let actor = ActorId::random();
    let (mut before, mut after) = (0usize, 0usize);
    let (mut in_bytes, mut in_changes) = (0usize, 0usize);
    let (mut in_history, mut left) = (0usize, 0usize);
    let mut compact_s = 0.0;
    for i in 0..records {
        let header = node
            .new_header(Kind::Petition, None, None)
            .map_err(node_err("header"))?;
        let values = personal(i).to_vec();
        let doc = handled_and_erased(&petition(header, i), EDITS_MANY, &actor)?;
        let saved = doc.save();
        before += saved.len();
        in_bytes += usize::from(found_in(&saved, &values) > 0);
        // The store keeps each change's bytes (signed) as its own row.
        let changes: Vec<u8> = doc
            .get_changes(&[])
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        in_changes += usize::from(found_in(&changes, &values) > 0);
        in_history += usize::from(recoverable(&doc, &values) > 0);
        let started = Instant::now();
        let fresh = compact(&doc, &actor)?;
        let fresh_saved = fresh.save();
        compact_s += started.elapsed().as_secs_f64();
        after += fresh_saved.len();
        left += usize::from(found_in(&fresh_saved, &values) + recoverable(&fresh, &values) > 0);
    }
    let name = |what: &str| format!("{records} petitions ({EDITS_MANY} edits, erased): {what}");
    let share = |count: usize| count as f64 / records as f64;
    figures.info(
        name("records whose erased values a byte search of the saved document finds"),
        share(in_bytes),
        "share",
    );
    figures.info(
        name("records whose erased values a byte search of their change bytes finds"),
        share(in_changes),
        "share",
    );
    figures.info(
        name("records whose erased values Automerge reads back from history"),
        share(in_history),
        "share",
    );
    figures.info(
        name("saved documents before compaction"),
        before as f64,
        "bytes",
    );
    figures.info(
        name("saved documents after compaction"),
        after as f64,
        "bytes",
    );
    figures.info(
        name("compaction (read, fresh document, save) per record"),
        compact_s * 1000.0 / records as f64,
        "ms",
    );
    figures.info(
        name("records with an erased value readable after compaction"),
        share(left),
        "share",
    );
    Ok(())
}
