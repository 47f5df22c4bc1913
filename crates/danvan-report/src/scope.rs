//! Which units a report covers, and the row each unit's records are counted
//! under: the unit itself or the child of it they roll up through, in one
//! view of the unit tree (units that ended are read under their successor).

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
        let mut units = BTreeSet::new();
        let mut bucket = HashMap::new();
        for id in tree.rollup(root) {
            // A unit's records count under the unit they are read under in
            // this view (after merges), in the row of the child of the root
            // above it; a unit merged into one outside the root does not
            // count here.
            if let Some(row) = row_of(tree, root, &id) {
                bucket.insert(id.clone(), row);
                units.insert(id);
            }
        }
        let mut order = vec![root.to_string()];
        order.extend(
            tree.children(root)
                .into_iter()
                .filter(|child| child.merged_into.is_none())
                .map(|child| child.id.clone()),
        );
        Ok(Scope {
            root: root.to_string(),
            units,
            bucket,
            order,
        })
    }

    /// The scope of `unit` as read in `tree` (one view of the units): the
    /// unit itself, or the unit it had become by then when it has ended.
    pub(crate) fn resolved(tree: &UnitTree, unit: &str) -> Result<Scope, ReportError> {
        if tree.get(unit).is_none() {
            return Err(ReportError::UnknownUnit(unit.to_string()));
        }
        Scope::new(tree, &tree.current(unit))
    }

    /// The units of a task's assignment within the scope, each as read in
    /// `tree` (units merged by then become the unit they merged into, once),
    /// in tree order.
    pub(crate) fn assigned(&self, tree: &UnitTree, assigned: &[String]) -> Vec<String> {
        let mut units: Vec<String> = assigned
            .iter()
            .filter(|u| self.contains(u))
            .map(|u| tree.current(u))
            .collect();
        units.sort_by_key(|u| (tree.units().iter().position(|x| &x.id == u), u.clone()));
        units.dedup();
        units
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

/// The row of `root`'s report a unit's records count under: the root, or
/// the child of the root above the unit they are read under in `tree`;
/// `None` when that unit is not below the root.
fn row_of(tree: &UnitTree, root: &str, unit: &str) -> Option<String> {
    let mut cur = tree.current(unit);
    // Bounded by the unit count, so a malformed tree cannot hang it.
    for _ in 0..=tree.units().len() {
        if cur == root {
            return Some(root.to_string());
        }
        let parent = tree.get(&cur)?.parent.clone()?;
        if parent == root {
            return Some(cur);
        }
        cur = parent;
    }
    None
}
