//! The sync benchmarks (issue "Sync over QUIC"), over real QUIC on loopback
//! between `danvan_node::SharedNode`s, with stores of generated records
//! (five changes each, see `corpus`):
//!
//! 1. idle sync, nothing changed: round trips and application bytes;
//! 2. one record changed, on the node (pushed) and on the hub (pulled);
//! 3. cold sync of every record from a hub to a new node: wall time, bytes
//!    against the zstd size of the change bodies, and where the time goes
//!    (verification, Automerge, SQLite), measured apart on one thread;
//! 4. memory of a hub run as a real `danvan serve` process: holding the
//!    records idle, and its peak while many nodes cold-sync at once.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use automerge::Automerge;
use danvan_model::{DocId, Kind, NodeId, SignedChange};
use danvan_node::{Endpoint, ListFilter, Node, NodeError, SharedNode, SyncSummary, now_ms};
use danvan_store::Store;

use crate::corpus::{self, CHANGES_PER_RECORD};
use crate::figure::{Figure, Figures, Target};
use crate::measure::{ScratchDir, on_cpu, process_cpu, reset_peak_rss_of, status_mib};
use crate::{BenchError, Options};

const GROUP: &str = "sync";
/// The unit of the syncing node.
const NODE_UNIT: &str = "pho-minh";
/// Bytes a change's Ed25519 signature takes on the wire.
pub(crate) const SIGNATURE_BYTES: u64 = 64;
/// How often the hub's resident memory is sampled while nodes sync.
const RSS_SAMPLE_MS: u64 = 100;

/// How much to do; `--quick` shrinks everything.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    /// Store sizes (records) of the idle and one-change syncs, ascending;
    /// the hub memory is measured at the last.
    records: &'static [usize],
    /// Store sizes at which the cold sync is a figure with its target.
    cold: &'static [usize],
    /// Nodes cold-syncing from the hub process at once.
    concurrent_nodes: usize,
    /// Records of the hub they cold-sync from (one of `records`).
    concurrent_records: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                records: &[1_000, 10_000],
                cold: &[10_000],
                concurrent_nodes: 5,
                concurrent_records: 10_000,
            }
        } else {
            Sizes {
                records: &[1_000, 10_000, 100_000],
                cold: &[10_000, 100_000],
                concurrent_nodes: 20,
                // Whole cold syncs of 100,000 records by 20 nodes would take
                // over ten minutes on two cores; the hub's memory per
                // session is bounded by batches in flight, not the store.
                concurrent_records: 10_000,
            }
        }
    }
}

/// The wall-time target of a cold sync, where the issue sets one.
fn cold_target_s(records: usize) -> Option<f64> {
    match records {
        10_000 => Some(2.0),
        100_000 => Some(16.0),
        _ => None,
    }
}

/// What the `signature` group needs from the sync figures: the bytes on
/// the wire of a cold sync and of a one-change sync.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WireBytes {
    /// Records of the cold sync.
    pub(crate) records: usize,
    /// Changes the cold sync carried.
    pub(crate) cold_changes: u64,
    /// Application bytes of the cold sync, both directions.
    pub(crate) cold_bytes: u64,
    /// Application bytes of the sync of one changed record, both directions.
    pub(crate) one_change_bytes: u64,
}

/// The wire bytes of the largest cold sync the `sync` group ran, if it ran.
static WIRE_BYTES: Mutex<Option<WireBytes>> = Mutex::new(None);

/// The wire bytes of the sync figures: from the `sync` group when it ran in
/// this process, else measured now with a 10,000-record cold sync.
pub(crate) fn wire_bytes(options: &Options) -> Result<WireBytes, BenchError> {
    if let Some(w) = *WIRE_BYTES.lock().unwrap_or_else(|p| p.into_inner()) {
        return Ok(w);
    }
    eprintln!("  (the sync group did not run: measuring a 10000-record cold sync)");
    let scratch = ScratchDir::new(options)?;
    let runtime = runtime()?;
    let pair = runtime.block_on(measure_pair(
        options,
        scratch.path(),
        10_000,
        false,
        &mut Figures::new(GROUP),
    ))?;
    runtime.block_on(pair.close())?;
    WIRE_BYTES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .ok_or_else(|| "the cold sync did not record its bytes".into())
}

fn runtime() -> Result<tokio::runtime::Runtime, BenchError> {
    // `SharedNode::with` uses `block_in_place`, which needs the multi-thread runtime.
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn node_err(step: &str) -> impl FnOnce(NodeError) -> BenchError + '_ {
    move |e| format!("{step}: {e}").into()
}

/// Runs the sync group.
pub(crate) fn run(options: &Options) -> Result<Vec<Figure>, BenchError> {
    let sizes = Sizes::new(options.quick);
    let scratch = ScratchDir::new(options)?;
    eprintln!("  data under {}", scratch.path().display());
    let mut figures = Figures::new(GROUP);
    crate::sync_wire::measure(options, scratch.path(), &mut figures)?;
    if options.wire_only {
        return Ok(figures.into_vec());
    }
    let runtime = runtime()?;
    let largest = sizes.records[sizes.records.len() - 1];
    for &n in sizes.records {
        let pair = runtime.block_on(measure_pair(
            options,
            scratch.path(),
            n,
            sizes.cold.contains(&n),
            &mut figures,
        ))?;
        let records = pair.records;
        runtime.block_on(async {
            let (hub_dir, hub_id, node, endpoint) = pair.close().await?;
            if records == largest {
                hub_idle(&hub_dir, hub_id, records, node, endpoint, &mut figures).await?;
            }
            if records == sizes.concurrent_records {
                let k = sizes.concurrent_nodes;
                hub_concurrent(scratch.path(), &hub_dir, hub_id, k, &mut figures).await?;
            }
            Ok::<_, BenchError>(())
        })?;
    }
    Ok(figures.into_vec())
}

/// A hub served in this process, stopped by [`InProcessHub::stop`] (or
/// aborted when dropped).
struct InProcessHub {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), NodeError>>>,
}

impl InProcessHub {
    fn start(hub: SharedNode, endpoint: Endpoint) -> InProcessHub {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            hub.serve(endpoint, None, async {
                let _ = stopped.await;
            })
            .await
        });
        InProcessHub {
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn stop(mut self) -> Result<(), BenchError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await?.map_err(node_err("in-process hub"))?;
        }
        Ok(())
    }
}

impl Drop for InProcessHub {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A hub and a node that have synced `records` records.
struct Pair {
    records: usize,
    hub_dir: PathBuf,
    hub_id: NodeId,
    hub: SharedNode,
    serving: InProcessHub,
    node: SharedNode,
    endpoint: Endpoint,
}

impl Pair {
    /// Stops the in-process hub and closes every store of the pair.
    async fn close(self) -> Result<(PathBuf, NodeId, SharedNode, Endpoint), BenchError> {
        self.serving.stop().await?;
        drop(self.hub);
        Ok((self.hub_dir, self.hub_id, self.node, self.endpoint))
    }
}

async fn sync(
    node: &SharedNode,
    endpoint: &Endpoint,
    hub: SocketAddr,
) -> Result<SyncSummary, BenchError> {
    node.sync_with(endpoint, hub, false, &mut |_| {})
        .await
        .map_err(node_err("sync"))
}

fn total_bytes(s: &SyncSummary) -> u64 {
    s.bytes_sent + s.bytes_received
}

/// A hub holding `records` generated records and a new node; the node
/// cold-syncs, syncs idle, then syncs one change each way.
async fn measure_pair(
    options: &Options,
    scratch: &Path,
    records: usize,
    cold_figures: bool,
    figures: &mut Figures,
) -> Result<Pair, BenchError> {
    let corpus_dir = corpus::cached_store(options, records)?;
    let base = scratch.join(format!("pair-{records}"));
    let hub_dir = base.join("hub");
    corpus::copy_store(&corpus_dir, &hub_dir)?;
    let mut node = Node::init(
        &base.join("node"),
        NODE_UNIT,
        Some("Máy UBND phường Phổ Minh"),
        None,
    )
    .map_err(node_err("init node"))?;
    let mut hub = Node::open(&hub_dir).map_err(node_err("open hub"))?;
    let hub_id = hub.id();
    hub.store_mut()
        .trust(&node.id(), None, Some("Phổ Minh"), now_ms())?;
    let hub = SharedNode::new(hub, false).map_err(node_err("hub"))?;
    let hub_endpoint = hub.bind(loopback()).map_err(node_err("bind hub"))?;
    let hub_addr = hub_endpoint.local_addr();
    let serving = InProcessHub::start(hub.clone(), hub_endpoint);
    node.store_mut().trust(
        &hub_id,
        Some(&hub_addr.to_string()),
        Some("Trạm thị xã"),
        now_ms(),
    )?;
    let node = SharedNode::new(node, false).map_err(node_err("node"))?;
    let endpoint = node.bind(loopback()).map_err(node_err("bind node"))?;

    // 3. Cold sync.
    let expected = (records * CHANGES_PER_RECORD) as u64;
    let cpu_before = process_cpu();
    let (cold, took) = timed_async(sync(&node, &endpoint, hub_addr)).await;
    let cold = cold?;
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(a, b)| a.saturating_sub(b));
    if cold.changes_stored != expected {
        return Err(format!(
            "cold sync of {records} records stored {} changes, expected {expected}",
            cold.changes_stored
        )
        .into());
    }
    eprintln!(
        "  cold sync, {records} records: {:.2} s, {} changes, {} B sent + {} B received, {} round trips{}",
        took.as_secs_f64(),
        cold.changes_stored,
        cold.bytes_sent,
        cold.bytes_received,
        cold.round_trips,
        cpu.map(|c| format!(", process CPU {:.2} s (hub and node)", c.as_secs_f64()))
            .unwrap_or_default()
    );
    if cold_figures {
        let signatures = node.with(|n| n.store().signatures_held())??;
        let cold = ColdSync {
            summary: &cold,
            took,
            cpu,
            signatures,
        };
        cold_sync_figures(scratch, &hub, hub_id, records, &cold, figures)?;
    }

    // 1. Idle sync. The first after the cold sync is shown apart: the hub
    // then has no checkpoint for the node yet.
    let first = sync(&node, &endpoint, hub_addr).await?;
    let idle = sync(&node, &endpoint, hub_addr).await?;
    eprintln!(
        "  idle sync, {records} records: first after the cold sync {} round trips, {} B; then {} round trips, {} B ({} sent, {} received)",
        first.round_trips,
        total_bytes(&first),
        idle.round_trips,
        total_bytes(&idle),
        idle.bytes_sent,
        idle.bytes_received
    );
    figures.target(
        format!("idle sync, {records} records: round trips"),
        idle.round_trips as f64,
        "",
        Target::AtMost(1.0),
    );
    figures.target(
        format!("idle sync, {records} records: bytes both ways"),
        total_bytes(&idle) as f64,
        "B",
        Target::Below(2048.0),
    );

    // 2. One record changed, on the node (pushed to the hub) and on the hub
    // (pulled by the node).
    let mut one_change_bytes = 0;
    for (side, writer) in [("on the node, pushed", &node), ("on the hub, pulled", &hub)] {
        let change_bytes = writer
            .with(edit_one_record)?
            .map_err(node_err("editing a record"))?;
        let s = sync(&node, &endpoint, hub_addr).await?;
        let moved = s.changes_stored + s.changes_sent;
        if moved != 1 {
            return Err(format!("one change {side}: {moved} changes moved, expected 1").into());
        }
        let overhead = total_bytes(&s).saturating_sub(change_bytes as u64);
        eprintln!(
            "  one change {side}, {records} records: change {change_bytes} B, sync {} B, {} round trips",
            total_bytes(&s),
            s.round_trips
        );
        if one_change_bytes == 0 {
            one_change_bytes = total_bytes(&s);
        }
        figures.target(
            format!("one change {side}, {records} records: round trips"),
            s.round_trips as f64,
            "",
            Target::AtMost(3.0),
        );
        figures.target(
            format!("one change {side}, {records} records: bytes minus the change"),
            overhead as f64,
            "B",
            Target::Below(4096.0),
        );
    }
    {
        let mut wire = WIRE_BYTES.lock().unwrap_or_else(|p| p.into_inner());
        if wire.is_none_or(|w| w.records <= records) {
            *wire = Some(WireBytes {
                records,
                cold_changes: cold.changes_stored,
                cold_bytes: total_bytes(&cold),
                one_change_bytes,
            });
        }
    }
    Ok(Pair {
        records,
        hub_dir,
        hub_id,
        hub,
        serving,
        node,
        endpoint,
    })
}

async fn timed_async<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed())
}

/// Adds a visit to the first household of the store (as a field team's
/// laptop records it); returns the size of the change it made.
pub(crate) fn edit_one_record(node: &mut Node) -> Result<usize, NodeError> {
    let rows = node.list(&ListFilter {
        kind: Some(Kind::Household.code().into()),
        limit: Some(1),
        ..ListFilter::default()
    })?;
    let id = rows
        .first()
        .map(|r| r.id.clone())
        .ok_or_else(|| NodeError::Demo("no household to edit".into()))?;
    node.household_visit(
        &id,
        "2025-10-02",
        "Tổ công tác, đồng chí Nguyễn Văn Tâm",
        "Hộ đồng ý nhận tiền, hẹn bàn giao mặt bằng sau thu hoạch",
    )?;
    let doc: DocId = id.parse().map_err(NodeError::DocId)?;
    let changes = node.store().doc_changes(&doc)?;
    Ok(changes.last().map(|c| c.change.body.len()).unwrap_or(0))
}

/// What a cold sync did and cost, as measured by its caller.
struct ColdSync<'a> {
    summary: &'a SyncSummary,
    took: Duration,
    cpu: Option<Duration>,
    /// Signatures the node holds after it (each one received).
    signatures: u64,
}

/// The figures of a cold sync: wall time, bytes against the zstd size of
/// what was carried, and where the time goes.
fn cold_sync_figures(
    scratch: &Path,
    hub: &SharedNode,
    hub_id: NodeId,
    records: usize,
    cold: &ColdSync<'_>,
    figures: &mut Figures,
) -> Result<(), BenchError> {
    let name = |what: &str| format!("cold sync, {records} records: {what}");
    let ColdSync {
        summary: cold,
        took,
        cpu,
        signatures,
    } = *cold;
    let secs = took.as_secs_f64();
    match cold_target_s(records) {
        Some(t) => figures.target(name("wall time"), secs, "s", Target::Below(t)),
        None => figures.info(name("wall time"), secs, "s"),
    }
    if let Some(cpu) = cpu {
        figures.info(name("CPU time, hub and node"), cpu.as_secs_f64(), "s");
    }
    eprintln!("  where the time goes: the same changes, stage by stage on one thread");
    let apart = Breakdown::measure(scratch, hub, hub_id, records)?;
    let bytes = total_bytes(cold) as f64;
    figures.info(name("application bytes"), bytes, "B");
    figures.info(
        name("change bodies, zstd -3 as one stream"),
        apart.zstd_bodies as f64,
        "B",
    );
    figures.target(
        name("bytes / zstd(bodies)"),
        bytes / apart.zstd_bodies as f64,
        "x",
        Target::AtMost(1.3),
    );
    figures.info(
        name("bytes / zstd(bodies + signatures)"),
        bytes / apart.zstd_signed as f64,
        "x",
    );
    // Protocol 4 carries one signature per author's newest change of a
    // record in each message; the node holds exactly those it received.
    figures.info(name("signatures received"), signatures as f64, "signatures");
    figures.target(
        name("signatures, share of the bytes"),
        100.0 * (signatures * SIGNATURE_BYTES) as f64 / bytes,
        "%",
        Target::Below(15.0),
    );
    eprintln!(
        "    {} changes, bodies {:.1} MiB raw, {:.1} MiB zstd; with signatures {:.1} MiB zstd; on the wire {:.1} MiB",
        apart.changes,
        apart.raw_bodies as f64 / 1048576.0,
        apart.zstd_bodies as f64 / 1048576.0,
        apart.zstd_signed as f64 / 1048576.0,
        bytes / 1048576.0
    );
    for (what, d) in [
        ("verify (parse, hash, Ed25519, actor)", apart.verify),
        ("of which Ed25519 alone", apart.ed25519),
        ("Automerge apply + projection read", apart.automerge),
        ("of which the projection read", apart.automerge_read),
        ("store commit (Store::apply_changes)", apart.store),
        (
            "of which SQLite and re-parsing",
            apart.store.saturating_sub(apart.automerge),
        ),
    ] {
        eprintln!("    {what:<40} {:>6.2} s", d.as_secs_f64());
        figures.info(name(&format!("one thread: {what}")), d.as_secs_f64(), "s");
    }
    Ok(())
}

/// The changes of a cold sync, measured stage by stage on this thread.
#[derive(Debug, Default)]
struct Breakdown {
    changes: u64,
    raw_bodies: u64,
    zstd_bodies: u64,
    zstd_signed: u64,
    verify: Duration,
    ed25519: Duration,
    automerge: Duration,
    automerge_read: Duration,
    store: Duration,
}

/// Counts what a zstd encoder writes.
#[derive(Debug, Default)]
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The context `NodeKey::sign_change` signs under (danvan-model's
/// `CHANGE_SIGNATURE_CONTEXT`); checked against every change below.
pub(crate) const CHANGE_SIGNATURE_CONTEXT: &[u8] = b"danvan/change/v1";

/// The message a change signature covers: document id, then change hash.
pub(crate) fn signed_message(change: &SignedChange) -> [u8; 48] {
    let mut message = [0u8; 48];
    message[..16].copy_from_slice(change.doc.as_bytes());
    message[16..].copy_from_slice(&change.hash);
    message
}

impl Breakdown {
    /// Reads the hub's changes in chunks of whole records and runs each
    /// stage of the receiving side on them: verification, Automerge, and a
    /// commit into a fresh store in batches as large as the wire's.
    fn measure(
        scratch: &Path,
        hub: &SharedNode,
        hub_id: NodeId,
        records: usize,
    ) -> Result<Breakdown, BenchError> {
        use std::io::Write;
        let chunk = 2_000 * CHANGES_PER_RECORD;
        let dir = scratch.join(format!("apply-{records}"));
        let mut store = Store::create(&dir, [7; 8])?;
        let mut bodies = zstd::stream::write::Encoder::new(Counter::default(), 3)?;
        let mut signed = zstd::stream::write::Encoder::new(Counter::default(), 3)?;
        let mut out = Breakdown::default();
        let mut since = 0;
        loop {
            let batch = hub
                .with(|n| n.store().changes_after(since, chunk))?
                .map_err(|e| format!("reading the hub's changes: {e}"))?;
            let Some(last) = batch.last() else { break };
            since = last.seq;
            let changes: Vec<SignedChange> = batch.into_iter().map(|s| s.change).collect();
            for c in &changes {
                out.changes += 1;
                out.raw_bodies += c.body.len() as u64;
                bodies.write_all(&c.body)?;
                signed.write_all(&c.signature.unwrap_or([0; 64]))?;
                signed.write_all(&c.body)?;
            }
            let ((), t) = on_cpu(|| {
                for c in &changes {
                    let _ = c.verify();
                }
            });
            out.verify += t;
            let (ok, t) = on_cpu(|| {
                changes.iter().all(|c| {
                    danvan_model::verify_signature(
                        &c.author,
                        CHANGE_SIGNATURE_CONTEXT,
                        &signed_message(c),
                        &c.signature.unwrap_or([0; 64]),
                    )
                })
            });
            if !ok {
                return Err(
                    "a change signature does not verify with the context the bench assumes".into(),
                );
            }
            out.ed25519 += t;
            let (apply, project) = automerge_apply(&changes)?;
            out.automerge += apply + project;
            out.automerge_read += project;
            let (stored, t) = on_cpu(|| -> Result<(), BenchError> {
                for batch in wire_batches(&changes) {
                    store.apply_changes(Some((&hub_id, [1; 8])), batch, None)?;
                }
                Ok(())
            });
            stored?;
            out.store += t;
        }
        out.zstd_bodies = bodies.finish()?.0;
        out.zstd_signed = signed.finish()?.0;
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        Ok(out)
    }
}

/// Splits changes as the sender batches bodies: at most
/// `BATCH_CHANGES_MAX` changes and `BATCH_BYTES_MAX` body bytes.
fn wire_batches(changes: &[SignedChange]) -> Vec<&[SignedChange]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, c) in changes.iter().enumerate() {
        if i > start
            && (i - start >= danvan_proto::BATCH_CHANGES_MAX
                || bytes + c.body.len() > danvan_proto::BATCH_BYTES_MAX)
        {
            out.push(&changes[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += c.body.len();
    }
    if start < changes.len() {
        out.push(&changes[start..]);
    }
    out
}

/// Each document built from its changes, then read as the projection
/// reads it; returns the CPU time of each of the two steps.
fn automerge_apply(changes: &[SignedChange]) -> Result<(Duration, Duration), BenchError> {
    let (built, apply) = on_cpu(|| -> Result<Vec<Automerge>, BenchError> {
        let mut by_doc: std::collections::BTreeMap<DocId, Vec<automerge::Change>> =
            Default::default();
        for c in changes {
            by_doc
                .entry(c.doc)
                .or_default()
                .push(automerge::Change::try_from(c.body.as_slice())?);
        }
        let mut docs = Vec::with_capacity(by_doc.len());
        for (_, doc_changes) in by_doc {
            let mut automerge = Automerge::new();
            automerge.apply_changes(doc_changes)?;
            docs.push(automerge);
        }
        Ok(docs)
    });
    let docs = built?;
    let (read, project) = on_cpu(|| -> Result<(), BenchError> {
        for automerge in &docs {
            let record = danvan_model::read_record(automerge)?;
            std::hint::black_box(danvan_model::conflicts(automerge, record.kind()));
            std::hint::black_box(record.summary());
        }
        Ok(())
    });
    read?;
    Ok((apply, project))
}

/// A hub run as `danvan serve`, killed when dropped.
pub(crate) struct HubProcess {
    child: std::process::Child,
    pub(crate) addr: SocketAddr,
    // Kept open so that the hub never writes to a closed pipe.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

/// An encrypted run (`--encrypted`): a `danvan` process started on `dir`
/// (a hub, a node's `sync`) reads the key this process made the store with
/// from `store.key`.
pub(crate) fn key_for_processes(dir: &Path) -> Result<(), BenchError> {
    if let Some(key) = danvan_store::cipher::process_key() {
        key.write_key_file(dir).map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl HubProcess {
    pub(crate) fn start(dir: &Path) -> Result<HubProcess, BenchError> {
        let exe = std::env::current_exe()?;
        let danvan = exe.with_file_name("danvan");
        if !danvan.exists() {
            return Err(format!(
                "{} not found: build it first with `cargo build --release -p danvan-cli`",
                danvan.display()
            )
            .into());
        }
        key_for_processes(dir)?;
        let mut child = std::process::Command::new(&danvan)
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DANVAN_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", danvan.display()))?;
        let mut stdout = std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        // "Nút … đang nhận đồng bộ tại 127.0.0.1:PORT"
        let Some(addr) = line
            .split_whitespace()
            .find_map(|w| w.trim_end_matches(',').parse::<SocketAddr>().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("danvan serve printed no address: {line:?}").into());
        };
        Ok(HubProcess {
            child,
            addr,
            _stdout: stdout,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 4a. The hub as a real process holding the records: its resident memory
/// after the synced node checked in twice.
async fn hub_idle(
    hub_dir: &Path,
    hub_id: NodeId,
    records: usize,
    node: SharedNode,
    endpoint: Endpoint,
    figures: &mut Figures,
) -> Result<(), BenchError> {
    let process = HubProcess::start(hub_dir)?;
    let pid = process.pid();
    eprintln!(
        "  hub process: danvan serve, pid {pid}, at {}",
        process.addr
    );
    node.with(|n| {
        n.store_mut()
            .trust(&hub_id, Some(&process.addr.to_string()), None, now_ms())
    })??;
    node.refresh().map_err(node_err("refresh"))?;
    for _ in 0..2 {
        let s = sync(&node, &endpoint, process.addr).await?;
        if s.changes_stored + s.changes_sent != 0 {
            return Err("the idle sync with the hub process moved changes".into());
        }
    }
    let rss = status_mib(pid, "VmRSS").ok_or("cannot read the hub's VmRSS")?;
    let hwm = status_mib(pid, "VmHWM").unwrap_or(f64::NAN);
    eprintln!("    idle with {records} records: VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB");
    figures.target(
        format!("hub process holding {records} records, idle: RSS"),
        rss,
        "MiB",
        Target::Below(150.0),
    );
    endpoint.close();
    Ok(())
}

/// 4b. The hub as a real process: its peak resident memory while `k` new
/// nodes (in this process) cold-sync all its records at once.
async fn hub_concurrent(
    scratch: &Path,
    hub_dir: &Path,
    hub_id: NodeId,
    k: usize,
    figures: &mut Figures,
) -> Result<(), BenchError> {
    let mut nodes = Vec::with_capacity(k);
    for i in 0..k {
        let dir = scratch.join(format!("concurrent-{i}"));
        nodes.push(Node::init(&dir, NODE_UNIT, None, None).map_err(node_err("init node"))?);
    }
    let (records, changes) = {
        let mut hub = Node::open(hub_dir).map_err(node_err("open hub"))?;
        for n in &nodes {
            hub.store_mut().trust(&n.id(), None, None, now_ms())?;
        }
        let (records, changes, _) = hub.store().counts()?;
        (records, changes)
    };
    let process = HubProcess::start(hub_dir)?;
    let pid = process.pid();
    eprintln!(
        "  hub process: danvan serve, pid {pid}, at {}; {k} nodes cold-sync {records} records at once",
        process.addr
    );
    let start_rss = status_mib(pid, "VmRSS").unwrap_or(f64::NAN);
    let reset = reset_peak_rss_of(pid);
    let mut tasks = tokio::task::JoinSet::new();
    for mut n in nodes {
        n.store_mut()
            .trust(&hub_id, Some(&process.addr.to_string()), None, now_ms())?;
        let shared = SharedNode::new(n, false).map_err(node_err("node"))?;
        let endpoint = shared.bind(loopback()).map_err(node_err("bind"))?;
        let addr = process.addr;
        tasks.spawn(async move {
            let s = sync(&shared, &endpoint, addr).await;
            endpoint.close();
            s
        });
    }
    let started = Instant::now();
    let mut sampled_max: f64 = 0.0;
    let mut tick = tokio::time::interval(Duration::from_millis(RSS_SAMPLE_MS));
    let mut stored = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Some(rss) = status_mib(pid, "VmRSS") {
                    sampled_max = sampled_max.max(rss);
                }
            }
            done = tasks.join_next() => match done {
                Some(s) => stored += s??.changes_stored,
                None => break,
            },
        }
    }
    let took = started.elapsed();
    let peak = status_mib(pid, "VmHWM").ok_or("cannot read the hub's VmHWM")?;
    if stored != k as u64 * changes {
        return Err(format!(
            "{k} cold syncs stored {stored} changes, expected {}",
            k as u64 * changes
        )
        .into());
    }
    eprintln!(
        "    done in {:.1} s; hub VmRSS before {start_rss:.1} MiB, VmHWM {peak:.1} MiB{}, highest sampled VmRSS {sampled_max:.1} MiB",
        took.as_secs_f64(),
        if reset {
            " (reset before the syncs)"
        } else {
            " (since start: could not reset)"
        }
    );
    figures.target(
        format!("hub process peak RSS, {k} nodes cold-syncing {records} records at once"),
        peak,
        "MiB",
        Target::Below(300.0),
    );
    figures.info(
        format!("{k} concurrent cold syncs of {records} records: wall time"),
        took.as_secs_f64(),
        "s",
    );
    Ok(())
}
