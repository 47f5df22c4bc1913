//! The land-clearance section: households per project, as they stand today
//! (stage, open objection), with the visits made in the period and the area
//! handed over.

use std::collections::{BTreeMap, HashMap};

use danvan_model::{Household, vocab};

use super::Context;
use crate::figures::{LandFigures, LandProject, LandSection, LandUnitRow, StageCount};
use crate::format::round;

/// A project's figures: all units, and per unit row.
type ProjectTally = (LandFigures, HashMap<String, LandFigures>);

/// Households counted so far.
#[derive(Default)]
pub(super) struct LandTally {
    /// Per project, keyed by the project's place in the vocabulary (unknown
    /// projects and households outside any project last) and its code.
    projects: BTreeMap<(usize, String), ProjectTally>,
}

impl LandTally {
    /// Counts a household of a unit row. Every household counts, whatever
    /// the period: its stage is the one it stands at today.
    pub(super) fn add(&mut self, cx: &Context<'_>, bucket: &str, h: &Household) {
        let project = h.header.project.clone().unwrap_or_default();
        let rank = vocab::PROJECTS
            .iter()
            .position(|(c, _)| *c == project)
            .unwrap_or(usize::MAX);
        let entry = self
            .projects
            .entry((rank, project))
            .or_insert_with(|| (empty(), HashMap::new()));
        let visits = h.visits.iter().filter(|v| cx.in_period(&v.date)).count() as u64;
        let area = h.area_m2();
        let handed = h.stage == vocab::STAGE_HANDED_OVER;
        let open = h.objection_open();
        for f in [
            &mut entry.0,
            entry.1.entry(bucket.to_string()).or_insert_with(empty),
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

    /// The section: projects in vocabulary order, unit rows in tree order,
    /// areas rounded and the share handed over computed.
    pub(super) fn finish(self, cx: &Context<'_>) -> LandSection {
        let projects = self
            .projects
            .into_iter()
            .map(|((_, code), (mut total, units))| {
                finish(&mut total);
                let mut by_unit: Vec<LandUnitRow> = units
                    .into_iter()
                    .map(|(unit, mut figures)| {
                        finish(&mut figures);
                        LandUnitRow {
                            unit_name: cx.name(&unit),
                            unit,
                            figures,
                        }
                    })
                    .collect();
                by_unit.sort_by_key(|r| cx.scope.rank(&r.unit));
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
            .collect();
        LandSection { projects }
    }
}

/// Figures with every stage of the pipeline at zero, so that a table shows
/// the stages no household has reached yet.
fn empty() -> LandFigures {
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

/// Rounds the areas to one decimal, then computes the share handed over from
/// the rounded areas, so that the share agrees with the areas printed beside it.
fn finish(f: &mut LandFigures) {
    f.area_m2 = round(f.area_m2, 1);
    f.handed_over_m2 = round(f.handed_over_m2, 1);
    f.handed_over_pct = if f.area_m2 > 0.0 {
        round(f.handed_over_m2 * 100.0 / f.area_m2, 1)
    } else {
        0.0
    };
}
