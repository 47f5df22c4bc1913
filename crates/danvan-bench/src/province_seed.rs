//! The fast path that fills a province for `danvan-bench province`: a
//! province hub made as `danvan init --authority --unit quang-ngai --units
//! quang-ngai-2025.toml` makes it (`Node::init_authority`), one commune
//! node per commune-level unit of the gazetteer (round robin when there are
//! more nodes than units), each an officer of its unit on the hub's signed
//! roster, and the records.
//!
//! Going through the CLI would take days at 1,000,000 records, so each
//! node's records are built in-process (`corpus::record`: real Automerge
//! documents, five changes each, signed with the *node's* key, in the
//! node's unit) and written with the store's batch writer into the node,
//! into every other node of the same unit (it reads them) and into the hub.
//! Every store then starts in sync with the hub: nothing is left to pull.

use std::path::{Path, PathBuf};
use std::time::Instant;

use danvan_model::{NodeId, Role};
use danvan_node::{MemberSpec, Node};

use crate::BenchError;
use crate::corpus::{Timeline, record, write_in_batches};

/// The province's unit in the gazetteer.
pub(crate) const PROVINCE_UNIT: &str = "quang-ngai";
/// Commune-level units of Quảng Ngãi after 1 July 2025.
pub(crate) const PROVINCE_COMMUNES: usize = 96;
/// 2025-07-01 in ms since 1970: the new units exist from this day, so the
/// generated records are made from then on.
const REFORM_MS: i64 = 1_751_328_000_000;
const DAY_MS: i64 = 86_400_000;
/// The generated records are made over this many days after the reform,
/// so that their later edits (up to 20 days after) stay in 2025.
const SPAN_DAYS: i64 = 120;

/// A seeded province, every store closed.
pub(crate) struct Province {
    /// The hub's data directory.
    pub(crate) hub_dir: PathBuf,
    /// The data directory of node `i`.
    pub(crate) node_dirs: Vec<PathBuf>,
    /// The unit of node `i`.
    pub(crate) node_units: Vec<String>,
    /// Records written (each in one node's unit).
    pub(crate) records: usize,
}

/// The commune-level units of the gazetteer as it stands now (the 96).
pub(crate) fn communes(node: &Node) -> Vec<String> {
    node.units()
        .units()
        .iter()
        .filter(|u| u.kind.is_commune_level() && u.merged_into.is_none())
        .map(|u| u.id.clone())
        .collect()
}

/// Makes the hub and `nodes` nodes in `dir` and writes `records` records,
/// spread evenly over the nodes.
pub(crate) fn seed(dir: &Path, records: usize, nodes: usize) -> Result<Province, BenchError> {
    let started = Instant::now();
    let gazetteer = dir.join("quang-ngai-2025.toml");
    std::fs::write(&gazetteer, danvan_model::QUANG_NGAI_2025_UNITS_TOML)
        .map_err(|e| format!("cannot write {}: {e}", gazetteer.display()))?;
    let hub_dir = dir.join("hub");
    let mut hub = Node::init_authority(
        &hub_dir,
        PROVINCE_UNIT,
        Some("Trạm tỉnh Quảng Ngãi"),
        Some(&gazetteer),
        false,
    )
    .map_err(|e| format!("init --authority of the province hub: {e}"))?;
    let units = communes(&hub);
    if units.len() != PROVINCE_COMMUNES {
        return Err(format!(
            "the gazetteer has {} commune-level units, not {PROVINCE_COMMUNES}",
            units.len()
        )
        .into());
    }

    // The nodes and the roster: each node an officer of one unit.
    let mut slots = Vec::with_capacity(nodes);
    let mut node_dirs = Vec::with_capacity(nodes);
    let mut node_units = Vec::with_capacity(nodes);
    for i in 0..nodes {
        let unit = &units[i % units.len()];
        let node_dir = dir.join(format!("node-{i}"));
        let name = hub.units().name(unit).to_string();
        let node = Node::init(&node_dir, unit, Some(&name), Some(&gazetteer))
            .map_err(|e| format!("init of node {i} in {unit}: {e}"))?;
        hub.roster_add(
            &node.id(),
            MemberSpec {
                role: Role::Officer,
                units: vec![unit.clone()],
                project: None,
                name: Some(format!("Cán bộ dân vận {name}")),
            },
        )
        .map_err(|e| format!("roster add node {i}: {e}"))?;
        slots.push(Some(node));
        node_dirs.push(node_dir);
        node_units.push(unit.clone());
    }
    let roster = hub.roster()?.ok_or("the hub holds no roster")?;
    let authority: NodeId = hub
        .store()
        .authority()?
        .ok_or("the hub pins no authority")?;
    for node in slots.iter_mut().flatten() {
        node.store_mut().set_authority(&authority)?;
        node.store_mut().install_roster(roster.bytes(), None)?;
    }
    eprintln!(
        "    hub and {nodes} nodes on the roster in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The records, node by node.
    let mut written = 0;
    for i in 0..nodes {
        let count = records / nodes + usize::from(i < records % nodes);
        let mut author = slots[i].take().ok_or("node taken twice")?;
        let unit = node_units[i].clone();
        let mut mirrors: Vec<&mut Node> = std::iter::once(&mut hub)
            .chain(
                slots
                    .iter_mut()
                    .zip(&node_units)
                    .filter(|(_, u)| **u == unit)
                    .filter_map(|(s, _)| s.as_mut()),
            )
            .collect();
        let timeline = Timeline {
            start_ms: REFORM_MS,
            step_ms: (SPAN_DAYS * DAY_MS / count.max(1) as i64).max(1),
            dated_activities: true,
        };
        let mut rng = crate::sample::rng(1_000 + i as u64);
        write_in_batches(
            &mut author,
            count,
            |node, n| record(node, &mut rng, n, &timeline, None, Some(&unit)),
            |_| {},
            &mut mirrors,
        )?;
        slots[i] = Some(author);
        let before = written;
        written += count;
        if written / 50_000 > before / 50_000 || i + 1 == nodes {
            eprintln!(
                "    {written} records written ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(Province {
        hub_dir,
        node_dirs,
        node_units,
        records: written,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records of each unit in a store, by unit.
    fn by_unit(node: &Node) -> std::collections::BTreeMap<String, u64> {
        let mut out = std::collections::BTreeMap::new();
        for (unit, _, n) in node.store().counts_by_unit().expect("counts") {
            *out.entry(unit).or_default() += n;
        }
        out
    }

    /// A tiny province, so the fast path cannot rot: 98 nodes (two units
    /// with two nodes), 196 records. The hub holds every record, each node
    /// exactly its unit's, each node is an officer of its unit on the
    /// roster it holds, and every record was signed by a node's key.
    #[test]
    fn the_seeded_province_starts_in_sync_on_the_roster() {
        let dir = std::env::temp_dir().join(format!("province-seed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let nodes = PROVINCE_COMMUNES + 2;
        let province = seed(&dir, 2 * nodes, nodes).expect("seed");
        assert_eq!(province.records, 2 * nodes);

        let hub = Node::open(&province.hub_dir).expect("hub");
        assert_eq!(hub.store().counts().expect("counts").0, 2 * nodes as u64);
        let at_hub = by_unit(&hub);
        assert_eq!(at_hub.len(), PROVINCE_COMMUNES, "every unit has records");
        let roster = hub.roster().expect("roster").expect("a roster");
        let mut signed_by_nodes = 0;
        for (dir, unit) in province.node_dirs.iter().zip(&province.node_units) {
            let node = Node::open(dir).expect("node");
            let held = by_unit(&node);
            assert_eq!(held.len(), 1, "{unit}: only its unit");
            assert_eq!(held[unit], at_hub[unit], "{unit}: all of its unit");
            let member = roster
                .roster()
                .members
                .iter()
                .find(|m| m.node == node.id().to_string())
                .expect("on the roster");
            assert_eq!(member.role, Role::Officer);
            assert_eq!(member.units, vec![unit.clone()]);
            let own = node.store().roster().expect("roster").expect("held");
            assert_eq!(own.version(), roster.version());
            signed_by_nodes += hub.store().hashes_by(&node.id()).expect("hashes").len();
        }
        let changes = hub.store().counts().expect("counts").1;
        assert_eq!(signed_by_nodes as u64, changes, "every change by a node");
        let shared = &province.node_units[0];
        assert_eq!(at_hub[shared], 4, "two nodes' two records each");
        drop(hub);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
