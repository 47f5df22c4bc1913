//! Administrative units as data: a tree loaded from a TOML file.
//!
//! Units change (the 2025 reform abolished towns and merged communes), so the
//! tree is configuration, never code. A unit that was merged keeps its id and
//! names the unit it was merged into; its records stay where they are and are
//! read under the new unit.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// The bundled sample tree: Đức Phổ town, its organizations and 15 wards and communes.
pub const SAMPLE_UNITS_TOML: &str = include_str!("../data/duc-pho.toml");

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
    /// Set when this unit was merged into another.
    #[serde(default)]
    pub merged_into: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitFile {
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<u32>,
    #[serde(default)]
    unit: Vec<Unit>,
}

/// The unit tree.
#[derive(Clone, Debug)]
pub struct UnitTree {
    units: Vec<Unit>,
    index: BTreeMap<String, usize>,
}

impl UnitTree {
    /// Parses and checks a unit file.
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
        let tree = UnitTree {
            units: file.unit,
            index,
        };
        for unit in &tree.units {
            let mut seen = BTreeSet::new();
            let mut cur = Some(unit);
            while let Some(u) = cur {
                if !seen.insert(u.id.as_str()) {
                    return Err(UnitError::Cycle(unit.id.clone()));
                }
                cur = u.parent.as_deref().and_then(|p| tree.get(p));
            }
        }
        Ok(tree)
    }

    /// The bundled sample tree.
    pub fn sample() -> UnitTree {
        UnitTree::from_toml(SAMPLE_UNITS_TOML).expect("bundled unit file is valid")
    }

    /// All units in file order.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// The unit with this id.
    pub fn get(&self, id: &str) -> Option<&Unit> {
        self.index.get(id).map(|&i| &self.units[i])
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
        self.units
            .iter()
            .filter(|u| u.parent.as_deref() == Some(id))
            .collect()
    }

    /// The unit, every unit below it, and every unit merged into any of
    /// these: the ids whose records roll up into `id`.
    pub fn rollup(&self, id: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack = vec![id.to_string()];
        while let Some(cur) = stack.pop() {
            if !out.insert(cur.clone()) {
                continue;
            }
            for u in &self.units {
                if u.parent.as_deref() == Some(cur.as_str())
                    || u.merged_into.as_deref() == Some(cur.as_str())
                {
                    stack.push(u.id.clone());
                }
            }
        }
        out
    }

    /// The unit a unit's records now belong to, following merges.
    pub fn current(&self, id: &str) -> String {
        let mut cur = id.to_string();
        for _ in 0..self.units.len() {
            match self.get(&cur).and_then(|u| u.merged_into.clone()) {
                Some(next) => cur = next,
                None => break,
            }
        }
        cur
    }

    /// Units of a group (e.g. every `llvt` organization).
    pub fn group(&self, group: &str) -> Vec<&Unit> {
        self.units
            .iter()
            .filter(|u| u.group.as_deref() == Some(group))
            .collect()
    }

    /// The tree as indented lines, for display.
    pub fn render(&self) -> Vec<(usize, &Unit)> {
        let mut out = Vec::new();
        let roots: Vec<&Unit> = self.units.iter().filter(|u| u.parent.is_none()).collect();
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
