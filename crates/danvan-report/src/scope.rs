//! Which units a report covers, and the row each unit's records are counted
//! under: the unit itself or the child of it they roll up through, in one
//! view of the unit tree (units that ended are read under their successor).
//!
//! A unit that ended by a merge is reported as the unit it became. A unit
//! whose level was abolished (its records went to a unit above it, as the
//! town's went to the province on 1/7/2025) is reported as what it covered:
//! its former units as they became, named "… (cũ)", never the whole unit
//! above.

use std::collections::{BTreeSet, HashMap};

use danvan_model::UnitTree;
use time::Date;

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
    /// The root's name as the report shows it: "Thị xã Đức Phổ (cũ)" for
    /// an abolished unit.
    pub(crate) root_name: String,
    /// The day the root was abolished, when it was in this view.
    pub(crate) abolished: Option<Date>,
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
            root_name: tree.name(root).to_string(),
            abolished: None,
        })
    }

    /// The scope of `unit` as read in `tree` (one view of the units): the
    /// unit itself; the unit it had become by then when it was merged; its
    /// former units as they became when its level was abolished.
    pub(crate) fn resolved(tree: &UnitTree, unit: &str) -> Result<Scope, ReportError> {
        let Some(found) = tree.get(unit) else {
            return Err(ReportError::UnknownUnit(unit.to_string()));
        };
        if found.merged_into.is_none() {
            return Scope::new(tree, unit);
        }
        let successor = tree.current(unit);
        if ancestors(tree, unit).any(|a| a == successor) {
            Ok(Scope::abolished(tree, unit))
        } else {
            Scope::new(tree, &successor)
        }
    }

    /// The scope of a unit whose level was abolished in `tree`: exactly the
    /// units that rolled up into it while it existed, and units created
    /// later only from them (a ward made of its communes), each counted
    /// under the highest unit it became below what took the abolished
    /// unit's own records (the rows are the new units); records of the
    /// abolished unit and of its organizations, which went up with it, are
    /// counted in the root's row.
    fn abolished(tree: &UnitTree, root: &str) -> Scope {
        let until = tree.get(root).and_then(|u| u.until);
        let last_day = until.and_then(|d| d.previous_day());
        let mut inside = tree.rollup_between(root, None, last_day);
        // Units created later count when every unit merged into them does;
        // bounded by the unit count, each pass adds one at least.
        for _ in 0..tree.units().len() {
            let before = inside.len();
            for unit in tree.units() {
                if unit.since.is_none() || inside.contains(&unit.id) {
                    continue;
                }
                let mut merged = tree
                    .units()
                    .iter()
                    .filter(|u| u.merged_into.as_deref() == Some(unit.id.as_str()))
                    .peekable();
                if merged.peek().is_some() && merged.all(|u| inside.contains(&u.id)) {
                    inside.insert(unit.id.clone());
                }
            }
            if inside.len() == before {
                break;
            }
        }
        let above: BTreeSet<String> = std::iter::once(tree.current(root))
            .chain(ancestors(tree, &tree.current(root)))
            .collect();
        let mut bucket = HashMap::new();
        let mut rows = BTreeSet::new();
        for id in &inside {
            let row =
                row_below(tree, &tree.current(id), &above).unwrap_or_else(|| root.to_string());
            if row != root {
                rows.insert(row.clone());
            }
            bucket.insert(id.clone(), row);
        }
        let mut order = vec![root.to_string()];
        order.extend(
            tree.units()
                .iter()
                .filter(|u| rows.contains(&u.id))
                .map(|u| u.id.clone()),
        );
        Scope {
            root: root.to_string(),
            units: inside,
            bucket,
            order,
            root_name: format!("{} (cũ)", tree.name(root)),
            abolished: until,
        }
    }

    /// The units of a task's assignment within the scope, each as read in
    /// `tree` (units merged by then become the unit they merged into, once),
    /// in tree order.
    pub(crate) fn assigned(&self, tree: &UnitTree, assigned: &[String]) -> Vec<String> {
        let mut units: Vec<String> = assigned
            .iter()
            .filter(|u| self.contains(u))
            .map(|u| self.read_under(tree, u))
            .collect();
        units.sort_by_key(|u| (tree.units().iter().position(|x| &x.id == u), u.clone()));
        units.dedup();
        units
    }

    /// The unit a record of `unit` is read under in this scope: the unit
    /// it became, or, in an abolished unit's scope, the abolished unit when
    /// what it became is outside (the organizations that went up with it).
    pub(crate) fn read_under(&self, tree: &UnitTree, unit: &str) -> String {
        let current = tree.current(unit);
        if self.abolished.is_some() && !self.units.contains(&current) {
            self.root.clone()
        } else {
            current
        }
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

/// The units whose records a report (or the list of what is due) of `unit`
/// reads when its rows are the units of `day`: what the report crate
/// counts, so a caller reads no more from its store.
pub fn units_reported(
    tree: &UnitTree,
    unit: &str,
    day: Date,
) -> Result<BTreeSet<String>, ReportError> {
    Ok(Scope::resolved(&tree.as_of(day), unit)?.units)
}

/// The units above `unit` in `tree`, nearest first (bounded by the unit
/// count, so a malformed tree cannot hang it).
fn ancestors<'t>(tree: &'t UnitTree, unit: &str) -> impl Iterator<Item = String> + 't {
    let mut cur = tree.get(unit).and_then(|u| u.parent.clone());
    std::iter::from_fn(move || {
        let next = cur.take()?;
        cur = tree.get(&next).and_then(|u| u.parent.clone());
        Some(next)
    })
    .take(tree.units().len())
}

/// The highest unit on the way up from `unit` that is not in `above`;
/// `None` when `unit` itself is.
fn row_below(tree: &UnitTree, unit: &str, above: &BTreeSet<String>) -> Option<String> {
    if above.contains(unit) {
        return None;
    }
    let mut row = unit.to_string();
    for a in ancestors(tree, unit) {
        if above.contains(&a) {
            break;
        }
        row = a;
    }
    Some(row)
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
