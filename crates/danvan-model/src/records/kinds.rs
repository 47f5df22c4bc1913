//! The record types: one struct per kind, the header every record carries,
//! and the summary lists, search and reports read.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::RecordError;
use crate::vocab;

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

    /// The short Vietnamese name messages use: "đơn thư".
    pub fn name_vi(self) -> &'static str {
        match self {
            Kind::Activity => "hoạt động",
            Kind::Petition => "đơn thư",
            Kind::Household => "hộ GPMB",
            Kind::Task => "nhiệm vụ",
            Kind::Progress => "báo cáo tiến độ",
            Kind::Model => "mô hình",
        }
    }

    /// How a message names the kind: "đơn thư (petition)", the name an
    /// officer reads and the code the command line takes.
    pub fn named(self) -> String {
        format!("{} ({})", self.name_vi(), self.code())
    }

    /// [`Kind::named`] of a stored kind code, or the code itself when this
    /// build does not know it.
    pub fn named_code(code: &str) -> String {
        Kind::parse(code).map_or_else(|_| code.to_string(), Kind::named)
    }

    /// Reads a kind: its code, or its Vietnamese name or label typed with
    /// or without diacritics ("đơn thư", "don thu", "nhiệm vụ").
    pub fn parse(text: &str) -> Result<Kind, RecordError> {
        // A code, as the store and the wire hold it, without folding: a
        // report parses one per record read (folding every kind's name and
        // label each time was a fifth of a 6-month report's time).
        let code = text.trim();
        if let Some(kind) = Kind::ALL.into_iter().find(|k| k.code() == code) {
            return Ok(kind);
        }
        let folded = crate::fold(code);
        Kind::ALL
            .into_iter()
            .find(|k| folded == crate::fold(k.name_vi()) || folded == crate::fold(k.label_vi()))
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
        Ok(record_of_kind!(
            kind,
            serde_json::from_value(value).map_err(bad)?
        ))
    }

    /// Reads a record of a known kind from the text of its JSON, straight
    /// into its type: going through a `serde_json::Value` first, as
    /// [`Record::from_json`] must when the kind is unknown, reads it twice.
    pub fn from_json_str(kind: Kind, text: &str) -> Result<Record, RecordError> {
        let bad = |e: serde_json::Error| RecordError::Unreadable(e.to_string());
        Ok(record_of_kind!(
            kind,
            serde_json::from_str(text).map_err(bad)?
        ))
    }

    /// The header.
    pub fn header(&self) -> &Header {
        each_record!(self, r => &r.header)
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
        each_record!(self, r => serde_json::to_value(r)).unwrap_or(serde_json::Value::Null)
    }
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
