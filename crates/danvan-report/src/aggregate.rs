//! The figures of a report, computed from records.
//!
//! Every figure is defined here, once; the renderers only lay them out.
//! Definitions (also in ARCHITECTURE.md):
//! - activities count when their day falls in the period;
//! - a petition is *received* in the period by its received day; *resolved*
//!   when it is closed with a resolved day in the period (closed without a
//!   day: counted in the period it was received); *on time* when resolved on
//!   or before its statutory deadline; *overdue* when still open, received by
//!   the end of the period, and its deadline is before "today";
//! - households are counted as they stand today (stage, open objection);
//!   visits count when made in the period;
//! - models count when the year they were recognized overlaps the period;
//! - a task applies to a period when its source's date (the first
//!   `D/M/YYYY` of its source) is on or before the period's end and its
//!   deadline, if any, not before the period's start; each assigned unit's
//!   latest progress is the one whose period lies within the report's period
//!   and ends last.

use std::collections::{BTreeMap, HashMap};

use danvan_model::{Period, Record, UnitTree, format_date, parse_date, vocab};
use serde::Serialize;
use time::Date;

use crate::ReportError;
use crate::scope::Scope;

/// What to report on.
#[derive(Clone, Copy, Debug)]
pub struct ReportRequest<'a> {
    /// The unit tree.
    pub units: &'a UnitTree,
    /// The unit reported on; its whole roll-up counts.
    pub unit: &'a str,
    /// The period.
    pub period: Period,
    /// "Now", for overdue petitions and the state of households. The crate
    /// has no clock: the caller passes the day.
    pub today: Date,
}

/// A whole report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    /// Unit id.
    pub unit: String,
    /// Unit name in full.
    pub unit_name: String,
    /// Period code, e.g. `2023-H1`.
    pub period: String,
    /// Period in words, e.g. "6 tháng đầu năm 2023".
    pub period_label: String,
    /// First day of the period.
    pub period_start: String,
    /// Last day of the period.
    pub period_end: String,
    /// The day figures were computed for.
    pub today: String,
    /// Activities.
    pub activities: ActivitySection,
    /// Petitions.
    pub petitions: PetitionSection,
    /// Land clearance.
    pub land: LandSection,
    /// "Dân vận khéo" models.
    pub models: ModelSection,
    /// Tasks from conclusions.
    pub tasks: TaskSection,
    /// Part I in sentences.
    pub results: Vec<String>,
    /// Part II: shortcomings found in the data.
    pub shortcomings: Vec<String>,
    /// Part III: tasks and solutions that follow from them.
    pub solutions: Vec<String>,
}

/// Activities of the period.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct ActivitySection {
    /// Activities held.
    pub total: u64,
    /// People attending, summed.
    pub attendance: i64,
    /// Citizen receptions (`tiep-dan`) held.
    pub receptions: u64,
    /// Citizens received.
    pub citizens: i64,
    /// Direct dialogues (`doi-thoai`) held.
    pub dialogues: u64,
    /// Matters raised in dialogues.
    pub dialogue_matters: i64,
    /// Per type, in vocabulary order, types with activities only.
    pub by_type: Vec<ActivityTypeRow>,
    /// Per unit row, in tree order, rows with activities only.
    pub by_unit: Vec<ActivityUnitRow>,
}

/// Activities of one type.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ActivityTypeRow {
    /// Type code.
    pub code: String,
    /// Type label.
    pub label: String,
    /// Held.
    pub count: u64,
    /// Attendance summed.
    pub attendance: i64,
}

/// Activities of one unit row.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct ActivityUnitRow {
    /// Unit id.
    pub unit: String,
    /// Unit name.
    pub unit_name: String,
    /// Activities held.
    pub count: u64,
    /// Attendance summed.
    pub attendance: i64,
    /// Citizen receptions held.
    pub receptions: u64,
    /// Citizens received.
    pub citizens: i64,
    /// Direct dialogues held.
    pub dialogues: u64,
    /// Matters raised in dialogues.
    pub dialogue_matters: i64,
}

/// The petition figures of a row.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Default)]
pub struct PetitionFigures {
    /// Received in the period.
    pub received: u64,
    /// Resolved in the period.
    pub resolved: u64,
    /// Of those, by the statutory deadline.
    pub resolved_on_time: u64,
    /// Of those, after it.
    pub resolved_late: u64,
    /// Open, received by the end of the period, deadline not passed.
    pub open_in_time: u64,
    /// Open, received by the end of the period, deadline passed.
    pub overdue: u64,
}

/// Petitions of one category.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CategoryRow {
    /// Category as written (first spelling seen), or "Chưa phân loại".
    pub category: String,
    /// Figures.
    pub figures: PetitionFigures,
}

/// Petitions of one unit row.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct UnitPetitionRow {
    /// Unit id.
    pub unit: String,
    /// Unit name.
    pub unit_name: String,
    /// Figures.
    pub figures: PetitionFigures,
}

/// Petitions received and resolved in one month.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MonthRow {
    /// `YYYY-MM`.
    pub month: String,
    /// Label, `T1/2023`.
    pub label: String,
    /// Received.
    pub received: u64,
    /// Resolved.
    pub resolved: u64,
}

/// One overdue petition.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OverduePetition {
    /// Record id.
    pub id: String,
    /// Owning unit.
    pub unit: String,
    /// Its name.
    pub unit_name: String,
    /// Type label.
    pub petition_type: String,
    /// Category.
    pub category: String,
    /// Received.
    pub received: String,
    /// Statutory deadline.
    pub deadline: String,
    /// Days past the deadline, as of today.
    pub days_overdue: i64,
}

/// Petitions.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct PetitionSection {
    /// All units.
    pub total: PetitionFigures,
    /// Per category, sorted by name.
    pub by_category: Vec<CategoryRow>,
    /// Per unit row, in tree order.
    pub by_unit: Vec<UnitPetitionRow>,
    /// Per month of the period.
    pub by_month: Vec<MonthRow>,
    /// The overdue ones, most overdue first.
    pub overdue: Vec<OverduePetition>,
}

/// Households at one stage.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StageCount {
    /// Stage code.
    pub code: String,
    /// Label.
    pub label: String,
    /// Households.
    pub count: u64,
}

/// Land-clearance figures of a row.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LandFigures {
    /// Households.
    pub households: u64,
    /// Per stage, in pipeline order.
    pub stages: Vec<StageCount>,
    /// Households with an open objection.
    pub objections_open: u64,
    /// Persuasion visits made in the period.
    pub visits: u64,
    /// Total area of the parcels, m².
    pub area_m2: f64,
    /// Area of handed-over households, m².
    pub handed_over_m2: f64,
    /// Share of the area handed over, percent (one decimal).
    pub handed_over_pct: f64,
}

impl LandFigures {
    fn new() -> LandFigures {
        LandFigures {
            households: 0,
            stages: vocab::HOUSEHOLD_STAGES
                .iter()
                .map(|(code, label)| StageCount {
                    code: code.to_string(),
                    label: label.to_string(),
                    count: 0,
                })
                .collect(),
            objections_open: 0,
            visits: 0,
            area_m2: 0.0,
            handed_over_m2: 0.0,
            handed_over_pct: 0.0,
        }
    }

    /// Households at a stage.
    pub fn at(&self, stage: &str) -> u64 {
        self.stages
            .iter()
            .find(|s| s.code == stage)
            .map(|s| s.count)
            .unwrap_or(0)
    }

    fn finish(&mut self) {
        self.area_m2 = round(self.area_m2, 1);
        self.handed_over_m2 = round(self.handed_over_m2, 1);
        self.handed_over_pct = if self.area_m2 > 0.0 {
            round(self.handed_over_m2 * 100.0 / self.area_m2, 1)
        } else {
            0.0
        };
    }
}

/// Land clearance of one unit row of a project.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LandUnitRow {
    /// Unit id.
    pub unit: String,
    /// Unit name.
    pub unit_name: String,
    /// Figures.
    pub figures: LandFigures,
}

/// Land clearance of one project.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LandProject {
    /// Project code.
    pub code: String,
    /// Project name.
    pub label: String,
    /// All units.
    pub total: LandFigures,
    /// Per unit row, in tree order.
    pub by_unit: Vec<LandUnitRow>,
}

/// Land clearance.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct LandSection {
    /// Per project, in vocabulary order.
    pub projects: Vec<LandProject>,
}

/// Models of one unit row.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ModelUnitRow {
    /// Unit id.
    pub unit: String,
    /// Unit name.
    pub unit_name: String,
    /// Per field, in vocabulary order.
    pub by_field: Vec<u64>,
    /// All fields.
    pub total: u64,
}

/// One model.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ModelItem {
    /// Name.
    pub name: String,
    /// Unit name.
    pub unit_name: String,
    /// Field label.
    pub field: String,
    /// Year recognized.
    pub year: i64,
}

/// "Dân vận khéo" models.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct ModelSection {
    /// Field labels, in vocabulary order.
    pub fields: Vec<String>,
    /// Per field, all units.
    pub by_field: Vec<u64>,
    /// All models.
    pub total: u64,
    /// Per unit row.
    pub by_unit: Vec<ModelUnitRow>,
    /// Every model, by unit then name.
    pub list: Vec<ModelItem>,
}

/// One assigned unit of a task and its latest progress.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TaskAssignment {
    /// Unit id.
    pub unit: String,
    /// Unit name.
    pub unit_name: String,
    /// Progress status code; `None` when the unit has not reported.
    pub status: Option<String>,
    /// Status label, or "Chưa báo cáo".
    pub status_label: String,
    /// Period of the latest progress.
    pub progress_period: Option<String>,
    /// Its narrative.
    pub summary: Option<String>,
}

/// One task.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TaskRow {
    /// Record id.
    pub id: String,
    /// Number in the source, e.g. 2.4.
    pub number: String,
    /// Heading.
    pub title: String,
    /// Source document.
    pub source: Option<String>,
    /// Assigned units within the report's scope.
    pub assigned: Vec<TaskAssignment>,
    /// Units that reported.
    pub reported: u64,
    /// Units that report it done.
    pub completed: u64,
}

/// Tasks.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct TaskSection {
    /// Tasks, by source then number.
    pub tasks: Vec<TaskRow>,
    /// Assignments in scope.
    pub assignments: u64,
    /// Assignments reported.
    pub reported: u64,
    /// Assignments reported done.
    pub completed: u64,
    /// Assignments not reported.
    pub not_reported: u64,
}

pub(crate) fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

fn date(text: &str) -> Option<Date> {
    parse_date(text).ok()
}

/// The first `D/M/YYYY` date in a text, e.g. a task's source
/// "Kết luận … ngày 17/7/2023".
pub(crate) fn first_date(text: &str) -> Option<Date> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '/'))
        .filter(|t| t.matches('/').count() == 2)
        .find_map(|t| parse_date(t).ok())
}

/// Whether a task applies to a period: issued (by the date in its source) on
/// or before the period's end, and not due before the period's start.
pub fn task_applies(task: &danvan_model::Task, period: &Period) -> bool {
    let issued_ok = task
        .source
        .as_deref()
        .and_then(first_date)
        .is_none_or(|d| d <= period.end);
    let due_ok = task
        .due
        .as_deref()
        .and_then(date)
        .is_none_or(|d| d >= period.start);
    issued_ok && due_ok
}

fn progress_rank(status: &str) -> usize {
    vocab::PROGRESS_STATUSES
        .iter()
        .position(|(c, _)| *c == status)
        .unwrap_or(0)
}

/// The latest progress of `(task, unit)` within a period, from progress
/// records: the one whose period ends last (then starts last, then is
/// furthest along). Never by device time.
pub(crate) fn latest_progress<'a>(
    progress: &[&'a danvan_model::Progress],
    within: &Period,
) -> Option<&'a danvan_model::Progress> {
    progress
        .iter()
        .filter_map(|p| {
            let pp: Period = p.period.parse().ok()?;
            (pp.start >= within.start && pp.end <= within.end).then_some((pp, *p))
        })
        .max_by(|(a, pa), (b, pb)| {
            (
                a.end,
                a.start,
                progress_rank(&pa.status),
                &pa.summary,
                &pa.header.id,
            )
                .cmp(&(
                    b.end,
                    b.start,
                    progress_rank(&pb.status),
                    &pb.summary,
                    &pb.header.id,
                ))
        })
        .map(|(_, p)| p)
}

fn months(period: &Period) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (mut y, mut m) = (period.start.year(), u8::from(period.start.month()));
    let (ey, em) = (period.end.year(), u8::from(period.end.month()));
    // A period is at most a few years long; the bound keeps a bad range finite.
    for _ in 0..1200 {
        if (y, m) > (ey, em) {
            break;
        }
        out.push((format!("{y:04}-{m:02}"), format!("T{m}/{y}")));
        if m == 12 {
            y += 1;
            m = 1;
        } else {
            m += 1;
        }
    }
    out
}

/// Builds a report from records. Records outside the unit's roll-up or the
/// period are skipped, so the caller may pass more than needed.
pub fn build_report<'r, I>(req: &ReportRequest<'_>, records: I) -> Result<Report, ReportError>
where
    I: IntoIterator<Item = &'r Record>,
{
    let scope = Scope::new(req.units, req.unit)?;
    let tree = req.units;
    let period = req.period;
    let start = format_date(period.start);
    let end = format_date(period.end);
    let today = format_date(req.today);
    let in_period = |d: &str| start.as_str() <= d && d <= end.as_str();
    let name = |u: &str| tree.name(u).to_string();

    let mut activities = ActivitySection::default();
    let mut act_types: BTreeMap<usize, ActivityTypeRow> = BTreeMap::new();
    let mut act_units: HashMap<String, ActivityUnitRow> = HashMap::new();

    let mut pet = PetitionSection::default();
    let mut pet_categories: BTreeMap<String, CategoryRow> = BTreeMap::new();
    let mut pet_units: HashMap<String, PetitionFigures> = HashMap::new();
    let month_list = months(&period);
    let mut month_counts: HashMap<String, (u64, u64)> = HashMap::new();

    let mut land: BTreeMap<(usize, String), (LandFigures, HashMap<String, LandFigures>)> =
        BTreeMap::new();

    let mut models = ModelSection {
        fields: vocab::MODEL_FIELDS
            .iter()
            .map(|(_, l)| l.to_string())
            .collect(),
        by_field: vec![0; vocab::MODEL_FIELDS.len()],
        ..ModelSection::default()
    };
    let mut model_units: HashMap<String, Vec<u64>> = HashMap::new();

    let mut tasks: Vec<&danvan_model::Task> = Vec::new();
    let mut progress: HashMap<(String, String), Vec<&danvan_model::Progress>> = HashMap::new();

    for record in records {
        let unit = record.header().unit.as_str();
        if let Record::Task(t) = record {
            // Tasks are issued by the town but assigned to units below it:
            // a task counts when any assigned unit is in scope.
            if t.assigned.iter().any(|u| scope.contains(u)) && task_applies(t, &period) {
                tasks.push(t);
            }
            continue;
        }
        let Some(bucket) = scope.bucket_of(unit) else {
            continue;
        };
        match record {
            Record::Activity(a) => {
                if !in_period(&a.date) {
                    continue;
                }
                let attendance = a.attendance.unwrap_or(0);
                let rank = vocab::ACTIVITY_TYPES
                    .iter()
                    .position(|(c, _)| *c == a.activity_type)
                    .unwrap_or(usize::MAX);
                let row = act_types.entry(rank).or_insert_with(|| ActivityTypeRow {
                    code: a.activity_type.clone(),
                    label: match vocab::label(vocab::ACTIVITY_TYPES, &a.activity_type) {
                        "" => a.activity_type.clone(),
                        l => l.to_string(),
                    },
                    count: 0,
                    attendance: 0,
                });
                row.count += 1;
                row.attendance += attendance;
                let u = act_units
                    .entry(bucket.to_string())
                    .or_insert_with(|| ActivityUnitRow {
                        unit: bucket.to_string(),
                        unit_name: name(bucket),
                        ..ActivityUnitRow::default()
                    });
                u.count += 1;
                u.attendance += attendance;
                activities.total += 1;
                activities.attendance += attendance;
                match a.activity_type.as_str() {
                    "tiep-dan" => {
                        let c = a.citizens.unwrap_or(0);
                        activities.receptions += 1;
                        activities.citizens += c;
                        u.receptions += 1;
                        u.citizens += c;
                    }
                    "doi-thoai" => {
                        let m = a.matters.unwrap_or(0);
                        activities.dialogues += 1;
                        activities.dialogue_matters += m;
                        u.dialogues += 1;
                        u.dialogue_matters += m;
                    }
                    _ => {}
                }
            }
            Record::Petition(p) => {
                if p.received.as_str() > end.as_str() {
                    continue;
                }
                let deadline = p.deadline();
                let mut f = PetitionFigures::default();
                let received_now = in_period(&p.received);
                if received_now {
                    f.received = 1;
                    month_counts.entry(month_of(&p.received)).or_default().0 += 1;
                }
                if p.is_closed() {
                    let resolved_day = p.resolved.as_deref();
                    let counted = match resolved_day {
                        Some(d) => in_period(d),
                        None => received_now,
                    };
                    if counted {
                        f.resolved = 1;
                        let on_time = matches!((resolved_day, deadline.as_deref()), (Some(r), Some(dl)) if r <= dl);
                        if on_time {
                            f.resolved_on_time = 1;
                        } else {
                            f.resolved_late = 1;
                        }
                        let month = resolved_day.unwrap_or(&p.received);
                        month_counts.entry(month_of(month)).or_default().1 += 1;
                    }
                } else {
                    let overdue = deadline.as_deref().is_some_and(|dl| dl < today.as_str());
                    if overdue {
                        f.overdue = 1;
                        let dl = deadline.clone().unwrap_or_default();
                        let days = date(&dl).map(|d| (req.today - d).whole_days()).unwrap_or(0);
                        pet.overdue.push(OverduePetition {
                            id: p.header.id.clone(),
                            unit: unit.to_string(),
                            unit_name: name(unit),
                            petition_type: vocab::label(vocab::PETITION_TYPES, &p.petition_type)
                                .to_string(),
                            category: category_of(p),
                            received: p.received.clone(),
                            deadline: dl,
                            days_overdue: days,
                        });
                    } else {
                        f.open_in_time = 1;
                    }
                }
                if f == PetitionFigures::default() {
                    continue;
                }
                add_figures(&mut pet.total, &f);
                add_figures(pet_units.entry(bucket.to_string()).or_default(), &f);
                let cat = category_of(p);
                let row = pet_categories
                    .entry(danvan_model::fold(&cat))
                    .or_insert_with(|| CategoryRow {
                        category: cat,
                        figures: PetitionFigures::default(),
                    });
                add_figures(&mut row.figures, &f);
            }
            Record::Household(h) => {
                let project = h.header.project.clone().unwrap_or_default();
                let rank = vocab::PROJECTS
                    .iter()
                    .position(|(c, _)| *c == project)
                    .unwrap_or(usize::MAX);
                let entry = land
                    .entry((rank, project))
                    .or_insert_with(|| (LandFigures::new(), HashMap::new()));
                let visits = h.visits.iter().filter(|v| in_period(&v.date)).count() as u64;
                let area = h.area_m2();
                let handed = h.stage == "ban-giao";
                let open = h.objection_open();
                for f in [
                    &mut entry.0,
                    entry
                        .1
                        .entry(bucket.to_string())
                        .or_insert_with(LandFigures::new),
                ] {
                    f.households += 1;
                    if let Some(s) = f.stages.iter_mut().find(|s| s.code == h.stage) {
                        s.count += 1;
                    }
                    f.objections_open += u64::from(open);
                    f.visits += visits;
                    f.area_m2 += area;
                    if handed {
                        f.handed_over_m2 += area;
                    }
                }
            }
            Record::Model(m) => {
                let year_start = format!("{:04}-01-01", m.year);
                let year_end = format!("{:04}-12-31", m.year);
                if year_start.as_str() > end.as_str() || year_end.as_str() < start.as_str() {
                    continue;
                }
                let Some(field) = vocab::MODEL_FIELDS.iter().position(|(c, _)| *c == m.field)
                else {
                    continue;
                };
                models.by_field[field] += 1;
                models.total += 1;
                model_units
                    .entry(bucket.to_string())
                    .or_insert_with(|| vec![0; vocab::MODEL_FIELDS.len()])[field] += 1;
                models.list.push(ModelItem {
                    name: m.name.clone(),
                    unit_name: name(unit),
                    field: vocab::MODEL_FIELDS[field].1.to_string(),
                    year: m.year,
                });
            }
            Record::Progress(p) => {
                progress
                    .entry((p.task.clone(), unit.to_string()))
                    .or_default()
                    .push(p);
            }
            Record::Task(_) => unreachable!("handled above"),
        }
    }

    // Activities.
    activities.by_type = act_types.into_values().collect();
    let mut rows: Vec<ActivityUnitRow> = act_units.into_values().collect();
    rows.sort_by_key(|r| scope.rank(&r.unit));
    activities.by_unit = rows;

    // Petitions.
    pet.by_category = pet_categories.into_values().collect();
    let mut rows: Vec<UnitPetitionRow> = pet_units
        .into_iter()
        .map(|(unit, figures)| UnitPetitionRow {
            unit_name: name(&unit),
            unit,
            figures,
        })
        .collect();
    rows.sort_by_key(|r| scope.rank(&r.unit));
    pet.by_unit = rows;
    pet.by_month = month_list
        .into_iter()
        .map(|(month, label)| {
            let (received, resolved) = month_counts.get(&month).copied().unwrap_or_default();
            MonthRow {
                month,
                label,
                received,
                resolved,
            }
        })
        .collect();
    pet.overdue.sort_by(|a, b| {
        (b.days_overdue, &a.unit_name, &a.received, &a.id).cmp(&(
            a.days_overdue,
            &b.unit_name,
            &b.received,
            &b.id,
        ))
    });

    // Land clearance.
    let land = LandSection {
        projects: land
            .into_iter()
            .map(|((_, code), (mut total, units))| {
                total.finish();
                let mut by_unit: Vec<LandUnitRow> = units
                    .into_iter()
                    .map(|(unit, mut figures)| {
                        figures.finish();
                        LandUnitRow {
                            unit_name: name(&unit),
                            unit,
                            figures,
                        }
                    })
                    .collect();
                by_unit.sort_by_key(|r| scope.rank(&r.unit));
                LandProject {
                    label: match vocab::label(vocab::PROJECTS, &code) {
                        "" if code.is_empty() => "Không thuộc dự án".to_string(),
                        "" => code.clone(),
                        l => l.to_string(),
                    },
                    code,
                    total,
                    by_unit,
                }
            })
            .collect(),
    };

    // Models.
    let mut rows: Vec<ModelUnitRow> = model_units
        .into_iter()
        .map(|(unit, by_field)| ModelUnitRow {
            unit_name: name(&unit),
            total: by_field.iter().sum(),
            unit,
            by_field,
        })
        .collect();
    rows.sort_by_key(|r| scope.rank(&r.unit));
    models.by_unit = rows;
    models
        .list
        .sort_by(|a, b| (&a.unit_name, &a.name).cmp(&(&b.unit_name, &b.name)));

    // Tasks.
    let mut task_section = TaskSection::default();
    tasks.sort_by(|a, b| {
        (
            a.source.as_deref().unwrap_or(""),
            number_key(&a.number),
            &a.header.id,
        )
            .cmp(&(
                b.source.as_deref().unwrap_or(""),
                number_key(&b.number),
                &b.header.id,
            ))
    });
    for t in tasks {
        let mut row = TaskRow {
            id: t.header.id.clone(),
            number: t.number.clone(),
            title: t.title.clone(),
            source: t.source.clone(),
            assigned: Vec::new(),
            reported: 0,
            completed: 0,
        };
        let mut assigned: Vec<&String> = t.assigned.iter().filter(|u| scope.contains(u)).collect();
        assigned.sort_by_key(|u| (tree.units().iter().position(|x| &x.id == *u), *u));
        assigned.dedup();
        for unit in assigned {
            let reports = progress
                .get(&(t.header.id.clone(), unit.clone()))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let latest = latest_progress(reports, &period);
            task_section.assignments += 1;
            if let Some(p) = latest {
                row.reported += 1;
                task_section.reported += 1;
                if p.status == "hoan-thanh" {
                    row.completed += 1;
                    task_section.completed += 1;
                }
            } else {
                task_section.not_reported += 1;
            }
            row.assigned.push(TaskAssignment {
                unit: unit.clone(),
                unit_name: name(unit),
                status: latest.map(|p| p.status.clone()),
                status_label: latest
                    .map(|p| vocab::label(vocab::PROGRESS_STATUSES, &p.status).to_string())
                    .unwrap_or_else(|| "Chưa báo cáo".to_string()),
                progress_period: latest.map(|p| p.period.clone()),
                summary: latest.map(|p| p.summary.clone()),
            });
        }
        task_section.tasks.push(row);
    }

    let mut report = Report {
        unit: scope.root.clone(),
        unit_name: name(&scope.root),
        period: period.to_string(),
        period_label: period.label_vi(),
        period_start: start,
        period_end: end,
        today,
        activities,
        petitions: pet,
        land,
        models,
        tasks: task_section,
        results: Vec::new(),
        shortcomings: Vec::new(),
        solutions: Vec::new(),
    };
    crate::format::narrate(&mut report);
    Ok(report)
}

/// Sort key of a task number: `1.10` after `1.9`.
pub(crate) fn number_key(number: &str) -> Vec<(u64, String)> {
    number
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| (p.parse().unwrap_or(u64::MAX), p.to_string()))
        .collect()
}

/// `2023-07-17` → `2023-07`.
fn month_of(day: &str) -> String {
    day.get(..7).unwrap_or(day).to_string()
}

fn category_of(p: &danvan_model::Petition) -> String {
    p.category
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| "Chưa phân loại".to_string())
}

fn add_figures(to: &mut PetitionFigures, f: &PetitionFigures) {
    to.received += f.received;
    to.resolved += f.resolved;
    to.resolved_on_time += f.resolved_on_time;
    to.resolved_late += f.resolved_late;
    to.open_in_time += f.open_in_time;
    to.overdue += f.overdue;
}
