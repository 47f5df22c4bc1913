//! A writer killed with SIGKILL at random moments loses nothing it acknowledged.

use std::time::{Duration, Instant};

use crate::harness::{Dv, env_u64, seed_from_env};
use crate::soak::{Rng, Writer};

#[test]
fn sigkill_while_adding_loses_no_acknowledged_record() {
    let kills = env_u64("DANVAN_CRASH_KILLS").unwrap_or(24);
    let seed = seed_from_env("DANVAN_CRASH_SEED") | 1;
    eprintln!("crash test: {kills} kills, seed {seed} (rerun with DANVAN_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let dv = Dv::init("pho-quang");
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..kills {
        let writer = Writer::start(&dv, round);
        acknowledged.extend(writer.wait_for_first(Duration::from_secs(60)));
        let wait = Duration::from_millis(40 + rng.next() % 400);
        let start = Instant::now();
        while start.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(5));
        }
        acknowledged.extend(writer.kill());

        // After every kill the store opens cleanly, is whole, and holds every printed id.
        let check = dv.json(&["check"]);
        assert_eq!(check["ok"], true, "round {round} (seed {seed}): {check}");
        let listed: std::collections::HashSet<String> = dv
            .json(&["list", "--kind", "activity"])
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        for id in &acknowledged {
            assert!(
                listed.contains(id),
                "round {round} (seed {seed}): acknowledged record {id} lost"
            );
        }
    }
    assert!(
        acknowledged.len() >= kills as usize,
        "too few records were written to test anything: {}",
        acknowledged.len()
    );
    eprintln!(
        "crash test: {} acknowledged records survived {kills} kills",
        acknowledged.len()
    );
}
