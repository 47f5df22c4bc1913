//! The "Dân vận khéo" section: models whose year of recognition overlaps the
//! period, per field of work and per unit row.

use std::collections::HashMap;

use danvan_model::{Model, vocab};

use super::Context;
use crate::figures::{ModelItem, ModelSection, ModelUnitRow};

/// Models counted so far.
pub(super) struct ModelTally {
    /// The totals and the list; the rows are filled in by `finish`.
    section: ModelSection,
    /// Per unit row, a count per field in vocabulary order.
    by_unit: HashMap<String, Vec<u64>>,
}

impl ModelTally {
    /// No model yet, every field of the vocabulary at zero.
    pub(super) fn new() -> ModelTally {
        ModelTally {
            section: ModelSection {
                fields: vocab::MODEL_FIELDS
                    .iter()
                    .map(|(_, l)| l.to_string())
                    .collect(),
                by_field: vec![0; vocab::MODEL_FIELDS.len()],
                ..ModelSection::default()
            },
            by_unit: HashMap::new(),
        }
    }

    /// Counts a model of a unit row, if its year overlaps the period and its
    /// field is one of the vocabulary.
    pub(super) fn add(&mut self, cx: &Context<'_>, bucket: &str, m: &Model) {
        let year_start = format!("{:04}-01-01", m.year);
        let year_end = format!("{:04}-12-31", m.year);
        if year_start.as_str() > cx.end.as_str() || year_end.as_str() < cx.start.as_str() {
            return;
        }
        let Some(field) = vocab::MODEL_FIELDS.iter().position(|(c, _)| *c == m.field) else {
            return;
        };
        self.section.by_field[field] += 1;
        self.section.total += 1;
        self.by_unit
            .entry(bucket.to_string())
            .or_insert_with(|| vec![0; vocab::MODEL_FIELDS.len()])[field] += 1;
        self.section.list.push(ModelItem {
            name: m.name.clone(),
            unit_name: cx.name(&m.header.unit),
            field: vocab::MODEL_FIELDS[field].1.to_string(),
            year: m.year,
        });
    }

    /// The section: unit rows in tree order, the list by unit then name.
    pub(super) fn finish(self, cx: &Context<'_>) -> ModelSection {
        let mut section = self.section;
        let mut rows: Vec<ModelUnitRow> = self
            .by_unit
            .into_iter()
            .map(|(unit, by_field)| ModelUnitRow {
                unit_name: cx.name(&unit),
                total: by_field.iter().sum(),
                unit,
                by_field,
            })
            .collect();
        rows.sort_by_key(|r| cx.scope.rank(&r.unit));
        section.by_unit = rows;
        section
            .list
            .sort_by(|a, b| (&a.unit_name, &a.name).cmp(&(&b.unit_name, &b.name)));
        section
    }
}
