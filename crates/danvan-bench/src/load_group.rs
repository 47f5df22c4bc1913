//! The `load` group: hundreds of in-process nodes syncing with one real
//! `danvan serve` hub at once, then all reconnecting after a power cut (see
//! `danvan_bench::load`).

use std::path::PathBuf;
use std::process::Command;

use danvan_bench::load::{LoadConfig, run as run_load};

use crate::figure::{Figure, Figures};
use crate::measure::ScratchDir;
use crate::{BenchError, Options};

const GROUP: &str = "load";

/// The `danvan` binary beside this one, built first so that it is current.
pub(crate) fn danvan_bin() -> Result<PathBuf, BenchError> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or("no directory for the bench binary")?;
    let release = dir.file_name().is_some_and(|n| n == "release");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--quiet", "-p", "danvan-cli", "--bin", "danvan"]);
    if release {
        cmd.arg("--release");
    }
    if !cmd.status()?.success() {
        return Err("cargo build -p danvan-cli failed".into());
    }
    Ok(dir.join("danvan"))
}

/// No issue sets a target for these figures yet: they are reported as found.
pub(crate) fn run(options: &Options) -> Result<Vec<Figure>, BenchError> {
    let scratch = ScratchDir::new(options)?;
    let nodes = if options.quick { 40 } else { 200 };
    let config = LoadConfig {
        nodes,
        records_per_node: 5,
        danvan_bin: danvan_bin()?,
        dir: scratch.path().to_path_buf(),
        phase_deadline: std::time::Duration::from_secs(600),
        seed: 1,
        outage: std::time::Duration::from_secs(10),
        hub_seed: None,
    };
    eprintln!("  {nodes} nodes, 5 records each, one hub process");
    let r = run_load(&config)?;
    eprintln!("  {r:?}");
    let s = |d: std::time::Duration| d.as_secs_f64();
    let mut figures = Figures::new(GROUP);
    figures.info(
        "nodes syncing with one hub at once",
        r.nodes as f64,
        "nodes",
    );
    figures.info(
        "changes on every replica at the end",
        r.changes_total as f64,
        "changes",
    );
    figures.info(
        "first sync: slowest node holds everything",
        s(r.first_sync_slowest),
        "s",
    );
    figures.info(
        "after a hub power cut: slowest node's catch-up",
        s(r.catch_up_slowest),
        "s",
    );
    figures.info(
        "after a hub power cut: median catch-up",
        s(r.catch_up_median),
        "s",
    );
    figures.info(
        "failed attempts (connection limit, hub down)",
        r.failed_attempts as f64,
        "attempts",
    );
    figures.info(
        "hub peak memory (VmHWM)",
        r.hub_peak_rss_kib as f64 / 1024.0,
        "MiB",
    );
    figures.info(
        "hub CPU time (user + system)",
        r.hub_cpu_ms as f64 / 1000.0,
        "s",
    );
    Ok(figures.into_vec())
}
