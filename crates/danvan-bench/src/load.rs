//! The load driver: many nodes syncing with one hub at once, then all
//! reconnecting together after the hub loses power.
//!
//! The hub is a real `danvan serve` process, so its memory and CPU time can
//! be read from `/proc`; the nodes are in-process [`SharedNode`]s, each with
//! its own data directory and its own QUIC endpoint on loopback. Every loop
//! here is bounded by a deadline; every address is loopback.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use danvan_net::Backoff;
use danvan_node::{NetConfig, Node, SharedNode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What the load run can fail with; the message names the step.
pub type LoadError = Box<dyn std::error::Error + Send + Sync>;

/// The shape of one run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Nodes syncing with the hub.
    pub nodes: usize,
    /// Records each node makes before the first sync.
    pub records_per_node: usize,
    /// The `danvan` binary the hub runs.
    pub danvan_bin: PathBuf,
    /// Scratch directory for the data directories (must exist).
    pub dir: PathBuf,
    /// Gives up on any phase after this long.
    pub phase_deadline: Duration,
    /// Seeds the backoff jitter.
    pub seed: u64,
    /// How long the hub stays down in the power cut.
    pub outage: Duration,
    /// A closed data directory the hub starts as a copy of (records it
    /// already holds, as a province hub does), instead of an empty store.
    /// Every node then pulls all of them in the first phase: the nodes are
    /// on trust lists, not a roster, so nothing narrows what they read.
    pub hub_seed: Option<PathBuf>,
}

/// The figures of one run.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Nodes that synced.
    pub nodes: usize,
    /// Changes every replica holds at the end.
    pub changes_total: u64,
    /// From the start until the last node held every change.
    pub first_sync_slowest: Duration,
    /// From the hub's restart until the last node held every change
    /// (nodes started dialing the dead hub when it went down).
    pub catch_up_slowest: Duration,
    /// Median of the nodes' catch-up times.
    pub catch_up_median: Duration,
    /// Sync attempts that failed (refused at the connection limit, hub
    /// down), over both phases.
    pub failed_attempts: u64,
    /// Peak resident memory of the hub process (largest of its two lives), KiB.
    pub hub_peak_rss_kib: u64,
    /// CPU time of the hub (user + system, both lives), ms.
    pub hub_cpu_ms: u64,
    /// Changes the hub holds at the end.
    pub hub_changes: u64,
    /// Changes the hub held before any node synced (from `hub_seed`).
    pub seed_changes: u64,
    /// Resident memory of the hub once started and settled, before any
    /// node synced, KiB.
    pub hub_idle_rss_kib: u64,
}

/// A `danvan serve` hub process.
pub struct Hub {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
}

impl Hub {
    /// Starts `danvan serve` on `dir`, listening on `listen` (port 0: any).
    pub fn start(bin: &Path, dir: &Path, listen: &str) -> Result<Hub, LoadError> {
        let mut child = Command::new(bin)
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", listen])
            .env_remove("DANVAN_DATA_DIR")
            .env_remove("DANVAN_IDLE_TIMEOUT_MS")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start {}: {e}", bin.display()))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
        let addr = line
            .split_whitespace()
            .find_map(|w| w.trim_end_matches([',', '.']).parse::<SocketAddr>().ok())
            .ok_or_else(|| format!("no address in the hub's first line {line:?}"))?;
        Ok(Hub { child, addr })
    }

    /// (peak RSS KiB, CPU ms) read from /proc while the process lives.
    pub fn usage(&self) -> (u64, u64) {
        let pid = self.child.id();
        let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0);
        let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                // Fields after the command name, which is in parentheses.
                let rest = &s[s.rfind(')')? + 2..];
                let f: Vec<&str> = rest.split_whitespace().collect();
                Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
            })
            .unwrap_or(0);
        (hwm, ticks * 1000 / clock_ticks_per_s())
    }

    /// Current resident memory (VmRSS), KiB.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// A power cut: SIGKILL, no goodbye to anyone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.kill();
    }
}

fn clock_ticks_per_s() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// The transport of the nodes: a short idle timeout, so that a session whose
/// hub died ends in seconds rather than 30 s, and a short dial timeout, so
/// that dials to the dead hub fail and back off during the cut instead of
/// riding it out in handshake retransmissions.
pub fn node_net() -> NetConfig {
    NetConfig {
        idle_timeout_ms: 5_000,
        keep_alive_ms: 1_500,
        connect_timeout_ms: 1_500,
        ..NetConfig::default()
    }
}

/// The changes a node holds.
pub fn changes(node: &SharedNode) -> Result<u64, LoadError> {
    Ok(node
        .with(|n| n.store().counts())?
        .map_err(|e| format!("count changes: {e}"))?
        .1)
}

/// One node syncs until it holds `expected` changes: after a failure it
/// waits a jittered backoff (as `serve --hub` does), after a success that
/// left it short (others had not pushed yet) a short jittered pause.
async fn catch_up(
    node: SharedNode,
    endpoint: std::sync::Arc<danvan_node::Endpoint>,
    hub: SocketAddr,
    expected: u64,
    deadline: Instant,
    seed: u64,
) -> Result<(Instant, u64), LoadError> {
    let backoff = Backoff::default();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut attempt = 0u32;
    let mut failed = 0u64;
    loop {
        if Instant::now() > deadline {
            return Err(format!(
                "node {} did not catch up in time: holds {} of {expected} changes after {failed} failed attempts",
                node.id().short(),
                changes(&node)?
            )
            .into());
        }
        let delay_ms = match node.sync_with(&endpoint, hub, false, &mut |_| {}).await {
            Ok(_) => {
                if changes(&node)? >= expected {
                    return Ok((Instant::now(), failed));
                }
                attempt = 0;
                rng.gen_range(100..=600)
            }
            Err(_) => {
                failed += 1;
                let d = backoff
                    .delay_ms(attempt.min(backoff.retries_max - 1), rng.r#gen())
                    .unwrap_or(backoff.max_ms);
                attempt += 1;
                // The default ceiling grows to a minute; a load test that
                // waits that long measures the backoff, not the hub.
                d.min(5_000)
            }
        };
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
}

/// Starts every node's [`catch_up`] at once, each node to hold `expected`
/// changes.
fn all_catch_up(
    nodes: &[LoadNode],
    hub: SocketAddr,
    expected: u64,
    deadline: Duration,
    seed: u64,
) -> tokio::task::JoinSet<Result<(Instant, u64), LoadError>> {
    all_catch_up_each(nodes, hub, &vec![expected; nodes.len()], deadline, seed)
}

/// A node of the load run: the node and its QUIC endpoint.
pub type LoadNode = (SharedNode, std::sync::Arc<danvan_node::Endpoint>);

/// Starts every node's [`catch_up`] at once, node `i` to hold
/// `expected[i]` changes (nodes on a roster read different shares).
pub fn all_catch_up_each(
    nodes: &[LoadNode],
    hub: SocketAddr,
    expected: &[u64],
    deadline: Duration,
    seed: u64,
) -> tokio::task::JoinSet<Result<(Instant, u64), LoadError>> {
    let deadline = Instant::now() + deadline;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, ((node, endpoint), expected)) in nodes.iter().zip(expected).enumerate() {
        tasks.spawn(catch_up(
            node.clone(),
            endpoint.clone(),
            hub,
            *expected,
            deadline,
            seed.wrapping_add(i as u64),
        ));
    }
    tasks
}

/// Waits for every node; returns each node's time since `since`, sorted,
/// and the failed attempts.
pub async fn finished(
    mut tasks: tokio::task::JoinSet<Result<(Instant, u64), LoadError>>,
    since: Instant,
) -> Result<(Vec<Duration>, u64), LoadError> {
    let mut times = Vec::with_capacity(tasks.len());
    let mut failed = 0;
    while let Some(done) = tasks.join_next().await {
        let (at, f) = done??;
        times.push(at.saturating_duration_since(since));
        failed += f;
    }
    times.sort();
    Ok((times, failed))
}

fn activity(node: &mut Node, title: &str) -> Result<(), LoadError> {
    let record = node.new_activity(
        None,
        "tuyen-truyen",
        "2023-07-01",
        title,
        None,
        None,
        Some(40),
        None,
        None,
        Some("Tuyên truyền về bồi thường, hỗ trợ và tái định cư".into()),
        None,
    )?;
    node.add(&record)?;
    Ok(())
}

/// Runs the whole scenario and checks that every replica converged.
pub fn run(config: &LoadConfig) -> Result<LoadReport, LoadError> {
    let hub_dir = config.dir.join("hub");
    if let Some(seed) = &config.hub_seed {
        copy_data_dir(seed, &hub_dir)?;
    } else {
        let status = Command::new(&config.danvan_bin)
            .arg("--data-dir")
            .arg(&hub_dir)
            .args(["init", "--unit", "duc-pho"])
            .env_remove("DANVAN_DATA_DIR")
            // The other nodes are made in this process, keyed as it is
            // (`--encrypted`); the hub gets this process's passphrase source or
            // none (then plaintext, as they are).
            .args(
                (std::env::var_os("DANVAN_PASSPHRASE_FILE").is_none()
                    && std::env::var_os("DANVAN_KEY_FILE").is_none())
                .then_some("--plaintext"),
            )
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            return Err("danvan init of the hub failed".into());
        }
    }
    let (hub_id, seed_changes) = {
        let hub = Node::open(&hub_dir)?;
        (hub.id(), hub.store().counts()?.1)
    };

    // The nodes, each with records of its own, and the hub's trust list.
    let mut made = Vec::with_capacity(config.nodes);
    for i in 0..config.nodes {
        let mut node = Node::init(
            &config.dir.join(format!("node-{i}")),
            "pho-minh",
            None,
            None,
        )?;
        for r in 0..config.records_per_node {
            activity(&mut node, &format!("Tuyên truyền nút {i} lần {r}"))?;
        }
        made.push(node);
    }
    {
        let mut hub = Node::open(&hub_dir)?;
        let now = danvan_node::now_ms();
        for node in &made {
            hub.store_mut().trust(&node.id(), None, None, now)?;
        }
    }
    let mut hub = Hub::start(&config.danvan_bin, &hub_dir, "127.0.0.1:0")?;
    let hub_addr = hub.addr;
    std::thread::sleep(Duration::from_secs(1));
    let hub_idle_rss_kib = hub.rss_kib();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let _guard = runtime.enter();
    let mut nodes = Vec::with_capacity(config.nodes);
    for mut node in made {
        node.store_mut().trust(
            &hub_id,
            Some(&hub_addr.to_string()),
            None,
            danvan_node::now_ms(),
        )?;
        let shared = SharedNode::new(node, false)?.with_net_config(node_net());
        let endpoint = std::sync::Arc::new(shared.bind("127.0.0.1:0".parse()?)?);
        nodes.push((shared, endpoint));
    }
    let mut expected = seed_changes + (config.nodes * config.records_per_node) as u64;

    // Phase 1: everyone at once.
    let started = Instant::now();
    let tasks = all_catch_up(
        &nodes,
        hub_addr,
        expected,
        config.phase_deadline,
        config.seed,
    );
    let (first, failed_first) = runtime.block_on(finished(tasks, started))?;
    let (rss_1, cpu_1) = hub.usage();

    // Phase 2: the power cut. Work goes on offline meanwhile, and every node
    // starts dialing the dead hub at once, backing off with jitter, until it
    // comes back.
    hub.kill();
    for (i, (node, _)) in nodes.iter().enumerate() {
        node.with(|n| activity(n, &format!("Ghi khi mất điện, nút {i}")))??;
    }
    expected += config.nodes as u64;
    let tasks = all_catch_up(
        &nodes,
        hub_addr,
        expected,
        config.phase_deadline,
        config.seed.wrapping_mul(31),
    );
    std::thread::sleep(config.outage);
    let mut hub = Hub::start(&config.danvan_bin, &hub_dir, &hub_addr.to_string())?;
    let restarted = Instant::now();
    let (second, failed_second) = runtime.block_on(finished(tasks, restarted))?;
    let (rss_2, cpu_2) = hub.usage();
    hub.kill();
    for (_, endpoint) in &nodes {
        endpoint.close();
    }
    drop(nodes);
    let hub_store = Node::open(&hub_dir)?;
    let problems = hub_store.store().check()?;
    if !problems.is_empty() {
        return Err(format!("the hub's store is damaged: {problems:?}").into());
    }
    let hub_changes = hub_store.store().counts()?.1;
    if hub_changes != expected {
        return Err(format!("the hub holds {hub_changes} changes, not {expected}").into());
    }
    Ok(LoadReport {
        nodes: config.nodes,
        changes_total: expected,
        first_sync_slowest: first.last().copied().unwrap_or_default(),
        catch_up_slowest: second.last().copied().unwrap_or_default(),
        catch_up_median: second.get(second.len() / 2).copied().unwrap_or_default(),
        failed_attempts: failed_first + failed_second,
        hub_peak_rss_kib: rss_1.max(rss_2),
        hub_cpu_ms: cpu_1 + cpu_2,
        hub_changes,
        seed_changes,
        hub_idle_rss_kib,
    })
}

/// Copies a closed data directory's files (database, key, unit tree).
fn copy_data_dir(from: &Path, to: &Path) -> Result<(), LoadError> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))
                .map_err(|e| format!("cannot copy {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}
