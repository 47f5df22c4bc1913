//! Administrative units as data: a tree loaded from a TOML file, and how it
//! changes over time.
//!
//! Units change (the 2025 reform abolished towns and merged communes), so the
//! tree is configuration, never code. A unit file lists the units before any
//! change (`[[unit]]`) and may list dated changes after them (`[[change]]`,
//! see `unit_changes.rs`). A unit that ended keeps its id and names the unit
//! it went into; its records stay where they are and are read under that
//! unit. [`UnitTree::from_toml`] gives the newest view; [`UnitTree::as_of`]
//! the view in force on a day.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Deserialize;
use time::Date;

use crate::dates::vi_date;
use crate::unit_changes::{ChangeEntry, Eras, UnitAction, UnitChange, UnitChangeError, replay};

/// The bundled sample tree: Đức Phổ town, its organizations and 15 wards and communes.
pub const SAMPLE_UNITS_TOML: &str = include_str!("../data/duc-pho.toml");

/// The Đức Phổ gazetteer: the sample's units (same ids) and the changes of
/// 1 July 2025 (15 wards and communes into 5, the town level abolished,
/// Kon Tum into Quảng Ngãi), sources named in the file.
pub const DUC_PHO_2025_UNITS_TOML: &str = include_str!("../data/duc-pho-2025.toml");

/// The Quảng Ngãi gazetteer: the Đức Phổ gazetteer (same units, same
/// changes, so it extends it) plus the province's other 91 commune-level
/// units from 1 July 2025 with their statistics office codes; sources and
/// what is missing named in the file.
pub const QUANG_NGAI_2025_UNITS_TOML: &str = include_str!("../data/quang-ngai-2025.toml");

/// Why a unit file could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitError {
    /// The file is not valid TOML of the expected shape.
    #[error("tệp đơn vị không hợp lệ: {0}")]
    Parse(String),
    /// Two units share an id.
    #[error("tệp đơn vị: mã đơn vị {0:?} bị trùng")]
    Duplicate(String),
    /// A parent or merge target names no unit of the file.
    #[error("tệp đơn vị: đơn vị {unit:?} tham chiếu tới {target:?} không có trong tệp")]
    Dangling {
        /// The unit that refers.
        unit: String,
        /// The id it refers to.
        target: String,
    },
    /// The parent links loop.
    #[error("tệp đơn vị: quan hệ cấp trên của {0:?} tạo thành vòng lặp")]
    Cycle(String),
    /// An id that is not in the tree.
    #[error("không có đơn vị {0:?}; xem danh sách bằng lệnh `danvan units`")]
    Unknown(String),
    /// A dated change of the file cannot be applied.
    #[error("tệp đơn vị: {0}")]
    Change(#[from] UnitChangeError),
    /// A unit file offered in place of the one held drops or alters what
    /// the held one says (records name its units; its changes are published).
    #[error(
        "tệp đơn vị mới không giữ nguyên tệp đang dùng: {0}; chỉ được thêm đơn vị và thêm thay đổi sau các thay đổi đã có"
    )]
    NotExtension(String),
}

/// What kind of unit this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    /// tỉnh
    Province,
    /// thị xã / huyện
    Town,
    /// xã
    Commune,
    /// phường
    Ward,
    /// thôn / tổ dân phố
    Village,
    /// an organization of a level: HĐND, UBND, MTTQ, associations, armed forces, steering committees
    Organization,
}

impl UnitKind {
    /// The code written in unit files (`kind = "ward"`).
    pub fn code(self) -> &'static str {
        match self {
            UnitKind::Province => "province",
            UnitKind::Town => "town",
            UnitKind::Commune => "commune",
            UnitKind::Ward => "ward",
            UnitKind::Village => "village",
            UnitKind::Organization => "organization",
        }
    }

    /// Vietnamese label.
    pub fn label_vi(self) -> &'static str {
        match self {
            UnitKind::Province => "tỉnh",
            UnitKind::Town => "thị xã",
            UnitKind::Commune => "xã",
            UnitKind::Ward => "phường",
            UnitKind::Village => "thôn, tổ dân phố",
            UnitKind::Organization => "cơ quan, tổ chức",
        }
    }

    /// Whether this is a commune-level unit (xã or phường).
    pub fn is_commune_level(self) -> bool {
        matches!(self, UnitKind::Commune | UnitKind::Ward)
    }
}

/// One unit of the tree.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    /// Stable id, unaccented: `pho-minh`.
    pub id: String,
    /// Full name with diacritics: "Phường Phổ Minh".
    pub name: String,
    /// Level or organization.
    pub kind: UnitKind,
    /// The unit above, if any.
    #[serde(default)]
    pub parent: Option<String>,
    /// For organizations: hdnd, ubnd, mttq, doan-the, llvt, ban-chi-dao, dang.
    #[serde(default)]
    pub group: Option<String>,
    /// Set when this unit has ended (merged, or its level abolished): the
    /// unit its records are read under. In a file, a merge with no date.
    #[serde(default)]
    pub merged_into: Option<String>,
    /// The official code (mã đơn vị hành chính of the statistics office).
    #[serde(default)]
    pub code: Option<String>,
    /// The day a dated change created it; `None` for units of the file.
    #[serde(skip)]
    pub since: Option<Date>,
    /// The day a dated change ended it (then `merged_into` is set).
    #[serde(skip)]
    pub until: Option<Date>,
}

impl Unit {
    /// Whether the unit exists on a day: created by then, not ended yet.
    pub fn exists_on(&self, day: Date) -> bool {
        self.since.is_none_or(|d| d <= day)
            && self.until.is_none_or(|d| day < d)
            && (self.merged_into.is_none() || self.until.is_some())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitFile {
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<u32>,
    #[serde(default)]
    unit: Vec<Unit>,
    #[serde(default)]
    change: Vec<ChangeEntry>,
}

/// The unit tree: one view of it (the newest, or as of a day), with the
/// whole history to take other views from.
#[derive(Clone, Debug)]
pub struct UnitTree {
    view: Arc<View>,
    history: Arc<History>,
}

/// Every unit as it stands in one view.
#[derive(Debug)]
struct View {
    /// The day this view takes effect; `None` before any change.
    date: Option<Date>,
    units: Vec<Unit>,
    index: BTreeMap<String, usize>,
}

/// The changes and the view each effective date gives, oldest first.
#[derive(Debug)]
struct History {
    changes: Vec<UnitChange>,
    views: Vec<Arc<View>>,
}

impl UnitTree {
    /// Parses and checks a unit file, units and dated changes; gives the
    /// newest view.
    pub fn from_toml(text: &str) -> Result<UnitTree, UnitError> {
        let file: UnitFile = toml::from_str(text).map_err(|e| UnitError::Parse(e.to_string()))?;
        let mut index = BTreeMap::new();
        for (i, unit) in file.unit.iter().enumerate() {
            if unit.id.trim().is_empty() {
                return Err(UnitError::Parse("có đơn vị thiếu mã (id)".into()));
            }
            if index.insert(unit.id.clone(), i).is_some() {
                return Err(UnitError::Duplicate(unit.id.clone()));
            }
        }
        for unit in &file.unit {
            for target in unit.parent.iter().chain(unit.merged_into.iter()) {
                if !index.contains_key(target) {
                    return Err(UnitError::Dangling {
                        unit: unit.id.clone(),
                        target: target.clone(),
                    });
                }
            }
        }
        for unit in &file.unit {
            let mut seen = BTreeSet::new();
            let mut cur = Some(unit);
            while let Some(u) = cur {
                if !seen.insert(u.id.as_str()) {
                    return Err(UnitError::Cycle(unit.id.clone()));
                }
                cur = u
                    .parent
                    .as_deref()
                    .and_then(|p| index.get(p))
                    .map(|&i| &file.unit[i]);
            }
        }
        let (changes, eras) = replay(file.unit, file.change)?;
        Ok(UnitTree::from_eras(changes, eras))
    }

    /// The unit file `units_toml` with `change` appended, and the tree it
    /// gives: how a command adds a change to the roster's units. A change
    /// the file's history refuses is refused here, with the same message,
    /// and nothing is returned to sign.
    pub fn append_change(
        units_toml: &str,
        change: &UnitChange,
    ) -> Result<(String, UnitTree), UnitError> {
        let mut text = units_toml.trim_end().to_string();
        text.push_str("\n\n");
        text.push_str(&change.to_toml());
        let tree = UnitTree::from_toml(&text)?;
        Ok((text, tree))
    }

    fn from_eras(changes: Vec<UnitChange>, eras: Eras) -> UnitTree {
        let views: Vec<Arc<View>> = eras
            .into_iter()
            .map(|(date, units)| {
                let index = units
                    .iter()
                    .enumerate()
                    .map(|(i, u)| (u.id.clone(), i))
                    .collect();
                Arc::new(View { date, units, index })
            })
            .collect();
        let newest = Arc::clone(views.last().expect("a replay gives at least one view"));
        UnitTree {
            view: newest,
            history: Arc::new(History { changes, views }),
        }
    }

    /// The tree as it stood on `day`: the changes effective on or before
    /// it are applied, later ones not (units they create are listed, with
    /// `since` after the day, so their records are still found).
    pub fn as_of(&self, day: Date) -> UnitTree {
        let views = &self.history.views;
        let n = views.partition_point(|v| v.date.is_none_or(|d| d <= day));
        UnitTree {
            view: Arc::clone(&views[n.saturating_sub(1)]),
            history: Arc::clone(&self.history),
        }
    }

    /// The units whose records roll up into `id` on some day of
    /// `[from, to]` (either end open when `None`): the union of
    /// [`UnitTree::rollup`] over every view in force in that range. So the
    /// town abolished in 2025 still covers its communes' records, and a
    /// ward created by a merge covers its former units'.
    pub fn rollup_between(
        &self,
        id: &str,
        from: Option<Date>,
        to: Option<Date>,
    ) -> BTreeSet<String> {
        let views = &self.history.views;
        let mut out = BTreeSet::new();
        for (i, view) in views.iter().enumerate() {
            // The view is in force from its date to the day before the next.
            let starts_after_range = matches!((view.date, to), (Some(d), Some(t)) if d > t);
            let next = views.get(i + 1).and_then(|v| v.date);
            let ends_before_range = matches!((next, from), (Some(n), Some(f)) if n <= f);
            if starts_after_range || ends_before_range {
                continue;
            }
            let tree = UnitTree {
                view: Arc::clone(view),
                history: Arc::clone(&self.history),
            };
            out.extend(tree.rollup(id));
        }
        out
    }

    /// Checks that `self` (a unit file offered in place of `held`'s) only
    /// adds to it: every unit `held` lists before its changes is listed the
    /// same way (an official code may be added), and `held`'s changes are
    /// the first of `self`'s, in order. How the town office loads a
    /// gazetteer (the sample's units plus the 2025 changes) into a roster
    /// that has the sample's units.
    pub fn check_extends(&self, held: &UnitTree) -> Result<(), UnitError> {
        let base = |tree: &UnitTree| -> Vec<Unit> {
            tree.history.views[0]
                .units
                .iter()
                .filter(|u| u.since.is_none())
                .cloned()
                .collect()
        };
        let mine = base(self);
        for old in base(held) {
            let Some(new) = mine.iter().find(|u| u.id == old.id) else {
                return Err(UnitError::NotExtension(format!(
                    "thiếu đơn vị {:?} ({})",
                    old.id, old.name
                )));
            };
            let same = new.name == old.name
                && new.kind == old.kind
                && new.parent == old.parent
                && new.group == old.group
                && new.merged_into == old.merged_into
                && (old.code.is_none() || new.code == old.code);
            if !same {
                return Err(UnitError::NotExtension(format!(
                    "đơn vị {:?} ({}) được ghi khác đi; đổi tên, chuyển cấp trên hay sáp nhập phải ghi thành thay đổi có ngày hiệu lực",
                    old.id, old.name
                )));
            }
        }
        let (old, new) = (held.changes(), self.changes());
        if let Some(i) = old.iter().zip(new).position(|(a, b)| a != b) {
            return Err(UnitError::NotExtension(format!(
                "thay đổi đơn vị thứ {} khác thay đổi đã ban hành",
                i + 1
            )));
        }
        if new.len() < old.len() {
            return Err(UnitError::NotExtension(format!(
                "bỏ mất {} thay đổi đã ban hành",
                old.len() - new.len()
            )));
        }
        Ok(())
    }

    /// The newest view: every change applied.
    pub fn newest(&self) -> UnitTree {
        UnitTree {
            view: Arc::clone(self.history.views.last().expect("at least one view")),
            history: Arc::clone(&self.history),
        }
    }

    /// The day this view took effect: `None` for the tree before any change.
    pub fn view_date(&self) -> Option<Date> {
        self.view.date
    }

    /// The dated changes, in order (empty for a file without any).
    pub fn changes(&self) -> &[UnitChange] {
        &self.history.changes
    }

    /// The unit a record made under `unit` belongs to on `day`: `unit`
    /// itself, or the unit it was merged into (or read under once its
    /// level was abolished) by then, following every change up to `day`.
    pub fn resolve(&self, unit: &str, day: Date) -> String {
        self.as_of(day).current(unit)
    }

    /// Old → new: every unit that has ended in this view, with the unit its
    /// records are now read under, in tree order.
    pub fn mapping(&self) -> Vec<(&Unit, &Unit)> {
        self.view
            .units
            .iter()
            .filter(|u| u.merged_into.is_some())
            .filter_map(|u| {
                let now = self.current(&u.id);
                self.get(&now).map(|n| (u, n))
            })
            .collect()
    }

    /// The units merged into `unit` (directly or through earlier merges)
    /// whose end falls in `[from, to]`: what a report over that range
    /// folds into it.
    pub fn folded_into(&self, unit: &str, from: Date, to: Date) -> Vec<&Unit> {
        self.view
            .units
            .iter()
            .filter(|u| u.id != unit && u.until.is_some_and(|d| from <= d && d <= to))
            .filter(|u| self.current(&u.id) == unit)
            .collect()
    }

    /// One line in Vietnamese per change: the day, what happened, the basis.
    pub fn describe_change(&self, change: &UnitChange) -> String {
        let names = |ids: &[String]| {
            ids.iter()
                .map(|id| self.name(id).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let what = match &change.action {
            UnitAction::Merge { units, into } => {
                let target = self.get(into.id());
                let code = target
                    .and_then(|u| u.code.as_deref())
                    .map(|c| format!(" (mã {c})"))
                    .unwrap_or_default();
                format!(
                    "{} sáp nhập thành {}{code}",
                    names(units),
                    self.name(into.id())
                )
            }
            UnitAction::Rename { unit, name, .. } => format!("đơn vị {unit} đổi tên thành {name}"),
            UnitAction::Move { unit, parent } => {
                format!(
                    "{} chuyển về trực thuộc {}",
                    self.name(unit),
                    self.name(parent)
                )
            }
            UnitAction::Abolish { units } => format!("kết thúc hoạt động: {}", names(units)),
        };
        let basis = change
            .basis
            .as_deref()
            .map(|b| format!(" (theo {b})"))
            .unwrap_or_default();
        format!("Từ ngày {}: {what}{basis}.", vi_date(change.date))
    }

    /// The bundled sample tree.
    pub fn sample() -> UnitTree {
        UnitTree::from_toml(SAMPLE_UNITS_TOML).expect("bundled unit file is valid")
    }

    /// The bundled Đức Phổ gazetteer with the 2025 reform, newest view.
    pub fn duc_pho_2025() -> UnitTree {
        UnitTree::from_toml(DUC_PHO_2025_UNITS_TOML).expect("bundled gazetteer is valid")
    }

    /// All units of this view: those of the file in file order, then those
    /// created by changes in the order created.
    pub fn units(&self) -> &[Unit] {
        &self.view.units
    }

    /// The unit with this id.
    pub fn get(&self, id: &str) -> Option<&Unit> {
        self.view.index.get(id).map(|&i| &self.view.units[i])
    }

    /// The unit with this id, or an error naming it.
    pub fn require(&self, id: &str) -> Result<&Unit, UnitError> {
        self.get(id)
            .ok_or_else(|| UnitError::Unknown(id.to_string()))
    }

    /// The full name of a unit, or its id when unknown.
    pub fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.get(id).map(|u| u.name.as_str()).unwrap_or(id)
    }

    /// Direct children of a unit, in file order.
    pub fn children(&self, id: &str) -> Vec<&Unit> {
        self.view
            .units
            .iter()
            .filter(|u| u.parent.as_deref() == Some(id))
            .collect()
    }

    /// The unit, every unit below it, and every unit merged into any of
    /// these: the ids whose records roll up into `id` in this view. A unit
    /// that ended is reached only through the unit it went into, so a
    /// commune merged into a unit elsewhere no longer rolls up into its old
    /// parent.
    pub fn rollup(&self, id: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack = vec![id.to_string()];
        while let Some(cur) = stack.pop() {
            if !out.insert(cur.clone()) {
                continue;
            }
            for u in &self.view.units {
                let below = u.merged_into.is_none() && u.parent.as_deref() == Some(cur.as_str());
                if below || u.merged_into.as_deref() == Some(cur.as_str()) {
                    stack.push(u.id.clone());
                }
            }
        }
        out
    }

    /// The unit a unit's records belong to in this view, following merges
    /// (and abolished levels) to a unit that has not ended.
    pub fn current(&self, id: &str) -> String {
        let mut cur = id.to_string();
        for _ in 0..self.view.units.len() {
            match self.get(&cur).and_then(|u| u.merged_into.clone()) {
                Some(next) => cur = next,
                None => break,
            }
        }
        cur
    }

    /// Units of a group (e.g. every `llvt` organization).
    pub fn group(&self, group: &str) -> Vec<&Unit> {
        self.view
            .units
            .iter()
            .filter(|u| u.group.as_deref() == Some(group))
            .collect()
    }

    /// The tree as indented lines, for display.
    pub fn render(&self) -> Vec<(usize, &Unit)> {
        let mut out = Vec::new();
        let roots: Vec<&Unit> = self
            .view
            .units
            .iter()
            .filter(|u| u.parent.is_none())
            .collect();
        fn walk<'a>(
            tree: &'a UnitTree,
            unit: &'a Unit,
            depth: usize,
            out: &mut Vec<(usize, &'a Unit)>,
        ) {
            out.push((depth, unit));
            for child in tree.children(&unit.id) {
                walk(tree, child, depth + 1, out);
            }
        }
        for root in roots {
            walk(self, root, 0, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::parse_date;

    /// The five units of 1 July 2025, their codes and the former units
    /// each was formed from (Resolution 1677/NQ-UBTVQH15).
    const REFORM_2025: [(&str, &str, &[&str]); 5] = [
        (
            "phuong-duc-pho",
            "21439",
            &[
                "nguyen-nghiem",
                "pho-hoa",
                "pho-minh",
                "pho-vinh",
                "pho-ninh",
            ],
        ),
        ("phuong-sa-huynh", "21478", &["pho-thanh", "pho-chau"]),
        (
            "phuong-tra-cau",
            "21451",
            &["pho-van", "pho-quang", "pho-an", "pho-thuan"],
        ),
        ("xa-nguyen-nghiem", "21457", &["pho-nhon", "pho-phong"]),
        ("xa-khanh-cuong", "21472", &["pho-khanh", "pho-cuong"]),
    ];

    #[test]
    fn the_gazetteer_maps_fifteen_units_to_five_on_1_july_2025() {
        let tree = UnitTree::duc_pho_2025();
        let before = parse_date("2025-06-30").unwrap();
        let after = parse_date("2025-07-01").unwrap();
        let mut former_count = 0;
        for (new, code, former) in REFORM_2025 {
            let unit = tree.require(new).unwrap();
            assert_eq!(unit.code.as_deref(), Some(code), "{new}");
            assert_eq!(unit.parent.as_deref(), Some("quang-ngai"));
            for old in former {
                assert_eq!(tree.resolve(old, before), *old);
                assert_eq!(tree.resolve(old, after), new, "{old}");
                assert!(tree.rollup(new).contains(*old));
            }
            former_count += former.len();
        }
        assert_eq!(former_count, 15);
        // The town and its organizations end; their records go to the
        // province, which Kon Tum joined.
        for unit in ["duc-pho", "duc-pho-ubnd", "kon-tum"] {
            assert_eq!(tree.resolve(unit, before), unit);
            assert_eq!(tree.resolve(unit, after), "quang-ngai");
        }
        let live: Vec<&str> = tree
            .units()
            .iter()
            .filter(|u| u.exists_on(after) && u.kind.is_commune_level())
            .map(|u| u.id.as_str())
            .collect();
        assert_eq!(live, REFORM_2025.map(|(id, _, _)| id));
        let old_view = tree.as_of(before);
        let old_live = old_view
            .children("duc-pho")
            .iter()
            .filter(|u| u.kind.is_commune_level() && u.exists_on(before))
            .count();
        assert_eq!(old_live, 15);
    }

    #[test]
    fn the_gazetteer_keeps_the_sample_units_unchanged() {
        // Stored records name the sample's ids: the gazetteer must list the
        // same units the same way, so those records still resolve.
        let sample = UnitTree::sample();
        let old = UnitTree::duc_pho_2025().as_of(parse_date("2025-06-30").unwrap());
        for unit in sample.units() {
            let same = old.require(&unit.id).unwrap();
            assert_eq!(
                (&same.name, same.kind, &same.parent, &same.group),
                (&unit.name, unit.kind, &unit.parent, &unit.group)
            );
        }
    }

    #[test]
    fn the_gazetteer_extends_the_sample_and_roll_ups_span_views() {
        let sample = UnitTree::sample();
        let gazetteer = UnitTree::duc_pho_2025();
        assert_eq!(gazetteer.check_extends(&sample), Ok(()));
        assert_eq!(gazetteer.check_extends(&gazetteer), Ok(()));
        // The sample drops the province's official code the gazetteer
        // published, and a file of the province alone drops the town.
        let message = sample.check_extends(&gazetteer).unwrap_err().to_string();
        assert!(
            message.contains("\"quang-ngai\" (Tỉnh Quảng Ngãi) được ghi khác"),
            "{message}"
        );
        let province = UnitTree::from_toml(
            "[[unit]]\nid='quang-ngai'\nname='Tỉnh Quảng Ngãi'\nkind='province'\n",
        )
        .unwrap();
        let message = province.check_extends(&sample).unwrap_err().to_string();
        assert!(message.contains("thiếu đơn vị \"duc-pho\""), "{message}");
        let renamed = UnitTree::from_toml(
            &SAMPLE_UNITS_TOML.replace("name = \"Phường Phổ Minh\"", "name = \"Phường X\""),
        )
        .unwrap();
        let message = renamed.check_extends(&sample).unwrap_err().to_string();
        assert!(
            message.contains("\"pho-minh\" (Phường Phổ Minh) được ghi khác"),
            "{message}"
        );
        let altered = UnitTree::from_toml(
            &DUC_PHO_2025_UNITS_TOML.replace("code = \"21439\"", "code = \"21440\""),
        )
        .unwrap();
        let message = altered.check_extends(&gazetteer).unwrap_err().to_string();
        assert!(message.contains("thay đổi đơn vị thứ 1 khác"), "{message}");

        let day = |t: &str| parse_date(t).unwrap();
        // The abolished town covers its communes while it existed.
        let town = gazetteer.rollup_between("duc-pho", None, None);
        assert!(town.contains("pho-minh") && town.contains("duc-pho-ubnd"));
        assert!(!gazetteer.rollup("duc-pho").contains("pho-minh"));
        let after = gazetteer.rollup_between("duc-pho", Some(day("2025-07-01")), None);
        assert!(!after.contains("pho-minh"));
        let before = gazetteer.rollup_between("phuong-duc-pho", None, Some(day("2025-06-30")));
        assert_eq!(before, ["phuong-duc-pho".to_string()].into());
        let spanning = gazetteer.rollup_between(
            "phuong-duc-pho",
            Some(day("2025-01-01")),
            Some(day("2025-12-31")),
        );
        assert_eq!(spanning, gazetteer.rollup("phuong-duc-pho"));
        assert_eq!(spanning.len(), 6);
    }

    #[test]
    fn the_quang_ngai_gazetteer_has_the_96_units_it_claims_and_extends_duc_pho() {
        let tree = UnitTree::from_toml(QUANG_NGAI_2025_UNITS_TOML).unwrap();
        let header: String = QUANG_NGAI_2025_UNITS_TOML
            .lines()
            .take_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(header.contains("96 đơn vị hành chính cấp xã (86 xã, 9 phường, 1 đặc khu)"));
        assert!(header.contains("thêm 91 đơn vị"));
        let after = parse_date("2025-07-01").unwrap();
        let live: Vec<&Unit> = tree
            .units()
            .iter()
            .filter(|u| u.exists_on(after) && u.kind.is_commune_level())
            .collect();
        assert_eq!(live.len(), 96);
        let wards = live.iter().filter(|u| u.kind == UnitKind::Ward).count();
        let special = live
            .iter()
            .filter(|u| u.name.starts_with("Đặc khu "))
            .count();
        assert_eq!((wards, special, live.len() - wards - special), (9, 1, 86));
        let mut codes = BTreeSet::new();
        for unit in &live {
            assert_eq!(unit.parent.as_deref(), Some("quang-ngai"), "{}", unit.id);
            let code = unit.code.as_deref().unwrap_or_default();
            assert!(
                code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit()),
                "{}: {code:?}",
                unit.id
            );
            assert!(codes.insert(code), "mã {code} bị trùng");
            let prefix = match unit.kind {
                UnitKind::Ward => "Phường ",
                _ if unit.id.starts_with("dac-khu-") => "Đặc khu ",
                _ => "Xã ",
            };
            assert!(unit.name.starts_with(prefix), "{}", unit.name);
        }
        // The province keeps the code the Đức Phổ gazetteer published.
        assert_eq!(
            tree.require("quang-ngai").unwrap().code.as_deref(),
            Some("51")
        );
        // It extends the Đức Phổ gazetteer (and so the sample), and loads
        // in its place: same units, same changes, more units.
        let duc_pho = UnitTree::duc_pho_2025();
        assert_eq!(tree.check_extends(&duc_pho), Ok(()));
        assert_eq!(tree.check_extends(&UnitTree::sample()), Ok(()));
        assert_eq!(tree.changes(), duc_pho.changes());
        assert!(duc_pho.check_extends(&tree).is_err());
        for (new, code, former) in REFORM_2025 {
            assert_eq!(tree.require(new).unwrap().code.as_deref(), Some(code));
            for old in former {
                assert_eq!(tree.resolve(old, after), new);
            }
        }
        assert_eq!(
            tree.require("phuong-kon-tum").unwrap().code.as_deref(),
            Some("23293")
        );
        assert_eq!(
            tree.require("dac-khu-ly-son").unwrap().code.as_deref(),
            Some("21548")
        );
    }

    #[test]
    fn sample_has_fifteen_communes_and_wards() {
        let tree = UnitTree::sample();
        let communes = tree
            .units()
            .iter()
            .filter(|u| u.kind.is_commune_level() && u.parent.as_deref() == Some("duc-pho"))
            .count();
        assert_eq!(communes, 15);
        assert_eq!(tree.name("pho-minh"), "Phường Phổ Minh");
        assert!(tree.rollup("duc-pho").contains("pho-thuan"));
        assert!(!tree.rollup("pho-minh").contains("pho-thuan"));
        assert_eq!(tree.group("llvt").len(), 3);
    }

    #[test]
    fn merged_units_roll_up_under_the_new_unit() {
        let text = r#"
[[unit]]
id = "a"
name = "Xã A"
kind = "commune"
merged_into = "c"
[[unit]]
id = "b"
name = "Xã B"
kind = "commune"
merged_into = "c"
[[unit]]
id = "c"
name = "Xã C mới"
kind = "commune"
"#;
        let tree = UnitTree::from_toml(text).unwrap();
        assert_eq!(tree.rollup("c").len(), 3);
        assert_eq!(tree.current("a"), "c");
    }

    #[test]
    fn bad_files_are_refused() {
        assert!(matches!(
            UnitTree::from_toml("[[unit]]\nid='a'\nname='A'\nkind='commune'\nparent='zz'\n"),
            Err(UnitError::Dangling { .. })
        ));
        assert!(matches!(
            UnitTree::from_toml(
                "[[unit]]\nid='a'\nname='A'\nkind='commune'\n[[unit]]\nid='a'\nname='B'\nkind='ward'\n"
            ),
            Err(UnitError::Duplicate(_))
        ));
        assert!(matches!(
            UnitTree::from_toml("[[unit]]\nid='a'\nname='A'\nkind='planet'\n"),
            Err(UnitError::Parse(_))
        ));
        assert!(matches!(
            UnitTree::from_toml(
                "[[unit]]\nid='a'\nname='A'\nkind='ward'\nparent='b'\n[[unit]]\nid='b'\nname='B'\nkind='ward'\nparent='a'\n"
            ),
            Err(UnitError::Cycle(_))
        ));
    }
}
