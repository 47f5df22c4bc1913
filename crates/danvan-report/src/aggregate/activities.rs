//! The activities section: activities held in the period, per type and per
//! unit row, with citizen receptions and direct dialogues counted apart.

use std::collections::{BTreeMap, HashMap};

use danvan_model::{Activity, vocab};

use super::Context;
use crate::figures::{ActivitySection, ActivityTypeRow, ActivityUnitRow};

/// Activities counted so far.
#[derive(Default)]
pub(super) struct ActivityTally {
    /// The totals; the rows are filled in by `finish`.
    section: ActivitySection,
    /// Per type, keyed by the type's place in the vocabulary (unknown types last).
    by_type: BTreeMap<usize, ActivityTypeRow>,
    /// Per unit row.
    by_unit: HashMap<String, ActivityUnitRow>,
}

impl ActivityTally {
    /// Counts an activity of a unit row, if its day falls in the period.
    pub(super) fn add(&mut self, cx: &Context<'_>, bucket: &str, a: &Activity) {
        if !cx.in_period(&a.date) {
            return;
        }
        let attendance = a.attendance.unwrap_or(0);
        let rank = vocab::ACTIVITY_TYPES
            .iter()
            .position(|(c, _)| *c == a.activity_type)
            .unwrap_or(usize::MAX);
        let row = self.by_type.entry(rank).or_insert_with(|| ActivityTypeRow {
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
        let u = self
            .by_unit
            .entry(bucket.to_string())
            .or_insert_with(|| ActivityUnitRow {
                unit: bucket.to_string(),
                unit_name: cx.name(bucket),
                ..ActivityUnitRow::default()
            });
        u.count += 1;
        u.attendance += attendance;
        let total = &mut self.section;
        total.total += 1;
        total.attendance += attendance;
        // Receptions count the citizens received, dialogues the matters raised.
        let (receptions, citizens, dialogues, matters) = match a.activity_type.as_str() {
            vocab::ACTIVITY_RECEPTION => (1, a.citizens.unwrap_or(0), 0, 0),
            vocab::ACTIVITY_DIALOGUE => (0, 0, 1, a.matters.unwrap_or(0)),
            _ => (0, 0, 0, 0),
        };
        total.receptions += receptions;
        total.citizens += citizens;
        total.dialogues += dialogues;
        total.dialogue_matters += matters;
        u.receptions += receptions;
        u.citizens += citizens;
        u.dialogues += dialogues;
        u.dialogue_matters += matters;
    }

    /// The section: types in vocabulary order, unit rows in tree order.
    pub(super) fn finish(self, cx: &Context<'_>) -> ActivitySection {
        let mut section = self.section;
        section.by_type = self.by_type.into_values().collect();
        let mut rows: Vec<ActivityUnitRow> = self.by_unit.into_values().collect();
        rows.sort_by_key(|r| cx.scope.rank(&r.unit));
        section.by_unit = rows;
        section
    }
}
