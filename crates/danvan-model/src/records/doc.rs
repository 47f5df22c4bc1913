//! Reading a record out of an Automerge document and writing into one. Lists
//! are only ever appended to, and the household stage is read as the furthest
//! of its concurrent values.

use automerge::transaction::{Transactable, Transaction as Tx};
use automerge::{ObjType, ReadDoc, ScalarValue, Value};
use autosurgeon::Reconcile;

use super::cached::CachedDoc;
use super::{
    FieldSpec, Header, Household, Kind, ObjectionEvent, Record, RecordError, StageEvent, Visit,
};
use crate::vocab;

/// Reads the record held by a document. The household stage is the furthest
/// of concurrent values.
pub fn read_record(doc: &automerge::Automerge) -> Result<Record, RecordError> {
    read_record_from(&CachedDoc::new(doc))
}

/// The record held by a document and how many of its editable fields hold
/// concurrent values ([`super::conflicts`]), as its projection row needs
/// them: the root read once for both.
pub fn read_record_and_conflicts(
    doc: &automerge::Automerge,
) -> Result<(Record, usize), RecordError> {
    let reader = CachedDoc::new(doc);
    let record = read_record_from(&reader)?;
    let conflicts = super::conflicts::conflicts_in(&reader, record.kind()).len();
    Ok((record, conflicts))
}

/// [`read_record`] through `reader`: the root and the header are each read
/// once, for the kind below and again for the hydration.
fn read_record_from(reader: &CachedDoc<'_>) -> Result<Record, RecordError> {
    let kind: String = match autosurgeon::ReadDoc::get(reader, &automerge::ROOT, "header")? {
        Some((Value::Object(ObjType::Map), header)) => {
            match autosurgeon::ReadDoc::get(reader, &header, "kind")? {
                Some((Value::Scalar(s), _)) => s.as_str().unwrap_or_default().to_string(),
                _ => return Err(RecordError::Unreadable("header thiếu kind".into())),
            }
        }
        _ => return Err(RecordError::Unreadable("tài liệu thiếu header".into())),
    };
    let unreadable = |e: autosurgeon::HydrateError| RecordError::Unreadable(e.to_string());
    Ok(match Kind::parse(&kind)? {
        Kind::Activity => Record::Activity(autosurgeon::hydrate(reader).map_err(unreadable)?),
        Kind::Petition => Record::Petition(autosurgeon::hydrate(reader).map_err(unreadable)?),
        Kind::Household => {
            let mut h: Household = autosurgeon::hydrate(reader).map_err(unreadable)?;
            h.stage = furthest_stage(reader).unwrap_or(h.stage);
            Record::Household(h)
        }
        Kind::Task => Record::Task(autosurgeon::hydrate(reader).map_err(unreadable)?),
        Kind::Progress => Record::Progress(autosurgeon::hydrate(reader).map_err(unreadable)?),
        Kind::Model => Record::Model(autosurgeon::hydrate(reader).map_err(unreadable)?),
    })
}

/// Reads only the header of a document.
pub fn read_header(doc: &automerge::Automerge) -> Result<Header, RecordError> {
    read_header_from(&CachedDoc::new(doc))
}

/// [`read_header`] through a reader the caller may read more with.
pub(crate) fn read_header_from(reader: &CachedDoc<'_>) -> Result<Header, RecordError> {
    autosurgeon::hydrate_prop(reader, automerge::ROOT, "header")
        .map_err(|e| RecordError::Unreadable(e.to_string()))
}

/// The furthest of the concurrent values of a household's stage. `None`
/// when the stage holds one value: the hydrated stage is then that value.
fn furthest_stage(reader: &CachedDoc<'_>) -> Option<String> {
    if reader.conflicted(&automerge::ROOT, "stage") == Some(false) {
        return None;
    }
    let values = reader.doc().get_all(automerge::ROOT, "stage").ok()?;
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

/// Writes a new record into an empty document (inside a transaction).
pub fn write_new(tx: &mut Tx<'_>, record: &Record) -> Result<(), RecordError> {
    each_record!(record, r => autosurgeon::reconcile(tx, r)?);
    Ok(())
}

/// Sets one field. A put supersedes every concurrent value of the field, so
/// setting a field is also how a user resolves a conflict on it.
pub fn set_field(
    tx: &mut Tx<'_>,
    spec: &FieldSpec,
    value: Option<ScalarValue>,
) -> Result<(), RecordError> {
    tx.put(
        automerge::ROOT,
        spec.name,
        value.unwrap_or(ScalarValue::Null),
    )?;
    Ok(())
}

fn list_obj(tx: &mut Tx<'_>, name: &str) -> Result<automerge::ObjId, RecordError> {
    match tx.get(automerge::ROOT, name)? {
        Some((Value::Object(ObjType::List), id)) => Ok(id),
        _ => Ok(tx.put_object(automerge::ROOT, name, ObjType::List)?),
    }
}

fn append<R: Reconcile>(tx: &mut Tx<'_>, list: &str, item: R) -> Result<(), RecordError> {
    let obj = list_obj(tx, list)?;
    let len = tx.length(&obj);
    autosurgeon::reconcile_insert(tx, obj, len, item)?;
    Ok(())
}

/// Appends a visit to a household.
pub fn append_visit(tx: &mut Tx<'_>, visit: Visit) -> Result<(), RecordError> {
    append(tx, "visits", visit)
}

/// Moves a household to a stage, recording the move; a move backwards is
/// allowed but recorded as such.
pub fn move_stage(tx: &mut Tx<'_>, current: &str, event: StageEvent) -> Result<(), RecordError> {
    debug_assert_eq!(event.from, current);
    tx.put(automerge::ROOT, "stage", event.stage.as_str())?;
    append(tx, "stage_log", event)
}

/// Records an objection raised or resolved.
pub fn append_objection(tx: &mut Tx<'_>, event: ObjectionEvent) -> Result<(), RecordError> {
    append(tx, "objections", event)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::records::*;

    fn header(kind: Kind, project: Option<&str>) -> Header {
        Header {
            id: "aaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
            kind: kind.code().into(),
            unit: "pho-minh".into(),
            project: project.map(str::to_string),
            schema: SCHEMA_VERSION,
            creator: "X".into(),
            created_at: 1,
        }
    }

    /// One record of each kind, its optional fields a mix of set and unset.
    pub(crate) fn sample_records() -> Vec<Record> {
        vec![
            Record::Activity(Activity {
                header: header(Kind::Activity, None),
                activity_type: vocab::ACTIVITY_DIALOGUE.into(),
                date: "2023-07-17".into(),
                title: "Đối thoại".into(),
                place: None,
                organizers: Some("UBND".into()),
                attendance: Some(120),
                citizens: None,
                matters: Some(3),
                summary: None,
                results: None,
                petitions: vec![],
                tasks: vec!["t".into()],
            }),
            Record::Petition(Petition {
                header: header(Kind::Petition, None),
                petition_type: vocab::PETITION_COMPLAINT.into(),
                round: 2,
                complex: true,
                remote: false,
                channel: "don-thu".into(),
                received: "2023-07-20".into(),
                citizen: "Lê Văn C".into(),
                address: Some("Thôn 1".into()),
                id_number: None,
                content: "Nội dung".into(),
                category: None,
                assigned_unit: Some("pho-an".into()),
                status: vocab::PETITION_NEW.into(),
                answer: None,
                resolved: None,
            }),
            Record::Household(Household {
                header: header(Kind::Household, Some("cao-toc-bac-nam")),
                head: "Nguyễn Văn A".into(),
                village: None,
                parcels: vec![Parcel {
                    sheet: "12".into(),
                    number: "345".into(),
                    area_m2: 250.5,
                    land_type: "ONT".into(),
                }],
                inventory: None,
                compensation_vnd: Some(100_000_000),
                stage: vocab::STAGE_PLAN_POSTED.into(),
                stage_log: vec![],
                objections: vec![],
                visits: vec![],
            }),
            Record::Task(Task {
                header: header(Kind::Task, None),
                source: None,
                number: "2.4".into(),
                title: "Đảng ủy các xã, phường".into(),
                text: Some("- gạch đầu dòng".into()),
                assigned: vec!["pho-an".into(), "pho-minh".into()],
                due: None,
            }),
            Record::Progress(Progress {
                header: header(Kind::Progress, None),
                task: "t".into(),
                period: "2023-H2".into(),
                status: vocab::PROGRESS_DONE.into(),
                summary: "Xong".into(),
            }),
            Record::Model(Model {
                header: header(Kind::Model, None),
                name: "Mô hình".into(),
                field: "kinh-te".into(),
                year: 2023,
                results: None,
            }),
        ]
    }

    /// The store projects a new record from the value written instead of
    /// reading the document back: the two must be equal for every kind.
    #[test]
    fn a_written_record_reads_back_equal() {
        for record in sample_records() {
            let mut doc = automerge::Automerge::new();
            doc.transact(|tx| write_new(tx, &record))
                .map_err(|f| f.error)
                .unwrap();
            assert_eq!(read_record(&doc).unwrap(), record);
        }
    }
}
