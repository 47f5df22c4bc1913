//! Changes of the unit tree over time: merges, renames, moves and abolished
//! levels, each with the day it takes effect.
//!
//! A unit file lists the units as they were before the first change
//! (`[[unit]]`) and then the changes in date order (`[[change]]`). Replaying
//! the changes gives one view of the tree per effective date ("era"); a view
//! as of a day is the era in force that day. A unit never disappears from a
//! view: a unit that ended keeps its id and names its successor in
//! `merged_into`, and a unit created later is already listed (with `since`)
//! so that a record made under it is never lost from a total. Records keep
//! the unit they were made under; readers resolve it through the changes.
//!
//! The replay refuses, with a Vietnamese message naming the change, a
//! change that names a unit that does not exist (or no longer exists on its
//! day), merges a unit into itself, makes a unit its own ancestor, or is
//! dated before the change above it.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;
use time::Date;

use crate::dates::{parse_date, vi_date};
use crate::units::{Unit, UnitKind};

/// The most changes a unit file may list: a province's reorganisations over
/// decades stay far below it, and replaying it stays instant.
pub const UNIT_CHANGES_MAX: usize = 1_000;
/// The most units one change may name (a merge of a whole province's
/// communes is about 100).
pub const UNITS_PER_CHANGE_MAX: usize = 500;
const NAME_MAX: usize = 200;
const BASIS_MAX: usize = 500;

/// One change of the unit tree, effective from `date` (inclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitChange {
    /// The day it takes effect.
    pub date: Date,
    /// What changes.
    pub action: UnitAction,
    /// The legal basis, shown with the change ("Nghị quyết 1677/NQ-UBTVQH15").
    pub basis: Option<String>,
}

/// What a change does. `Into` names the unit a merge goes into: a
/// [`MergeInto`] once checked; a command's draft of it (danvan-node's
/// `MergeDraft`) before — the other actions read the same either way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitAction<Into = MergeInto> {
    /// Several units become one: they end, their records are read under
    /// the target, and their units below move under it.
    Merge {
        /// The units that end.
        units: Vec<String>,
        /// The unit they become.
        into: Into,
    },
    /// A unit gets a new name (and official code); its id stays.
    Rename {
        /// The unit.
        unit: String,
        /// The new full name.
        name: String,
        /// The new official code, when it changes.
        code: Option<String>,
    },
    /// A unit moves under another parent.
    Move {
        /// The unit.
        unit: String,
        /// Its new parent.
        parent: String,
    },
    /// Units (a level, with its organizations) end without a successor of
    /// their own: their records are read under the nearest unit above that
    /// remains, and their units below move up to it.
    Abolish {
        /// The units that end.
        units: Vec<String>,
    },
}

/// The unit a merge ends in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeInto {
    /// A unit that already exists (the others join it).
    Existing(String),
    /// A new unit, created by the merge (with its official code).
    New(Unit),
}

impl UnitChange {
    /// The change as a `[[change]]` entry of a unit file, the form it is
    /// read from (so it reads back as the same change).
    pub fn to_toml(&self) -> String {
        let list = |ids: &[String]| {
            let quoted: Vec<String> = ids.iter().map(|id| toml_string(id)).collect();
            format!("[{}]", quoted.join(", "))
        };
        let mut lines = vec![
            "[[change]]".to_string(),
            format!(
                "date = {}",
                toml_string(&crate::dates::format_date(self.date))
            ),
        ];
        let mut field = |key: &str, value: String| lines.push(format!("{key} = {value}"));
        match &self.action {
            UnitAction::Merge { units, into } => {
                field("action", toml_string("merge"));
                field("units", list(units));
                field("into", toml_string(into.id()));
                if let MergeInto::New(unit) = into {
                    let mut parts = vec![
                        format!("name = {}", toml_string(&unit.name)),
                        format!("kind = {}", toml_string(unit.kind.code())),
                    ];
                    for (key, value) in [
                        ("code", &unit.code),
                        ("parent", &unit.parent),
                        ("group", &unit.group),
                    ] {
                        if let Some(value) = value {
                            parts.push(format!("{key} = {}", toml_string(value)));
                        }
                    }
                    field("new", format!("{{ {} }}", parts.join(", ")));
                }
            }
            UnitAction::Rename { unit, name, code } => {
                field("action", toml_string("rename"));
                field("unit", toml_string(unit));
                field("name", toml_string(name));
                if let Some(code) = code {
                    field("code", toml_string(code));
                }
            }
            UnitAction::Move { unit, parent } => {
                field("action", toml_string("move"));
                field("unit", toml_string(unit));
                field("parent", toml_string(parent));
            }
            UnitAction::Abolish { units } => {
                field("action", toml_string("abolish"));
                field("units", list(units));
            }
        }
        if let Some(basis) = &self.basis {
            field("basis", toml_string(basis));
        }
        lines.join("\n") + "\n"
    }
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl MergeInto {
    /// The id of the unit merged into.
    pub fn id(&self) -> &str {
        match self {
            MergeInto::Existing(id) => id,
            MergeInto::New(unit) => &unit.id,
        }
    }
}

/// Why a list of unit changes was refused. Nothing of a refused list is used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitChangeError {
    /// A change is missing a field, has a field of another kind of change,
    /// or has a value that cannot be read.
    #[error("thay đổi đơn vị thứ {index}: {reason}")]
    Malformed {
        /// Position of the change, from 1.
        index: usize,
        /// What is wrong, in Vietnamese.
        reason: String,
    },
    /// Dated before the change listed above it.
    #[error(
        "thay đổi đơn vị thứ {index} ghi ngày {date}, trước ngày {previous} của thay đổi liền trước; các thay đổi phải xếp theo ngày hiệu lực"
    )]
    OutOfOrder {
        /// Position of the change, from 1.
        index: usize,
        /// Its day.
        date: String,
        /// The day of the change above it.
        previous: String,
    },
    /// Names a unit that is in no list.
    #[error(
        "thay đổi đơn vị thứ {index} (ngày {date}): không có đơn vị {unit:?}; xem danh sách bằng lệnh `danvan units`"
    )]
    UnknownUnit {
        /// Position of the change, from 1.
        index: usize,
        /// Its day.
        date: String,
        /// The id named.
        unit: String,
    },
    /// Names a unit that has already ended by the change's day.
    #[error(
        "thay đổi đơn vị thứ {index} (ngày {date}): đơn vị {unit:?} không còn từ {ended}, nên không thể thay đổi nữa"
    )]
    Ended {
        /// Position of the change, from 1.
        index: usize,
        /// Its day.
        date: String,
        /// The id named.
        unit: String,
        /// When it ended ("ngày 1/7/2025", or "trước khi có các thay đổi").
        ended: String,
    },
    /// Merges a unit into itself.
    #[error(
        "thay đổi đơn vị thứ {index} (ngày {date}): không thể sáp nhập đơn vị {unit:?} vào chính nó"
    )]
    IntoItself {
        /// Position of the change, from 1.
        index: usize,
        /// Its day.
        date: String,
        /// The unit.
        unit: String,
    },
    /// Would put a unit under itself.
    #[error(
        "thay đổi đơn vị thứ {index} (ngày {date}): đơn vị {unit:?} sẽ nằm dưới chính nó (quan hệ cấp trên thành vòng lặp)"
    )]
    Cycle {
        /// Position of the change, from 1.
        index: usize,
        /// Its day.
        date: String,
        /// A unit on the loop.
        unit: String,
    },
    /// A new unit takes an id already used.
    #[error(
        "thay đổi đơn vị thứ {index} (ngày {date}): mã {unit:?} của đơn vị mới đã được dùng cho đơn vị khác"
    )]
    Duplicate {
        /// Position of the change, from 1.
        index: usize,
        /// Its day.
        date: String,
        /// The id.
        unit: String,
    },
    /// Abolishes a unit with no unit above it left to read its records under.
    #[error(
        "thay đổi đơn vị thứ {index} (ngày {date}): giải thể {unit:?} thì không còn đơn vị cấp trên nào nhận hồ sơ của nó; hãy sáp nhập nó vào một đơn vị"
    )]
    NoSuccessor {
        /// Position of the change, from 1.
        index: usize,
        /// Its day.
        date: String,
        /// The unit.
        unit: String,
    },
    /// Over [`UNIT_CHANGES_MAX`].
    #[error("tệp đơn vị có {0} thay đổi, quá mức tối đa {UNIT_CHANGES_MAX}")]
    TooMany(usize),
}

/// A `[[change]]` entry as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeEntry {
    date: String,
    action: String,
    #[serde(default)]
    units: Option<Vec<String>>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    into: Option<String>,
    #[serde(default)]
    new: Option<NewUnitEntry>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    basis: Option<String>,
}

/// The unit a merge creates, as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUnitEntry {
    name: String,
    kind: UnitKind,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    group: Option<String>,
}

impl ChangeEntry {
    /// Reads one entry into a change; `index` counts from 1.
    fn read(self, index: usize) -> Result<UnitChange, UnitChangeError> {
        let bad = |reason: String| UnitChangeError::Malformed { index, reason };
        let date = parse_date(&self.date).map_err(|e| bad(e.to_string()))?;
        let action = self.action.trim();
        // Fields a kind of change does not use are refused, so a typo
        // (`parent` on a merge) is caught instead of silently ignored.
        let allowed: &[&str] = match action {
            "merge" => &["units", "into", "new"],
            "rename" => &["unit", "name", "code"],
            "move" => &["unit", "parent"],
            "abolish" => &["units"],
            other => {
                return Err(bad(format!(
                    "loại thay đổi {other:?} không rõ (merge, rename, move, abolish)"
                )));
            }
        };
        let present = [
            ("units", self.units.is_some()),
            ("unit", self.unit.is_some()),
            ("into", self.into.is_some()),
            ("new", self.new.is_some()),
            ("name", self.name.is_some()),
            ("code", self.code.is_some()),
            ("parent", self.parent.is_some()),
        ];
        if let Some((field, _)) = present
            .iter()
            .find(|(field, set)| *set && !allowed.contains(field))
        {
            return Err(bad(format!(
                "trường {field:?} không dùng cho thay đổi loại {action}"
            )));
        }
        let required = |value: Option<String>, field: &str| {
            value
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| bad(format!("thay đổi loại {action} cần trường {field:?}")))
        };
        let unit_list = |units: Option<Vec<String>>| {
            let units = units.unwrap_or_default();
            if units.is_empty() || units.len() > UNITS_PER_CHANGE_MAX {
                return Err(bad(format!(
                    "trường \"units\" phải có từ 1 đến {UNITS_PER_CHANGE_MAX} đơn vị"
                )));
            }
            let mut seen = BTreeSet::new();
            for unit in &units {
                if !seen.insert(unit.as_str()) {
                    return Err(bad(format!("đơn vị {unit:?} có hai lần trong \"units\"")));
                }
            }
            Ok(units)
        };
        let action = match action {
            "merge" => {
                let units = unit_list(self.units)?;
                let into = required(self.into, "into")?;
                let into = match self.new {
                    None => MergeInto::Existing(into),
                    Some(new) => MergeInto::New(Unit {
                        id: into,
                        name: checked_name(new.name).map_err(bad)?,
                        kind: new.kind,
                        parent: new.parent,
                        group: new.group,
                        merged_into: None,
                        code: new.code,
                        since: Some(date),
                        until: None,
                    }),
                };
                UnitAction::Merge { units, into }
            }
            "rename" => UnitAction::Rename {
                unit: required(self.unit, "unit")?,
                name: checked_name(required(self.name, "name")?).map_err(bad)?,
                code: self.code,
            },
            "move" => UnitAction::Move {
                unit: required(self.unit, "unit")?,
                parent: required(self.parent, "parent")?,
            },
            _ => UnitAction::Abolish {
                units: unit_list(self.units)?,
            },
        };
        if self
            .basis
            .as_ref()
            .is_some_and(|b| b.chars().count() > BASIS_MAX)
        {
            return Err(bad(format!("căn cứ dài quá {BASIS_MAX} ký tự")));
        }
        Ok(UnitChange {
            date,
            action,
            basis: self.basis,
        })
    }
}

fn checked_name(name: String) -> Result<String, String> {
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > NAME_MAX {
        return Err(format!("tên đơn vị phải có từ 1 đến {NAME_MAX} ký tự"));
    }
    Ok(name)
}

/// The views of the tree: the one before any change (`None`), then one per
/// effective date, oldest first. Every view lists every unit.
pub(crate) type Eras = Vec<(Option<Date>, Vec<Unit>)>;

/// Reads and replays the changes on the base units.
pub(crate) fn replay(
    base: Vec<Unit>,
    entries: Vec<ChangeEntry>,
) -> Result<(Vec<UnitChange>, Eras), UnitChangeError> {
    if entries.len() > UNIT_CHANGES_MAX {
        return Err(UnitChangeError::TooMany(entries.len()));
    }
    let changes = entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| entry.read(i + 1))
        .collect::<Result<Vec<_>, _>>()?;
    let eras = Replay::new(base).run(&changes)?;
    Ok((changes, eras))
}

/// The working state of a replay.
struct Replay {
    /// Every unit so far, base units first, then in the order created.
    units: Vec<Unit>,
    index: HashMap<String, usize>,
    base_len: usize,
    /// Each created unit as it was created, to list it in earlier views.
    born: Vec<Unit>,
}

impl Replay {
    fn new(units: Vec<Unit>) -> Replay {
        let index = units
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id.clone(), i))
            .collect();
        Replay {
            base_len: units.len(),
            units,
            index,
            born: Vec::new(),
        }
    }

    fn run(mut self, changes: &[UnitChange]) -> Result<Eras, UnitChangeError> {
        let mut views: Vec<(Option<Date>, usize, Vec<Unit>)> =
            vec![(None, self.units.len(), self.units.clone())];
        let mut previous: Option<Date> = None;
        for (i, change) in changes.iter().enumerate() {
            let index = i + 1;
            if let Some(prev) = previous.filter(|p| change.date < *p) {
                return Err(UnitChangeError::OutOfOrder {
                    index,
                    date: vi_date(change.date),
                    previous: vi_date(prev),
                });
            }
            previous = Some(change.date);
            self.apply(index, change)?;
            let snapshot = (Some(change.date), self.units.len(), self.units.clone());
            // Changes of one day make one view.
            match views.last_mut() {
                Some(last) if last.0 == Some(change.date) => *last = snapshot,
                _ => views.push(snapshot),
            }
        }
        // Units created later are listed in earlier views as they were
        // created, so that their records still count somewhere.
        Ok(views
            .into_iter()
            .map(|(date, len, mut units)| {
                units.extend(self.born[len - self.base_len..].iter().cloned());
                (date, units)
            })
            .collect())
    }

    fn apply(&mut self, index: usize, change: &UnitChange) -> Result<(), UnitChangeError> {
        let date = change.date;
        let at = vi_date(date);
        match &change.action {
            UnitAction::Merge { units, into } => {
                if units.iter().any(|u| u == into.id()) {
                    return Err(UnitChangeError::IntoItself {
                        index,
                        date: at,
                        unit: into.id().to_string(),
                    });
                }
                for unit in units {
                    self.live(index, date, unit)?;
                }
                let target = match into {
                    MergeInto::Existing(id) => self.live(index, date, id)?,
                    MergeInto::New(unit) => {
                        if self.index.contains_key(&unit.id) {
                            return Err(UnitChangeError::Duplicate {
                                index,
                                date: at,
                                unit: unit.id.clone(),
                            });
                        }
                        if let Some(parent) = &unit.parent {
                            self.live(index, date, parent)?;
                            if units.contains(parent) {
                                return Err(UnitChangeError::Malformed {
                                    index,
                                    reason: format!(
                                        "cấp trên {parent:?} của đơn vị mới {:?} cũng bị sáp nhập",
                                        unit.id
                                    ),
                                });
                            }
                        }
                        self.index.insert(unit.id.clone(), self.units.len());
                        self.units.push(unit.clone());
                        self.born.push(unit.clone());
                        self.units.len() - 1
                    }
                };
                let target_id = self.units[target].id.clone();
                for unit in units {
                    self.end(unit, date, &target_id);
                }
                // Only the target gained units below it: a loop, if any,
                // passes through it.
                self.check_cycle(index, date, &target_id)?;
            }
            UnitAction::Rename { unit, name, code } => {
                let i = self.live(index, date, unit)?;
                self.units[i].name = name.clone();
                if code.is_some() {
                    self.units[i].code = code.clone();
                }
            }
            UnitAction::Move { unit, parent } => {
                let i = self.live(index, date, unit)?;
                self.live(index, date, parent)?;
                self.units[i].parent = Some(parent.clone());
                self.check_cycle(index, date, unit)?;
            }
            UnitAction::Abolish { units } => {
                for unit in units {
                    self.live(index, date, unit)?;
                }
                // Each successor is found before any unit ends, so an
                // abolished level's organizations go to the level above it.
                let mut successors = Vec::new();
                for unit in units {
                    let successor = self
                        .ancestors(unit)
                        .find(|a| !units.contains(a) && self.is_live(a))
                        .ok_or_else(|| UnitChangeError::NoSuccessor {
                            index,
                            date: at.clone(),
                            unit: unit.clone(),
                        })?;
                    successors.push((unit, successor));
                }
                for (unit, successor) in successors {
                    self.end(unit, date, &successor);
                }
            }
        }
        Ok(())
    }

    /// Ends `unit` on `date` with `successor`; its live units below move
    /// under the successor.
    fn end(&mut self, unit: &str, date: Date, successor: &str) {
        for u in &mut self.units {
            if u.parent.as_deref() == Some(unit) && u.until.is_none() && u.merged_into.is_none() {
                u.parent = Some(successor.to_string());
            }
        }
        let i = self.index[unit];
        self.units[i].until = Some(date);
        self.units[i].merged_into = Some(successor.to_string());
    }

    fn is_live(&self, id: &str) -> bool {
        self.index
            .get(id)
            .is_some_and(|&i| self.units[i].until.is_none() && self.units[i].merged_into.is_none())
    }

    /// The position of a unit that exists on `date`, or why it does not.
    fn live(&self, index: usize, date: Date, id: &str) -> Result<usize, UnitChangeError> {
        let Some(&i) = self.index.get(id) else {
            return Err(UnitChangeError::UnknownUnit {
                index,
                date: vi_date(date),
                unit: id.to_string(),
            });
        };
        let unit = &self.units[i];
        if unit.until.is_some() || unit.merged_into.is_some() {
            return Err(UnitChangeError::Ended {
                index,
                date: vi_date(date),
                unit: id.to_string(),
                ended: unit.until.map_or_else(
                    || "trước khi có các thay đổi".to_string(),
                    |d| format!("ngày {}", vi_date(d)),
                ),
            });
        }
        Ok(i)
    }

    /// The units above `id`, nearest first (bounded by the unit count, so
    /// a loop cannot hang it).
    fn ancestors<'a>(&'a self, id: &str) -> impl Iterator<Item = String> + 'a {
        let mut cur = self
            .index
            .get(id)
            .and_then(|&i| self.units[i].parent.clone());
        std::iter::from_fn(move || {
            let next = cur.take()?;
            cur = self
                .index
                .get(&next)
                .and_then(|&i| self.units[i].parent.clone());
            Some(next)
        })
        .take(self.units.len())
    }

    /// Refuses the change when `unit` is now above itself.
    fn check_cycle(&self, index: usize, date: Date, unit: &str) -> Result<(), UnitChangeError> {
        if self.ancestors(unit).any(|a| a == unit) {
            return Err(UnitChangeError::Cycle {
                index,
                date: vi_date(date),
                unit: unit.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::dates::parse_date;
    use crate::units::{UnitError, UnitTree};

    use super::*;

    /// A province `p`, a town `t` with communes `a`, `b`, `c` and an
    /// organization `t-org`; village `a1` under `a`.
    const BASE: &str = r#"
[[unit]]
id = "p"
name = "Tỉnh P"
kind = "province"
[[unit]]
id = "t"
name = "Thị xã T"
kind = "town"
parent = "p"
[[unit]]
id = "t-org"
name = "Ủy ban nhân dân thị xã T"
kind = "organization"
parent = "t"
[[unit]]
id = "a"
name = "Xã A"
kind = "commune"
parent = "t"
[[unit]]
id = "a1"
name = "Thôn A1"
kind = "village"
parent = "a"
[[unit]]
id = "b"
name = "Xã B"
kind = "commune"
parent = "t"
[[unit]]
id = "c"
name = "Phường C"
kind = "ward"
parent = "t"
"#;

    fn day(text: &str) -> Date {
        parse_date(text).unwrap()
    }

    /// The base tree with these `[[change]]` entries.
    fn tree(changes: &str) -> Result<UnitTree, UnitError> {
        UnitTree::from_toml(&format!("{BASE}\n{changes}"))
    }

    /// Checks a refused change list: its error and the words its message
    /// must contain.
    fn refused(changes: &str, expected: impl Fn(&UnitChangeError) -> bool, words: &str) {
        match tree(changes) {
            Err(UnitError::Change(e)) => {
                assert!(expected(&e), "unexpected error {e:?}");
                let message = UnitError::Change(e).to_string();
                assert!(message.contains(words), "{message:?} lacks {words:?}");
            }
            other => panic!("accepted or wrong error: {other:?}"),
        }
    }

    const MERGE_AB: &str = r#"
[[change]]
date = "2025-07-01"
action = "merge"
units = ["a", "b"]
into = "ab"
new = { name = "Xã AB", kind = "commune", code = "99999", parent = "p" }
basis = "Nghị quyết thử"
[[change]]
date = "2025-07-01"
action = "abolish"
units = ["t", "t-org"]
"#;

    #[test]
    fn a_merge_takes_effect_on_its_day() {
        let tree = tree(MERGE_AB).unwrap();
        let (before, on) = (day("2025-06-30"), day("2025-07-01"));
        // Records keep their unit; they are read under the new one from
        // the day of the merge.
        assert_eq!(tree.resolve("a", before), "a");
        assert_eq!(tree.resolve("a", on), "ab");
        assert_eq!(tree.resolve("a1", on), "a1");
        assert_eq!(tree.resolve("c", on), "c");
        // The town's records go to the province once the town is abolished.
        assert_eq!(tree.resolve("t", before), "t");
        assert_eq!(tree.resolve("t-org", on), "p");

        let old = tree.as_of(before);
        assert_eq!(old.view_date(), None);
        assert!(old.get("a").unwrap().exists_on(before));
        assert!(old.rollup("t").contains("b"));
        // The new unit is listed before it exists, so its records are found.
        let ab = old.get("ab").unwrap();
        assert!(!ab.exists_on(before) && ab.exists_on(on));
        assert!(!old.rollup("t").contains("ab"));

        let new = tree.as_of(on);
        assert_eq!(new.view_date(), Some(on));
        let ab = new.get("ab").unwrap();
        assert_eq!(
            (ab.code.as_deref(), ab.parent.as_deref()),
            (Some("99999"), Some("p"))
        );
        assert_eq!(
            new.rollup("ab"),
            ["a", "a1", "ab", "b"].map(String::from).into()
        );
        // The village moved under the new commune; the ward moved up.
        assert_eq!(new.get("a1").unwrap().parent.as_deref(), Some("ab"));
        assert_eq!(new.get("c").unwrap().parent.as_deref(), Some("p"));
        assert!(!new.get("t").unwrap().exists_on(on));
        // The newest view is the one `from_toml` gives.
        assert_eq!(tree.view_date(), Some(on));
        assert_eq!(tree.newest().units(), new.units());
        assert_eq!(tree.as_of(day("2030-01-01")).units(), new.units());

        let mapping: Vec<(&str, &str)> = new
            .mapping()
            .into_iter()
            .map(|(old, new)| (old.id.as_str(), new.id.as_str()))
            .collect();
        assert_eq!(
            mapping,
            [("t", "p"), ("t-org", "p"), ("a", "ab"), ("b", "ab")]
        );
        let folded: Vec<&str> = new
            .folded_into("ab", day("2025-01-01"), day("2025-12-31"))
            .iter()
            .map(|u| u.id.as_str())
            .collect();
        assert_eq!(folded, ["a", "b"]);
        assert!(
            new.folded_into("ab", day("2025-07-02"), day("2025-12-31"))
                .is_empty()
        );
        assert_eq!(
            new.describe_change(&tree.changes()[0]),
            "Từ ngày 1/7/2025: Xã A, Xã B sáp nhập thành Xã AB (mã 99999) (theo Nghị quyết thử)."
        );
    }

    #[test]
    fn a_commune_merged_elsewhere_leaves_its_old_parent() {
        let tree = tree(
            "[[change]]\ndate='2025-07-01'\naction='merge'\nunits=['a']\ninto='x'\nnew={name='Phường X', kind='ward', parent='p'}\n",
        )
        .unwrap();
        let before = tree.as_of(day("2025-06-30"));
        assert!(before.rollup("t").contains("a") && before.rollup("t").contains("a1"));
        assert!(!tree.rollup("t").contains("a") && !tree.rollup("t").contains("a1"));
        assert!(tree.rollup("t").contains("b"));
        assert_eq!(tree.rollup("x"), ["a", "a1", "x"].map(String::from).into());
        assert!(tree.rollup("p").contains("a"));
    }

    #[test]
    fn renames_and_moves_keep_the_id() {
        let tree = tree(
            r#"
[[change]]
date = "2024-01-01"
action = "rename"
unit = "c"
name = "Phường C mới"
code = "12345"
[[change]]
date = "2024-03-01"
action = "move"
unit = "c"
parent = "p"
"#,
        )
        .unwrap();
        let name = |d: &str| tree.as_of(day(d)).name("c").to_string();
        assert_eq!(name("2023-12-31"), "Phường C");
        assert_eq!(name("2024-01-01"), "Phường C mới");
        let parent = |d: &str| tree.as_of(day(d)).get("c").unwrap().parent.clone();
        assert_eq!(parent("2024-02-29").as_deref(), Some("t"));
        assert_eq!(parent("2024-03-01").as_deref(), Some("p"));
        assert_eq!(tree.resolve("c", day("2030-01-01")), "c");
        assert!(!tree.rollup("t").contains("c"));
    }

    #[test]
    fn bad_changes_are_refused_with_what_to_fix() {
        refused(
            "[[change]]\ndate='2025-07-01'\naction='move'\nunit='t'\nparent='a1'\n",
            |e| matches!(e, UnitChangeError::Cycle { unit, .. } if unit == "t"),
            "vòng lặp",
        );
        refused(
            "[[change]]\ndate='2025-07-01'\naction='merge'\nunits=['a','zz']\ninto='b'\n",
            |e| matches!(e, UnitChangeError::UnknownUnit { unit, index: 1, .. } if unit == "zz"),
            "không có đơn vị \"zz\"",
        );
        refused(
            "[[change]]\ndate='2025-07-01'\naction='merge'\nunits=['a','b']\ninto='a'\n",
            |e| matches!(e, UnitChangeError::IntoItself { .. }),
            "vào chính nó",
        );
        refused(
            &format!(
                "{MERGE_AB}\n[[change]]\ndate='2025-06-01'\naction='rename'\nunit='c'\nname='X'\n"
            ),
            |e| matches!(e, UnitChangeError::OutOfOrder { index: 3, .. }),
            "trước ngày 1/7/2025",
        );
        refused(
            &format!(
                "{MERGE_AB}\n[[change]]\ndate='2025-08-01'\naction='rename'\nunit='a'\nname='X'\n"
            ),
            |e| matches!(e, UnitChangeError::Ended { unit, .. } if unit == "a"),
            "không còn từ ngày 1/7/2025",
        );
        refused(
            "[[change]]\ndate='2025-07-01'\naction='merge'\nunits=['a']\ninto='c'\nnew={name='X', kind='ward'}\n",
            |e| matches!(e, UnitChangeError::Duplicate { .. }),
            "đã được dùng",
        );
        refused(
            "[[change]]\ndate='2025-07-01'\naction='abolish'\nunits=['p']\n",
            |e| matches!(e, UnitChangeError::NoSuccessor { .. }),
            "không còn đơn vị cấp trên",
        );
        // A merge that puts the town under one of its communes.
        refused(
            "[[change]]\ndate='2025-07-01'\naction='merge'\nunits=['t']\ninto='a'\n",
            |e| matches!(e, UnitChangeError::Cycle { .. }),
            "vòng lặp",
        );
        refused(
            "[[change]]\ndate='2025-07-01'\naction='split'\nunits=['a']\n",
            |e| matches!(e, UnitChangeError::Malformed { .. }),
            "loại thay đổi \"split\" không rõ",
        );
        refused(
            "[[change]]\ndate='2025-07-01'\naction='merge'\nunits=['a']\ninto='b'\nparent='p'\n",
            |e| matches!(e, UnitChangeError::Malformed { .. }),
            "trường \"parent\" không dùng",
        );
        refused(
            "[[change]]\ndate='31/02/2025'\naction='abolish'\nunits=['a']\n",
            |e| matches!(e, UnitChangeError::Malformed { .. }),
            "ngày không hợp lệ",
        );
        refused(
            "[[change]]\ndate='2025-07-01'\naction='merge'\nunits=['a','a']\ninto='b'\n",
            |e| matches!(e, UnitChangeError::Malformed { .. }),
            "có hai lần",
        );
        let many = "[[change]]\ndate='2025-07-01'\naction='rename'\nunit='c'\nname='C'\n"
            .repeat(UNIT_CHANGES_MAX + 1);
        refused(
            &many,
            |e| matches!(e, UnitChangeError::TooMany(_)),
            "tối đa",
        );
    }

    #[test]
    fn changes_written_as_toml_read_back_the_same() {
        let gazetteer = UnitTree::duc_pho_2025();
        let tricky = UnitChange {
            date: day("2026-01-01"),
            action: UnitAction::Rename {
                unit: "xa-khanh-cuong".into(),
                name: "Xã \"Khánh\" \\ Cường\tmới".into(),
                code: Some("21472".into()),
            },
            basis: Some("Nghị quyết thử".into()),
        };
        let mut changes = gazetteer.changes().to_vec();
        changes.push(tricky.clone());
        // The base units of the gazetteer, then every change as written.
        let base = crate::units::DUC_PHO_2025_UNITS_TOML;
        let base = &base[..base.find("\n[[change]]\n").unwrap()];
        let text: String = changes
            .iter()
            .map(UnitChange::to_toml)
            .collect::<Vec<_>>()
            .join("\n");
        let again = UnitTree::from_toml(&format!("{base}\n{text}")).unwrap();
        assert_eq!(again.changes(), changes.as_slice());
        assert_eq!(again.as_of(day("2025-12-31")).units(), gazetteer.units());

        let (appended, tree) =
            UnitTree::append_change(crate::units::DUC_PHO_2025_UNITS_TOML, &tricky).unwrap();
        assert_eq!(tree.name("xa-khanh-cuong"), "Xã \"Khánh\" \\ Cường\tmới");
        assert!(UnitTree::from_toml(&appended).is_ok());
        // A change the history refuses is refused when appended.
        let stale = UnitChange {
            date: day("2025-01-01"),
            ..tricky
        };
        assert!(matches!(
            UnitTree::append_change(crate::units::DUC_PHO_2025_UNITS_TOML, &stale),
            Err(UnitError::Change(UnitChangeError::OutOfOrder { .. }))
        ));
    }

    #[test]
    fn a_file_without_changes_has_one_view() {
        let tree = UnitTree::sample();
        assert!(tree.changes().is_empty());
        assert_eq!(tree.view_date(), None);
        let then = tree.as_of(day("2000-01-01"));
        assert_eq!(then.units(), tree.units());
        assert_eq!(tree.resolve("pho-minh", day("2026-01-01")), "pho-minh");
    }
}
