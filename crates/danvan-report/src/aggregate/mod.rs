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
//!
//! [`build_report`] routes each record to the accumulator of its section
//! (`activities`, `petitions`, `land`, `models`, `tasks`); each accumulator
//! owns its section's figures from the first record to the sorted rows, and
//! none reads another's. The sentences of parts I–III are written afterwards
//! from the finished figures, by `narrate`.

mod activities;
mod land;
mod models;
mod petitions;
mod tasks;

use danvan_model::{Period, Record, UnitTree, format_date, parse_date};
use time::Date;

use crate::ReportError;
use crate::figures::Report;
use crate::narrate::narrate;
use crate::scope::Scope;

use activities::ActivityTally;
use land::LandTally;
use models::ModelTally;
use petitions::PetitionTally;
use tasks::TaskTally;

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

/// What every accumulator needs to know about the report being built.
struct Context<'a> {
    /// The unit tree, for names and tree order.
    tree: &'a UnitTree,
    /// The roll-up of the unit reported on.
    scope: &'a Scope,
    /// The period.
    period: Period,
    /// Its first day, `YYYY-MM-DD`, to compare stored days as text.
    start: String,
    /// Its last day, likewise.
    end: String,
    /// "Now", as passed in.
    today: Date,
    /// The same day, `YYYY-MM-DD`.
    today_text: String,
}

impl Context<'_> {
    /// Whether a stored day (`YYYY-MM-DD`) falls in the period.
    fn in_period(&self, day: &str) -> bool {
        self.start.as_str() <= day && day <= self.end.as_str()
    }

    /// A unit's name in full.
    fn name(&self, unit: &str) -> String {
        self.tree.name(unit).to_string()
    }
}

/// Builds a report from records. Records outside the unit's roll-up or the
/// period are skipped, so the caller may pass more than needed.
pub fn build_report<'r, I>(req: &ReportRequest<'_>, records: I) -> Result<Report, ReportError>
where
    I: IntoIterator<Item = &'r Record>,
{
    let scope = Scope::new(req.units, req.unit)?;
    let cx = Context {
        tree: req.units,
        scope: &scope,
        period: req.period,
        start: format_date(req.period.start),
        end: format_date(req.period.end),
        today: req.today,
        today_text: format_date(req.today),
    };
    let mut activities = ActivityTally::default();
    let mut petitions = PetitionTally::default();
    let mut land = LandTally::default();
    let mut models = ModelTally::new();
    let mut tasks = TaskTally::default();

    for record in records {
        if let Record::Task(t) = record {
            // Tasks are issued by the town but assigned to units below it,
            // so they are not bucketed by their own unit.
            tasks.add_task(&cx, t);
            continue;
        }
        let Some(bucket) = scope.bucket_of(&record.header().unit) else {
            continue;
        };
        match record {
            Record::Activity(a) => activities.add(&cx, bucket, a),
            Record::Petition(p) => petitions.add(&cx, bucket, p),
            Record::Household(h) => land.add(&cx, bucket, h),
            Record::Model(m) => models.add(&cx, bucket, m),
            Record::Progress(p) => tasks.add_progress(p),
            Record::Task(_) => unreachable!("handled above"),
        }
    }

    let mut report = Report {
        unit: scope.root.clone(),
        unit_name: cx.name(&scope.root),
        period: cx.period.to_string(),
        period_label: cx.period.label_vi(),
        period_start: cx.start.clone(),
        period_end: cx.end.clone(),
        today: cx.today_text.clone(),
        activities: activities.finish(&cx),
        petitions: petitions.finish(&cx),
        land: land.finish(&cx),
        models: models.finish(&cx),
        tasks: tasks.finish(&cx),
        results: Vec::new(),
        shortcomings: Vec::new(),
        solutions: Vec::new(),
    };
    narrate(&mut report);
    Ok(report)
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

/// Sort key of a task number: `1.10` after `1.9`.
pub(crate) fn number_key(number: &str) -> Vec<(u64, String)> {
    number
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| (p.parse().unwrap_or(u64::MAX), p.to_string()))
        .collect()
}
