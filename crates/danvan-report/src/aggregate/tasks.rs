//! The tasks section: tasks from conclusions that apply to the period, each
//! assigned unit in scope with its latest progress report.

use std::collections::HashMap;

use danvan_model::{Period, Progress, Task, vocab};

use super::{Context, sort_tasks, task_applies};
use crate::figures::{TaskAssignment, TaskRow, TaskSection};

/// Tasks and progress reports gathered so far; they are matched in `finish`,
/// because a progress report may come before its task.
#[derive(Default)]
pub(super) struct TaskTally<'r> {
    /// Tasks that apply to the period and are assigned to a unit in scope.
    tasks: Vec<&'r Task>,
    /// Progress reports per `(task id, reporting unit)`.
    progress: HashMap<(String, String), Vec<&'r Progress>>,
}

impl<'r> TaskTally<'r> {
    /// Keeps a task if any unit it is assigned to is in scope and it applies
    /// to the period.
    pub(super) fn add_task(&mut self, cx: &Context<'_>, t: &'r Task) {
        if t.assigned.iter().any(|u| cx.scope.contains(u)) && task_applies(t, &cx.period) {
            self.tasks.push(t);
        }
    }

    /// Keeps a progress report, under the unit its unit is read under in
    /// the report's view (a merged commune's report counts for the merged
    /// unit).
    pub(super) fn add_progress(&mut self, cx: &Context<'_>, p: &'r Progress) {
        self.progress
            .entry((p.task.clone(), cx.scope.read_under(cx.tree, &p.header.unit)))
            .or_default()
            .push(p);
    }

    /// The section: tasks by source then number, each assigned unit in tree
    /// order with its latest progress within the period.
    pub(super) fn finish(mut self, cx: &Context<'_>) -> TaskSection {
        let mut section = TaskSection::default();
        sort_tasks(&mut self.tasks);
        for t in self.tasks {
            let mut row = TaskRow {
                id: t.header.id.clone(),
                number: t.number.clone(),
                title: t.title.clone(),
                source: t.source.clone(),
                assigned: Vec::new(),
                reported: 0,
                completed: 0,
            };
            for unit in &cx.scope.assigned(cx.tree, &t.assigned) {
                let reports = self
                    .progress
                    .get(&(t.header.id.clone(), unit.clone()))
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let latest = latest_progress(reports, &cx.period);
                section.assignments += 1;
                if let Some(p) = latest {
                    row.reported += 1;
                    section.reported += 1;
                    if p.status == vocab::PROGRESS_DONE {
                        row.completed += 1;
                        section.completed += 1;
                    }
                } else {
                    section.not_reported += 1;
                }
                row.assigned.push(TaskAssignment {
                    unit: unit.clone(),
                    unit_name: cx.name(unit),
                    status: latest.map(|p| p.status.clone()),
                    status_label: latest
                        .map(|p| vocab::label(vocab::PROGRESS_STATUSES, &p.status).to_string())
                        .unwrap_or_else(|| "Chưa báo cáo".to_string()),
                    progress_period: latest.map(|p| p.period.clone()),
                    summary: latest.map(|p| p.summary.clone()),
                });
            }
            section.tasks.push(row);
        }
        section
    }
}

/// A progress status's place in the vocabulary, furthest along last.
fn progress_rank(status: &str) -> usize {
    vocab::PROGRESS_STATUSES
        .iter()
        .position(|(c, _)| *c == status)
        .unwrap_or(0)
}

/// The latest progress of `(task, unit)` within a period, from progress
/// records: the one whose period ends last (then starts last, then is
/// furthest along). Never by device time.
fn latest_progress<'a>(progress: &[&'a Progress], within: &Period) -> Option<&'a Progress> {
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
