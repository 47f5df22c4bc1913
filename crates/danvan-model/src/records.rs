//! The record kinds and the rules that CRDT merge alone does not give.
//!
//! One record is one Automerge document. Its root holds a `header` map, fixed
//! at creation, and the kind's fields, mapped with autosurgeon. Appending to
//! lists (visits, stage log, objections) goes through functions here that
//! only ever insert, and the household pipeline stage is read as the furthest
//! of concurrent values.

use automerge::transaction::{Transactable, Transaction as Tx};
use automerge::{ObjType, ReadDoc, ScalarValue, Value};
use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::vocab::{self, Choice};

/// Version of the record layout written by this build.
pub const SCHEMA_VERSION: u64 = 1;

/// Why a record or a value was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RecordError {
    /// A kind this build does not know.
    #[error(
        "loại hồ sơ không hợp lệ: {0:?} (dùng: activity, petition, household, task, progress, model)"
    )]
    UnknownKind(String),
    /// A coded value not in its list.
    #[error("{field}: giá trị {value:?} không hợp lệ (dùng: {allowed})")]
    BadChoice {
        /// The field.
        field: String,
        /// What was given.
        value: String,
        /// The allowed codes.
        allowed: String,
    },
    /// A value of the wrong form (number, date, …).
    #[error("{field}: {message}")]
    BadValue {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A field this kind does not have, or one that cannot be set directly.
    #[error("hồ sơ loại {kind} không có trường {field:?} sửa được (các trường: {allowed})")]
    UnknownField {
        /// The record kind.
        kind: &'static str,
        /// The field given.
        field: String,
        /// The fields that can be set.
        allowed: String,
    },
    /// A required field is empty.
    #[error("thiếu {0}")]
    Missing(&'static str),
    /// The document does not hold a record this build can read.
    #[error("tài liệu không đọc được thành hồ sơ: {0}")]
    Unreadable(String),
    /// Automerge refused an operation.
    #[error("lỗi Automerge: {0}")]
    Automerge(String),
}

impl From<automerge::AutomergeError> for RecordError {
    fn from(e: automerge::AutomergeError) -> Self {
        RecordError::Automerge(e.to_string())
    }
}

impl From<autosurgeon::ReconcileError> for RecordError {
    fn from(e: autosurgeon::ReconcileError) -> Self {
        RecordError::Automerge(e.to_string())
    }
}

/// The kinds of record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// One dân vận activity.
    Activity,
    /// A citizen's feedback, petition, complaint or denunciation.
    Petition,
    /// A land-clearance case.
    Household,
    /// A task from a conclusion.
    Task,
    /// One unit's progress on a task for a period.
    Progress,
    /// A "Dân vận khéo" model.
    Model,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Activity,
        Kind::Petition,
        Kind::Household,
        Kind::Task,
        Kind::Progress,
        Kind::Model,
    ];

    /// The code stored in headers and typed on the command line.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Activity => "activity",
            Kind::Petition => "petition",
            Kind::Household => "household",
            Kind::Task => "task",
            Kind::Progress => "progress",
            Kind::Model => "model",
        }
    }

    /// The Vietnamese name.
    pub fn label_vi(self) -> &'static str {
        match self {
            Kind::Activity => "Hoạt động dân vận",
            Kind::Petition => "Phản ánh, kiến nghị, khiếu nại, tố cáo",
            Kind::Household => "Hộ bị ảnh hưởng (GPMB)",
            Kind::Task => "Nhiệm vụ",
            Kind::Progress => "Báo cáo tiến độ nhiệm vụ",
            Kind::Model => "Mô hình \"Dân vận khéo\"",
        }
    }

    /// Reads a kind code.
    pub fn parse(text: &str) -> Result<Kind, RecordError> {
        Kind::ALL
            .into_iter()
            .find(|k| k.code() == text.trim())
            .ok_or_else(|| RecordError::UnknownKind(text.to_string()))
    }
}

/// Fixed at creation, never changed.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Header {
    /// The record id (base32).
    pub id: String,
    /// The kind code.
    pub kind: String,
    /// The owning unit.
    pub unit: String,
    /// The land-clearance project, for households.
    #[autosurgeon(missing = "Default::default")]
    pub project: Option<String>,
    /// The layout version the record was created with.
    pub schema: u64,
    /// The node id of the creator.
    pub creator: String,
    /// The creator's wall clock at creation, ms since 1970. Informational
    /// only: field laptops' clocks are wrong, so nothing is ordered by it.
    pub created_at: i64,
}

/// One dân vận activity.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Activity {
    /// Header.
    pub header: Header,
    /// Activity type code (`vocab::ACTIVITY_TYPES`).
    pub activity_type: String,
    /// Day held, YYYY-MM-DD.
    pub date: String,
    /// Title.
    pub title: String,
    /// Place.
    #[autosurgeon(missing = "Default::default")]
    pub place: Option<String>,
    /// Organizers.
    #[autosurgeon(missing = "Default::default")]
    pub organizers: Option<String>,
    /// People attending.
    #[autosurgeon(missing = "Default::default")]
    pub attendance: Option<i64>,
    /// Citizens received (tiếp dân).
    #[autosurgeon(missing = "Default::default")]
    pub citizens: Option<i64>,
    /// Matters raised (tiếp dân, đối thoại).
    #[autosurgeon(missing = "Default::default")]
    pub matters: Option<i64>,
    /// Summary.
    #[autosurgeon(missing = "Default::default")]
    pub summary: Option<String>,
    /// Results.
    #[autosurgeon(missing = "Default::default")]
    pub results: Option<String>,
    /// Linked petitions (ids).
    #[autosurgeon(missing = "Default::default")]
    pub petitions: Vec<String>,
    /// Linked tasks (ids).
    #[autosurgeon(missing = "Default::default")]
    pub tasks: Vec<String>,
}

/// A citizen's feedback, petition, complaint or denunciation.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Petition {
    /// Header.
    pub header: Header,
    /// `vocab::PETITION_TYPES`.
    pub petition_type: String,
    /// 1 for a first complaint, 2 for a second one.
    pub round: i64,
    /// Complex case (vụ việc phức tạp): longer deadline.
    pub complex: bool,
    /// Remote area (vùng sâu, vùng xa): longer deadline.
    pub remote: bool,
    /// `vocab::PETITION_CHANNELS`.
    pub channel: String,
    /// Day received, YYYY-MM-DD.
    pub received: String,
    /// Citizen's name (personal data).
    pub citizen: String,
    /// Citizen's address (personal data).
    #[autosurgeon(missing = "Default::default")]
    pub address: Option<String>,
    /// Citizen's ID number (personal data).
    #[autosurgeon(missing = "Default::default")]
    pub id_number: Option<String>,
    /// What the citizen raised.
    pub content: String,
    /// Category (đất đai, môi trường, …), free text.
    #[autosurgeon(missing = "Default::default")]
    pub category: Option<String>,
    /// Unit assigned to resolve it.
    #[autosurgeon(missing = "Default::default")]
    pub assigned_unit: Option<String>,
    /// `vocab::PETITION_STATUSES`.
    pub status: String,
    /// The answer given.
    #[autosurgeon(missing = "Default::default")]
    pub answer: Option<String>,
    /// Day resolved, YYYY-MM-DD.
    #[autosurgeon(missing = "Default::default")]
    pub resolved: Option<String>,
}

/// A land parcel of a household.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Parcel {
    /// Map sheet (tờ bản đồ).
    pub sheet: String,
    /// Parcel number (thửa số).
    pub number: String,
    /// Area in m².
    pub area_m2: f64,
    /// Land type (ONT, LUC, CLN, …).
    pub land_type: String,
}

/// One persuasion visit. Visits are only ever appended.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Visit {
    /// Day of the visit.
    pub date: String,
    /// Who visited.
    pub by: String,
    /// Outcome.
    pub outcome: String,
    /// The node that recorded it.
    pub node: String,
}

/// One move of the pipeline, as recorded. Only ever appended.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct StageEvent {
    /// The stage moved to.
    pub stage: String,
    /// The stage it was at, as seen by the node that moved it.
    pub from: String,
    /// Whether this was a move backwards.
    pub backwards: bool,
    /// Day of the move.
    pub date: String,
    /// Who moved it.
    pub by: String,
    /// The node that recorded it.
    pub node: String,
}

/// An objection raised or resolved. Only ever appended.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct ObjectionEvent {
    /// `khieu-nai` (raised) or `het-khieu-nai` (resolved).
    pub action: String,
    /// Day.
    pub date: String,
    /// Stage at the time.
    pub stage: String,
    /// Note.
    pub note: String,
    /// The node that recorded it.
    pub node: String,
}

/// A land-clearance case.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Household {
    /// Header (with the project).
    pub header: Header,
    /// Head of household.
    pub head: String,
    /// Village.
    #[autosurgeon(missing = "Default::default")]
    pub village: Option<String>,
    /// Parcels.
    #[autosurgeon(missing = "Default::default")]
    pub parcels: Vec<Parcel>,
    /// Inventory (land, structures, crops), free text.
    #[autosurgeon(missing = "Default::default")]
    pub inventory: Option<String>,
    /// Compensation amount in đồng.
    #[autosurgeon(missing = "Default::default")]
    pub compensation_vnd: Option<i64>,
    /// Pipeline stage; concurrent values resolve to the furthest.
    pub stage: String,
    /// Every stage move.
    #[autosurgeon(missing = "Default::default")]
    pub stage_log: Vec<StageEvent>,
    /// Objections raised and resolved.
    #[autosurgeon(missing = "Default::default")]
    pub objections: Vec<ObjectionEvent>,
    /// Persuasion visits.
    #[autosurgeon(missing = "Default::default")]
    pub visits: Vec<Visit>,
}

/// A task from a conclusion.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Task {
    /// Header.
    pub header: Header,
    /// The source document.
    #[autosurgeon(missing = "Default::default")]
    pub source: Option<String>,
    /// Number in the source (1.5, 2.4).
    pub number: String,
    /// Heading.
    pub title: String,
    /// Full text.
    #[autosurgeon(missing = "Default::default")]
    pub text: Option<String>,
    /// Assigned unit ids.
    #[autosurgeon(missing = "Default::default")]
    pub assigned: Vec<String>,
    /// Deadline.
    #[autosurgeon(missing = "Default::default")]
    pub due: Option<String>,
}

/// One unit's progress on a task for a period.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Progress {
    /// Header (unit = the reporting unit).
    pub header: Header,
    /// The task's id.
    pub task: String,
    /// Period, e.g. 2023-H2.
    pub period: String,
    /// `vocab::PROGRESS_STATUSES`.
    pub status: String,
    /// Narrative.
    pub summary: String,
}

/// A "Dân vận khéo" exemplary model.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct Model {
    /// Header.
    pub header: Header,
    /// Name.
    pub name: String,
    /// `vocab::MODEL_FIELDS`.
    pub field: String,
    /// Year recognized.
    pub year: i64,
    /// Results.
    #[autosurgeon(missing = "Default::default")]
    pub results: Option<String>,
}

/// A record of any kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// Activity.
    Activity(Activity),
    /// Petition.
    Petition(Petition),
    /// Household.
    Household(Household),
    /// Task.
    Task(Task),
    /// Progress.
    Progress(Progress),
    /// Model.
    Model(Model),
}

/// Summary values of a record, for lists, search and reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Record id.
    pub id: String,
    /// Kind code.
    pub kind: &'static str,
    /// Owning unit.
    pub unit: String,
    /// Project, for households.
    pub project: Option<String>,
    /// Title line.
    pub title: String,
    /// The record's own date (YYYY-MM-DD), if any.
    pub date: Option<String>,
    /// Start of the days the record covers, for period filters.
    pub date_from: Option<String>,
    /// End of the days the record covers.
    pub date_to: Option<String>,
    /// Status or stage code.
    pub status: Option<String>,
    /// Diacritic-folded text to search.
    pub search: String,
}

/// Title, date, date range, status and extra search text of a record.
type SummaryParts<'a> = (
    String,
    Option<String>,
    Option<(String, String)>,
    Option<String>,
    Vec<&'a str>,
);

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(chars).collect();
        s.push('…');
        s
    }
}

impl Record {
    /// Reads a record from the JSON of [`Record::to_json`] (as kept in the
    /// store's projection), using the header's kind.
    pub fn from_json(value: serde_json::Value) -> Result<Record, RecordError> {
        let kind = value
            .get("header")
            .and_then(|h| h.get("kind"))
            .and_then(|k| k.as_str())
            .ok_or_else(|| RecordError::Unreadable("thiếu header.kind".into()))
            .and_then(Kind::parse)?;
        let bad = |e: serde_json::Error| RecordError::Unreadable(e.to_string());
        Ok(match kind {
            Kind::Activity => Record::Activity(serde_json::from_value(value).map_err(bad)?),
            Kind::Petition => Record::Petition(serde_json::from_value(value).map_err(bad)?),
            Kind::Household => Record::Household(serde_json::from_value(value).map_err(bad)?),
            Kind::Task => Record::Task(serde_json::from_value(value).map_err(bad)?),
            Kind::Progress => Record::Progress(serde_json::from_value(value).map_err(bad)?),
            Kind::Model => Record::Model(serde_json::from_value(value).map_err(bad)?),
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        match self {
            Record::Activity(r) => &r.header,
            Record::Petition(r) => &r.header,
            Record::Household(r) => &r.header,
            Record::Task(r) => &r.header,
            Record::Progress(r) => &r.header,
            Record::Model(r) => &r.header,
        }
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        match self {
            Record::Activity(_) => Kind::Activity,
            Record::Petition(_) => Kind::Petition,
            Record::Household(_) => Kind::Household,
            Record::Task(_) => Kind::Task,
            Record::Progress(_) => Kind::Progress,
            Record::Model(_) => Kind::Model,
        }
    }

    /// The values lists, search and reports use.
    pub fn summary(&self) -> Summary {
        let h = self.header();
        let (title, date, range, status, extra): SummaryParts<'_> = match self {
            Record::Activity(r) => (
                r.title.clone(),
                Some(r.date.clone()),
                None,
                None,
                vec![
                    vocab::label(vocab::ACTIVITY_TYPES, &r.activity_type),
                    r.place.as_deref().unwrap_or(""),
                    r.organizers.as_deref().unwrap_or(""),
                    r.summary.as_deref().unwrap_or(""),
                    r.results.as_deref().unwrap_or(""),
                ],
            ),
            Record::Petition(r) => (
                format!("{}: {}", r.citizen, truncate(&r.content, 80)),
                Some(r.received.clone()),
                None,
                Some(r.status.clone()),
                vec![
                    &r.content,
                    r.category.as_deref().unwrap_or(""),
                    r.address.as_deref().unwrap_or(""),
                    vocab::label(vocab::PETITION_TYPES, &r.petition_type),
                ],
            ),
            Record::Household(r) => (
                r.head.clone(),
                r.visits.iter().map(|v| v.date.clone()).max(),
                None,
                Some(r.stage.clone()),
                vec![
                    r.village.as_deref().unwrap_or(""),
                    r.inventory.as_deref().unwrap_or(""),
                ],
            ),
            Record::Task(r) => (
                format!("{}. {}", r.number, r.title),
                r.due.clone(),
                None,
                None,
                vec![
                    r.text.as_deref().unwrap_or(""),
                    r.source.as_deref().unwrap_or(""),
                ],
            ),
            Record::Progress(r) => {
                let range = r
                    .period
                    .parse::<crate::Period>()
                    .ok()
                    .map(|p| (crate::format_date(p.start), crate::format_date(p.end)));
                (
                    format!("Tiến độ {}: {}", r.period, truncate(&r.summary, 80)),
                    range.as_ref().map(|r| r.1.clone()),
                    range,
                    Some(r.status.clone()),
                    vec![&r.summary],
                )
            }
            Record::Model(r) => (
                r.name.clone(),
                None,
                Some((
                    format!("{:04}-01-01", r.year),
                    format!("{:04}-12-31", r.year),
                )),
                None,
                vec![
                    vocab::label(vocab::MODEL_FIELDS, &r.field),
                    r.results.as_deref().unwrap_or(""),
                ],
            ),
        };
        let (date_from, date_to) = match (&range, &date) {
            (Some((a, b)), _) => (Some(a.clone()), Some(b.clone())),
            (None, Some(d)) => (Some(d.clone()), Some(d.clone())),
            (None, None) => (None, None),
        };
        let mut search = title.clone();
        for part in extra {
            if !part.is_empty() {
                search.push(' ');
                search.push_str(part);
            }
        }
        Summary {
            id: h.id.clone(),
            kind: self.kind().code(),
            unit: h.unit.clone(),
            project: h.project.clone(),
            title,
            date,
            date_from,
            date_to,
            status,
            search: crate::fold(&search),
        }
    }

    /// The whole record as JSON (header fields included).
    pub fn to_json(&self) -> serde_json::Value {
        let result = match self {
            Record::Activity(r) => serde_json::to_value(r),
            Record::Petition(r) => serde_json::to_value(r),
            Record::Household(r) => serde_json::to_value(r),
            Record::Task(r) => serde_json::to_value(r),
            Record::Progress(r) => serde_json::to_value(r),
            Record::Model(r) => serde_json::to_value(r),
        };
        result.unwrap_or(serde_json::Value::Null)
    }
}

/// Reads the record held by a document. The household stage is the furthest
/// of concurrent values.
pub fn read_record(doc: &automerge::Automerge) -> Result<Record, RecordError> {
    // Only the kind is needed to choose the type; the full read below reads
    // the header again as part of the record.
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

/// Reads only the header of a document.
pub fn read_header(doc: &automerge::Automerge) -> Result<Header, RecordError> {
    autosurgeon::hydrate_prop(doc, automerge::ROOT, "header")
        .map_err(|e| RecordError::Unreadable(e.to_string()))
}

/// The furthest of the concurrent values of a household's stage.
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

/// Writes a new record into an empty document (inside a transaction).
pub fn write_new(tx: &mut Tx<'_>, record: &Record) -> Result<(), RecordError> {
    match record {
        Record::Activity(r) => autosurgeon::reconcile(tx, r)?,
        Record::Petition(r) => autosurgeon::reconcile(tx, r)?,
        Record::Household(r) => autosurgeon::reconcile(tx, r)?,
        Record::Task(r) => autosurgeon::reconcile(tx, r)?,
        Record::Progress(r) => autosurgeon::reconcile(tx, r)?,
        Record::Model(r) => autosurgeon::reconcile(tx, r)?,
    }
    Ok(())
}

/// How a field's text is read.
#[derive(Clone, Copy, Debug)]
pub enum FieldType {
    /// Free text; empty clears it.
    Text,
    /// Required free text.
    RequiredText,
    /// A whole number ≥ 0; empty clears it.
    Count,
    /// An amount in đồng ≥ 0; empty clears it.
    Money,
    /// A date; empty clears it unless required.
    Date {
        /// Whether it must be set.
        required: bool,
    },
    /// yes/no.
    Bool,
    /// One of a list of codes.
    Choice(&'static [Choice]),
    /// A year.
    Year,
    /// 1 or 2.
    Round,
    /// A unit id (checked against the tree by the caller).
    Unit,
}

/// A field that `edit --set` may change.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    /// Name in the document and on the command line.
    pub name: &'static str,
    /// Vietnamese label.
    pub label_vi: &'static str,
    /// How it is read.
    pub ty: FieldType,
}

const fn field(name: &'static str, label_vi: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec { name, label_vi, ty }
}

/// The fields `edit --set` may change, per kind. Header fields, lists and the
/// household stage are not among them: they have their own commands.
pub fn editable_fields(kind: Kind) -> &'static [FieldSpec] {
    use FieldType::*;
    match kind {
        Kind::Activity => {
            const FIELDS: &[FieldSpec] = &[
                field(
                    "activity_type",
                    "loại hoạt động",
                    Choice(vocab::ACTIVITY_TYPES),
                ),
                field("date", "ngày", Date { required: true }),
                field("title", "tiêu đề", RequiredText),
                field("place", "địa điểm", Text),
                field("organizers", "đơn vị, người tổ chức", Text),
                field("attendance", "số người tham dự", Count),
                field("citizens", "số lượt công dân", Count),
                field("matters", "số vụ việc, ý kiến", Count),
                field("summary", "tóm tắt", Text),
                field("results", "kết quả", Text),
            ];
            FIELDS
        }
        Kind::Petition => {
            const FIELDS: &[FieldSpec] = &[
                field("petition_type", "loại đơn", Choice(vocab::PETITION_TYPES)),
                field("round", "lần khiếu nại", Round),
                field("complex", "vụ việc phức tạp", Bool),
                field("remote", "vùng sâu, vùng xa", Bool),
                field(
                    "channel",
                    "hình thức tiếp nhận",
                    Choice(vocab::PETITION_CHANNELS),
                ),
                field("received", "ngày tiếp nhận", Date { required: true }),
                field("citizen", "công dân", RequiredText),
                field("address", "địa chỉ", Text),
                field("id_number", "số CCCD", Text),
                field("content", "nội dung", RequiredText),
                field("category", "lĩnh vực", Text),
                field("assigned_unit", "đơn vị giải quyết", Unit),
                field("status", "trạng thái", Choice(vocab::PETITION_STATUSES)),
                field("answer", "trả lời", Text),
                field("resolved", "ngày giải quyết xong", Date { required: false }),
            ];
            FIELDS
        }
        Kind::Household => {
            const FIELDS: &[FieldSpec] = &[
                field("head", "chủ hộ", RequiredText),
                field("village", "thôn", Text),
                field("inventory", "kiểm đếm", Text),
                field("compensation_vnd", "số tiền bồi thường (đồng)", Money),
            ];
            FIELDS
        }
        Kind::Task => {
            const FIELDS: &[FieldSpec] = &[
                field("source", "văn bản nguồn", Text),
                field("number", "số thứ tự", RequiredText),
                field("title", "tiêu đề", RequiredText),
                field("text", "nội dung", Text),
                field("due", "thời hạn", Date { required: false }),
            ];
            FIELDS
        }
        Kind::Progress => {
            const FIELDS: &[FieldSpec] = &[
                field("status", "trạng thái", Choice(vocab::PROGRESS_STATUSES)),
                field("summary", "nội dung báo cáo", RequiredText),
            ];
            FIELDS
        }
        Kind::Model => {
            const FIELDS: &[FieldSpec] = &[
                field("name", "tên mô hình", RequiredText),
                field("field", "lĩnh vực", Choice(vocab::MODEL_FIELDS)),
                field("year", "năm công nhận", Year),
                field("results", "kết quả", Text),
            ];
            FIELDS
        }
    }
}

/// Finds the spec of an editable field.
pub fn field_spec(kind: Kind, name: &str) -> Result<&'static FieldSpec, RecordError> {
    editable_fields(kind)
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| RecordError::UnknownField {
            kind: kind.code(),
            field: name.to_string(),
            allowed: editable_fields(kind)
                .iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Reads a field value typed by a user. `Ok(None)` clears the field.
pub fn parse_field(spec: &FieldSpec, text: &str) -> Result<Option<ScalarValue>, RecordError> {
    let text = text.trim();
    let bad = |message: String| RecordError::BadValue {
        field: spec.name.to_string(),
        message,
    };
    use FieldType::*;
    Ok(match spec.ty {
        Text | Unit if text.is_empty() => None,
        Text | Unit => Some(ScalarValue::Str(text.into())),
        RequiredText if text.is_empty() => return Err(RecordError::Missing(spec.label_vi)),
        RequiredText => Some(ScalarValue::Str(text.into())),
        Count | Money if text.is_empty() => None,
        Count | Money => {
            let cleaned: String = text
                .chars()
                .filter(|c| !matches!(c, '.' | ',' | ' ' | '_'))
                .collect();
            let n: i64 = cleaned
                .parse()
                .map_err(|_| bad(format!("{text:?} không phải số nguyên")))?;
            if n < 0 {
                return Err(bad(format!("{text:?} là số âm")));
            }
            Some(ScalarValue::Int(n))
        }
        Date { required } if text.is_empty() => {
            if required {
                return Err(RecordError::Missing(spec.label_vi));
            }
            None
        }
        Date { .. } => Some(ScalarValue::Str(
            crate::normalize_date(text)
                .map_err(|e| bad(e.to_string()))?
                .into(),
        )),
        Bool => Some(ScalarValue::Boolean(match crate::fold(text).as_str() {
            "1" | "true" | "yes" | "co" | "x" => true,
            "0" | "false" | "no" | "khong" | "" => false,
            _ => return Err(bad(format!("{text:?}: dùng co hoặc khong"))),
        })),
        Choice(choices) => {
            if !choices.iter().any(|(c, _)| *c == text) {
                return Err(RecordError::BadChoice {
                    field: spec.name.to_string(),
                    value: text.to_string(),
                    allowed: vocab::codes(choices),
                });
            }
            Some(ScalarValue::Str(text.into()))
        }
        Year => {
            let y: i64 = text
                .parse()
                .map_err(|_| bad(format!("{text:?} không phải năm")))?;
            if !(1945..=2200).contains(&y) {
                return Err(bad(format!("năm {y} không hợp lệ")));
            }
            Some(ScalarValue::Int(y))
        }
        Round => match text {
            "1" => Some(ScalarValue::Int(1)),
            "2" => Some(ScalarValue::Int(2)),
            _ => return Err(bad("lần khiếu nại là 1 hoặc 2".into())),
        },
    })
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

impl Household {
    /// Whether an objection is open: more raised than resolved.
    pub fn objection_open(&self) -> bool {
        let raised = self
            .objections
            .iter()
            .filter(|o| o.action == vocab::OBJECTION.0)
            .count();
        raised > self.objections.len() - raised
    }

    /// Total area of the parcels in m².
    pub fn area_m2(&self) -> f64 {
        self.parcels.iter().map(|p| p.area_m2).sum()
    }
}

/// A field edited concurrently to different values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Conflict {
    /// The field.
    pub field: &'static str,
    /// Its Vietnamese label.
    pub label_vi: &'static str,
    /// The competing values, the one shown by default first.
    pub values: Vec<serde_json::Value>,
}

fn scalar_json(value: &Value<'_>) -> serde_json::Value {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => serde_json::Value::String(s.to_string()),
            ScalarValue::Int(i) => serde_json::json!(i),
            ScalarValue::Uint(i) => serde_json::json!(i),
            ScalarValue::F64(f) => serde_json::json!(f),
            ScalarValue::Boolean(b) => serde_json::json!(b),
            ScalarValue::Null => serde_json::Value::Null,
            other => serde_json::Value::String(other.to_string()),
        },
        Value::Object(_) => serde_json::Value::String("(đối tượng)".into()),
    }
}

/// The editable fields of a document that hold more than one concurrent
/// value. The household stage is not among them: it resolves to the furthest.
pub fn conflicts(doc: &automerge::Automerge, kind: Kind) -> Vec<Conflict> {
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
        // get_all lists values in op order with the default winner last.
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

/// Days allowed to resolve a petition, from the day it was received.
///
/// Complaints (Luật Khiếu nại 2011, arts. 28 and 37): a first complaint 30
/// days, 45 if complex or in a remote area, 60 if both; a second complaint
/// 45, 60 if complex or remote, 70 if both. Denunciations (Luật Tố cáo 2018,
/// art. 30): 30 days, 60 if complex. Feedback and proposals have no statutory
/// deadline in those laws; danvan uses 15 days (a decision of this project,
/// recorded in ARCHITECTURE.md).
pub fn petition_deadline_days(petition_type: &str, round: i64, complex: bool, remote: bool) -> i64 {
    match petition_type {
        "khieu-nai" => match (round >= 2, complex, remote) {
            (false, false, false) => 30,
            (false, true, true) => 60,
            (false, _, _) => 45,
            (true, false, false) => 45,
            (true, true, true) => 70,
            (true, _, _) => 60,
        },
        "to-cao" => {
            if complex {
                60
            } else {
                30
            }
        }
        _ => 15,
    }
}

impl Petition {
    /// The statutory deadline, YYYY-MM-DD.
    pub fn deadline(&self) -> Option<String> {
        let received = crate::parse_date(&self.received).ok()?;
        let days =
            petition_deadline_days(&self.petition_type, self.round, self.complex, self.remote);
        Some(crate::format_date(received + time::Duration::days(days)))
    }

    /// Whether the case is closed.
    pub fn is_closed(&self) -> bool {
        vocab::PETITION_CLOSED.contains(&self.status.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complaint_deadlines_follow_the_law() {
        let cases = [
            ("khieu-nai", 1, false, false, 30),
            ("khieu-nai", 1, true, false, 45),
            ("khieu-nai", 1, false, true, 45),
            ("khieu-nai", 1, true, true, 60),
            ("khieu-nai", 2, false, false, 45),
            ("khieu-nai", 2, true, false, 60),
            ("khieu-nai", 2, false, true, 60),
            ("khieu-nai", 2, true, true, 70),
            ("to-cao", 1, false, false, 30),
            ("to-cao", 1, true, false, 60),
            ("phan-anh", 1, false, false, 15),
        ];
        for (t, round, complex, remote, days) in cases {
            assert_eq!(
                petition_deadline_days(t, round, complex, remote),
                days,
                "{t} {round} {complex} {remote}"
            );
        }
    }

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

    /// The store projects a new record from the value written instead of
    /// reading the document back: the two must be equal for every kind.
    #[test]
    fn a_written_record_reads_back_equal() {
        let records = vec![
            Record::Activity(Activity {
                header: header(Kind::Activity, None),
                activity_type: "doi-thoai".into(),
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
                petition_type: "khieu-nai".into(),
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
                status: "moi".into(),
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
                stage: "cong-khai".into(),
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
                status: "hoan-thanh".into(),
                summary: "Xong".into(),
            }),
            Record::Model(Model {
                header: header(Kind::Model, None),
                name: "Mô hình".into(),
                field: "kinh-te".into(),
                year: 2023,
                results: None,
            }),
        ];
        for record in records {
            let mut doc = automerge::Automerge::new();
            doc.transact(|tx| write_new(tx, &record))
                .map_err(|f| f.error)
                .unwrap();
            assert_eq!(read_record(&doc).unwrap(), record);
        }
    }

    #[test]
    fn parse_field_checks_values() {
        let spec = field_spec(Kind::Activity, "attendance").unwrap();
        assert_eq!(
            parse_field(spec, "1.200").unwrap(),
            Some(ScalarValue::Int(1200))
        );
        assert!(parse_field(spec, "nhiều").is_err());
        assert!(parse_field(spec, "-3").is_err());
        let date = field_spec(Kind::Activity, "date").unwrap();
        assert!(parse_field(date, "2023-02-30").is_err());
        assert!(parse_field(date, "").is_err());
        assert!(field_spec(Kind::Household, "stage").is_err());
        let status = field_spec(Kind::Petition, "status").unwrap();
        assert!(parse_field(status, "xong").is_err());
    }
}
