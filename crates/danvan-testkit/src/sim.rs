//! The deterministic simulator: a hub, commune nodes and field laptops edit
//! household cases and sync over faulty links, with crashes, restores from
//! backup and partitions; then faults stop, everyone syncs until quiet, and
//! the invariants are checked.
//!
//! Everything random comes from one seeded ChaCha rng and the clock is
//! simulated, so a seed replays exactly.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use danvan_model::{DocId, NodeId};
use danvan_proto::{Event, ProtoError, Replica, Session, SessionConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::node::{TestNode, build_document};
use crate::pair::{Pair, Side};
use crate::replica::MemReplica;

/// What a simulation run contains. Probabilities are per mille.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Commune nodes (besides the hub).
    pub communes: usize,
    /// Field laptops. The last one joins late with an empty store.
    pub laptops: usize,
    /// Household cases edited by every node.
    pub shared_docs: usize,
    /// Length of the fault phase, simulated milliseconds.
    pub fault_ms: u64,
    /// Edits made during the fault phase.
    pub edits: usize,
    /// Sessions opened during the fault phase.
    pub sessions: usize,
    /// Per-mille of sessions that stay open live.
    pub live_per_mille: u32,
    /// Per-mille of frames lost.
    pub drop_per_mille: u32,
    /// Per-mille of frames delivered twice.
    pub duplicate_per_mille: u32,
    /// Per-mille of frames that overtake the ones before them.
    pub reorder_per_mille: u32,
    /// Node crashes (sessions dropped, store kept) during the fault phase.
    pub crashes: usize,
    /// Restores of a store from its last backup, under a new epoch.
    pub restores: usize,
    /// Partitions between two nodes, for a while.
    pub partitions: usize,
    /// Sessions' stall timeout.
    pub stall_timeout_ms: u64,
    /// Sessions' batch bytes (small, so that runs have many batches).
    pub batch_bytes_max: usize,
    /// Sessions' hashes per offer (small, for the same reason).
    pub offer_hashes_max: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            communes: 2,
            laptops: 3,
            shared_docs: 3,
            fault_ms: 60_000,
            edits: 60,
            sessions: 40,
            live_per_mille: 250,
            drop_per_mille: 15,
            duplicate_per_mille: 5,
            reorder_per_mille: 5,
            crashes: 2,
            restores: 1,
            partitions: 2,
            stall_timeout_ms: 5_000,
            batch_bytes_max: 3_000,
            offer_hashes_max: 12,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// Changes made.
    pub changes_made: usize,
    /// Changes lost legitimately: made on a node and lost by its restore
    /// from backup before any other node got them.
    pub lost_to_restore: usize,
    /// Changes every replica holds at the end.
    pub changes_final: usize,
    /// Documents at the end.
    pub documents: usize,
    /// Sessions opened in the fault phase.
    pub sessions_opened: usize,
    /// Session ends that finished with Done.
    pub sessions_done: usize,
    /// Session ends that failed (stall, fault-induced protocol errors).
    pub sessions_failed: usize,
    /// Frames sent in the fault phase.
    pub frames_sent: usize,
    /// Frames lost (drops, partitions, crashes, closed sessions).
    pub frames_lost: usize,
    /// Frames delivered twice.
    pub frames_duplicated: usize,
    /// Crashes, restores.
    pub crashes: usize,
    /// Restores done.
    pub restores: usize,
    /// Rounds of all-pairs sessions needed to become quiet.
    pub quiet_rounds: usize,
    /// Changes held at the end without their own signature, covered by a
    /// later change of their author (protocol 4), summed over the nodes.
    pub covered_held: usize,
    /// Of those, held by the hub, which asks for every signature.
    pub covered_at_hub: usize,
    /// Bytes on the wire in the fault phase.
    pub bytes: u64,
}

/// A violated invariant, with the seed to replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimFailure {
    /// The seed of the failing run.
    pub seed: u64,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for SimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "simulation seed {seed} failed: {msg}\n  replay: DANVAN_SIM_SEED={seed} cargo test -p danvan-testkit --test sync sim_replay_one_seed -- --nocapture\n  then add {seed} to REGRESSION_SEEDS once fixed",
            seed = self.seed,
            msg = self.message
        )
    }
}

impl std::error::Error for SimFailure {}

/// Runs one simulation. Deterministic in `seed` and `config`.
pub fn run_simulation(seed: u64, config: SimConfig) -> Result<SimReport, SimFailure> {
    let outcome = catch_unwind(AssertUnwindSafe(|| Sim::new(seed, config).run()));
    let result = match outcome {
        Ok(result) => result,
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panicked: {text}"))
        }
    };
    result.map_err(|message| SimFailure { seed, message })
}

struct SimNode {
    node: TestNode,
    up: bool,
    backup: Option<MemReplica>,
    own_docs: Vec<DocId>,
}

/// One connection: a session end on each side and a link between them.
struct Conn {
    nodes: [usize; 2],
    ends: [Option<Session>; 2],
    latency_ms: u64,
    bytes_per_ms: u64,
    /// Arrival time of the last frame each way, to keep the stream in order.
    last_arrival: [u64; 2],
    live: bool,
}

enum Action {
    Edit {
        node: usize,
    },
    Open {
        a: usize,
        b: usize,
        live: bool,
    },
    Close {
        conn: u64,
    },
    Deliver {
        conn: u64,
        to: usize,
        frame: Vec<u8>,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    Backup {
        node: usize,
    },
    Restore {
        node: usize,
    },
    Partition {
        a: usize,
        b: usize,
        on: bool,
    },
}

struct Sim {
    config: SimConfig,
    rng: ChaCha8Rng,
    now_ms: u64,
    nodes: Vec<SimNode>,
    shared_docs: Vec<DocId>,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    actions: BTreeMap<u64, Action>,
    next_action: u64,
    partitions: BTreeSet<(usize, usize)>,
    /// Every change made, and those that must survive to the end.
    expected: BTreeSet<[u8; 32]>,
    report: SimReport,
}

const HUB: usize = 0;

impl Sim {
    fn new(seed: u64, config: SimConfig) -> Sim {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let count = 1 + config.communes + config.laptops;
        let nodes = (0..count)
            .map(|_| SimNode {
                node: TestNode::new(&mut rng),
                up: true,
                backup: None,
                own_docs: Vec::new(),
            })
            .collect();
        let shared_docs = (0..config.shared_docs)
            .map(|_| DocId::from_bytes(rng.r#gen()))
            .collect();
        Sim {
            config,
            rng,
            now_ms: 0,
            nodes,
            shared_docs,
            conns: BTreeMap::new(),
            next_conn: 0,
            queue: BinaryHeap::new(),
            actions: BTreeMap::new(),
            next_action: 0,
            partitions: BTreeSet::new(),
            expected: BTreeSet::new(),
            report: SimReport {
                seed,
                ..SimReport::default()
            },
        }
    }

    fn schedule(&mut self, at_ms: u64, action: Action) {
        let id = self.next_action;
        self.next_action += 1;
        self.queue.push(Reverse((at_ms, id)));
        self.actions.insert(id, action);
    }

    fn random_time(&mut self) -> u64 {
        self.rng.gen_range(0..self.config.fault_ms)
    }

    fn random_pair(&mut self) -> (usize, usize) {
        let n = self.nodes.len();
        let a = self.rng.gen_range(0..n);
        // Half of the sessions go through the hub, as in the field.
        let b = if a != HUB && self.rng.gen_bool(0.5) {
            HUB
        } else {
            let mut b = self.rng.gen_range(0..n - 1);
            if b >= a {
                b += 1;
            }
            b
        };
        (a, b)
    }

    fn run(mut self) -> Result<SimReport, String> {
        self.plan();
        self.fault_phase()?;
        self.quiet_phase()?;
        self.check_final()?;
        Ok(self.report)
    }

    /// Schedules the whole fault phase up front, from the rng.
    fn plan(&mut self) {
        let n = self.nodes.len();
        let late = n - 1;
        // The last laptop joins halfway with an empty store: a cold sync.
        self.nodes[late].up = false;
        self.schedule(self.config.fault_ms / 2, Action::Restart { node: late });
        for node in 0..n - 1 {
            self.schedule(0, Action::Edit { node });
        }
        for _ in 0..self.config.edits {
            let at = self.random_time();
            let node = self.rng.gen_range(0..n);
            self.schedule(at, Action::Edit { node });
        }
        for _ in 0..self.config.sessions {
            let at = self.random_time();
            let (a, b) = self.random_pair();
            let live = self.rng.gen_range(0..1000) < self.config.live_per_mille;
            self.schedule(at, Action::Open { a, b, live });
        }
        for _ in 0..self.config.crashes {
            let at = self.random_time();
            let node = self.rng.gen_range(0..n - 1);
            let down_ms = self.rng.gen_range(500..10_000);
            self.schedule(at, Action::Crash { node });
            self.schedule(at + down_ms, Action::Restart { node });
        }
        for _ in 0..self.config.restores {
            let at = self.random_time();
            let node = self.rng.gen_range(0..n - 1);
            let backup_at = self.rng.gen_range(0..at.max(1));
            self.schedule(backup_at, Action::Backup { node });
            self.schedule(at, Action::Restore { node });
        }
        for _ in 0..self.config.partitions {
            let at = self.random_time();
            let (a, b) = self.random_pair();
            let len = self.rng.gen_range(1_000..20_000);
            self.schedule(at, Action::Partition { a, b, on: true });
            self.schedule(at + len, Action::Partition { a, b, on: false });
        }
    }

    fn fault_phase(&mut self) -> Result<(), String> {
        while let Some(&Reverse((at, id))) = self.queue.peek() {
            if at >= self.config.fault_ms {
                break;
            }
            // A session deadline before the next action goes first; handling
            // it may schedule earlier actions, so look again afterwards.
            if let Some((deadline, conn, end)) = self.next_deadline()
                && deadline <= at
            {
                self.now_ms = self.now_ms.max(deadline);
                if let Some(session) = self.conns.get_mut(&conn).and_then(|c| c.ends[end].as_mut())
                {
                    session.handle_timeout(self.now_ms);
                }
                self.drain(conn)?;
                continue;
            }
            self.queue.pop();
            self.now_ms = self.now_ms.max(at);
            let action = self.actions.remove(&id).expect("scheduled");
            self.apply(action)?;
        }
        // Faults stop: every link closes, every node comes up, partitions heal.
        self.conns.clear();
        self.queue.clear();
        self.actions.clear();
        self.partitions.clear();
        for node in &mut self.nodes {
            node.up = true;
        }
        Ok(())
    }

    fn next_deadline(&self) -> Option<(u64, u64, usize)> {
        self.conns
            .iter()
            .flat_map(|(id, c)| {
                c.ends
                    .iter()
                    .enumerate()
                    .filter_map(move |(i, e)| Some((e.as_ref()?.poll_timeout()?, *id, i)))
            })
            .min()
    }

    fn partitioned(&self, a: usize, b: usize) -> bool {
        self.partitions.contains(&(a.min(b), a.max(b)))
    }

    fn apply(&mut self, action: Action) -> Result<(), String> {
        match action {
            Action::Edit { node } => {
                if !self.nodes[node].up {
                    return Ok(());
                }
                let doc = self.pick_doc(node);
                let change = {
                    let Sim { nodes, rng, .. } = self;
                    nodes[node].node.edit_household(doc, rng)
                };
                let Some(change) = change else {
                    return Ok(());
                };
                self.expected.insert(change.hash);
                self.report.changes_made += 1;
                self.notify_live(node)?;
            }
            Action::Open { a, b, live } => {
                let busy = self
                    .conns
                    .values()
                    .any(|c| c.nodes.contains(&a) && c.nodes.contains(&b));
                if busy || !self.nodes[a].up || !self.nodes[b].up || self.partitioned(a, b) {
                    return Ok(());
                }
                self.open(a, b, live)?;
            }
            Action::Close { conn } => {
                self.conns.remove(&conn);
            }
            Action::Deliver { conn, to, frame } => self.deliver(conn, to, frame)?,
            Action::Crash { node } => {
                self.report.crashes += 1;
                self.nodes[node].up = false;
                self.drop_sessions_of(node);
            }
            Action::Restart { node } => self.nodes[node].up = true,
            Action::Backup { node } => {
                self.nodes[node].backup = Some(self.nodes[node].node.store.clone());
            }
            Action::Restore { node } => {
                let Some(backup) = self.nodes[node].backup.clone() else {
                    return Ok(());
                };
                self.report.restores += 1;
                self.drop_sessions_of(node);
                let lost: Vec<[u8; 32]> = self.nodes[node]
                    .node
                    .store
                    .hashes()
                    .into_iter()
                    .filter(|h| !backup.contains(h))
                    .collect();
                for hash in lost {
                    let elsewhere = self
                        .nodes
                        .iter()
                        .enumerate()
                        .any(|(i, n)| i != node && n.node.store.contains(&hash));
                    if !elsewhere && self.expected.remove(&hash) {
                        self.report.lost_to_restore += 1;
                    }
                }
                let epoch = self.rng.r#gen();
                self.nodes[node].node.store = backup.restored(epoch);
            }
            Action::Partition { a, b, on } => {
                let key = (a.min(b), a.max(b));
                if on {
                    self.partitions.insert(key);
                } else {
                    self.partitions.remove(&key);
                }
            }
        }
        Ok(())
    }

    fn pick_doc(&mut self, node: usize) -> DocId {
        if !self.shared_docs.is_empty() && self.rng.gen_bool(0.4) {
            let i = self.rng.gen_range(0..self.shared_docs.len());
            return self.shared_docs[i];
        }
        let own = &self.nodes[node].own_docs;
        if own.is_empty() || self.rng.gen_bool(0.3) {
            let doc = DocId::from_bytes(self.rng.r#gen());
            self.nodes[node].own_docs.push(doc);
            doc
        } else {
            let i = self.rng.gen_range(0..own.len());
            own[i]
        }
    }

    fn session_config(&self, live: bool) -> SessionConfig {
        SessionConfig {
            live,
            stall_timeout_ms: self.config.stall_timeout_ms,
            batch_bytes_max: self.config.batch_bytes_max,
            // Inline batches grow on a fast link: up to four times the
            // small batches the simulator starts with.
            inline_bytes_max: self.config.batch_bytes_max * 4,
            offer_hashes_max: self.config.offer_hashes_max,
            ..SessionConfig::default()
        }
    }

    fn open(&mut self, a: usize, b: usize, live: bool) -> Result<(), String> {
        let id = self.next_conn;
        self.next_conn += 1;
        self.report.sessions_opened += 1;
        let config = self.session_config(live);
        let ids = [self.nodes[a].node.id(), self.nodes[b].node.id()];
        let mut ends = [None, None];
        for (i, node) in [a, b].into_iter().enumerate() {
            let store = &self.nodes[node].node.store;
            // The hub serves: it asks for every signature (protocol 4).
            let config = SessionConfig {
                keep_signatures: node == HUB,
                ..config.clone()
            };
            let session = Session::new(self.now_ms, config, ids[i], ids[1 - i], store)
                .map_err(|e| format!("opening a session failed: {e}"))?;
            ends[i] = Some(session);
        }
        // 2G to 3G: 5 to 50 bytes per ms, 20 to 400 ms latency.
        let conn = Conn {
            nodes: [a, b],
            ends,
            latency_ms: self.rng.gen_range(20..400),
            bytes_per_ms: self.rng.gen_range(5..50),
            last_arrival: [0, 0],
            live,
        };
        self.conns.insert(id, conn);
        if live {
            let lifetime = self.rng.gen_range(2_000..20_000);
            self.schedule(self.now_ms + lifetime, Action::Close { conn: id });
        }
        self.drain(id)
    }

    fn drop_sessions_of(&mut self, node: usize) {
        for conn in self.conns.values_mut() {
            for (i, n) in conn.nodes.iter().enumerate() {
                if *n == node {
                    conn.ends[i] = None;
                }
            }
        }
        self.conns.retain(|_, c| c.ends.iter().any(Option::is_some));
    }

    fn deliver(&mut self, id: u64, to: usize, frame: Vec<u8>) -> Result<(), String> {
        let Some(conn) = self.conns.get(&id) else {
            self.report.frames_lost += 1;
            return Ok(());
        };
        let node = conn.nodes[to];
        if !self.nodes[node].up
            || conn.ends[to].is_none()
            || self.partitioned(conn.nodes[0], conn.nodes[1])
        {
            self.report.frames_lost += 1;
            return Ok(());
        }
        let before = self.nodes[node].node.store.latest_seq();
        let commits = self.nodes[node].node.store.commit_count();
        let conn = self.conns.get_mut(&id).expect("checked");
        let session = conn.ends[to].as_mut().expect("checked");
        session.handle_frame(self.now_ms, &frame, &mut self.nodes[node].node.store);
        self.drain(id)?;
        if self.nodes[node].node.store.commit_count() != commits {
            check_checkpoints(&self.nodes, node)?;
        }
        if self.nodes[node].node.store.latest_seq() != before {
            self.notify_live(node)?;
        }
        Ok(())
    }

    /// Tells the node's live sessions that its store changed, so that they
    /// push: this is what forwards A → hub → B without a new session.
    fn notify_live(&mut self, node: usize) -> Result<(), String> {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            let conn = self.conns.get_mut(&id).expect("listed");
            if !conn.live {
                continue;
            }
            for i in 0..2 {
                if conn.nodes[i] == node
                    && let Some(session) = conn.ends[i].as_mut()
                {
                    session.handle_local_change(self.now_ms, &self.nodes[node].node.store);
                }
            }
            self.drain(id)?;
        }
        Ok(())
    }

    /// Moves frames onto the link (with faults) and takes events out.
    fn drain(&mut self, id: u64) -> Result<(), String> {
        let Some(conn) = self.conns.get_mut(&id) else {
            return Ok(());
        };
        let mut sends = Vec::new();
        let mut events = Vec::new();
        for from in 0..2 {
            let Some(session) = conn.ends[from].as_mut() else {
                continue;
            };
            while let Some(frame) = session.poll_transmit() {
                sends.push((1 - from, frame));
            }
            while let Some(event) = session.poll_event() {
                events.push((conn.nodes[from], event));
            }
            if session.is_closed() {
                conn.ends[from] = None;
            }
        }
        for (node, event) in events {
            match event {
                Event::Done(_) => self.report.sessions_done += 1,
                Event::Failed(error) => {
                    self.report.sessions_failed += 1;
                    match error {
                        // Faults of the link cause these; the next session retries.
                        ProtoError::Stalled { .. }
                        | ProtoError::OutOfOrder(_)
                        | ProtoError::Violation(_)
                        | ProtoError::PeerAborted(_) => {}
                        other => {
                            return Err(format!(
                                "node {node} session failed unexpectedly: {other}"
                            ));
                        }
                    }
                }
                Event::Rejected { reason, .. } => {
                    return Err(format!("node {node} rejected an honest change: {reason}"));
                }
                Event::RefusedByPeer { reason, .. } => {
                    return Err(format!(
                        "a peer of node {node} refused its honest change: {reason}"
                    ));
                }
                Event::Progress(_) | Event::CaughtUp(_) | Event::Accepted { .. } => {}
            }
        }
        for (to, frame) in sends {
            self.send(id, to, frame);
        }
        let conn = self.conns.get(&id).expect("still there");
        if conn.ends.iter().all(Option::is_none) {
            self.conns.remove(&id);
        }
        Ok(())
    }

    fn send(&mut self, id: u64, to: usize, frame: Vec<u8>) {
        self.report.frames_sent += 1;
        self.report.bytes += frame.len() as u64;
        let roll = self.rng.gen_range(0..1000);
        let conn = self
            .conns
            .get_mut(&id)
            .expect("sending on a live connection");
        if roll < self.config.drop_per_mille {
            self.report.frames_lost += 1;
            return;
        }
        let transfer = conn.latency_ms + frame.len() as u64 / conn.bytes_per_ms;
        let mut arrival = (self.now_ms + transfer).max(conn.last_arrival[to]);
        let roll = roll - self.config.drop_per_mille;
        if roll < self.config.reorder_per_mille {
            // Overtakes whatever is queued on this link.
            arrival = self.now_ms + 1;
        } else {
            conn.last_arrival[to] = arrival;
        }
        let duplicate = roll >= self.config.reorder_per_mille
            && roll < self.config.reorder_per_mille + self.config.duplicate_per_mille;
        if duplicate {
            self.report.frames_duplicated += 1;
            self.schedule(
                arrival + 1,
                Action::Deliver {
                    conn: id,
                    to,
                    frame: frame.clone(),
                },
            );
        }
        self.schedule(
            arrival,
            Action::Deliver {
                conn: id,
                to,
                frame,
            },
        );
    }

    /// Syncs every pair over clean links until a whole round stores nothing.
    fn quiet_phase(&mut self) -> Result<(), String> {
        let n = self.nodes.len();
        for round in 1..=6 {
            self.report.quiet_rounds = round;
            let mut stored = 0;
            for a in 0..n {
                for b in a + 1..n {
                    let (left, right) = self.nodes.split_at_mut(b);
                    let config = SessionConfig {
                        batch_bytes_max: self.config.batch_bytes_max,
                        inline_bytes_max: self.config.batch_bytes_max * 4,
                        offer_hashes_max: self.config.offer_hashes_max,
                        ..SessionConfig::default()
                    };
                    let mut pair = Pair::new(
                        &mut left[a].node,
                        &mut right[0].node,
                        SessionConfig {
                            keep_signatures: a == HUB,
                            ..config.clone()
                        },
                        config,
                        50,
                    );
                    pair.run();
                    for side in [Side::A, Side::B] {
                        let Some(stats) = pair.done(side) else {
                            return Err(format!(
                                "clean session {a}–{b} did not finish (round {round}): {:?}",
                                pair.failure(side)
                            ));
                        };
                        stored += stats.changes_stored;
                    }
                    drop(pair);
                    check_checkpoints(&self.nodes, a)?;
                    check_checkpoints(&self.nodes, b)?;
                }
            }
            if stored == 0 {
                return Ok(());
            }
        }
        Err("still storing changes after 6 rounds of all-pairs sync".into())
    }

    fn check_final(&mut self) -> Result<(), String> {
        let reference = self.nodes[HUB].node.store.hashes();
        for (i, node) in self.nodes.iter().enumerate() {
            let hashes = node.node.store.hashes();
            if hashes != reference {
                return Err(format!(
                    "node {i} holds {} changes, the hub {}: change sets differ",
                    hashes.len(),
                    reference.len()
                ));
            }
            if node.node.store.len() != hashes.len() {
                return Err(format!("node {i} stored a change twice"));
            }
        }
        if let Some(missing) = self.expected.iter().find(|h| !reference.contains(*h)) {
            return Err(format!(
                "committed change {} was lost",
                data_hex(&missing[..6])
            ));
        }
        let docs: BTreeSet<DocId> = self
            .nodes
            .iter()
            .flat_map(|n| n.node.store.docs())
            .collect();
        for doc in &docs {
            // Documents must hold the same values and heads everywhere. Saved
            // bytes may differ (Automerge numbers actors in arrival order).
            let mut first: Option<(Vec<automerge::ChangeHash>, automerge::hydrate::Value)> = None;
            for (i, node) in self.nodes.iter().enumerate() {
                let changes = node.node.store.changes_of(doc);
                let am = build_document(&changes);
                if am.get_changes(&[]).len() != changes.len() {
                    return Err(format!(
                        "node {i}: document {doc:?} has changes whose dependencies are missing"
                    ));
                }
                let mut heads = am.get_heads();
                heads.sort();
                let value = am.hydrate(None);
                match &first {
                    None => {
                        let reloaded = automerge::Automerge::load(&am.save())
                            .map_err(|e| format!("document {doc:?} does not reload: {e}"))?;
                        if reloaded.hydrate(None) != value {
                            return Err(format!("document {doc:?} changes on save and load"));
                        }
                        first = Some((heads, value));
                    }
                    Some((h, v)) => {
                        if *h != heads || *v != value {
                            return Err(format!("document {doc:?} differs on node {i}"));
                        }
                    }
                }
            }
        }
        self.report.changes_final = reference.len();
        self.report.documents = docs.len();
        self.report.covered_at_hub = self.nodes[HUB].node.store.covered_count();
        self.report.covered_held = self
            .nodes
            .iter()
            .map(|n| n.node.store.covered_count())
            .sum();
        Ok(())
    }
}

/// Every checkpoint a node holds into a peer's current store points at a
/// prefix of that feed the node holds entirely.
fn check_checkpoints(nodes: &[SimNode], at: usize) -> Result<(), String> {
    let store = &nodes[at].node.store;
    for (peer, checkpoint) in store.checkpoints() {
        let Some(peer_node) = nodes.iter().find(|n| n.node.id() == peer) else {
            return Err("checkpoint for an unknown node".into());
        };
        let peer_store = &peer_node.node.store;
        if peer_store.epoch() != checkpoint.epoch {
            continue;
        }
        if checkpoint.seq > peer_store.latest_seq() {
            return Err(format!(
                "node {at}: checkpoint {} past the peer's feed end {}",
                checkpoint.seq,
                peer_store.latest_seq()
            ));
        }
        if let Some(missing) = peer_store
            .prefix(checkpoint.seq)
            .find(|c| !store.contains(&c.hash))
        {
            return Err(format!(
                "node {at}: checkpoint {} into {} points past change {} it does not hold",
                checkpoint.seq,
                short(&peer),
                data_hex(&missing.hash[..6])
            ));
        }
    }
    Ok(())
}

fn short(node: &NodeId) -> String {
    node.short()
}

fn data_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
