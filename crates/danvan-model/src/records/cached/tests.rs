//! [`CachedDoc`] must answer exactly what the document answers. Generated
//! documents of every kind, edited by two actors concurrently and merged,
//! are read through the new `read_record`, `read_header`, `DocHeader::of`
//! and `conflicts` and through their uncached versions as they were before
//! the cache (kept below as `before`), and every `get` of every map key is
//! compared with the document's own.

use automerge::transaction::{Transactable, Transaction};
use automerge::{ActorId, Automerge, ObjId, ObjType, Prop, ROOT, ReadDoc, ScalarValue, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::CachedDoc;
use crate::records::doc::tests::sample_records;
use crate::records::*;
use crate::{DocHeader, vocab};

/// The reads as they were before [`CachedDoc`]: one copy, shared with the
/// `read_record` bench.
#[path = "../../../benches/read_record/uncached.rs"]
mod before;

/// Keys the edits write: every editable field of every kind (so a record
/// also holds fields of other kinds, with values of the wrong type), the
/// lists, the stage and the header.
fn edited_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = Kind::ALL
        .into_iter()
        .flat_map(|kind| editable_fields(kind).iter().map(|spec| spec.name))
        .collect();
    keys.extend([
        "stage",
        "visits",
        "stage_log",
        "objections",
        "parcels",
        "header",
    ]);
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn scalar(rng: &mut ChaCha8Rng) -> ScalarValue {
    const TEXTS: &[&str] = &["Thôn 1", "Nguyễn Văn A", "2024-03-05", "", "kiem-dem"];
    match rng.gen_range(0..8) {
        0 => ScalarValue::Null,
        1 => ScalarValue::Int(rng.gen_range(-5..200)),
        2 => ScalarValue::Uint(rng.gen_range(0..200)),
        3 => ScalarValue::F64(rng.gen_range(0.0..1000.0)),
        4 => ScalarValue::Boolean(rng.r#gen()),
        5 => ScalarValue::Str(vocab::HOUSEHOLD_STAGES[rng.gen_range(0..5)].0.into()),
        _ => ScalarValue::Str(TEXTS[rng.gen_range(0..TEXTS.len())].into()),
    }
}

/// A value of the type the record gives `key` (most of the time, so that
/// most documents stay readable), else any scalar.
fn value_for(key: &str, rng: &mut ChaCha8Rng) -> ScalarValue {
    let spec = Kind::ALL
        .into_iter()
        .find_map(|kind| field_spec(kind, key).ok());
    let text =
        |rng: &mut ChaCha8Rng| ScalarValue::Str(format!("giá trị {}", rng.gen_range(0..4)).into());
    match spec.map(|spec| spec.ty) {
        _ if rng.gen_bool(0.2) => scalar(rng),
        None if key == "stage" => {
            ScalarValue::Str(vocab::HOUSEHOLD_STAGES[rng.gen_range(0..5)].0.into())
        }
        Some(FieldType::Count | FieldType::Money | FieldType::Year | FieldType::Round) => {
            ScalarValue::Int(rng.gen_range(1..3))
        }
        Some(FieldType::Bool) => ScalarValue::Boolean(rng.r#gen()),
        Some(FieldType::Text) if rng.gen_bool(0.2) => ScalarValue::Null,
        _ => text(rng),
    }
}

fn visit(rng: &mut ChaCha8Rng) -> Visit {
    Visit {
        date: format!("2024-0{}-1{}", rng.gen_range(1..10), rng.gen_range(0..10)),
        by: "Tổ công tác".into(),
        outcome: ["đồng ý", "chưa đồng ý", "hẹn lại"][rng.gen_range(0..3)].into(),
        node: "X".into(),
    }
}

/// The map objects of a list, or `None` when `key` is not a list.
fn list_maps(tx: &Transaction<'_>, key: &str) -> Option<(ObjId, Vec<ObjId>)> {
    let (Value::Object(ObjType::List), list) = tx.get(ROOT, key).ok()?? else {
        return None;
    };
    let maps = (0..tx.length(&list))
        .filter_map(|i| match tx.get(&list, i).ok()? {
            Some((Value::Object(ObjType::Map), id)) => Some(id),
            _ => None,
        })
        .collect();
    Some((list, maps))
}

/// The household moved to a random stage, recorded in its stage log.
fn random_stage_move(tx: &mut Transaction<'_>, rng: &mut ChaCha8Rng) -> bool {
    let current = match tx.get(ROOT, "stage") {
        Ok(Some((Value::Scalar(s), _))) => s.as_str().unwrap_or_default().to_string(),
        _ => String::new(),
    };
    let event = StageEvent {
        stage: vocab::HOUSEHOLD_STAGES[rng.gen_range(0..5)].0.into(),
        from: current.clone(),
        backwards: rng.r#gen(),
        date: "2024-05-06".into(),
        by: "Tổ công tác".into(),
        node: "X".into(),
    };
    move_stage(tx, &current, event).is_ok()
}

/// One random edit: a field set, cleared or deleted, made a text or a
/// counter, a list appended to, shortened or one of its maps edited, the
/// stage moved, the header edited or written anew.
fn edit(tx: &mut Transaction<'_>, keys: &[&'static str], rng: &mut ChaCha8Rng) {
    let key = keys[rng.gen_range(0..keys.len())];
    // An edit that does not apply (an increment of a deleted counter) is
    // skipped: the document is what matters, not the edit.
    let _applied: bool = match rng.gen_range(0..21) {
        0..=7 => tx.put(ROOT, key, value_for(key, rng)).is_ok(),
        8 | 9 => tx.delete(ROOT, key).is_ok(),
        10 => tx
            .put_object(ROOT, key, ObjType::Text)
            .and_then(|text| tx.splice_text(&text, 0, 0, "văn bản"))
            .is_ok(),
        11 => {
            // A counter, incremented when it already is one.
            let is_counter = matches!(
                tx.get(ROOT, "attendance"),
                Ok(Some((Value::Scalar(s), _))) if s.is_counter()
            );
            if is_counter {
                tx.increment(ROOT, "attendance", rng.gen_range(1..5))
                    .is_ok()
            } else {
                tx.put(ROOT, "attendance", ScalarValue::counter(3)).is_ok()
            }
        }
        12 | 13 => append_visit(tx, visit(rng)).is_ok(),
        14 => random_stage_move(tx, rng),
        15 => append_objection(
            tx,
            ObjectionEvent {
                action: vocab::OBJECTION.0.into(),
                date: "2024-05-07".into(),
                stage: "cong-khai".into(),
                note: "Không đồng ý giá".into(),
                node: "X".into(),
            },
        )
        .is_ok(),
        16 | 17 => {
            // A field of a map inside a list (a visit, a parcel, an event),
            // or the list's first item deleted.
            let list = ["visits", "parcels", "stage_log", "objections"][rng.gen_range(0..4)];
            match list_maps(tx, list) {
                Some((list, maps)) if !maps.is_empty() && rng.gen_bool(0.2) => {
                    tx.delete(&list, 0).is_ok()
                }
                Some((_, maps)) if !maps.is_empty() => {
                    let map = &maps[rng.gen_range(0..maps.len())];
                    let field = ["date", "outcome", "number", "stage", "note"][rng.gen_range(0..5)];
                    tx.put(map, field, scalar(rng)).is_ok()
                }
                _ => false,
            }
        }
        18 => match tx.get(ROOT, "header") {
            // A header field edited (what admission refuses from a peer,
            // but a document may still hold it).
            Ok(Some((Value::Object(ObjType::Map), header))) => {
                let field = ["kind", "unit", "project", "id", "schema"][rng.gen_range(0..5)];
                let value = match field {
                    _ if rng.gen_bool(0.3) => scalar(rng),
                    "kind" => Kind::ALL[rng.gen_range(0..Kind::ALL.len())].code().into(),
                    "schema" => SCHEMA_VERSION.into(),
                    _ => "pho-an".into(),
                };
                if rng.gen_bool(0.2) {
                    tx.delete(&header, field).is_ok()
                } else {
                    tx.put(&header, field, value).is_ok()
                }
            }
            _ => false,
        },
        _ => {
            // A header written anew, as a second creation would.
            let kind = Kind::ALL[rng.gen_range(0..Kind::ALL.len())];
            tx.put_object(ROOT, "header", ObjType::Map)
                .and_then(|header| {
                    tx.put(&header, "id", "bbbbbbbbbbbbbbbbbbbbbbbbbb")?;
                    tx.put(&header, "kind", kind.code())?;
                    tx.put(&header, "unit", "pho-an")?;
                    tx.put(&header, "schema", SCHEMA_VERSION)?;
                    tx.put(&header, "creator", "Y")?;
                    tx.put(&header, "created_at", 2_i64)
                })
                .is_ok()
        }
    };
}

fn edits(doc: &mut Automerge, keys: &[&'static str], count: usize, rng: &mut ChaCha8Rng) {
    for _ in 0..count {
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            edit(tx, keys, rng);
            Ok(())
        })
        .expect("a transaction whose edit errors is still committed");
    }
}

/// A record written by actor 1, then edited by actors 1 and 2 at once (the
/// same few keys, so that their edits collide), merged, and sometimes
/// edited again by a third actor on top of the merge.
fn generated(record: &Record, rng: &mut ChaCha8Rng) -> Automerge {
    let all_keys = edited_keys();
    // Few keys per document: two actors then often edit the same one.
    let keys: Vec<&'static str> = (0..rng.gen_range(1..5))
        .map(|_| all_keys[rng.gen_range(0..all_keys.len())])
        .collect();
    let mut one = Automerge::new().with_actor(ActorId::from(vec![1; 16]));
    one.transact(|tx| write_new(tx, record))
        .map_err(|f| f.error)
        .expect("a sample record writes");
    // Sometimes a counter both actors then increment at once.
    let shared_counter = rng.gen_bool(0.2);
    if shared_counter {
        one.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "attendance", ScalarValue::counter(1))
        })
        .expect("a counter is put");
    }
    let mut two = one.fork().with_actor(ActorId::from(vec![2; 16]));
    if shared_counter {
        for doc in [&mut one, &mut two] {
            let by = rng.gen_range(1..4);
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.increment(ROOT, "attendance", by)
            })
            .expect("a counter is incremented");
        }
    }
    edits(&mut one, &keys, rng.gen_range(0..5), rng);
    edits(&mut two, &keys, rng.gen_range(0..5), rng);
    if matches!(record, Record::Household(_)) && rng.gen_bool(0.5) {
        // Both move the stage: a conflict `read_record` resolves itself.
        for doc in [&mut one, &mut two] {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                random_stage_move(tx, rng);
                Ok(())
            })
            .expect("a stage move commits");
        }
    }
    one.merge(&mut two).expect("two forks merge");
    if rng.gen_bool(0.3) {
        let mut three = one.fork().with_actor(ActorId::from(vec![3; 16]));
        edits(&mut three, &keys, rng.gen_range(1..3), rng);
        one.merge(&mut three).expect("a fork merges");
    }
    one
}

/// Every object of a document, the values that lost to a concurrent one
/// included.
fn objects(doc: &Automerge) -> Vec<(ObjId, ObjType)> {
    let mut found = vec![(ROOT, ObjType::Map)];
    let mut at = 0;
    while at < found.len() {
        let (obj, ty) = found[at].clone();
        let props: Vec<Prop> = match ty {
            ObjType::Map | ObjType::Table => doc.keys(&obj).map(Prop::Map).collect(),
            ObjType::List => (0..doc.length(&obj)).map(Prop::Seq).collect(),
            ObjType::Text => Vec::new(),
        };
        for prop in props {
            for (value, id) in doc.get_all(&obj, prop).expect("a listed prop reads") {
                if let Value::Object(ty) = value {
                    found.push((id, ty));
                }
            }
        }
        at += 1;
    }
    found
}

/// Every `get` through the cache equals the document's, for every key a map
/// holds and some it does not, on every object (a list or a text asked for
/// a key must fail alike); and `conflicted` says what `get_all` does.
fn check_reader(doc: &Automerge, keys: &[&'static str]) {
    let reader = CachedDoc::new(doc);
    for (obj, ty) in objects(doc) {
        let mut asked: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        asked.extend(["kind", "unit", "id", "date", "outcome", "nowhere"].map(String::from));
        asked.extend(doc.keys(&obj));
        // Twice: the first fills the cache, the second reads from it.
        for _ in 0..2 {
            for key in &asked {
                let cached = autosurgeon::ReadDoc::get(&reader, &obj, key.as_str());
                let direct = doc.get(&obj, key.as_str());
                match (cached, direct) {
                    (Ok(cached), Ok(direct)) => assert_eq!(cached, direct, "{obj} {key}"),
                    (Err(cached), Err(direct)) => {
                        assert_eq!(cached.to_string(), direct.to_string(), "{obj} {key}")
                    }
                    (cached, direct) => panic!("{obj} {key}: {cached:?} against {direct:?}"),
                }
                let values = doc.get_all(&obj, key.as_str());
                let expected = (ty == ObjType::Map).then(|| values.unwrap().len() > 1);
                assert_eq!(reader.conflicted(&obj, key), expected, "{obj} {key}");
            }
        }
        if ty == ObjType::List {
            let direct = doc.get(&obj, 0);
            let cached = autosurgeon::ReadDoc::get(&reader, &obj, 0);
            assert_eq!(cached.ok(), direct.ok(), "{obj} [0]");
        }
    }
}

/// What the generated documents held, so that the test fails if the
/// generator stops making the cases that matter.
#[derive(Default)]
struct Seen {
    read_per_kind: std::collections::BTreeMap<Kind, usize>,
    unreadable: usize,
    conflicted_fields: usize,
    conflicted_stage: usize,
    two_headers: usize,
    headers: usize,
    counters: usize,
    texts: usize,
    deleted: usize,
}

#[test]
fn a_cached_read_equals_the_uncached_one() {
    let keys = edited_keys();
    let mut seen = Seen::default();
    for seed in 0..200 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for record in sample_records() {
            let doc = generated(&record, &mut rng);

            let read = read_record(&doc);
            assert_eq!(read, before::read_record(&doc), "seed {seed}");
            assert_eq!(read_header(&doc), before::read_header(&doc), "seed {seed}");
            let header = DocHeader::of(&doc).map(|h| (h.kind, h.unit, h.project, h.object));
            assert_eq!(header, before::doc_header(&doc), "seed {seed}");
            for kind in Kind::ALL {
                let found = conflicts(&doc, kind);
                assert_eq!(found, before::conflicts(&doc, kind), "seed {seed}");
                seen.conflicted_fields += found.len();
            }
            check_reader(&doc, &keys);

            match &read {
                Ok(record) => *seen.read_per_kind.entry(record.kind()).or_default() += 1,
                Err(_) => seen.unreadable += 1,
            }
            seen.headers += usize::from(header.is_some());
            let values = |key: &str| doc.get_all(ROOT, key).unwrap();
            seen.two_headers += usize::from(values("header").len() > 1);
            seen.conflicted_stage +=
                usize::from(matches!(read, Ok(Record::Household(_))) && values("stage").len() > 1);
            seen.counters += usize::from(
                values("attendance")
                    .iter()
                    .any(|(v, _)| matches!(v, Value::Scalar(s) if s.is_counter())),
            );
            seen.texts += usize::from(
                doc.map_range(ROOT, ..)
                    .any(|item| matches!(item.value, automerge::ValueRef::Object(ObjType::Text))),
            );
            seen.deleted += usize::from(record_keys(&record).any(|k| values(k).is_empty()));
        }
    }
    eprintln!(
        "DEBUG {:?} {} {} {} {} {} {} {} {}",
        seen.read_per_kind,
        seen.unreadable,
        seen.conflicted_fields,
        seen.conflicted_stage,
        seen.two_headers,
        seen.headers,
        seen.counters,
        seen.texts,
        seen.deleted
    );
    for kind in Kind::ALL {
        assert!(seen.read_per_kind.get(&kind) > Some(&50), "{kind:?} read");
    }
    for (what, count) in [
        ("unreadable", seen.unreadable),
        ("fields in conflict", seen.conflicted_fields),
        ("households with stages in conflict", seen.conflicted_stage),
        ("two headers", seen.two_headers),
        ("one header", seen.headers),
        ("counters", seen.counters),
        ("texts", seen.texts),
        ("deleted fields", seen.deleted),
    ] {
        assert!(count > 20, "too few documents with {what}: {count}");
    }
}

/// The keys a record writes at the root.
fn record_keys(record: &Record) -> impl Iterator<Item = &'static str> + '_ {
    editable_fields(record.kind())
        .iter()
        .map(|spec| spec.name)
        .chain(["header"])
}
