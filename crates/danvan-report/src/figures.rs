//! What a report says: the figures of each section, as plain values.
//!
//! Nothing here computes a figure: `aggregate` fills these in from records,
//! `narrate` turns them into sentences, `render` lays them out. Keeping the
//! types apart from all three is what lets each of them depend on the types
//! without depending on each other.

use serde::Serialize;

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
    /// Lines saying which former units the rows took in (units merged or
    /// abolished during the period or up to the day of the report's view).
    pub unit_changes: Vec<String>,
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
    /// Households at a stage.
    pub fn at(&self, stage: &str) -> u64 {
        self.stages
            .iter()
            .find(|s| s.code == stage)
            .map(|s| s.count)
            .unwrap_or(0)
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
