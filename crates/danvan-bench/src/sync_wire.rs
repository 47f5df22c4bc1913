//! Sync bytes on the wire between real processes (issue 13): a `danvan
//! serve` hub process and a `danvan sync` node process, with a counting
//! UDP relay (`danvan-relay`'s `clean` profile: no delay, no loss) between
//! them. Every UDP payload both ways is counted, so the QUIC and TLS
//! handshake, padding, acknowledgements and the close are in the figures,
//! not only danvan's own frames.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use danvan_model::NodeId;
use danvan_node::{Node, now_ms};
use danvan_relay::{LinkProfile, Relay, RelayFigures};

use crate::corpus;
use crate::figure::{Figures, Target};
use crate::measure::{children_cpu, process_cpu_of, status_mib};
use crate::sync::{HubProcess, edit_one_record};
use crate::{BenchError, Options};

/// Records the hub holds for the wire figures: the handshake does not
/// depend on it, and an idle sync's own bytes do not either.
const WIRE_RECORDS: usize = 1_000;
/// How long to wait after a node process exits before reading the relay's
/// counters, so that the last datagrams in flight are counted.
const SETTLE_MS: u64 = 300;
/// The targets, bytes on the wire both ways, handshake included.
const IDLE_WIRE_BYTES_BELOW: f64 = 4096.0;
const ONE_CHANGE_WIRE_BYTES_BELOW: f64 = 6144.0;
/// Records of the cold sync between real processes (`--records` sets
/// another count), and the targets for it: wall time and bytes on
/// the wire for 10,000 records, wall time for 100,000.
const COLD_RECORDS: usize = 10_000;
const COLD_WALL_S_BELOW: f64 = 2.0;
const COLD_WIRE_BYTES_BELOW: f64 = 2.1e6;
const COLD_100K_WALL_S_BELOW: f64 = 16.0;

/// What the relay counted during one `danvan sync` process.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wire {
    up_packets: u64,
    pub(crate) up_bytes: u64,
    down_packets: u64,
    pub(crate) down_bytes: u64,
    /// Of those bytes, what the relay dropped at a full queue: they never
    /// took the link's airtime.
    pub(crate) up_queue_dropped_bytes: u64,
    pub(crate) down_queue_dropped_bytes: u64,
    /// danvan's own round trips, as the node reported them.
    round_trips: u64,
    /// danvan's own frame bytes, both ways, as the node reported them.
    app_bytes: u64,
    /// From starting the `danvan sync` process to its exit.
    pub(crate) wall: Duration,
    /// CPU time of the `danvan sync` process, every thread.
    node_cpu: Option<Duration>,
    /// CPU time the hub process spent meanwhile.
    hub_cpu: Option<Duration>,
}

impl Wire {
    fn between(before: &RelayFigures, after: &RelayFigures, summary: &serde_json::Value) -> Wire {
        let field = |name: &str| summary.get(name).and_then(|v| v.as_u64()).unwrap_or(0);
        Wire {
            wall: Duration::ZERO,
            node_cpu: None,
            hub_cpu: None,
            up_packets: after.up.sent_packets - before.up.sent_packets,
            up_bytes: after.up.sent_bytes - before.up.sent_bytes,
            down_packets: after.down.sent_packets - before.down.sent_packets,
            down_bytes: after.down.sent_bytes - before.down.sent_bytes,
            up_queue_dropped_bytes: after.up.dropped_queue_bytes - before.up.dropped_queue_bytes,
            down_queue_dropped_bytes: after.down.dropped_queue_bytes
                - before.down.dropped_queue_bytes,
            round_trips: field("round_trips"),
            app_bytes: field("bytes_sent") + field("bytes_received"),
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.up_bytes + self.down_bytes
    }

    pub(crate) fn print(&self, what: &str) {
        eprintln!(
            "  {what}: {} B on the wire (node→hub {} datagrams, {} B; hub→node {} datagrams, {} B); danvan's own frames {} B, {} round trips",
            self.total(),
            self.up_packets,
            self.up_bytes,
            self.down_packets,
            self.down_bytes,
            self.app_bytes,
            self.round_trips
        );
        let secs = |d: Option<Duration>| {
            d.map(|d| format!("{:.2} s", d.as_secs_f64()))
                .unwrap_or_else(|| "?".into())
        };
        eprintln!(
            "    wall {:.2} s, node process CPU {}, hub process CPU {}",
            self.wall.as_secs_f64(),
            secs(self.node_cpu),
            secs(self.hub_cpu)
        );
    }

    fn figures(&self, what: &str, target: Option<f64>, figures: &mut Figures) {
        let name = |x: &str| format!("{what}, real processes: {x}");
        match target {
            Some(t) => figures.target(
                name("bytes on the wire"),
                self.total() as f64,
                "B",
                Target::Below(t),
            ),
            None => figures.info(name("bytes on the wire"), self.total() as f64, "B"),
        }
        figures.info(
            name("datagrams both ways"),
            (self.up_packets + self.down_packets) as f64,
            "",
        );
        figures.info(name("danvan round trips"), self.round_trips as f64, "");
    }
}

/// Measures a cold sync, idle syncs and a one-change sync between a hub
/// process and node processes, through a counting relay.
pub(crate) fn measure(
    options: &Options,
    scratch: &Path,
    figures: &mut Figures,
) -> Result<(), BenchError> {
    let rig = Rig::new(
        options,
        &scratch.join("wire"),
        WIRE_RECORDS,
        LinkProfile::clean(),
        1,
    )?;
    let (node_dir, relay, process) = (&rig.node_dir, &rig.relay, &rig.process);

    let cold = node_sync(node_dir, relay, process)?;
    cold.print(&format!("cold sync of {WIRE_RECORDS} records"));
    cold.figures(&format!("cold sync, {WIRE_RECORDS} records"), None, figures);
    // The first idle sync after a cold one still moves checkpoints; the
    // second is the steady state of a node checking in.
    let first = node_sync(node_dir, relay, process)?;
    first.print("idle sync, first after the cold sync");
    let idle = node_sync(node_dir, relay, process)?;
    idle.print("idle sync");
    idle.figures("idle sync", Some(IDLE_WIRE_BYTES_BELOW), figures);

    let change_bytes = {
        let mut node = Node::open(node_dir).map_err(|e| format!("open node: {e}"))?;
        edit_one_record(&mut node).map_err(|e| format!("editing a record: {e}"))?
    };
    let one = node_sync(node_dir, relay, process)?;
    eprintln!("  (the change itself: {change_bytes} B)");
    one.print("one change on the node, pushed");
    one.figures(
        "one change pushed",
        Some(ONE_CHANGE_WIRE_BYTES_BELOW),
        figures,
    );

    if let Some(rss) = status_mib(process.pid(), "VmRSS") {
        let hwm = status_mib(process.pid(), "VmHWM").unwrap_or(f64::NAN);
        eprintln!("  hub process after these syncs: VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB");
        figures.info(
            format!("hub process after the wire syncs ({WIRE_RECORDS} records): RSS"),
            rss,
            "MiB",
        );
    }
    drop(rig);
    cold_sync(
        options,
        scratch,
        options.records.unwrap_or(COLD_RECORDS),
        figures,
    )
}

/// A cold sync of `records` records between real processes: a new node's
/// `danvan sync` pulling everything from a `danvan serve` hub through the
/// counting relay. Wall time, bytes on the wire, and each process's CPU.
fn cold_sync(
    options: &Options,
    scratch: &Path,
    records: usize,
    figures: &mut Figures,
) -> Result<(), BenchError> {
    let rig = Rig::new(
        options,
        &scratch.join(format!("wire-cold-{records}")),
        records,
        LinkProfile::clean(),
        1,
    )?;
    let cold = node_sync(&rig.node_dir, &rig.relay, &rig.process)?;
    let what = format!("cold sync, {records} records");
    cold.print(&what);
    let (wire_below, wall_below) = match records {
        COLD_RECORDS => (Some(COLD_WIRE_BYTES_BELOW), Some(COLD_WALL_S_BELOW)),
        100_000 => (None, Some(COLD_100K_WALL_S_BELOW)),
        _ => (None, None),
    };
    cold.figures(&what, wire_below, figures);
    let name = |x: &str| format!("{what}, real processes: {x}");
    match wall_below {
        Some(t) => figures.target(
            name("wall time"),
            cold.wall.as_secs_f64(),
            "s",
            Target::Below(t),
        ),
        None => figures.info(name("wall time"), cold.wall.as_secs_f64(), "s"),
    }
    for (who, cpu) in [("node", cold.node_cpu), ("hub", cold.hub_cpu)] {
        if let Some(cpu) = cpu {
            figures.info(name(&format!("{who} process CPU")), cpu.as_secs_f64(), "s");
        }
    }
    Ok(())
}

/// A hub process holding generated records, a new node's data directory
/// (each trusting the other) and the counting relay between them, with a
/// link profile. Dropped in field order: the relay, then the hub process,
/// then the relay's runtime.
pub(crate) struct Rig {
    pub(crate) relay: Relay,
    pub(crate) process: HubProcess,
    pub(crate) node_dir: PathBuf,
    _runtime: tokio::runtime::Runtime,
}

impl Rig {
    pub(crate) fn new(
        options: &Options,
        base: &Path,
        records: usize,
        link: LinkProfile,
        seed: u64,
    ) -> Result<Rig, BenchError> {
        let corpus_dir = corpus::cached_store(options, records)?;
        let hub_dir = base.join("hub");
        let node_dir = base.join("node");
        corpus::copy_store(&corpus_dir, &hub_dir)?;
        let node = Node::init(
            &node_dir,
            "pho-minh",
            Some("Máy UBND phường Phổ Minh"),
            None,
        )
        .map_err(|e| format!("init node: {e}"))?;
        let node_id = node.id();
        drop(node);
        // The node's `danvan sync` processes open an encrypted store too.
        crate::sync::key_for_processes(&node_dir)?;
        let hub_id = {
            let mut hub = Node::open(&hub_dir).map_err(|e| format!("open hub: {e}"))?;
            hub.store_mut()
                .trust(&node_id, None, Some("Phổ Minh"), now_ms())?;
            hub.id()
        };
        let process = HubProcess::start(&hub_dir)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let relay = runtime.block_on(Relay::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            process.addr,
            link,
            seed,
        ))?;
        trust_hub(&node_dir, hub_id, relay.local_addr())?;
        eprintln!(
            "  hub process pid {} at {} with {records} records, relay {} (counting)",
            process.pid(),
            process.addr,
            relay.local_addr()
        );
        Ok(Rig {
            relay,
            process,
            node_dir,
            _runtime: runtime,
        })
    }
}

/// Makes the node trust the hub at the relay's address.
fn trust_hub(node_dir: &Path, hub_id: NodeId, addr: SocketAddr) -> Result<(), BenchError> {
    let mut node = Node::open(node_dir).map_err(|e| format!("open node: {e}"))?;
    node.store_mut().trust(
        &hub_id,
        Some(&addr.to_string()),
        Some("Trạm thị xã"),
        now_ms(),
    )?;
    Ok(())
}

/// Runs `danvan sync --json` through the relay as a process of its own and
/// returns what the relay counted while it ran.
pub(crate) fn node_sync(
    node_dir: &Path,
    relay: &Relay,
    hub: &HubProcess,
) -> Result<Wire, BenchError> {
    let danvan = std::env::current_exe()?.with_file_name("danvan");
    let before = relay.figures();
    let (hub_before, node_before) = (process_cpu_of(hub.pid()), children_cpu());
    let started = Instant::now();
    let output = std::process::Command::new(&danvan)
        .arg("--data-dir")
        .arg(node_dir)
        .args(["sync", "--json"])
        .arg(relay.local_addr().to_string())
        .env("DANVAN_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", danvan.display()))?;
    let wall = started.elapsed();
    let node_cpu = children_cpu()
        .zip(node_before)
        .map(|(a, b)| a.saturating_sub(b));
    let hub_cpu = process_cpu_of(hub.pid())
        .zip(hub_before)
        .map(|(a, b)| a.saturating_sub(b));
    if !output.status.success() {
        return Err(format!(
            "danvan sync failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    std::thread::sleep(Duration::from_millis(SETTLE_MS));
    let after = relay.figures();
    // Progress lines may come first; the summary is the last object with
    // the session's figures.
    let summary = serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter::<serde_json::Value>()
        .filter_map(Result::ok)
        .filter(|v| v.get("round_trips").is_some())
        .last()
        .ok_or("danvan sync --json printed no summary")?;
    Ok(Wire {
        wall,
        node_cpu,
        hub_cpu,
        ..Wire::between(&before, &after, &summary)
    })
}
