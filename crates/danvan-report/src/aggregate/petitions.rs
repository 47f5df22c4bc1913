//! The petitions section: received, resolved (on time or late), open and
//! overdue, per category, per unit row and per month of the period.

use std::collections::{BTreeMap, HashMap};

use danvan_model::{Period, Petition, vocab};

use super::{Context, date};
use crate::figures::{
    CategoryRow, MonthRow, OverduePetition, PetitionFigures, PetitionSection, UnitPetitionRow,
};

/// Petitions counted so far.
#[derive(Default)]
pub(super) struct PetitionTally {
    /// The totals and the overdue list; the rows are filled in by `finish`.
    section: PetitionSection,
    /// Per category, keyed by its diacritic-folded name so that spellings
    /// differing only in accents count as one.
    by_category: BTreeMap<String, CategoryRow>,
    /// Per unit row.
    by_unit: HashMap<String, PetitionFigures>,
    /// Received and resolved per month (`YYYY-MM`).
    by_month: HashMap<String, (u64, u64)>,
}

impl PetitionTally {
    /// Counts a petition of a unit row, if it was received by the end of the
    /// period and has a figure in it.
    pub(super) fn add(&mut self, cx: &Context<'_>, bucket: &str, p: &Petition) {
        if p.received.as_str() > cx.end.as_str() {
            return;
        }
        let unit = p.header.unit.as_str();
        let deadline = p.deadline();
        let mut f = PetitionFigures::default();
        let received_now = cx.in_period(&p.received);
        if received_now {
            f.received = 1;
            self.by_month.entry(month_of(&p.received)).or_default().0 += 1;
        }
        if p.is_closed() {
            let resolved_day = p.resolved.as_deref();
            let counted = match resolved_day {
                Some(d) => cx.in_period(d),
                None => received_now,
            };
            if counted {
                f.resolved = 1;
                let on_time =
                    matches!((resolved_day, deadline.as_deref()), (Some(r), Some(dl)) if r <= dl);
                if on_time {
                    f.resolved_on_time = 1;
                } else {
                    f.resolved_late = 1;
                }
                let month = resolved_day.unwrap_or(&p.received);
                self.by_month.entry(month_of(month)).or_default().1 += 1;
            }
        } else {
            let overdue = deadline
                .as_deref()
                .is_some_and(|dl| dl < cx.today_text.as_str());
            if overdue {
                f.overdue = 1;
                let dl = deadline.clone().unwrap_or_default();
                let days = date(&dl).map(|d| (cx.today - d).whole_days()).unwrap_or(0);
                self.section.overdue.push(OverduePetition {
                    id: p.header.id.clone(),
                    unit: unit.to_string(),
                    unit_name: cx.name(unit),
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
            return;
        }
        add_figures(&mut self.section.total, &f);
        add_figures(self.by_unit.entry(bucket.to_string()).or_default(), &f);
        let cat = category_of(p);
        let row = self
            .by_category
            .entry(danvan_model::fold(&cat))
            .or_insert_with(|| CategoryRow {
                category: cat,
                figures: PetitionFigures::default(),
            });
        add_figures(&mut row.figures, &f);
    }

    /// The section: categories by name, unit rows in tree order, every month
    /// of the period (empty ones too), the most overdue petition first.
    pub(super) fn finish(self, cx: &Context<'_>) -> PetitionSection {
        let mut section = self.section;
        section.by_category = self.by_category.into_values().collect();
        let mut rows: Vec<UnitPetitionRow> = self
            .by_unit
            .into_iter()
            .map(|(unit, figures)| UnitPetitionRow {
                unit_name: cx.name(&unit),
                unit,
                figures,
            })
            .collect();
        rows.sort_by_key(|r| cx.scope.rank(&r.unit));
        section.by_unit = rows;
        section.by_month = months(&cx.period)
            .into_iter()
            .map(|(month, label)| {
                let (received, resolved) = self.by_month.get(&month).copied().unwrap_or_default();
                MonthRow {
                    month,
                    label,
                    received,
                    resolved,
                }
            })
            .collect();
        section.overdue.sort_by(|a, b| {
            (b.days_overdue, &a.unit_name, &a.received, &a.id).cmp(&(
                a.days_overdue,
                &b.unit_name,
                &b.received,
                &b.id,
            ))
        });
        section
    }
}

/// The months of a period, as `(YYYY-MM, T<m>/<yyyy>)`.
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

/// `2023-07-17` → `2023-07`.
fn month_of(day: &str) -> String {
    day.get(..7).unwrap_or(day).to_string()
}

fn category_of(p: &Petition) -> String {
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
