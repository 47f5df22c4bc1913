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

use std::collections::BTreeMap;

use danvan_model::{Period, Record, UnitKind, UnitTree, format_date, parse_date, vi_date};
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

/// Which units a report's rows are: the units of one view of the tree.
/// Whatever the view, every record of the period counts once, so the
/// totals are the same; only the rows differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitView {
    /// The units as they stood on the period's last day: a period before a
    /// merge is shown by the old units, a period spanning it by the new
    /// ones (with a line naming the old units folded in). The default.
    PeriodEnd,
    /// The units as they stand on a day (say today): a past period mapped
    /// to the units of that day.
    AsOf(Date),
}

impl UnitView {
    /// The day whose units the rows are.
    pub fn day(self, period: &Period) -> Date {
        match self {
            UnitView::PeriodEnd => period.end,
            UnitView::AsOf(day) => day,
        }
    }
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

    /// A unit's name in full ("… (cũ)" for an abolished unit reported on).
    fn name(&self, unit: &str) -> String {
        if unit == self.scope.root {
            return self.scope.root_name.clone();
        }
        self.tree.name(unit).to_string()
    }
}

/// Builds a report from records, by the units as they stood at the end of
/// the period ([`UnitView::PeriodEnd`]). Records outside the unit's roll-up
/// or the period are skipped, so the caller may pass more than needed.
pub fn build_report<'r, I>(req: &ReportRequest<'_>, records: I) -> Result<Report, ReportError>
where
    I: IntoIterator<Item = &'r Record>,
{
    build_report_by(req, UnitView::PeriodEnd, records)
}

/// Builds a report with its rows by the units of `view`. Records keep the
/// unit they were made under; each is counted under the row its unit is
/// read under in that view. The unit reported on is resolved the same way:
/// a unit merged by then is reported as the unit it became; a town
/// abolished by then as its former units, as they became ("… (cũ)").
pub fn build_report_by<'r, I>(
    req: &ReportRequest<'_>,
    view: UnitView,
    records: I,
) -> Result<Report, ReportError>
where
    I: IntoIterator<Item = &'r Record>,
{
    let view_day = view.day(&req.period);
    let tree = req.units.as_of(view_day);
    let scope = Scope::resolved(&tree, req.unit)?;
    let cx = Context {
        tree: &tree,
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
            Record::Progress(p) => tasks.add_progress(&cx, p),
            Record::Task(_) => unreachable!("handled above"),
        }
    }

    let unit_changes = folded_lines(&cx, view_day);
    let mut report = Report {
        unit_changes,
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

/// One line per row (and day) that took in units ending between the
/// period's start and the view's day: which former units its figures
/// include. Organizations are counted, not named, to keep the line short.
fn folded_lines(cx: &Context<'_>, view_day: Date) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(until) = cx.scope.abolished {
        lines.push(format!(
            "{} kết thúc hoạt động từ ngày {}; báo cáo gồm số liệu của các đơn vị trước đây thuộc {}, theo các đơn vị sau sắp xếp.",
            cx.tree.name(&cx.scope.root),
            vi_date(until),
            cx.tree
                .get(&cx.scope.root)
                .map_or("đơn vị này", |u| u.kind.label_vi()),
        ));
    }
    let mut folded: BTreeMap<(usize, String, Date), (Vec<String>, usize)> = BTreeMap::new();
    for unit in cx.tree.units() {
        let Some(until) = unit
            .until
            .filter(|d| cx.period.start <= *d && *d <= view_day)
        else {
            continue;
        };
        let Some(bucket) = cx.scope.bucket_of(&unit.id) else {
            continue;
        };
        // The abolished unit reported on took in nothing: its first line
        // says what its figures are.
        if cx.scope.abolished.is_some() && bucket == cx.scope.root {
            continue;
        }
        let entry = folded
            .entry((cx.scope.rank(bucket), bucket.to_string(), until))
            .or_default();
        if unit.kind == UnitKind::Organization {
            entry.1 += 1;
        } else {
            entry.0.push(unit.name.clone());
        }
    }
    lines.extend(folded
        .into_iter()
        .map(|((_, bucket, until), (mut names, organizations))| {
            if organizations > 0 {
                names.push(format!("{organizations} cơ quan, tổ chức"));
            }
            let code = cx
                .tree
                .get(&bucket)
                .and_then(|u| u.code.as_deref())
                .map(|c| format!(" (mã {c})"))
                .unwrap_or_default();
            format!(
                "Số liệu của {}{code} gồm cả số liệu của {}, đã sắp xếp vào đơn vị này từ ngày {}.",
                cx.name(&bucket),
                names.join(", "),
                vi_date(until)
            )
        }));
    lines
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

/// Tasks in the order the report and the due list show them: by source
/// document, then number (`1.10` after `1.9`), then id.
pub(crate) fn sort_tasks(tasks: &mut [&danvan_model::Task]) {
    tasks.sort_by_cached_key(|t| {
        (
            t.source.clone().unwrap_or_default(),
            number_key(&t.number),
            t.header.id.clone(),
        )
    });
}

/// Sort key of a task number: `1.10` after `1.9`.
fn number_key(number: &str) -> Vec<(u64, String)> {
    number
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| (p.parse().unwrap_or(u64::MAX), p.to_string()))
        .collect()
}
