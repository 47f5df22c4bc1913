//! The service API under every interface: the CLI and the web app parse
//! their input into the drafts and queries here, call these methods and
//! render what comes back. Every decision about records, scopes and sync is
//! made in this crate, below them, once.
//!
//! Drafts carry text as it was typed (a form field, a command-line value):
//! each field is read by the same parser `edit --set` uses
//! ([`danvan_model::parse_field`]), and every bad field is reported with its
//! name, so a form can show each message beside its field and the CLI
//! prints the same words.

use std::net::SocketAddr;
use std::path::Path;

use automerge::ScalarValue;
use danvan_model::{DocId, Kind, NodeId, Record, RecordError, vocab};
use danvan_net::PeerAddr;
use danvan_store::{ListFilter, Row, TrustedNode};

use crate::access::AUTHORITY_KEY_FILE;
use crate::error::NodeError;
use crate::node::Node;
use crate::sync::{SharedNode, SyncSummary};
use crate::transfer::parse_parcel;

/// One field a draft could not use, and why (in Vietnamese, the same
/// message the CLI prints).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field's name (a record field, or `unit`, `project`, `parcels`,
    /// `assigned`, `task`, `period`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Why a draft was not stored. Nothing is stored in either case.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    /// Some fields are not usable; each is named.
    #[error("{}", join_messages(.0))]
    Fields(Vec<FieldError>),
    /// The node refused the record (roster, disk, …).
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl DraftError {
    /// The exit code of the CLI command that failed with it (see
    /// [`NodeError::exit_code`]); bad fields are 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            DraftError::Fields(_) => 1,
            DraftError::Node(e) => e.exit_code(),
        }
    }
}

fn join_messages(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

impl DraftError {
    /// The message for `field`, if that field was refused, without the
    /// field's code in front (a form shows it beside the field).
    pub fn for_field(&self, field: &str) -> Option<&str> {
        match self {
            DraftError::Fields(errors) => errors.iter().find(|e| e.field == field).map(|e| {
                e.message
                    .strip_prefix(field)
                    .and_then(|m| m.strip_prefix(": "))
                    .unwrap_or(&e.message)
            }),
            DraftError::Node(_) => None,
        }
    }
}

/// A new dân vận activity.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ActivityDraft {
    /// Owning unit (empty: this node's).
    pub unit: String,
    /// `tuyen-truyen`, `tiep-dan`, `doi-thoai`, …
    pub activity_type: String,
    /// `YYYY-MM-DD` or `DD/MM/YYYY`.
    pub date: String,
    /// Title.
    pub title: String,
    /// Place.
    pub place: String,
    /// Organizers.
    pub organizers: String,
    /// People attending.
    pub attendance: String,
    /// Citizens received.
    pub citizens: String,
    /// Matters raised.
    pub matters: String,
    /// Summary.
    pub summary: String,
    /// Results.
    pub results: String,
}

/// A new citizen petition (feedback, proposal, complaint, denunciation).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct PetitionDraft {
    /// Owning unit (empty: this node's).
    pub unit: String,
    /// `phan-anh`, `kien-nghi`, `khieu-nai`, `to-cao` (empty: `phan-anh`).
    pub petition_type: String,
    /// Complaint round, 1 or 2 (empty: 1).
    pub round: String,
    /// Complex case (`co`/`khong`, or a checkbox's `on`).
    pub complex: String,
    /// Remote area.
    pub remote: String,
    /// How it was received (empty: `truc-tiep`).
    pub channel: String,
    /// Date received.
    pub received: String,
    /// The citizen.
    pub citizen: String,
    /// Address.
    pub address: String,
    /// CCCD number.
    pub id_number: String,
    /// Content.
    pub content: String,
    /// Category.
    pub category: String,
    /// Unit assigned to resolve it.
    pub assigned_unit: String,
}

/// A new land-clearance household.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct HouseholdDraft {
    /// Owning unit (empty: this node's).
    pub unit: String,
    /// Project code.
    pub project: String,
    /// Head of household.
    pub head: String,
    /// Village.
    pub village: String,
    /// Parcels, one per entry, `TỜ/THỬA:DIỆN_TÍCH_M2:LOẠI_ĐẤT`.
    pub parcels: Vec<String>,
    /// Inventory notes.
    pub inventory: String,
    /// Compensation in đồng.
    pub compensation_vnd: String,
}

/// A new task from a conclusion.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct TaskDraft {
    /// Issuing unit (empty: this node's).
    pub unit: String,
    /// Number in the conclusion, e.g. `2.4`.
    pub number: String,
    /// Title.
    pub title: String,
    /// Full text.
    pub text: String,
    /// Units assigned.
    pub assigned: Vec<String>,
    /// Deadline.
    pub due: String,
    /// Source document.
    pub source: String,
}

/// A unit's progress report on a task for a period.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ProgressDraft {
    /// Reporting unit (empty: this node's).
    pub unit: String,
    /// The task: its id, a unique id prefix, or its number (`2.4`).
    pub task: String,
    /// Period: `2023-H2`, `2023`, `2023-Q3`, …
    pub period: String,
    /// `chua-thuc-hien`, `dang-thuc-hien`, `hoan-thanh`.
    pub status: String,
    /// Narrative.
    pub summary: String,
}

/// A new "Dân vận khéo" model.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ModelDraft {
    /// Owning unit (empty: this node's).
    pub unit: String,
    /// Name.
    pub name: String,
    /// `kinh-te`, `van-hoa-xa-hoi`, …
    pub field: String,
    /// Year recognized.
    pub year: String,
    /// Results.
    pub results: String,
}

/// A new record of any kind.
#[derive(Debug, Clone)]
pub enum Draft {
    /// An activity.
    Activity(ActivityDraft),
    /// A petition.
    Petition(PetitionDraft),
    /// A household.
    Household(HouseholdDraft),
    /// A task.
    Task(TaskDraft),
    /// A progress report.
    Progress(ProgressDraft),
    /// A model.
    Model(ModelDraft),
}

impl Draft {
    /// A draft of `kind` from a JSON object of its fields by code, as a
    /// form posts them (missing fields empty).
    pub fn from_value(kind: Kind, value: serde_json::Value) -> Result<Draft, serde_json::Error> {
        Ok(match kind {
            Kind::Activity => Draft::Activity(serde_json::from_value(value)?),
            Kind::Petition => Draft::Petition(serde_json::from_value(value)?),
            Kind::Household => Draft::Household(serde_json::from_value(value)?),
            Kind::Task => Draft::Task(serde_json::from_value(value)?),
            Kind::Progress => Draft::Progress(serde_json::from_value(value)?),
            Kind::Model => Draft::Model(serde_json::from_value(value)?),
        })
    }
}

impl Draft {
    /// The kind of record it makes.
    pub fn kind(&self) -> Kind {
        match self {
            Draft::Activity(_) => Kind::Activity,
            Draft::Petition(_) => Kind::Petition,
            Draft::Household(_) => Kind::Household,
            Draft::Task(_) => Kind::Task,
            Draft::Progress(_) => Kind::Progress,
            Draft::Model(_) => Kind::Model,
        }
    }

    fn unit(&self) -> &str {
        match self {
            Draft::Activity(d) => &d.unit,
            Draft::Petition(d) => &d.unit,
            Draft::Household(d) => &d.unit,
            Draft::Task(d) => &d.unit,
            Draft::Progress(d) => &d.unit,
            Draft::Model(d) => &d.unit,
        }
    }

    /// The editable fields' text, by field name, with the defaults a new
    /// record starts with where the text is empty.
    fn field_texts(&self) -> Vec<(&'static str, String)> {
        fn or(text: &str, default: &str) -> String {
            if text.trim().is_empty() {
                default.to_string()
            } else {
                text.to_string()
            }
        }
        // A checkbox posts `on`; the field parser reads `co`/`khong`.
        fn checkbox(text: &str) -> String {
            if text.trim() == "on" {
                "co".into()
            } else {
                text.to_string()
            }
        }
        match self {
            Draft::Activity(d) => vec![
                ("activity_type", d.activity_type.clone()),
                ("date", d.date.clone()),
                ("title", d.title.clone()),
                ("place", d.place.clone()),
                ("organizers", d.organizers.clone()),
                ("attendance", d.attendance.clone()),
                ("citizens", d.citizens.clone()),
                ("matters", d.matters.clone()),
                ("summary", d.summary.clone()),
                ("results", d.results.clone()),
            ],
            Draft::Petition(d) => vec![
                (
                    "petition_type",
                    or(&d.petition_type, vocab::PETITION_TYPES[0].0),
                ),
                ("round", or(&d.round, "1")),
                ("complex", checkbox(&d.complex)),
                ("remote", checkbox(&d.remote)),
                ("channel", or(&d.channel, vocab::PETITION_CHANNELS[0].0)),
                ("received", d.received.clone()),
                ("citizen", d.citizen.clone()),
                ("address", d.address.clone()),
                ("id_number", d.id_number.clone()),
                ("content", d.content.clone()),
                ("category", d.category.clone()),
                ("assigned_unit", d.assigned_unit.clone()),
                ("status", vocab::PETITION_STATUSES[0].0.to_string()),
            ],
            Draft::Household(d) => vec![
                ("head", d.head.clone()),
                ("village", d.village.clone()),
                ("inventory", d.inventory.clone()),
                ("compensation_vnd", d.compensation_vnd.clone()),
            ],
            Draft::Task(d) => vec![
                ("source", d.source.clone()),
                ("number", d.number.clone()),
                ("title", d.title.clone()),
                ("text", d.text.clone()),
                ("due", d.due.clone()),
            ],
            Draft::Progress(d) => {
                vec![("status", d.status.clone()), ("summary", d.summary.clone())]
            }
            Draft::Model(d) => vec![
                ("name", d.name.clone()),
                ("field", d.field.clone()),
                ("year", d.year.clone()),
                ("results", d.results.clone()),
            ],
        }
    }
}

fn scalar_json(value: &ScalarValue) -> serde_json::Value {
    match value {
        ScalarValue::Str(s) => serde_json::Value::String(s.to_string()),
        ScalarValue::Int(n) => (*n).into(),
        ScalarValue::Uint(n) => (*n).into(),
        ScalarValue::Boolean(b) => (*b).into(),
        ScalarValue::F64(f) => (*f).into(),
        other => serde_json::Value::String(other.to_string()),
    }
}

/// Collects the errors of one draft, each under its field's name.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn add(&mut self, field: &str, error: impl std::fmt::Display) {
        if !self.0.iter().any(|e| e.field == field) {
            self.0.push(FieldError {
                field: field.to_string(),
                message: error.to_string(),
            });
        }
    }
}

/// How a record list is asked for, as typed (codes, ids, a period, words).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ListQuery {
    /// Kind code or Vietnamese name.
    pub kind: Option<String>,
    /// Unit id: the unit, its subtree and units merged into it.
    pub unit: Option<String>,
    /// Period: `2023-H1`, `2023`, `2023-07`, `A..B`.
    pub period: Option<String>,
    /// Status or stage code.
    pub status: Option<String>,
    /// Project code.
    pub project: Option<String>,
    /// Words to find, with or without diacritics.
    pub search: Option<String>,
    /// Only records with conflicts.
    pub conflicts_only: bool,
    /// At most this many rows.
    pub limit: Option<usize>,
}

/// The figures `check` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    /// Problems found; empty when the store is sound.
    pub problems: Vec<String>,
    /// What is sound but unwise (the authority key on a hub), in Vietnamese.
    pub warnings: Vec<String>,
    /// Records in the projection.
    pub records: u64,
    /// Changes in the log.
    pub changes: u64,
    /// Documents.
    pub documents: u64,
}

impl CheckReport {
    /// Whether nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn non_empty(text: &str) -> Option<&str> {
    let t = text.trim();
    (!t.is_empty()).then_some(t)
}

impl Node {
    /// The data directory.
    pub fn dir(&self) -> &Path {
        self.store().dir()
    }

    /// Whether this data directory holds the town's authority key (the
    /// town office, which signs the roster).
    pub fn is_authority(&self) -> bool {
        self.dir().join(AUTHORITY_KEY_FILE).exists()
    }

    /// Builds the record a draft describes, checking every field; all bad
    /// fields are reported together. Nothing is stored.
    pub fn build(&self, draft: &Draft) -> Result<Record, DraftError> {
        let kind = draft.kind();
        let mut problems = Problems::default();
        let unit = non_empty(draft.unit());
        if let Some(u) = unit
            && let Err(e) = self.units().require(u)
        {
            problems.add("unit", e);
        }
        let mut fields = serde_json::Map::new();
        for (name, text) in draft.field_texts() {
            let spec = danvan_model::field_spec(kind, name).map_err(NodeError::from)?;
            match danvan_model::parse_field(spec, &text) {
                Ok(Some(value)) => {
                    if matches!(spec.ty, danvan_model::FieldType::Unit)
                        && let Err(e) = self.units().require(text.trim())
                    {
                        problems.add(name, e);
                    }
                    fields.insert(name.into(), scalar_json(&value));
                }
                Ok(None) => {}
                Err(e) => problems.add(name, e),
            }
        }
        let project = match draft {
            Draft::Household(d) => {
                let code = d.project.trim();
                if code.is_empty() {
                    problems.add("project", RecordError::Missing("dự án"));
                } else if !vocab::PROJECTS.iter().any(|(c, _)| *c == code) {
                    problems.add(
                        "project",
                        RecordError::BadChoice {
                            field: "project".into(),
                            value: code.into(),
                            allowed: vocab::codes(vocab::PROJECTS),
                        },
                    );
                }
                Some(code)
            }
            _ => None,
        };
        match draft {
            Draft::Household(d) => {
                let mut parcels = Vec::new();
                for text in d.parcels.iter().filter(|p| !p.trim().is_empty()) {
                    match parse_parcel(text) {
                        Ok(p) => parcels.push(p),
                        Err(e) => problems.add("parcels", e),
                    }
                }
                fields.insert(
                    "parcels".into(),
                    serde_json::to_value(parcels).unwrap_or_default(),
                );
                fields.insert("stage".into(), vocab::HOUSEHOLD_STAGES[0].0.into());
                for list in ["stage_log", "objections", "visits"] {
                    fields.insert(list.into(), serde_json::Value::Array(Vec::new()));
                }
            }
            Draft::Task(d) => {
                let assigned: Vec<String> = d
                    .assigned
                    .iter()
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect();
                for u in &assigned {
                    if let Err(e) = self.units().require(u) {
                        problems.add("assigned", e);
                    }
                }
                fields.insert("assigned".into(), assigned.into());
            }
            Draft::Progress(d) => {
                match d.period.trim().parse::<danvan_model::Period>() {
                    Ok(p) => {
                        fields.insert("period".into(), p.to_string().into());
                    }
                    Err(e) => problems.add("period", e),
                }
                match self.resolve_task(&d.task) {
                    Ok(task) => {
                        fields.insert("task".into(), task.to_string().into());
                    }
                    Err(e) => problems.add("task", e),
                }
            }
            Draft::Activity(_) => {
                fields.insert("petitions".into(), serde_json::Value::Array(Vec::new()));
                fields.insert("tasks".into(), serde_json::Value::Array(Vec::new()));
            }
            Draft::Petition(_) | Draft::Model(_) => {}
        }
        if !problems.0.is_empty() {
            return Err(DraftError::Fields(problems.0));
        }
        let header = self.new_header(kind, unit, project)?;
        fields.insert(
            "header".into(),
            serde_json::to_value(&header).map_err(|e| NodeError::Export(e.to_string()))?,
        );
        let value = serde_json::Value::Object(fields);
        let record = Record::from_json(value).map_err(NodeError::from)?;
        self.validate(&record)?;
        Ok(record)
    }

    /// Stores a new record from a draft; returns its id once committed.
    pub fn add_draft(&mut self, draft: &Draft) -> Result<DocId, DraftError> {
        let record = self.build(draft)?;
        Ok(self.add(&record)?)
    }

    /// A task by id, unique id prefix, or number in its conclusion (`2.4`).
    pub fn resolve_task(&self, text: &str) -> Result<DocId, NodeError> {
        if text.trim().is_empty() {
            return Err(RecordError::Missing("nhiệm vụ").into());
        }
        let doc = self.resolve(text)?;
        let shown = self.show(&doc.to_string())?;
        Node::expect_kind(&shown.record, Kind::Task)?;
        Ok(doc)
    }

    /// The record a person means by `text`, wherever a command takes an
    /// id: the full id, a unique prefix of one, or a task's number in its
    /// conclusion ("2.4"). Digits and dots with a dot, or a digit no id
    /// has (0, 1, 8, 9), are a task number; digits an id may start with
    /// ("24") are a prefix first and a task number if no id starts so.
    pub fn resolve(&self, text: &str) -> Result<DocId, NodeError> {
        let text = text.trim();
        if let Ok(doc) = text.parse::<DocId>() {
            return Ok(doc);
        }
        let numeric = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.');
        if !numeric {
            return Ok(self.store().resolve(text)?);
        }
        if text.chars().all(|c| ('2'..='7').contains(&c)) {
            match self.store().resolve(text) {
                Err(danvan_store::StoreError::NotFound(_)) => {}
                other => return Ok(other?),
            }
        }
        self.task_numbered(text)
    }

    /// The one task numbered `number` in its conclusion.
    fn task_numbered(&self, number: &str) -> Result<DocId, NodeError> {
        let tasks = self.list(&ListFilter {
            kind: Some(Kind::Task.code().into()),
            ..ListFilter::default()
        })?;
        let mut found = Vec::new();
        for row in tasks {
            if let Record::Task(t) = self.show(&row.id)?.record
                && t.number.trim().trim_end_matches('.') == number.trim_end_matches('.')
            {
                found.push(row.id);
            }
        }
        match found.as_slice() {
            [one] => Ok(one.parse()?),
            [] => Err(NodeError::NoTaskNumbered(number.to_string())),
            many => Err(NodeError::TaskNumberAmbiguous {
                number: number.to_string(),
                count: many.len(),
            }),
        }
    }

    /// Lets the next writes store unusual dates: the person said `--yes`.
    pub fn confirm_unusual_dates(&mut self, yes: bool) {
        self.unusual_dates_ok = yes;
    }

    /// Refuses a day far ahead or decades back
    /// ([`danvan_model::unusual_date`]) unless the person confirmed it; a
    /// deadline (`ahead_ok`) may lie any time ahead.
    pub(crate) fn check_date(
        &self,
        field: &str,
        date: &str,
        ahead_ok: bool,
    ) -> Result<(), NodeError> {
        if self.unusual_dates_ok {
            return Ok(());
        }
        let day = danvan_model::parse_date(date)?;
        match danvan_model::unusual_date(day, crate::today(), ahead_ok) {
            None => Ok(()),
            Some(why) => Err(NodeError::UnusualDate {
                field: field.to_string(),
                date: date.to_string(),
                why,
            }),
        }
    }

    /// [`Node::check_date`] of an editable field's parsed value, if it is
    /// a date; a task's deadline may lie any time ahead.
    pub(crate) fn check_field_date(
        &self,
        spec: &danvan_model::FieldSpec,
        value: Option<&ScalarValue>,
    ) -> Result<(), NodeError> {
        match (spec.ty, value) {
            (danvan_model::FieldType::Date { .. }, Some(ScalarValue::Str(date))) => {
                let ahead_ok = spec.name == "due";
                let field = spec.label_vi;
                self.check_date(field, date, ahead_ok)
            }
            _ => Ok(()),
        }
    }

    /// Turns a query as typed into the store's filter.
    pub fn list_filter(&self, query: &ListQuery) -> Result<ListFilter, NodeError> {
        let text = |v: &Option<String>| v.as_deref().and_then(non_empty).map(str::to_string);
        let period = text(&query.period)
            .map(|p| p.parse::<danvan_model::Period>())
            .transpose()?;
        Ok(ListFilter {
            kind: text(&query.kind)
                .map(|k| Kind::parse(&k).map(|k| k.code().to_string()))
                .transpose()?,
            units: text(&query.unit)
                .map(|u| self.unit_filter_in(&u, period.as_ref()))
                .transpose()?,
            period: period.map(|p| {
                (
                    danvan_model::format_date(p.start),
                    danvan_model::format_date(p.end),
                )
            }),
            status: text(&query.status),
            project: text(&query.project),
            words: text(&query.search)
                .map(|s| {
                    danvan_model::fold(&s)
                        .split_whitespace()
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            conflicts_only: query.conflicts_only,
            limit: query.limit,
        })
    }

    /// The records a query asks for: with words to find, best match first
    /// ([`Node::search`], ranked among at least
    /// [`crate::SEARCH_CANDIDATES_MAX`] candidates, every match without a
    /// limit); otherwise newest first.
    pub fn query(&self, query: &ListQuery) -> Result<Vec<Row>, NodeError> {
        let filter = self.list_filter(query)?;
        match query.search.as_deref() {
            Some(text) if !crate::query_words(text).is_empty() => {
                let candidates = filter.limit.map_or(danvan_store::LIST_ROWS_MAX, |n| {
                    n.max(crate::SEARCH_CANDIDATES_MAX)
                });
                let mut rows = self.search(&filter, text, candidates)?.rows;
                rows.truncate(filter.limit.unwrap_or(usize::MAX));
                Ok(rows)
            }
            _ => self.list(&filter),
        }
    }

    /// The store's integrity check, every stored change verified (hash,
    /// signature, actor, size; a bad one quarantined), and counts.
    pub fn check(&mut self) -> Result<CheckReport, NodeError> {
        self.check_reporting(&mut |_| {})
    }

    /// [`Node::check`], telling `progress` how many stored changes are
    /// verified.
    pub fn check_reporting(
        &mut self,
        progress: crate::OnProgress<'_>,
    ) -> Result<CheckReport, NodeError> {
        let mut problems = self.store().check()?;
        let (records, changes, documents) = self.store().counts()?;
        problems.extend(self.verify_stored_changes(changes, progress)?);
        Ok(CheckReport {
            problems,
            warnings: self.authority_key_warning().into_iter().collect(),
            records,
            changes,
            documents,
        })
    }

    /// Trusts a node by hand (standalone mode); `addr` is `IP:PORT` or
    /// `HOST:PORT`.
    pub fn trust_add(
        &mut self,
        id: &NodeId,
        addr: Option<&str>,
        name: Option<&str>,
    ) -> Result<(), NodeError> {
        if let Some(a) = addr {
            a.parse::<PeerAddr>()
                .map_err(|_| NodeError::BadAddress(a.to_string()))?;
        }
        self.store_mut()
            .trust(id, addr, name, crate::node::now_ms())?;
        Ok(())
    }

    /// Stops trusting a node; false if it was not trusted.
    pub fn trust_remove(&mut self, id: &NodeId) -> Result<bool, NodeError> {
        Ok(self.store_mut().untrust(id)?)
    }

    /// The nodes trusted by hand.
    pub fn trusted(&self) -> Result<Vec<TrustedNode>, NodeError> {
        Ok(self.store().trusted()?)
    }

    /// The last session with each peer.
    pub fn peers(&self) -> Result<Vec<danvan_store::PeerRow>, NodeError> {
        Ok(self.store().peers()?)
    }

    /// How many changes this node signed itself (all it ever wrote here).
    pub fn own_change_count(&self) -> Result<u64, NodeError> {
        Ok(self.store().count_changes_by(&self.id())?)
    }

    /// The records with changes a peer refused and no later acceptance,
    /// most recent first (at most `limit`).
    pub fn refused_records(
        &self,
        limit: usize,
    ) -> Result<Vec<danvan_store::RefusedRecord>, NodeError> {
        Ok(self.store().refused_records(limit)?)
    }

    /// The newest audit entries.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<danvan_store::AuditEntry>, NodeError> {
        Ok(self.store().audit_entries(limit)?)
    }
}

/// How often `join` tries its first sync while the hub re-reads its
/// roster (every second): a node added a moment ago may be refused once or
/// twice.
pub(crate) const JOIN_ATTEMPTS_MAX: u32 = 6;

impl SharedNode {
    /// One sync with `addr` (by default the town's hub); when the roster
    /// received changes what this node may read, a second session brings
    /// what became readable. `live` keeps the session open.
    pub async fn sync_settled(
        &self,
        endpoint: &crate::Endpoint,
        addr: &PeerAddr,
        live: bool,
        progress: &mut (dyn FnMut(&crate::Progress) + Send),
        mut on_rescope: impl FnMut(),
    ) -> Result<SyncSummary, NodeError> {
        let mut summary = self.sync_with(endpoint, addr, live, progress).await?;
        if summary.scope_changed && !live {
            // The refresh makes the new roster the handshake's trust list.
            self.refresh()?;
            on_rescope();
            let first = summary;
            summary = self.sync_with(endpoint, addr, false, progress).await?;
            summary.add(&first);
        }
        Ok(summary)
    }

    /// The address to sync with: `addr`, or the hub of the invite.
    pub fn sync_target(&self, addr: Option<PeerAddr>) -> Result<PeerAddr, NodeError> {
        match addr {
            Some(a) => Ok(a),
            None => self.with(|n| n.hub_addr())??.ok_or(NodeError::NoSyncTarget),
        }
    }
}

/// Joins the town with an invite, then syncs with its hub; retries the
/// first sync a few times while the hub re-reads its roster.
pub async fn join_and_sync(
    dir: &Path,
    invite: &danvan_model::Invite,
    net: crate::NetConfig,
    progress: &mut (dyn FnMut(&crate::Progress) + Send),
) -> Result<SyncSummary, NodeError> {
    let hub = {
        let mut node = Node::open(dir)?;
        node.join(invite)?;
        node.hub_addr()?.ok_or(NodeError::NoHubAddress)?
    };
    let mut attempt = 0;
    loop {
        let shared = SharedNode::new(Node::open(dir)?, false)?.with_net_config(net.clone());
        // Resolved at each attempt: the socket speaks the family of the
        // hub's address as it is now.
        let any: std::net::IpAddr = if hub.resolve(None).await?.is_ipv6() {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        };
        let bind = SocketAddr::new(any, 0);
        let endpoint = shared.bind(bind)?;
        let result = shared
            .sync_settled(&endpoint, &hub, false, progress, || {})
            .await;
        endpoint.close();
        match result {
            Err(e) if attempt + 1 < JOIN_ATTEMPTS_MAX && refused_by_peer(&e) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
}

/// Whether a sync failed because the peer refused this node (not yet in
/// the roster it holds).
pub fn refused_by_peer(error: &NodeError) -> bool {
    matches!(
        error,
        NodeError::Net(danvan_net::NetError::RefusedByPeer { .. })
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh data directory, removed afterwards.
    struct Dir(std::path::PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn node(name: &str) -> (Dir, Node) {
        let dir = std::env::temp_dir().join(format!(
            "danvan-service-{name}-{}-{}",
            std::process::id(),
            crate::now_ms()
        ));
        let node = Node::init(&dir, "pho-minh", None, None).expect("init");
        (Dir(dir), node)
    }

    fn fields(error: DraftError) -> Vec<String> {
        match error {
            DraftError::Fields(list) => list.into_iter().map(|e| e.field).collect(),
            DraftError::Node(e) => panic!("expected field errors, got {e}"),
        }
    }

    #[test]
    fn every_bad_field_is_named_and_nothing_is_stored() {
        let (_dir, mut node) = node("fields");
        let draft = Draft::Activity(ActivityDraft {
            unit: "khong-co".into(),
            activity_type: "di-choi".into(),
            date: "31/02/2023".into(),
            attendance: "nhiều".into(),
            ..ActivityDraft::default()
        });
        let error = node.add_draft(&draft).expect_err("bad draft");
        assert_eq!(
            error.for_field("attendance"),
            Some("\"nhiều\" không phải số nguyên")
        );
        let mut named = fields(error);
        named.sort();
        assert_eq!(
            named,
            ["activity_type", "attendance", "date", "title", "unit"]
        );
        assert_eq!(node.store().counts().expect("counts").0, 0);
    }

    #[test]
    fn a_good_draft_is_stored_with_its_values_read_the_cli_way() {
        let (_dir, mut node) = node("good");
        let draft = Draft::Household(HouseholdDraft {
            project: "cao-toc-bac-nam".into(),
            head: " Nguyễn Văn A ".into(),
            parcels: vec!["12/345:250.5:ONT".into(), "".into()],
            compensation_vnd: "850.000.000".into(),
            ..HouseholdDraft::default()
        });
        let id = node.add_draft(&draft).expect("stored");
        let Record::Household(h) = node.show(&id.to_string()).expect("show").record else {
            panic!("not a household");
        };
        assert_eq!(h.head, "Nguyễn Văn A");
        assert_eq!(h.compensation_vnd, Some(850_000_000));
        assert_eq!(h.parcels.len(), 1);
        assert_eq!(h.header.unit, "pho-minh");
        assert_eq!(h.stage, vocab::HOUSEHOLD_STAGES[0].0);
    }

    #[test]
    fn progress_finds_its_task_by_number() {
        let (_dir, mut node) = node("progress");
        let task = node
            .add_draft(&Draft::Task(TaskDraft {
                number: "2.4".into(),
                title: "Đảng ủy các xã, phường".into(),
                assigned: vec!["pho-minh".into()],
                ..TaskDraft::default()
            }))
            .expect("task");
        let progress = ProgressDraft {
            task: "2.4".into(),
            period: "2023-H2".into(),
            status: "dang-thuc-hien".into(),
            summary: "Đã tổ chức 3 buổi đối thoại".into(),
            ..ProgressDraft::default()
        };
        let id = node
            .add_draft(&Draft::Progress(progress.clone()))
            .expect("progress");
        let Record::Progress(p) = node.show(&id.to_string()).expect("show").record else {
            panic!("not progress");
        };
        assert_eq!(p.task, task.to_string());
        let unknown = Draft::Progress(ProgressDraft {
            task: "9.9".into(),
            period: "2023-H7".into(),
            ..progress
        });
        let mut named = fields(node.add_draft(&unknown).expect_err("no such task"));
        named.sort();
        assert_eq!(named, ["period", "task"]);
    }
}
