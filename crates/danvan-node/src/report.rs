//! The town office's work on a node: periodic reports, what is due, and
//! tasks imported from a conclusion. The figures are computed by
//! `danvan-report`; this module only reads the records it needs.

use std::collections::HashSet;

use danvan_model::{Kind, Period, Record, Task, UnitKind, fold, format_date};
use danvan_report::{DueList, DueRequest, Report, ReportRequest, UnitView};
use danvan_store::ListFilter;
use serde::Serialize;
use time::Date;

use crate::error::NodeError;
use crate::node::Node;

/// Above this many units a report reads by kind and date only and leaves
/// the unit filter to `danvan-report` (see `report_records`).
const UNITS_IN_SQL_MAX: usize = 8;

/// What `task import` did.
#[derive(Clone, Debug, Serialize)]
pub struct TaskImport {
    /// The source the tasks were recorded under.
    pub source: String,
    /// Tasks created: number, id, assigned units.
    pub created: Vec<ImportedTask>,
    /// Numbers skipped because the task was already stored.
    pub existing: Vec<String>,
    /// Tasks created without units, and why.
    pub unassigned: Vec<UnassignedTask>,
}

/// One task created by an import.
#[derive(Clone, Debug, Serialize)]
pub struct ImportedTask {
    /// Number in the source.
    pub number: String,
    /// Record id.
    pub id: String,
    /// Heading.
    pub title: String,
    /// Assigned unit ids.
    pub assigned: Vec<String>,
}

/// A task whose units could not be found.
#[derive(Clone, Debug, Serialize)]
pub struct UnassignedTask {
    /// Number in the source.
    pub number: String,
    /// Heading.
    pub title: String,
    /// The addressee that matched no unit; `None` for a general task whose
    /// heading names no unit.
    pub unmatched: Option<String>,
}

/// Collapses whitespace and folds diacritics: the identity of a source or
/// a text for finding a task imported before.
fn identity(text: &str) -> String {
    fold(text).split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Node {
    /// Reads the records of one kind a filter selects, in no order,
    /// parsing each projection row straight into its type.
    fn records(&self, filter: ListFilter) -> Result<Vec<Record>, NodeError> {
        let kind = Kind::parse(filter.kind.as_deref().unwrap_or(""))?;
        let mut out = Vec::new();
        self.store().for_each_json(&filter, |text| {
            out.push(Record::from_json_str(kind, text)?);
            Ok::<(), danvan_model::RecordError>(())
        })??;
        Ok(out)
    }

    /// The records a report or due list over `units` up to `end` reads.
    fn report_records(
        &self,
        units: &[String],
        period: Option<&Period>,
        progress: crate::OnProgress<'_>,
    ) -> Result<Vec<Record>, NodeError> {
        let range = |p: &Period| (format_date(p.start), format_date(p.end));
        let until = period.map(|p| ("0000-01-01".to_string(), format_date(p.end)));
        // `danvan-report` skips records outside the unit's roll-up itself.
        // A long `unit IN (…)` makes SQLite walk the (kind, unit) index and
        // look every row up; for a town-wide report the date index and a
        // filter in Rust read far less.
        let units = (units.len() <= UNITS_IN_SQL_MAX).then(|| units.to_vec());
        let tell = |done: u64| crate::WorkProgress {
            work: crate::Work::Report,
            step: "Đọc hồ sơ cho báo cáo",
            item: "lượt đọc",
            done,
            total: 1,
        };
        progress(&tell(0));
        let mut filters: Vec<ListFilter> = [
            (Kind::Activity, period.map(range)),
            (Kind::Petition, until.clone()),
            (Kind::Household, None),
            (Kind::Model, period.map(range)),
            (Kind::Progress, period.map(range)),
        ]
        .into_iter()
        .map(|(kind, period)| ListFilter {
            kind: Some(kind.code().into()),
            units: units.clone(),
            period,
            ..ListFilter::default()
        })
        .collect();
        // Tasks are issued by the town and assigned below it: read them all.
        filters.push(ListFilter {
            kind: Some(Kind::Task.code().into()),
            ..ListFilter::default()
        });
        // Every kind in one pass over the table, in stored order: the kinds'
        // rows share its pages (see `Store::for_each_json_of`); parsed on
        // a second thread while SQLite reads.
        let out = crate::report_read::read_records(self.store(), &filters)?;
        progress(&tell(1));
        Ok(out)
    }

    /// The report of a unit (default: this node's) for a period, with
    /// figures as of `today`, its rows by the units as they stood at the
    /// period's end.
    pub fn report(
        &self,
        unit: Option<&str>,
        period: Period,
        today: Date,
    ) -> Result<Report, NodeError> {
        self.report_by(unit, period, today, UnitView::PeriodEnd)
    }

    /// [`Node::report`] with its rows by the units of `view`: a period
    /// before a merge by the old units ([`UnitView::PeriodEnd`]) or mapped
    /// to the units of a later day ([`UnitView::AsOf`]). The totals are the
    /// same either way.
    pub fn report_by(
        &self,
        unit: Option<&str>,
        period: Period,
        today: Date,
        view: UnitView,
    ) -> Result<Report, NodeError> {
        self.report_reporting(unit, period, today, view, &mut |_| {})
    }

    /// [`Node::report_by`], telling `progress` how far the reading is.
    pub fn report_reporting(
        &self,
        unit: Option<&str>,
        period: Period,
        today: Date,
        view: UnitView,
        progress: crate::OnProgress<'_>,
    ) -> Result<Report, NodeError> {
        let unit = unit.unwrap_or(self.unit()).to_string();
        let units = self.units_read_on(&unit, view.day(&period))?;
        let records = self.report_records(&units, Some(&period), progress)?;
        Ok(danvan_report::build_report_by(
            &ReportRequest {
                units: self.units(),
                unit: &unit,
                period,
                today,
            },
            view,
            &records,
        )?)
    }

    /// What is due for a unit (default: this node's) as of `today`.
    pub fn due(
        &self,
        unit: Option<&str>,
        today: Date,
        within_days: i64,
        stale_days: i64,
    ) -> Result<DueList, NodeError> {
        let unit = unit.unwrap_or(self.unit()).to_string();
        // What is due today is due at the units of today.
        let units = self.units_read_on(&unit, today)?;
        let records = self.report_records(&units, None, &mut |_| {})?;
        Ok(danvan_report::due(
            &DueRequest {
                units: self.units(),
                unit: &unit,
                today,
                within_days,
                stale_days,
            },
            &records,
        )?)
    }

    /// The town a unit belongs to (itself if it is one): where the units a
    /// conclusion names are looked for.
    fn town_of(&self, unit: &str) -> Option<String> {
        let mut cur = self.units().get(unit);
        for _ in 0..self.units().units().len() {
            let u = cur?;
            if u.kind == UnitKind::Town {
                return Some(u.id.clone());
            }
            cur = u.parent.as_deref().and_then(|p| self.units().get(p));
        }
        None
    }

    /// Creates one task per numbered item of a conclusion, assigned to the
    /// units its heading names. A task already stored — same number and the
    /// same source, or the same number and the same text — is skipped, so
    /// importing a conclusion twice creates nothing the second time. All
    /// tasks are written in one transaction, or none.
    pub fn import_tasks(
        &mut self,
        text: &str,
        source: Option<&str>,
        file_name: &str,
        unit: Option<&str>,
    ) -> Result<TaskImport, NodeError> {
        let parsed = danvan_report::parse_conclusion(text)?;
        let source = source
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or(parsed.title.clone())
            .unwrap_or_else(|| file_name.to_string());
        let owner = unit.unwrap_or(self.unit()).to_string();
        self.units().require(&owner)?;
        let town = self.town_of(&owner);
        let mut known: HashSet<(String, String)> = HashSet::new();
        for record in self.records(ListFilter {
            kind: Some(Kind::Task.code().into()),
            ..ListFilter::default()
        })? {
            if let Record::Task(t) = record {
                known.insert((
                    t.number.clone(),
                    identity(t.source.as_deref().unwrap_or("")),
                ));
                known.insert((t.number.clone(), identity(t.text.as_deref().unwrap_or(""))));
            }
        }
        let source_id = identity(&source);
        let mut report = TaskImport {
            source: source.clone(),
            created: Vec::new(),
            existing: Vec::new(),
            unassigned: Vec::new(),
        };
        let mut records = Vec::new();
        for task in parsed.tasks {
            if known.contains(&(task.number.clone(), source_id.clone()))
                || known.contains(&(task.number.clone(), identity(&task.text)))
            {
                report.existing.push(task.number);
                continue;
            }
            let assignment = task
                .addressee
                .as_deref()
                .map(|a| danvan_report::assign_units(a, self.units(), town.as_deref()));
            let assigned = assignment
                .as_ref()
                .map(|a| a.units.clone())
                .unwrap_or_default();
            match &assignment {
                None => report.unassigned.push(UnassignedTask {
                    number: task.number.clone(),
                    title: task.title.clone(),
                    unmatched: None,
                }),
                Some(a) if !a.unmatched.is_empty() || a.units.is_empty() => {
                    report.unassigned.push(UnassignedTask {
                        number: task.number.clone(),
                        title: task.title.clone(),
                        unmatched: Some(
                            a.unmatched
                                .first()
                                .cloned()
                                .unwrap_or_else(|| task.title.clone()),
                        ),
                    })
                }
                Some(_) => {}
            }
            let record = Record::Task(Task {
                header: self.new_header(Kind::Task, Some(&owner), None)?,
                source: Some(source.clone()),
                number: task.number.clone(),
                title: task.title.clone(),
                text: Some(task.text.clone()),
                assigned: assigned.clone(),
                due: None,
            });
            self.validate(&record)?;
            report.created.push(ImportedTask {
                number: task.number,
                id: record.header().id.clone(),
                title: task.title,
                assigned,
            });
            records.push(record);
        }
        if !records.is_empty() {
            self.add_many(&records)?;
        }
        Ok(report)
    }
}
