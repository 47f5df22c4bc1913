//! A writer killed with SIGKILL at random moments loses nothing it acknowledged.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::harness::{Dv, danvan_bin};

/// A small seeded generator, so that a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn sigkill_while_adding_loses_no_acknowledged_record() {
    let kills = env_or("DANVAN_CRASH_KILLS", 24);
    let seed = env_or(
        "DANVAN_CRASH_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1,
    );
    eprintln!("crash test: {kills} kills, seed {seed} (rerun with DANVAN_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let dv = Dv::init("pho-quang");
    let id_pattern = |line: &str| -> Option<String> {
        let rest = line.trim().strip_prefix("\"id\": \"")?;
        let id = rest
            .strip_suffix("\",")
            .or_else(|| rest.strip_suffix('"'))?;
        (id.len() == 26).then(|| id.to_string())
    };
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..kills {
        // A shell loop of real `danvan activity add` processes, in its own
        // process group so the kill reaches whichever one is running.
        let script = format!(
            "i=0; while :; do i=$((i+1)); '{}' --data-dir '{}' activity add --type tuyen-truyen --date 2023-07-01 --title \"Tuyên truyền vòng {round} lần $i\" --summary \"Nội dung tuyên truyền về bồi thường, hỗ trợ và tái định cư\" --json || exit 1; done",
            danvan_bin().display(),
            dv.dir.display()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn writer");
        let pgid = child.id();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let wait = Duration::from_millis(40 + rng.next() % 400);
        let start = Instant::now();
        while start.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(5));
        }
        let killed = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{pgid}")])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !killed {
            let _ = child.kill();
        }
        let _ = child.wait();
        assert!(killed, "kill -s KILL -- -{pgid} failed");
        reader.join().unwrap();
        let printed: Vec<String> = rx.try_iter().filter_map(|l| id_pattern(&l)).collect();
        acknowledged.extend(printed);

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
