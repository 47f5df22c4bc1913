//! The `province` group: a province hub holding many records, many commune
//! nodes on its roster syncing with it, a power cut, and the report over
//! every unit, measured at the size asked (`--records N --nodes M`;
//! default 100,000 records and 100 nodes, `--quick` 2,000 and 10).
//!
//! The hub and the nodes are seeded by the fast path of
//! `province_seed.rs` (the hub made with `init --authority --unit
//! quang-ngai` on the Quảng Ngãi gazetteer; each node an officer of one of
//! its 96 commune-level units, reading only that unit; the records signed
//! by the nodes' keys, every store in sync with the hub). Then the real
//! processes run:
//!
//! 1. `danvan serve` starts on the hub's store: its settled memory (idle).
//! 2. Every node (in-process, its own QUIC endpoint, the load driver's
//!    `danvan_bench::load`) syncs with it at once, all in sync already:
//!    the time until the last is done and the hub's peak memory.
//! 3. The hub is SIGKILLed. Each node records one activity meanwhile, and
//!    the province office one activity for each unit that has a node (in
//!    the hub's store, while `serve` is down), so changes flow both ways.
//! 4. The hub restarts at the same address; the time until every node
//!    holds its unit's every change (its own, the hub's, and those of the
//!    other node of its unit, which came through the hub), counted.
//! 5. `danvan check --json` at the hub: no problem, and exactly the
//!    changes and records expected (nothing lost).
//! 6. `danvan report --period 2025 --format json` at the hub (its unit is
//!    the province): the time, and that its activities and households add
//!    up to every record made, over exactly the units that have nodes.
//!
//! One machine runs hub, nodes and report: the nodes' CPU is counted
//! against the hub's wall times.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use danvan_bench::load::{Hub, LoadNode, all_catch_up_each, changes, finished, node_net};
use danvan_node::{Node, SharedNode};

use crate::figure::{Figure, Figures};
use crate::load_group::danvan_bin;
use crate::measure::{ScratchDir, file_bytes};
use crate::province_seed::{Province, seed};
use crate::{BenchError, Options};

const GROUP: &str = "province";
/// Gives up on a sync phase after this long.
const PHASE_DEADLINE: Duration = Duration::from_secs(3 * 3600);
/// How long the hub stays down in the power cut.
const OUTAGE: Duration = Duration::from_secs(5);
/// The day of the activities recorded during the cut (in the report's year).
const CUT_DAY: &str = "2025-12-15";

/// What one run measured.
#[derive(Debug, Default)]
struct Measured {
    nodes: usize,
    seed_s: f64,
    hub_idle_rss_kib: u64,
    idle_sync_slowest_s: f64,
    idle_sync_peak_rss_kib: u64,
    idle_sync_hub_cpu_s: f64,
    steady_sync_slowest_s: f64,
    steady_sync_hub_cpu_s: f64,
    catch_up_slowest_s: f64,
    catch_up_median_s: f64,
    catch_up_peak_rss_kib: u64,
    changes_moved: u64,
    failed_attempts: u64,
    check_s: f64,
    hub_changes: u64,
    report_s: f64,
    report_units: usize,
    hub_db_mib: f64,
}

/// The sizes of this run: `--records`/`--nodes`, else the shape at
/// 100,000 records (2,000 and 10 nodes with `--quick`).
fn size(options: &Options) -> (usize, usize) {
    let (records, nodes) = if options.quick {
        (2_000, 10)
    } else {
        (100_000, 100)
    };
    (
        options.records.unwrap_or(records),
        options.nodes.unwrap_or(nodes).max(1),
    )
}

/// No issue sets a target for these figures: they are reported as found.
pub(crate) fn run(options: &Options) -> Result<Vec<Figure>, BenchError> {
    let bin = danvan_bin()?;
    let (records, nodes) = size(options);
    let scratch = ScratchDir::new(options)?;
    eprintln!("  {records} records, {nodes} nodes: seeding");
    let started = Instant::now();
    let province = seed(scratch.path(), records, nodes)?;
    let seed_s = started.elapsed().as_secs_f64();
    let m = measure(&bin, &province, seed_s)?;
    eprintln!("  {m:?}");
    let at = format!("{records} records, {nodes} nodes");
    let mut figures = Figures::new(GROUP);
    let mib = |kib: u64| kib as f64 / 1024.0;
    for (name, value, unit) in [
        ("seeding hub and nodes (fast path)", m.seed_s, "s"),
        ("hub database", m.hub_db_mib, "MiB"),
        ("hub memory idle (VmRSS)", mib(m.hub_idle_rss_kib), "MiB"),
        (
            "every node's first contact, all in sync: slowest",
            m.idle_sync_slowest_s,
            "s",
        ),
        (
            "hub peak memory while every node syncs (VmHWM)",
            mib(m.idle_sync_peak_rss_kib),
            "MiB",
        ),
        (
            "hub CPU for every node's first contact",
            m.idle_sync_hub_cpu_s,
            "s",
        ),
        (
            "every node syncs again (steady state): slowest",
            m.steady_sync_slowest_s,
            "s",
        ),
        (
            "hub CPU for every node's steady-state sync",
            m.steady_sync_hub_cpu_s,
            "s",
        ),
        (
            "after a hub power cut: slowest node's catch-up",
            m.catch_up_slowest_s,
            "s",
        ),
        (
            "after a hub power cut: median node's catch-up",
            m.catch_up_median_s,
            "s",
        ),
        (
            "hub peak memory during the catch-up (VmHWM)",
            mib(m.catch_up_peak_rss_kib),
            "MiB",
        ),
        (
            "changes made during the cut, all at their readers",
            m.changes_moved as f64,
            "changes",
        ),
        (
            "sync attempts refused or failed (all phases)",
            m.failed_attempts as f64,
            "attempts",
        ),
        ("danvan check at the hub", m.check_s, "s"),
        (
            "changes at the hub, checked",
            m.hub_changes as f64,
            "changes",
        ),
        ("report over every unit at the hub", m.report_s, "s"),
        ("units in the report", m.report_units as f64, "units"),
    ] {
        figures.info(format!("{at}: {name}"), value, unit);
    }
    Ok(figures.into_vec())
}

/// Runs the phases on a seeded province (see the module's documentation).
fn measure(
    bin: &std::path::Path,
    province: &Province,
    seed_s: f64,
) -> Result<Measured, BenchError> {
    let mut m = Measured {
        nodes: province.node_dirs.len(),
        seed_s,
        ..Measured::default()
    };
    let hub_dir = &province.hub_dir;
    let mut hub = Hub::start(bin, hub_dir, "127.0.0.1:0")?;
    let hub_addr = hub.addr;
    let (hub_id, hub_seeded) = {
        let hub = Node::open(hub_dir)?;
        (hub.id(), hub.store().counts()?.1)
    };
    std::thread::sleep(Duration::from_secs(2));
    m.hub_idle_rss_kib = hub.rss_kib();
    eprintln!(
        "    hub serving at {hub_addr}, {} MiB resident",
        m.hub_idle_rss_kib / 1024
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let _guard = runtime.enter();
    let mut nodes: Vec<LoadNode> = Vec::with_capacity(m.nodes);
    for dir in &province.node_dirs {
        let mut node = Node::open(dir)?;
        node.store_mut().trust(
            &hub_id,
            Some(&hub_addr.to_string()),
            Some("Trạm tỉnh Quảng Ngãi"),
            danvan_node::now_ms(),
        )?;
        let shared = SharedNode::new(node, false)?.with_net_config(node_net());
        let endpoint = std::sync::Arc::new(shared.bind("127.0.0.1:0".parse()?)?);
        nodes.push((shared, endpoint));
    }
    let mut expected = nodes
        .iter()
        .map(|(n, _)| changes(n))
        .collect::<Result<Vec<u64>, _>>()?;

    // Phase 1: every node at once, all in sync already.
    eprintln!("    every node syncs (in sync)");
    let started = Instant::now();
    let tasks = all_catch_up_each(&nodes, hub_addr, &expected, PHASE_DEADLINE, 15);
    let cpu_before = hub.usage().1;
    let (times, failed_first) = runtime.block_on(finished(tasks, started))?;
    m.idle_sync_slowest_s = times.last().copied().unwrap_or_default().as_secs_f64();
    let (peak, cpu_after) = hub.usage();
    m.idle_sync_peak_rss_kib = peak;
    m.idle_sync_hub_cpu_s = cpu_after.saturating_sub(cpu_before) as f64 / 1000.0;

    // Phase 1b: every node again. The seeded stores never synced, so the
    // first round is each node's first contact (the hub's whole log scanned
    // for the node's unit, the node's own changes offered from zero); this
    // round is the steady state a commune checking in pays.
    eprintln!("    every node syncs again (steady state)");
    let started = Instant::now();
    let tasks = all_catch_up_each(&nodes, hub_addr, &expected, PHASE_DEADLINE, 17);
    let cpu_before = hub.usage().1;
    let (times, failed_steady) = runtime.block_on(finished(tasks, started))?;
    m.steady_sync_slowest_s = times.last().copied().unwrap_or_default().as_secs_f64();
    m.steady_sync_hub_cpu_s = hub.usage().1.saturating_sub(cpu_before) as f64 / 1000.0;

    // Phase 2: the power cut, with work going on on both sides.
    hub.kill();
    let mut unit_new = std::collections::BTreeMap::<&str, u64>::new();
    for ((node, _), unit) in nodes.iter().zip(&province.node_units) {
        let before = changes(node)?;
        node.with(|n| cut_activity(n, None, "Ghi tại xã khi trạm tỉnh mất điện"))??;
        *unit_new.entry(unit).or_default() += changes(node)? - before;
    }
    let new_records = nodes.len() + unit_new.len();
    {
        let mut office = Node::open(hub_dir)?;
        for (unit, new) in unit_new.iter_mut() {
            let before = office.store().counts()?.1;
            cut_activity(
                &mut office,
                Some(unit),
                "Văn phòng tỉnh ghi khi trạm mất điện",
            )?;
            *new += office.store().counts()?.1 - before;
        }
    }
    m.changes_moved = unit_new.values().sum();
    for (e, unit) in expected.iter_mut().zip(&province.node_units) {
        *e += unit_new[unit.as_str()];
    }
    eprintln!(
        "    power cut: {} new changes on the nodes and the hub",
        m.changes_moved
    );
    let tasks = all_catch_up_each(
        &nodes,
        hub_addr,
        &expected,
        PHASE_DEADLINE,
        15_u64.wrapping_mul(31),
    );
    std::thread::sleep(OUTAGE);
    let mut hub = Hub::start(bin, hub_dir, &hub_addr.to_string())?;
    let restarted = Instant::now();
    let (times, failed_second) = runtime.block_on(finished(tasks, restarted))?;
    m.catch_up_slowest_s = times.last().copied().unwrap_or_default().as_secs_f64();
    m.catch_up_median_s = times
        .get(times.len() / 2)
        .copied()
        .unwrap_or_default()
        .as_secs_f64();
    m.catch_up_peak_rss_kib = hub.usage().0;
    m.failed_attempts = failed_first + failed_steady + failed_second;
    hub.kill();
    for (_, endpoint) in &nodes {
        endpoint.close();
    }
    drop(nodes);
    drop(runtime);

    // Nothing lost: `danvan check` at the hub.
    let hub_expected = hub_seeded + m.changes_moved;
    let started = Instant::now();
    let check = danvan_json(bin, hub_dir, &["check", "--json"])?;
    m.check_s = started.elapsed().as_secs_f64();
    m.hub_changes = check["changes"].as_u64().unwrap_or(0);
    let records = (province.records + new_records) as u64;
    if check["ok"] != true
        || m.hub_changes != hub_expected
        || check["records"].as_u64() != Some(records)
    {
        return Err(format!(
            "danvan check at the hub: {check}; expected {hub_expected} changes and {records} records"
        )
        .into());
    }
    m.hub_db_mib = (file_bytes(&hub_dir.join(danvan_store::DB_FILE))?
        + file_bytes(&hub_dir.join(format!("{}-wal", danvan_store::DB_FILE)))?)
        as f64
        / (1024.0 * 1024.0);

    // The report over every unit, at the province's hub.
    let started = Instant::now();
    let report = danvan_json(
        bin,
        hub_dir,
        &[
            "report",
            "--period",
            "2025",
            "--format",
            "json",
            "--today",
            "2026-01-01",
        ],
    )?;
    m.report_s = started.elapsed().as_secs_f64();
    let (total, units) = report_totals(&report);
    let with_nodes: BTreeSet<String> = province.node_units.iter().cloned().collect();
    if total != records || units != with_nodes {
        return Err(format!(
            "the report at the hub counts {total} records over {} units; expected {records} over {}",
            units.len(),
            with_nodes.len()
        )
        .into());
    }
    m.report_units = units.len();
    Ok(m)
}

/// One activity of the power cut, dated in the report's year, in `unit`
/// (`None`: the node's own).
fn cut_activity(node: &mut Node, unit: Option<&str>, title: &str) -> Result<(), BenchError> {
    let record = node.new_activity(
        unit,
        "tuyen-truyen",
        CUT_DAY,
        title,
        None,
        None,
        Some(30),
        None,
        None,
        None,
        None,
    )?;
    node.add(&record)?;
    Ok(())
}

/// Runs a `danvan` command on a data directory and parses its JSON output.
fn danvan_json(
    bin: &std::path::Path,
    dir: &std::path::Path,
    args: &[&str],
) -> Result<serde_json::Value, BenchError> {
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("DANVAN_DATA_DIR")
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "danvan {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Records a report counts (activities and households of every project)
/// and the units whose rows count any.
fn report_totals(report: &serde_json::Value) -> (u64, BTreeSet<String>) {
    let mut units = BTreeSet::new();
    let activities = &report["activities"];
    let mut total = activities["total"].as_u64().unwrap_or(0);
    for row in activities["by_unit"].as_array().into_iter().flatten() {
        if row["count"].as_u64().unwrap_or(0) > 0 {
            units.extend(row["unit"].as_str().map(String::from));
        }
    }
    for project in report["land"]["projects"].as_array().into_iter().flatten() {
        total += project["total"]["households"].as_u64().unwrap_or(0);
        for row in project["by_unit"].as_array().into_iter().flatten() {
            if row["figures"]["households"].as_u64().unwrap_or(0) > 0 {
                units.extend(row["unit"].as_str().map(String::from));
            }
        }
    }
    (total, units)
}
