//! Load: a few dozen nodes sync with one hub process at once, then all come
//! back together after the hub loses power (`danvan-bench load` runs the
//! same scenario with 200).

use std::time::Duration;

use danvan_bench::load::{LoadConfig, run};

use crate::harness::{TempDir, danvan_bin, slow_tests};

#[test]
fn dozens_of_nodes_converge_through_one_hub_and_after_its_power_cut() {
    // CI: 16 nodes, a few seconds in a debug build; DANVAN_SLOW_TESTS=1: 48.
    // The hub's connection limit (64) is exercised by the bench's 200.
    let nodes = if slow_tests() { 48 } else { 16 };
    let tmp = TempDir::new("load");
    let config = LoadConfig {
        nodes,
        records_per_node: 3,
        danvan_bin: danvan_bin(),
        dir: tmp.path().to_path_buf(),
        phase_deadline: Duration::from_secs(90),
        seed: 7,
        outage: Duration::from_secs(4),
        hub_seed: None,
    };
    let r = run(&config).unwrap_or_else(|e| panic!("load run failed: {e}"));
    eprintln!("load test: {r:?}");
    // `run` checks every node holds every change; the figures say so too.
    assert_eq!(r.changes_total, (nodes * 3 + nodes) as u64);
    assert_eq!(r.hub_changes, r.changes_total);
    assert!(r.hub_peak_rss_kib > 0, "hub memory not read from /proc");
    assert!(r.catch_up_slowest > Duration::ZERO);
    // Every node dialed the dead hub at least once during the cut.
    assert!(r.failed_attempts >= nodes as u64, "{r:?}");
}
