//! The deterministic simulator over many seeds.

use std::time::Instant;

use danvan_testkit::{SimConfig, SimFailure, SimReport, run_simulation};

/// Seeds that once failed; each stays here once its bug is fixed.
// 16 and 32: protocol 4's first batching cut a run of changes without
// their own signature from the change covering it.
const REGRESSION_SEEDS: &[u64] = &[16, 32];

/// Seeds run by default: enough to catch most bugs in well under a minute on
/// two cores in a debug build. `DANVAN_SIM_SEEDS=5000` runs more.
const DEFAULT_SEEDS: u64 = 300;

fn run_seeds(
    seeds: impl Iterator<Item = u64> + Send + Clone,
) -> Vec<Result<SimReport, SimFailure>> {
    let seeds: Vec<u64> = seeds.collect();
    let threads = 2;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<u64> = seeds.iter().copied().skip(t).step_by(threads).collect();
                scope.spawn(move || {
                    mine.into_iter()
                        .map(|seed| run_simulation(seed, SimConfig::default()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

fn assert_all_pass(results: Vec<Result<SimReport, SimFailure>>) -> Vec<SimReport> {
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|f| f.to_string()))
        .collect();
    assert!(
        failures.is_empty(),
        "{} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    results.into_iter().map(Result::unwrap).collect()
}

#[test]
fn sim_many_seeds_converge() {
    let count = std::env::var("DANVAN_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SEEDS);
    let started = Instant::now();
    let reports = assert_all_pass(run_seeds(0..count));
    let sum = |f: fn(&SimReport) -> usize| reports.iter().map(f).sum::<usize>();
    eprintln!(
        "{count} seeds in {:.1?}: {} changes made, {} lost to restores, {} sessions ({} done, {} failed), {} frames ({} lost, {} duplicated), {} crashes, {} restores, {} changes held without their own signature ({} at the hub)",
        started.elapsed(),
        sum(|r| r.changes_made),
        sum(|r| r.lost_to_restore),
        sum(|r| r.sessions_opened),
        sum(|r| r.sessions_done),
        sum(|r| r.sessions_failed),
        sum(|r| r.frames_sent),
        sum(|r| r.frames_lost),
        sum(|r| r.frames_duplicated),
        sum(|r| r.crashes),
        sum(|r| r.restores),
        sum(|r| r.covered_held),
        sum(|r| r.covered_at_hub),
    );
    // The faults must really happen, or the test proves nothing.
    assert!(sum(|r| r.frames_lost) > 0 && sum(|r| r.frames_duplicated) > 0);
    assert!(sum(|r| r.sessions_failed) > 0 && sum(|r| r.restores) > 0);
    assert!(sum(|r| r.lost_to_restore) < sum(|r| r.changes_made));
    // Protocol 4 must really leave signatures out, and those changes must
    // travel on from the nodes that hold them so (every replica converges).
    assert!(sum(|r| r.covered_held) > 0);
    // The hub asks for every signature and asks again for a change it
    // holds without one: it ends holding almost none so (567 of 13,732
    // over 300 seeds without asking again, 12 with).
    assert!(
        sum(|r| r.covered_at_hub) * 100 < sum(|r| r.covered_held),
        "the hub holds {} changes without their own signature",
        sum(|r| r.covered_at_hub)
    );
}

#[test]
fn sim_regression_seeds() {
    assert_all_pass(run_seeds(REGRESSION_SEEDS.iter().copied()));
}

/// `DANVAN_SIM_SEED=1234 cargo test -p danvan-testkit --test sync sim_replay_one_seed -- --nocapture`
#[test]
fn sim_replay_one_seed() {
    let Some(seed) = std::env::var("DANVAN_SIM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    else {
        return;
    };
    match run_simulation(seed, SimConfig::default()) {
        Ok(report) => eprintln!("{report:#?}"),
        Err(failure) => panic!("{failure}"),
    }
}

#[test]
fn sim_is_deterministic() {
    let one = run_simulation(7, SimConfig::default()).unwrap();
    let two = run_simulation(7, SimConfig::default()).unwrap();
    assert_eq!(one, two);
}
