//! The reads of a record as they were before `CachedDoc` (danvan-model's
//! `records/cached.rs`), verbatim but for paths: every `get` and `get_all`
//! straight on the document. The one copy both the equivalence test
//! (`records::cached::tests`, through `#[path]`) and the `read_record`
//! bench compare the cached reads with.

use automerge::{ObjType, ROOT, ReadDoc, Value};

use danvan_model::{
    Conflict, Header, Household, Kind, Record, RecordError, editable_fields, scalar_json, vocab,
};

pub(crate) fn read_record(doc: &automerge::Automerge) -> Result<Record, RecordError> {
    let kind: String = match doc.get(automerge::ROOT, "header")? {
        Some((Value::Object(ObjType::Map), header)) => match doc.get(&header, "kind")? {
            Some((Value::Scalar(s), _)) => s.as_str().unwrap_or_default().to_string(),
            _ => return Err(RecordError::Unreadable("header thiếu kind".into())),
        },
        _ => return Err(RecordError::Unreadable("tài liệu thiếu header".into())),
    };
    let unreadable = |e: autosurgeon::HydrateError| RecordError::Unreadable(e.to_string());
    Ok(match Kind::parse(&kind)? {
        Kind::Activity => Record::Activity(autosurgeon::hydrate(doc).map_err(unreadable)?),
        Kind::Petition => Record::Petition(autosurgeon::hydrate(doc).map_err(unreadable)?),
        Kind::Household => {
            let mut h: Household = autosurgeon::hydrate(doc).map_err(unreadable)?;
            h.stage = furthest_stage(doc).unwrap_or(h.stage);
            Record::Household(h)
        }
        Kind::Task => Record::Task(autosurgeon::hydrate(doc).map_err(unreadable)?),
        Kind::Progress => Record::Progress(autosurgeon::hydrate(doc).map_err(unreadable)?),
        Kind::Model => Record::Model(autosurgeon::hydrate(doc).map_err(unreadable)?),
    })
}

pub(crate) fn read_header(doc: &automerge::Automerge) -> Result<Header, RecordError> {
    autosurgeon::hydrate_prop(doc, automerge::ROOT, "header")
        .map_err(|e| RecordError::Unreadable(e.to_string()))
}

fn furthest_stage(doc: &automerge::Automerge) -> Option<String> {
    let values = doc.get_all(automerge::ROOT, "stage").ok()?;
    values
        .iter()
        .filter_map(|(v, _)| match v {
            Value::Scalar(s) => s.as_str().map(str::to_string),
            Value::Object(_) => None,
        })
        .filter_map(|s| vocab::stage_rank(&s).map(|r| (r, s)))
        .max()
        .map(|(_, s)| s)
}

/// `DocHeader::of`'s reads: the header's values, then the header; its
/// kind, unit, project and the header map's id (counter, actor).
#[allow(clippy::type_complexity)]
pub(crate) fn doc_header(
    doc: &automerge::Automerge,
) -> Option<(String, String, Option<String>, (u64, Vec<u8>))> {
    let all = doc.get_all(ROOT, "header").ok()?;
    let [(Value::Object(automerge::ObjType::Map), automerge::ObjId::Id(counter, actor, _))] =
        all.as_slice()
    else {
        return None;
    };
    let full = read_header(doc).ok()?;
    Some((
        full.kind,
        full.unit,
        full.project,
        (*counter, actor.to_bytes().to_vec()),
    ))
}

pub(crate) fn conflicts(doc: &automerge::Automerge, kind: Kind) -> Vec<Conflict> {
    let mut out = Vec::new();
    for spec in editable_fields(kind) {
        let Ok(values) = doc.get_all(automerge::ROOT, spec.name) else {
            continue;
        };
        if values.len() < 2 {
            continue;
        }
        let mut shown: Vec<serde_json::Value> =
            values.iter().map(|(v, _)| scalar_json(v)).collect();
        shown.reverse();
        let mut distinct: Vec<serde_json::Value> = Vec::new();
        for v in shown {
            if !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        if distinct.len() > 1 {
            out.push(Conflict {
                field: spec.name,
                label_vi: spec.label_vi,
                values: distinct,
            });
        }
    }
    out
}
