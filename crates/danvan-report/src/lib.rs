//! Reports of the town office: aggregation of records by unit and period, and
//! rendering to Markdown, CSV, `.xlsx` and a self-contained HTML page.
//!
//! Also here, because they read the same records the same way: the list of
//! what is due ([`due`]) and the reading of a conclusion into numbered tasks
//! with the units they are assigned to ([`parse_conclusion`]).
//!
//! This crate is pure: it never reads the store, the clock or the file system.
//! Records come in as [`danvan_model::Record`]s, "today" comes in as a date,
//! and rendered reports go out as bytes for the caller to write.

mod aggregate;
mod conclusion;
mod due;
mod error;
mod figures;
mod format;
mod narrate;
mod render;
mod scope;
mod tables;
mod xlsx;

pub use aggregate::{ReportRequest, UnitView, build_report, build_report_by, task_applies};
pub use conclusion::{
    Assignment, ConclusionTask, ParsedConclusion, assign_units, parse_conclusion,
};
pub use due::{DueHousehold, DueList, DuePetition, DueRequest, DueTask, due};
pub use error::ReportError;
pub use figures::{
    ActivitySection, ActivityTypeRow, ActivityUnitRow, CategoryRow, LandFigures, LandProject,
    LandSection, LandUnitRow, ModelItem, ModelSection, ModelUnitRow, MonthRow, OverduePetition,
    PetitionFigures, PetitionSection, Report, StageCount, TaskAssignment, TaskRow, TaskSection,
    UnitPetitionRow,
};
pub use render::{Format, csv_cell_safe, render};
pub use scope::units_reported;
