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
