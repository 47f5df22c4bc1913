//! What needs attention now: petitions overdue or soon due, tasks with no
//! progress for the current period, households not visited for a while.

use std::collections::HashSet;

use danvan_model::{Period, Record, UnitTree, format_date, parse_date, vocab};
use serde::Serialize;
use time::{Date, Duration};

use crate::ReportError;
use crate::aggregate::{sort_tasks, task_applies};
use crate::scope::Scope;

/// What to look at.
#[derive(Clone, Copy, Debug)]
pub struct DueRequest<'a> {
    /// The unit tree.
    pub units: &'a UnitTree,
    /// The unit; its whole roll-up counts.
    pub unit: &'a str,
    /// Today, as the caller's clock says.
    pub today: Date,
    /// Petitions due within this many days are listed with the overdue ones.
    pub within_days: i64,
    /// Households not visited for this many days are listed.
    pub stale_days: i64,
}

/// An open petition overdue or due soon.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DuePetition {
    /// Record id.
    pub id: String,
    /// Owning unit.
    pub unit: String,
    /// Its name.
    pub unit_name: String,
    /// Citizen.
    pub citizen: String,
    /// Type label.
    pub petition_type: String,
    /// Category.
    pub category: Option<String>,
    /// Received.
    pub received: String,
    /// Statutory deadline.
    pub deadline: String,
    /// Days left until the deadline; negative when overdue.
    pub days_left: i64,
    /// Whether the deadline has passed.
    pub overdue: bool,
}

/// An assigned unit with no progress on a task for the current period.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DueTask {
    /// Task record id.
    pub id: String,
    /// Number in the source.
    pub number: String,
    /// Heading.
    pub title: String,
    /// Source document.
    pub source: Option<String>,
    /// The unit that has not reported.
    pub unit: String,
    /// Its name.
    pub unit_name: String,
}

/// A household not handed over and not visited for a while.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DueHousehold {
    /// Record id.
    pub id: String,
    /// Owning unit.
    pub unit: String,
    /// Its name.
    pub unit_name: String,
    /// Project.
    pub project: Option<String>,
    /// Head of household.
    pub head: String,
    /// Village.
    pub village: Option<String>,
    /// Stage code.
    pub stage: String,
    /// Stage label.
    pub stage_label: String,
    /// Day of the last visit, if any.
    pub last_visit: Option<String>,
    /// Days since then; `None` when never visited.
    pub days_since_visit: Option<i64>,
}

/// Everything due.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DueList {
    /// The day it was computed for.
    pub today: String,
    /// The current reporting period (the half-year of today).
    pub period: String,
    /// See [`DueRequest::within_days`].
    pub within_days: i64,
    /// See [`DueRequest::stale_days`].
    pub stale_days: i64,
    /// Petitions, earliest deadline first.
    pub petitions: Vec<DuePetition>,
    /// Tasks without progress, by task then unit.
    pub tasks: Vec<DueTask>,
    /// Households, longest unvisited first.
    pub households: Vec<DueHousehold>,
}

/// Lists what is due.
pub fn due<'r, I>(req: &DueRequest<'_>, records: I) -> Result<DueList, ReportError>
where
    I: IntoIterator<Item = &'r Record>,
{
    // Units as they stand today: a merged commune's records and tasks are
    // due at the unit it merged into.
    let tree = &req.units.as_of(req.today);
    let scope = Scope::resolved(tree, req.unit)?;
    let period = Period::half_of(req.today);
    let horizon = format_date(req.today + Duration::days(req.within_days.max(0)));
    let today = format_date(req.today);
    let mut petitions = Vec::new();
    let mut tasks: Vec<&danvan_model::Task> = Vec::new();
    let mut reported: HashSet<(String, String)> = HashSet::new();
    let mut households = Vec::new();
    for record in records {
        let unit = record.header().unit.as_str();
        match record {
            Record::Task(t)
                if t.assigned.iter().any(|u| scope.contains(u)) && task_applies(t, &period) =>
            {
                tasks.push(t);
            }
            Record::Progress(p) if scope.contains(unit) => {
                let within = p
                    .period
                    .parse::<Period>()
                    .is_ok_and(|pp| pp.start >= period.start && pp.end <= period.end);
                if within {
                    reported.insert((p.task.clone(), tree.current(unit)));
                }
            }
            Record::Petition(p) if scope.contains(unit) && !p.is_closed() => {
                let Some(deadline) = p.deadline() else {
                    continue;
                };
                if deadline > horizon {
                    continue;
                }
                let days_left = parse_date(&deadline)
                    .map(|d| (d - req.today).whole_days())
                    .unwrap_or(0);
                petitions.push(DuePetition {
                    id: p.header.id.clone(),
                    unit: unit.to_string(),
                    unit_name: tree.name(unit).to_string(),
                    citizen: p.citizen.clone(),
                    petition_type: vocab::label(vocab::PETITION_TYPES, &p.petition_type)
                        .to_string(),
                    category: p.category.clone(),
                    received: p.received.clone(),
                    overdue: deadline < today,
                    deadline,
                    days_left,
                });
            }
            Record::Household(h) if scope.contains(unit) && h.stage != vocab::STAGE_HANDED_OVER => {
                let last = h.visits.iter().map(|v| v.date.clone()).max();
                let days = last
                    .as_deref()
                    .and_then(|d| parse_date(d).ok())
                    .map(|d| (req.today - d).whole_days());
                if days.is_some_and(|d| d < req.stale_days) {
                    continue;
                }
                households.push(DueHousehold {
                    id: h.header.id.clone(),
                    unit: unit.to_string(),
                    unit_name: tree.name(unit).to_string(),
                    project: h.header.project.clone(),
                    head: h.head.clone(),
                    village: h.village.clone(),
                    stage: h.stage.clone(),
                    stage_label: vocab::label(vocab::HOUSEHOLD_STAGES, &h.stage).to_string(),
                    last_visit: last,
                    days_since_visit: days,
                });
            }
            _ => {}
        }
    }
    petitions.sort_by(|a, b| {
        (&a.deadline, &a.unit_name, &a.id).cmp(&(&b.deadline, &b.unit_name, &b.id))
    });
    households.sort_by(|a, b| {
        let key = |h: &DueHousehold| std::cmp::Reverse(h.days_since_visit.unwrap_or(i64::MAX));
        (key(a), &a.unit_name, &a.head, &a.id).cmp(&(key(b), &b.unit_name, &b.head, &b.id))
    });
    sort_tasks(&mut tasks);
    let mut due_tasks = Vec::new();
    for t in tasks {
        for unit in scope.assigned(tree, &t.assigned) {
            if reported.contains(&(t.header.id.clone(), unit.clone())) {
                continue;
            }
            due_tasks.push(DueTask {
                id: t.header.id.clone(),
                number: t.number.clone(),
                title: t.title.clone(),
                source: t.source.clone(),
                unit_name: tree.name(&unit).to_string(),
                unit,
            });
        }
    }
    Ok(DueList {
        today,
        period: period.to_string(),
        within_days: req.within_days,
        stale_days: req.stale_days,
        petitions,
        tasks: due_tasks,
        households,
    })
}
