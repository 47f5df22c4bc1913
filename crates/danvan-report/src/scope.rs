//! Which units a report covers, and the row each unit's records are counted
//! under: the unit itself or the child of it they roll up through.

use std::collections::{BTreeSet, HashMap};

use danvan_model::UnitTree;

use crate::ReportError;

/// The units a report covers and how they are grouped into rows.
#[derive(Debug)]
pub(crate) struct Scope {
    /// The unit reported on.
    pub(crate) root: String,
    /// Every unit whose records count: the root's roll-up.
    pub(crate) units: BTreeSet<String>,
    /// Unit id → the row (bucket) it is counted under.
    bucket: HashMap<String, String>,
    /// Bucket ids in unit-tree order, the root first.
    pub(crate) order: Vec<String>,
}

impl Scope {
    pub(crate) fn new(tree: &UnitTree, root: &str) -> Result<Scope, ReportError> {
        if tree.get(root).is_none() {
            return Err(ReportError::UnknownUnit(root.to_string()));
        }
        let units = tree.rollup(root);
        let mut bucket = HashMap::new();
        let mut order = vec![root.to_string()];
        for child in tree.children(root) {
            // A child merged into another unit is read under that unit.
            if child.merged_into.is_some() {
                continue;
            }
            for id in tree.rollup(&child.id) {
                bucket.entry(id).or_insert_with(|| child.id.clone());
            }
            order.push(child.id.clone());
        }
        for id in &units {
            bucket.entry(id.clone()).or_insert_with(|| root.to_string());
        }
        Ok(Scope {
            root: root.to_string(),
            units,
            bucket,
            order,
        })
    }

    /// Whether records of this unit count.
    pub(crate) fn contains(&self, unit: &str) -> bool {
        self.units.contains(unit)
    }

    /// The row a unit's records are counted under.
    pub(crate) fn bucket_of(&self, unit: &str) -> Option<&str> {
        self.bucket.get(unit).map(String::as_str)
    }

    /// Position of a bucket in tree order, for sorting rows.
    pub(crate) fn rank(&self, bucket: &str) -> usize {
        self.order
            .iter()
            .position(|b| b == bucket)
            .unwrap_or(usize::MAX)
    }
}
