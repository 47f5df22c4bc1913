//! The `province` group: a province hub holding many records, many commune
//! nodes syncing with it, a power cut, and the report over every unit.
//!
//! The hub is a real `danvan serve` process started on a copy of a generated
//! store (`corpus.rs`, the records spread over the communes of Đức Phổ in
//! `sample::COMMUNES`; no gazetteer of the whole of Quảng Ngãi is in the
//! repository, so the report covers those units, not the province's 96).
//! The nodes are the load driver's (`danvan_bench::load`): in-process, on
//! trust lists, not a roster, so each pulls every record the hub holds. That
//! is the worst case for the hub: on a roster with commune read scopes each
//! would pull its own commune's share.
//!
//! Figures are measured at two sizes and extrapolated linearly to 1,000,000
//! records; the extrapolated rows say so in their name.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use danvan_bench::load::{LoadConfig, LoadReport, run as run_load};

use crate::corpus::cached_store;
use crate::figure::{Figure, Figures};
use crate::load_group::danvan_bin;
use crate::measure::{ScratchDir, file_bytes};
use crate::{BenchError, Options};

const GROUP: &str = "province";
/// The size the issue asks about, reached by extrapolation.
const PROVINCE_RECORDS: f64 = 1_000_000.0;

/// What one size measured.
struct Measured {
    records: usize,
    load: LoadReport,
    report_s: f64,
    hub_db_mib: f64,
}

/// The figures of one size, by name, unit and value.
fn rows(m: &Measured) -> Vec<(&'static str, &'static str, f64)> {
    let s = |d: Duration| d.as_secs_f64();
    vec![
        (
            "hub memory idle (VmRSS)",
            "MiB",
            m.load.hub_idle_rss_kib as f64 / 1024.0,
        ),
        (
            "hub peak memory (VmHWM)",
            "MiB",
            m.load.hub_peak_rss_kib as f64 / 1024.0,
        ),
        ("hub database", "MiB", m.hub_db_mib),
        (
            "first sync: slowest node holds everything",
            "s",
            s(m.load.first_sync_slowest),
        ),
        (
            "after a hub power cut: slowest node's catch-up",
            "s",
            s(m.load.catch_up_slowest),
        ),
        ("report over every unit at the hub", "s", m.report_s),
    ]
}

fn measure(
    options: &Options,
    records: usize,
    nodes: usize,
    bin: &std::path::Path,
) -> Result<Measured, BenchError> {
    let seed = cached_store(options, records)?;
    let scratch = ScratchDir::new(options)?;
    let config = LoadConfig {
        nodes,
        records_per_node: 5,
        danvan_bin: bin.to_path_buf(),
        dir: scratch.path().to_path_buf(),
        phase_deadline: Duration::from_secs(1200),
        seed: 15,
        outage: Duration::from_secs(5),
        hub_seed: Some(seed),
    };
    eprintln!("  {records} records at the hub, {nodes} nodes");
    let load = run_load(&config)?;
    eprintln!("  {load:?}");
    let hub_dir = scratch.path().join("hub");
    let hub_db_mib = (file_bytes(&hub_dir.join(danvan_store::DB_FILE))?
        + file_bytes(&hub_dir.join(format!("{}-wal", danvan_store::DB_FILE)))?)
        as f64
        / (1024.0 * 1024.0);
    // The corpus's records are dated through 2025: the year's report, at
    // the hub's own unit (the town), covers every unit under it.
    let started = Instant::now();
    let status = Command::new(bin)
        .arg("--data-dir")
        .arg(&hub_dir)
        .args(["report", "--period", "2025", "--format", "csv"])
        .args(["--today", "2026-01-01"])
        .env_remove("DANVAN_DATA_DIR")
        .stdout(Stdio::null())
        .status()?;
    let report_s = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err("danvan report at the hub failed".into());
    }
    Ok(Measured {
        records,
        load,
        report_s,
        hub_db_mib,
    })
}

/// No issue sets a target for these figures: they are reported as found.
pub(crate) fn run(options: &Options) -> Result<Vec<Figure>, BenchError> {
    let bin = danvan_bin()?;
    let sizes: &[(usize, usize)] = if options.quick {
        &[(1_000, 10)]
    } else {
        &[(1_000, 20), (10_000, 20)]
    };
    let mut measured = Vec::new();
    for &(records, nodes) in sizes {
        measured.push(measure(options, records, nodes, &bin)?);
    }
    let mut figures = Figures::new(GROUP);
    for m in &measured {
        let at = format!("{} records, {} nodes", m.records, m.load.nodes);
        figures.info(
            format!("{at}: changes on every replica at the end"),
            m.load.changes_total as f64,
            "changes",
        );
        for (name, unit, value) in rows(m) {
            figures.info(format!("{at}: {name}"), value, unit);
        }
    }
    if let [small, large] = measured.as_slice() {
        let span = (large.records - small.records) as f64;
        let ahead = PROVINCE_RECORDS - large.records as f64;
        for ((name, unit, a), (_, _, b)) in rows(small).into_iter().zip(rows(large)) {
            let slope = (b - a) / span;
            figures.info(
                format!("EXTRAPOLATED (linear) to 1,000,000 records: {name}"),
                // A figure that did not grow (idle memory) is taken as flat.
                (b + slope * ahead).max(a.max(b)),
                unit,
            );
        }
    }
    Ok(figures.into_vec())
}
