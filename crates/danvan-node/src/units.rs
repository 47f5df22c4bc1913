//! The town's units on a node: the unit changes the town office adds to
//! the roster — one typed on the command line, or every change of a
//! gazetteer file — and which units a read covers as of a day.
//!
//! A change is checked by replaying the whole history with it
//! (`UnitTree::append_change`): a cycle, an unknown or ended unit, a merge
//! into itself or a date before the last change is refused with the
//! replay's Vietnamese message, and nothing is signed.

use std::path::Path;
use std::sync::Arc;

use danvan_model::{
    MergeInto, Period, SignedRoster, Unit, UnitAction, UnitChange, UnitKind, UnitTree, parse_date,
};
use time::Date;

use crate::error::{NodeError, io};
use crate::node::Node;

/// The largest unit file `roster unit-change load` reads (the roster that
/// carries it must fit in one sync frame, 3 MiB, with its members).
pub const UNIT_FILE_BYTES_MAX: u64 = 1024 * 1024;
/// The longest id a unit created by a merge may have.
const UNIT_ID_MAX: usize = 64;

/// A unit change as typed: ids, names and codes as text; a merge's target
/// as a [`MergeDraft`], checked into the model's [`MergeInto`].
pub type UnitChangeDraft = UnitAction<MergeDraft>;

/// The unit a merge goes into, as typed: an existing unit, or a new one
/// when `name` is given (then `kind` is needed; `parent` defaults to the
/// first merged unit's parent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeDraft {
    /// The unit they go into (its id).
    pub into: String,
    /// The name of a new unit.
    pub name: Option<String>,
    /// The kind of a new unit (province, town, commune, ward, village,
    /// organization).
    pub kind: Option<String>,
    /// The official code of a new unit.
    pub code: Option<String>,
    /// The parent of a new unit.
    pub parent: Option<String>,
}

/// A unit change to add to the roster.
#[derive(Clone, Debug)]
pub struct UnitChangeRequest {
    /// The day it takes effect, as typed (`01/07/2025` or `2025-07-01`).
    pub on: String,
    /// The legal basis ("Nghị quyết 1677/NQ-UBTVQH15 ngày 16/6/2025").
    pub basis: Option<String>,
    /// What changes.
    pub action: UnitChangeDraft,
}

/// What a unit change command signed.
#[derive(Debug)]
pub struct UnitChangesSigned {
    /// The new roster, installed here (nodes get it at their next sync).
    pub roster: Arc<SignedRoster>,
    /// One Vietnamese line per change added.
    pub lines: Vec<String>,
    /// Units the file added before its changes (for a loaded file).
    pub units_added: usize,
}

fn input(reason: impl Into<String>) -> NodeError {
    NodeError::UnitChangeInput(reason.into())
}

fn parse_kind(text: &str) -> Result<UnitKind, NodeError> {
    [
        UnitKind::Province,
        UnitKind::Town,
        UnitKind::Commune,
        UnitKind::Ward,
        UnitKind::Village,
        UnitKind::Organization,
    ]
    .into_iter()
    .find(|k| k.code() == text.trim())
    .ok_or_else(|| {
        input(format!(
            "loại đơn vị {text:?} không rõ (province, town, commune, ward, village, organization)"
        ))
    })
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Node {
    /// Which units a read of `unit` covers over `period` (the whole
    /// history when `None`): the unit, those below it and those merged into
    /// it, in every view of the tree in force during the period. So
    /// `list --unit phuong-duc-pho` lists the records of its five former
    /// wards, made before the merge too, and the town abolished in 2025
    /// still lists its communes' records.
    pub fn unit_filter_in(
        &self,
        unit: &str,
        period: Option<&Period>,
    ) -> Result<Vec<String>, NodeError> {
        self.units().require(unit)?;
        Ok(self
            .units()
            .rollup_between(unit, period.map(|p| p.start), period.map(|p| p.end))
            .into_iter()
            .collect())
    }

    /// The units whose records a report or due list of `unit` reads when
    /// its rows are the units of `day`: the roll-up of what a merged `unit`
    /// had become by then, or an abolished one's former units
    /// (`danvan_report::units_reported`, what the report counts).
    pub(crate) fn units_read_on(&self, unit: &str, day: Date) -> Result<Vec<String>, NodeError> {
        self.units().require(unit)?;
        Ok(danvan_report::units_reported(self.units(), unit, day)?
            .into_iter()
            .collect())
    }

    /// Adds one unit change to the roster (town office only): checked
    /// against the whole history, signed, installed; nodes get it at their
    /// next sync. Refused with the reason, nothing signed, when the change
    /// is not possible.
    pub fn roster_unit_change(
        &mut self,
        request: &UnitChangeRequest,
    ) -> Result<UnitChangesSigned, NodeError> {
        let (key, mut roster) = self.next_roster()?;
        let change = self.build_unit_change(request)?;
        let (text, tree) = UnitTree::append_change(&roster.units, &change)?;
        let line = tree.describe_change(tree.changes().last().unwrap_or(&change));
        roster.units = text;
        let signed = self.install_signed(&key, &roster)?;
        Ok(UnitChangesSigned {
            roster: signed,
            lines: vec![line],
            units_added: 0,
        })
    }

    fn build_unit_change(&self, request: &UnitChangeRequest) -> Result<UnitChange, NodeError> {
        let date = parse_date(&request.on)?;
        let action = match request.action.clone() {
            UnitAction::Merge {
                units,
                into:
                    MergeDraft {
                        into,
                        name,
                        kind,
                        code,
                        parent,
                    },
            } => {
                let units: Vec<String> = units
                    .into_iter()
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect();
                if units.is_empty() {
                    return Err(input("cần ít nhất một đơn vị bị sáp nhập (--from)"));
                }
                let into = into.trim().to_string();
                let (kind, code, parent) = (non_empty(kind), non_empty(code), non_empty(parent));
                let into = match non_empty(name) {
                    None => {
                        if kind.is_some() || code.is_some() || parent.is_some() {
                            return Err(input(
                                "--kind, --code, --parent chỉ dùng khi sáp nhập thành đơn vị mới (có --name)",
                            ));
                        }
                        MergeInto::Existing(into)
                    }
                    Some(name) => {
                        let ok_id = !into.is_empty()
                            && into.len() <= UNIT_ID_MAX
                            && into
                                .bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                        if !ok_id {
                            return Err(input(format!(
                                "mã đơn vị mới {into:?} chỉ gồm chữ thường không dấu, số và dấu gạch ngang, tối đa {UNIT_ID_MAX} ký tự (ví dụ phuong-duc-pho)"
                            )));
                        }
                        let kind = kind.ok_or_else(|| {
                            input("đơn vị mới cần --kind (province, town, commune, ward, village, organization)")
                        })?;
                        let parent = parent
                            .or_else(|| self.units().get(&units[0]).and_then(|u| u.parent.clone()));
                        MergeInto::New(Unit {
                            id: into,
                            name,
                            kind: parse_kind(&kind)?,
                            parent,
                            group: None,
                            merged_into: None,
                            code,
                            since: Some(date),
                            until: None,
                        })
                    }
                };
                UnitAction::Merge { units, into }
            }
            UnitAction::Rename { unit, name, code } => UnitAction::Rename {
                unit: unit.trim().to_string(),
                name: non_empty(Some(name)).ok_or_else(|| input("cần tên mới (--name)"))?,
                code: non_empty(code),
            },
            UnitAction::Move { unit, parent } => UnitAction::Move {
                unit: unit.trim().to_string(),
                parent: parent.trim().to_string(),
            },
            UnitAction::Abolish { units } => UnitAction::Abolish {
                units: units
                    .into_iter()
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect(),
            },
        };
        Ok(UnitChange {
            date,
            action,
            basis: non_empty(request.basis.clone()),
        })
    }

    /// Puts a unit file (a gazetteer: the units held plus dated changes) in
    /// the roster in place of the one held, when it only adds to it: every
    /// unit held listed the same way, every change published kept first.
    /// `None` when the file adds nothing. Town office only.
    pub fn roster_load_units(
        &mut self,
        path: &Path,
    ) -> Result<Option<UnitChangesSigned>, NodeError> {
        // Only the town office may sign: asked before the file is read.
        self.next_roster()?;
        let size = std::fs::metadata(path).map_err(io(path))?.len();
        if size > UNIT_FILE_BYTES_MAX {
            return Err(input(format!(
                "tệp {} có {size} byte, quá mức {UNIT_FILE_BYTES_MAX} byte",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        self.roster_load_units_text(text)
    }

    /// [`Node::roster_load_units`] with the file's text (the demo loads
    /// the bundled gazetteer).
    pub fn roster_load_units_text(
        &mut self,
        text: String,
    ) -> Result<Option<UnitChangesSigned>, NodeError> {
        let (key, mut roster) = self.next_roster()?;
        let offered = UnitTree::from_toml(&text)?;
        let held = self.units().clone();
        offered.check_extends(&held)?;
        if held.check_extends(&offered).is_ok() {
            return Ok(None);
        }
        let base = |tree: &UnitTree| tree.units().iter().filter(|u| u.since.is_none()).count();
        let units_added = base(&offered).saturating_sub(base(&held));
        let lines = offered.changes()[held.changes().len()..]
            .iter()
            .map(|c| offered.describe_change(c))
            .collect();
        roster.units = text;
        let signed = self.install_signed(&key, &roster)?;
        Ok(Some(UnitChangesSigned {
            roster: signed,
            lines,
            units_added,
        }))
    }
}
