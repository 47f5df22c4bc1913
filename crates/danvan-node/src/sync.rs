//! The tokio driver of sync sessions: runs `danvan-proto` sessions over
//! `danvan-net` connections against the node's store. It holds no protocol
//! logic: it moves frames, time and store access between the two.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use danvan_model::{NodeId, SignedRoster};
use danvan_net::{
    Backoff, Connection, Endpoint, FrameReceiver, FrameSender, NetConfig, PeerAddr, TrustFn,
};
use danvan_proto::{Event, Progress, Session, SessionConfig, SessionStats};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::NodeError;
use crate::intake::{Ahead, AheadHandle, refuse_body};
use crate::node::{Node, now_ms};
use crate::replica::{StoreReplica, scope_key};

/// How often a long-running node looks for changes written by other
/// processes (the CLI) and refreshes its trust list.
const POLL_INTERVAL_MS: u64 = 1_000;
/// How long a finished session waits for the peer to end its side.
const CLOSE_WAIT_MS: u64 = 3_000;
/// How long an accepted connection may take to send its first frame.
const FIRST_FRAME_MS: u64 = 30_000;
/// Sessions a serving node runs at once; further peers wait for a slot.
pub const SESSIONS_MAX: usize = 256;
/// Refused connections remembered between two flushes to the audit log.
const REFUSED_MAX: usize = 1_000;
/// Refused changes listed one by one in a session's summary; the count
/// covers them all, and every one is kept on its record.
pub const REFUSED_LISTED_MAX: usize = 100;

/// Who may connect: the roster's active members, or, for a node that has
/// no roster yet (it joined and has not synced, or belongs to no town),
/// its trust list.
#[derive(Default)]
struct Allowed {
    roster: Option<Arc<SignedRoster>>,
    trusted: HashSet<NodeId>,
}

impl Allowed {
    fn check(&self, id: &NodeId) -> Result<(), String> {
        match &self.roster {
            Some(roster) => roster.check_peer(id).map(|_| ()).map_err(|d| d.to_string()),
            None if self.trusted.contains(id) => Ok(()),
            None => Err(format!(
                "nút {} không có trong danh sách tin cậy",
                id.short()
            )),
        }
    }
}

/// Aborts a spawned task when dropped, so no task outlives its session.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn mono_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

struct State {
    node: Node,
    /// A long-running node holds the data directory only while it touches
    /// the store, so officers can record work with the CLI meanwhile.
    daemon: bool,
}

/// A node shared by the sessions of one process.
#[derive(Clone)]
pub struct SharedNode {
    state: Arc<Mutex<State>>,
    changed: Arc<watch::Sender<u64>>,
    allowed: Arc<RwLock<Allowed>>,
    refused: Arc<Mutex<Vec<(NodeId, String)>>>,
    id: NodeId,
    net: NetConfig,
    /// The window of wrong short-code requests (`short_code.rs`).
    pub(crate) code_desk: Arc<Mutex<danvan_proto::code::CodeDesk>>,
    /// The newest protocol version its sessions offer.
    protocol_max: u16,
    /// Its sessions ask peers for every change's own signature (a node
    /// that serves: `danvan serve`), see [`SharedNode::keeping_signatures`].
    keep_signatures: bool,
}

impl std::fmt::Debug for SharedNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedNode({})", self.id.short())
    }
}

/// Figures of one finished session.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncSummary {
    /// The peer.
    pub peer: String,
    /// Change bodies sent.
    pub changes_sent: u64,
    /// Change bodies received.
    pub changes_received: u64,
    /// Received changes new to this store.
    pub changes_stored: u64,
    /// Received changes rejected by verification.
    pub changes_rejected: u64,
    /// Changes this node sent that the peer refused: work not accepted.
    pub changes_refused_by_peer: u64,
    /// The first [`REFUSED_LISTED_MAX`] of them, with the peer's reasons.
    pub refused: Vec<RefusedChange>,
    /// The roster changed during the session, and with it what this node
    /// may read: another session brings what became readable.
    pub scope_changed: bool,
    /// Application bytes sent.
    pub bytes_sent: u64,
    /// Application bytes received.
    pub bytes_received: u64,
    /// Round trips this side waited for.
    pub round_trips: u64,
    /// Hashes the peer listed to this node (what a widened scope lists
    /// again: only what became readable).
    pub hashes_offered_to_us: u64,
    /// Wall time of the session in ms.
    pub elapsed_ms: u64,
}

/// A change this node sent that a peer refused.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RefusedChange {
    /// The record's id, if this store holds the change.
    pub record: Option<String>,
    /// The change hash (hex).
    pub hash: String,
    /// The peer's reason.
    pub reason: String,
}

impl SyncSummary {
    /// Adds the figures of an earlier session with the same peer.
    pub fn add(&mut self, earlier: &SyncSummary) {
        self.changes_refused_by_peer += earlier.changes_refused_by_peer;
        let room = REFUSED_LISTED_MAX.saturating_sub(self.refused.len());
        self.refused
            .extend(earlier.refused.iter().take(room).cloned());
        self.changes_sent += earlier.changes_sent;
        self.changes_received += earlier.changes_received;
        self.changes_stored += earlier.changes_stored;
        self.changes_rejected += earlier.changes_rejected;
        self.bytes_sent += earlier.bytes_sent;
        self.bytes_received += earlier.bytes_received;
        self.round_trips += earlier.round_trips;
        self.hashes_offered_to_us += earlier.hashes_offered_to_us;
        self.elapsed_ms += earlier.elapsed_ms;
    }

    fn new(peer: NodeId, stats: &SessionStats, elapsed_ms: u64) -> SyncSummary {
        SyncSummary {
            peer: peer.to_string(),
            changes_sent: stats.changes_sent,
            changes_received: stats.changes_received,
            changes_stored: stats.changes_stored,
            changes_rejected: stats.changes_rejected,
            changes_refused_by_peer: stats.changes_refused_by_peer,
            refused: Vec::new(),
            scope_changed: false,
            bytes_sent: stats.bytes_sent,
            bytes_received: stats.bytes_received,
            round_trips: stats.round_trips,
            hashes_offered_to_us: stats.hashes_offered_by_peer,
            elapsed_ms,
        }
    }
}

impl SharedNode {
    /// Shares a node. A `daemon` node releases the directory lock between
    /// store accesses.
    pub fn new(mut node: Node, daemon: bool) -> Result<SharedNode, NodeError> {
        let latest = node.store().latest_seq()?;
        let allowed = Allowed {
            roster: node.store().roster()?,
            trusted: node.store().trusted()?.into_iter().map(|t| t.id).collect(),
        };
        if daemon {
            node.store_mut().unlock()?;
        }
        let id = node.id();
        Ok(SharedNode {
            state: Arc::new(Mutex::new(State { node, daemon })),
            changed: Arc::new(watch::channel(latest).0),
            allowed: Arc::new(RwLock::new(allowed)),
            refused: Arc::new(Mutex::new(Vec::new())),
            id,
            net: NetConfig::default(),
            code_desk: Arc::default(),
            protocol_max: danvan_proto::PROTOCOL_VERSION,
            keep_signatures: false,
        })
    }

    /// Asks every peer for each change's own signature instead of one per
    /// author's newest change of a record in a message (protocol 4). A
    /// node that serves others (`danvan serve`: the town's hub, a laptop
    /// serving its field team) asks, so that it can serve a peer of an
    /// older release everything it holds: such a peer needs every
    /// change's own signature. A node that only dials takes the smaller
    /// form.
    pub fn keeping_signatures(mut self) -> SharedNode {
        self.keep_signatures = true;
        self
    }

    /// Offers at most protocol `version` in its sessions (`None`: this
    /// build's newest): a test plays an older release against a newer peer
    /// this way (the CLI's hidden `--protocol 1`).
    pub fn with_protocol_max(mut self, version: Option<u16>) -> SharedNode {
        self.protocol_max = version.unwrap_or(danvan_proto::PROTOCOL_VERSION);
        self
    }

    /// Uses `net` for the endpoints [`SharedNode::bind`] makes from now on
    /// (tests shorten the idle timeout to notice a cut link sooner).
    pub fn with_net_config(mut self, net: NetConfig) -> SharedNode {
        self.net = net;
        self
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Runs `f` on the node with the data directory held.
    pub fn with<R>(&self, f: impl FnOnce(&mut Node) -> R) -> Result<R, NodeError> {
        tokio::task::block_in_place(|| {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let daemon = state.daemon;
            if daemon {
                state.node.store_mut().relock(danvan_store::LOCK_WAIT_MS)?;
            }
            let out = f(&mut state.node);
            if daemon {
                state.node.store_mut().unlock()?;
            }
            Ok(out)
        })
    }

    /// The check the transport asks at every handshake, both ways: the
    /// peer must be an active member of the roster (or trusted, without
    /// one). Refusals are remembered for the audit log.
    pub fn trust_fn(&self) -> TrustFn {
        let allowed = self.allowed.clone();
        let refused = self.refused.clone();
        Arc::new(move |id: &NodeId| {
            let verdict = allowed
                .read()
                .map_err(|_| "lỗi nội bộ".to_string())
                .and_then(|a| a.check(id));
            if let Err(reason) = &verdict
                && let Ok(mut r) = refused.lock()
                && r.len() < REFUSED_MAX
            {
                r.push((*id, reason.clone()));
            }
            verdict.is_ok()
        })
    }

    /// Re-reads the roster, trust list and the store's latest seq; wakes
    /// live sessions when another process wrote (records or a roster), and
    /// writes refused connections to the audit log.
    pub fn refresh(&self) -> Result<(), NodeError> {
        let refused: Vec<(NodeId, String)> = self
            .refused
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        let (latest, roster, trusted) = self.with(|node| -> Result<_, NodeError> {
            for (peer, reason) in &refused {
                node.store_mut().audit(
                    "rejected-connection",
                    Some(peer),
                    &serde_json::json!({ "reason": reason }),
                )?;
            }
            Ok((
                node.store().latest_seq()?,
                node.store().roster()?,
                node.store().trusted()?,
            ))
        })??;
        let mut roster_changed = false;
        if let Ok(mut a) = self.allowed.write() {
            roster_changed =
                a.roster.as_ref().map(|r| r.version()) != roster.as_ref().map(|r| r.version());
            a.roster = roster;
            a.trusted = trusted.into_iter().map(|t| t.id).collect();
        }
        let modified = self.changed.send_if_modified(|seq| {
            let modified = *seq != latest;
            *seq = latest;
            modified
        });
        if roster_changed && !modified {
            // Live sessions push the new roster, and stop if it revoked their peer.
            self.notify();
        }
        Ok(())
    }

    fn notify(&self) {
        self.changed.send_modify(|seq| *seq += 1);
    }

    /// Binds a QUIC endpoint with this node's key and trust list.
    pub fn bind(&self, addr: SocketAddr) -> Result<Endpoint, NodeError> {
        let trust = self.trust_fn();
        let net = self.net.clone();
        self.with(|node| Endpoint::bind(node.key(), addr, trust, net))?
            .map_err(NodeError::from)
    }

    /// The trusted node registered at an address, if any.
    pub fn node_at(&self, addr: &PeerAddr) -> Result<Option<NodeId>, NodeError> {
        let text = addr.as_str();
        self.with(|node| -> Result<_, NodeError> {
            Ok(node
                .store()
                .trusted()?
                .into_iter()
                .find(|t| {
                    t.addr
                        .as_deref()
                        .and_then(|a| a.parse::<PeerAddr>().ok())
                        .is_some_and(|a| a.as_str() == text)
                })
                .map(|t| t.id))
        })?
    }

    /// Runs one session over an established connection until it ends.
    pub async fn run_session(
        &self,
        conn: &Connection,
        initiator: bool,
        live: bool,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<SyncSummary, NodeError> {
        let (tx, rx) = if initiator {
            conn.open_stream().await?
        } else {
            conn.accept_stream().await?
        };
        self.run_stream(conn, (tx, rx, None), initiator, live, progress)
            .await
    }

    /// Answers an accepted connection: a short-code request (its first
    /// frame says so) gets its answer and `None`; anything else is a sync
    /// session, run live until it ends.
    async fn respond(&self, conn: &Connection) -> Result<Option<SyncSummary>, NodeError> {
        let (tx, mut rx) = conn.accept_stream().await?;
        let first = tokio::time::timeout(Duration::from_millis(FIRST_FRAME_MS), rx.recv())
            .await
            .map_err(|_| NodeError::PeerClosed(conn.peer().short()))??;
        if let Some(frame) = &first
            && danvan_proto::code::is_code_request(frame)
        {
            self.answer_code(conn.peer(), tx, rx, frame).await?;
            return Ok(None);
        }
        self.run_stream(conn, (tx, rx, first), false, true, &mut |_| {})
            .await
            .map(Some)
    }

    /// Runs one session over a stream (`first`: a frame already read from it).
    async fn run_stream(
        &self,
        conn: &Connection,
        (tx, rx, first): (FrameSender, FrameReceiver, Option<Vec<u8>>),
        initiator: bool,
        live: bool,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<SyncSummary, NodeError> {
        let started = Instant::now();
        let peer = conn.peer();
        let (frames, reader) = read_frames(rx, first);
        let mut run = self.start_session(peer, live)?;
        let result = self.drive(conn, &mut run, tx, frames, progress).await;
        drop(reader);
        if let Err(e) = &result
            && let Some((hash, reason)) = e.unsendable_change()
        {
            // Never offered again: the next session goes on without it.
            tracing::warn!("cách ly thay đổi hỏng: {e}");
            self.with(|node| node.store_mut().quarantine(&hash, &reason, now_ms()))??;
        }
        let scope_changed = self.finish_session(&run, initiator, started, &result);
        let elapsed_ms = started.elapsed().as_millis() as u64;
        result.map(|stats| {
            let mut summary = SyncSummary::new(peer, &stats, elapsed_ms);
            summary.scope_changed = scope_changed;
            summary.refused = std::mem::take(&mut run.refused);
            summary
        })
    }

    /// Setup: the read scope and roster the session starts under, and the
    /// session itself (its Hello is ready to send).
    fn start_session(&self, peer: NodeId, live: bool) -> Result<SessionRun, NodeError> {
        let config = SessionConfig {
            live,
            protocol_max: self.protocol_max,
            keep_signatures: self.keep_signatures,
            ..SessionConfig::default()
        };
        let (scope, roster_before, peer_scope) = self.with(|node| -> Result<_, NodeError> {
            Ok((
                scope_key(node.store())?,
                node.store().roster_version()?,
                crate::served::peer_scope_key(node.store(), &peer)?,
            ))
        })??;
        let session = self.with(|node| {
            let id = node.id();
            Session::new(
                mono_ms(),
                config,
                id,
                peer,
                &StoreReplica::new(node.store_mut(), &scope),
            )
        })??;
        Ok(SessionRun {
            session,
            peer,
            live,
            scope,
            roster_before,
            peer_scope,
            last_progress: None,
            refused: Vec::new(),
        })
    }

    /// The loop: moves frames, local changes and time into the session and
    /// its frames and events out, until it ends.
    async fn drive(
        &self,
        conn: &Connection,
        run: &mut SessionRun,
        mut tx: FrameSender,
        mut frames: Frames,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<SessionStats, NodeError> {
        let mut changed = self.changed.subscribe();
        changed.mark_unchanged();
        // A live session also looks for records written by other processes
        // (the CLI) while it runs, and pushes them.
        let mut poll = tokio::time::interval(Duration::from_millis(POLL_INTERVAL_MS));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let peer = run.peer;
        loop {
            while let Some(frame) = run.session.poll_transmit() {
                tx.send(&frame).await?;
            }
            if let Some(outcome) = self.handle_events(run, progress)? {
                return close_stream(&mut run.session, tx, &mut frames, outcome).await;
            }
            if run.session.is_closed() {
                return Ok(run.session.stats());
            }
            let timeout = run
                .session
                .poll_timeout()
                .map(|t| Duration::from_millis(t.saturating_sub(mono_ms())))
                .unwrap_or(Duration::from_secs(3600));
            let scope = run.scope.as_str();
            let session = &mut run.session;
            tokio::select! {
                frame = frames.recv() => match frame.unwrap_or(Ok(None)) {
                    Ok(Some(frame)) => {
                        let stored_before = session.stats().changes_stored;
                        let Frame { bytes, ahead } = frame;
                        self.with(|node| session.handle_frame(mono_ms(), &bytes, &mut StoreReplica::new(node.store_mut(), scope).with_ahead(ahead)))?;
                        if session.stats().changes_stored > stored_before {
                            self.notify();
                        }
                    }
                    Ok(None) if run.live => {
                        // The peer ended the session having read what it
                        // wanted: close at once rather than end our side
                        // of the stream first, whose packet (and the
                        // peer's acknowledgement of it) a check-in would
                        // pay for before the close (ARCHITECTURE.md,
                        // Decisions). Closing before `tx` drops sends
                        // nothing else.
                        conn.close("xong");
                        return Ok(session.stats());
                    }
                    Ok(None) => return Err(NodeError::PeerClosed(peer.short())),
                    Err(e) => return Err(e.into()),
                },
                _ = changed.changed() => {
                    self.with(|node| session.handle_local_change(mono_ms(), &StoreReplica::new(node.store_mut(), scope)))?;
                }
                _ = tokio::time::sleep(timeout) => session.handle_timeout(mono_ms()),
                _ = poll.tick(), if run.live => {
                    if let Err(e) = self.refresh() {
                        tracing::warn!("không đọc được kho: {e}");
                    }
                }
            }
        }
    }

    /// Hands the session's events to the driver's caller and the audit
    /// log; returns the session's outcome once it has one.
    fn handle_events(
        &self,
        run: &mut SessionRun,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<Option<Result<SessionStats, NodeError>>, NodeError> {
        let peer = run.peer;
        let mut outcome = None;
        while let Some(event) = run.session.poll_event() {
            match event {
                Event::Progress(p) => {
                    progress(&p);
                    run.last_progress = Some(p);
                }
                Event::Rejected {
                    hash,
                    author,
                    reason,
                    by_replica,
                } => {
                    tracing::warn!(
                        "từ chối thay đổi {} của nút {} nhận từ {}: {reason}",
                        hash[..6]
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect::<String>(),
                        author.short(),
                        peer.short()
                    );
                    // What the replica refused, the intake has logged; a
                    // body the session refused never reached it.
                    if !by_replica {
                        self.with(|node| {
                            refuse_body(node.store_mut(), &peer, &hash, &author, &reason)
                        })??;
                    }
                }
                Event::RefusedByPeer { hash, reason } => {
                    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
                    tracing::warn!(
                        "nút {} không chấp nhận thay đổi {} của nút này: {reason}",
                        peer.short(),
                        &hex[..12]
                    );
                    // Kept on the record, so that it shows as not accepted
                    // until the peer accepts it.
                    let record = self.with(|node| -> Result<_, NodeError> {
                        let store = node.store_mut();
                        store.note_refused(&peer, &hash, &reason, now_ms())?;
                        Ok(store.bodies(&[hash])?.first().map(|c| c.doc.to_string()))
                    })??;
                    if run.refused.len() < REFUSED_LISTED_MAX {
                        run.refused.push(RefusedChange {
                            record,
                            hash: hex,
                            reason,
                        });
                    }
                }
                Event::Accepted { hashes } => {
                    self.with(|node| node.store_mut().note_accepted(&peer, &hashes))??;
                }
                Event::CaughtUp(stats) => {
                    tracing::info!("đã đồng bộ xong với {}: {stats}", peer.short());
                }
                Event::Done(stats) => outcome = Some(Ok(stats)),
                Event::Failed(e) => outcome = Some(Err(NodeError::from(e))),
            }
        }
        Ok(outcome)
    }

    /// Bookkeeping after a session: its figures and its audit entry, and
    /// the units of a roster that arrived during it. Returns whether this
    /// node's read scope changed. A failure here is logged, never allowed
    /// to hide the session's own result.
    fn finish_session(
        &self,
        run: &SessionRun,
        initiator: bool,
        started: Instant,
        result: &Result<SessionStats, NodeError>,
    ) -> bool {
        let peer = run.peer;
        let stats = run.session.stats();
        let behind = run
            .last_progress
            .map(|p| p.pull_target_seq.saturating_sub(p.pulled_seq))
            .unwrap_or(0);
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let detail = serde_json::json!({
            "initiator": initiator,
            "live": run.live,
            "sent": stats.changes_sent,
            "received": stats.changes_received,
            "stored": stats.changes_stored,
            "rejected": stats.changes_rejected,
            "hashes_offered": stats.hashes_offered,
            "bytes_sent": stats.bytes_sent,
            "bytes_received": stats.bytes_received,
            "elapsed_ms": elapsed_ms,
            "result": match result {
                Ok(_) => "ok".to_string(),
                Err(e) => e.to_string(),
            },
        });
        // A session that failed on a full or failing disk has said so; the
        // figures and the log entry after it fail on the same disk (an
        // encrypted store's checkpoint, too) and are not said again.
        let session_failed = result.is_err();
        let note = move |what: &str, e: &danvan_store::StoreError| {
            let disk = matches!(
                e,
                danvan_store::StoreError::DiskFull(_) | danvan_store::StoreError::DiskIo(_)
            );
            if session_failed && disk {
                tracing::debug!("không ghi được {what} với {}: {e}", peer.short());
            } else {
                tracing::warn!("không ghi được {what} với {}: {e}", peer.short());
            }
        };
        let after = self.with(|node| -> Result<bool, NodeError> {
            if let Err(e) = node.store_mut().record_session(
                &peer,
                now_ms(),
                stats.changes_sent,
                stats.changes_stored,
                stats.bytes_sent,
                stats.bytes_received,
                behind,
            ) {
                note("số liệu phiên", &e);
            }
            if let Some(served) = run.session.served()
                && let Err(e) = crate::served::record(node.store_mut(), &served, &run.peer_scope)
            {
                tracing::warn!("không ghi được phần đã gửi cho {}: {e}", peer.short());
            }
            if let Err(e) = node.store_mut().audit("session", Some(&peer), &detail) {
                note("nhật ký phiên", &e);
            }
            if node.store().roster_version()? != run.roster_before {
                // The units may have changed with the roster.
                if let Some(roster) = node.store().roster()? {
                    node.set_units(roster.units().clone());
                }
            }
            Ok(scope_key(node.store())? != run.scope)
        });
        match after {
            Ok(Ok(changed)) => changed,
            Ok(Err(e)) | Err(e) => {
                tracing::warn!("không đọc được kho sau phiên với {}: {e}", peer.short());
                false
            }
        }
    }

    /// Dials a peer (`IP:PORT`, or `HOST:PORT` resolved now) and runs one
    /// session (until caught up, or for good when live).
    pub async fn sync_with(
        &self,
        endpoint: &Endpoint,
        addr: impl Into<PeerAddr>,
        live: bool,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<SyncSummary, NodeError> {
        let addr = addr.into();
        let expected = self.node_at(&addr)?;
        let resolved = addr.resolve(Some(endpoint.local_addr().is_ipv6())).await?;
        self.sync_pinned(endpoint, resolved, expected, live, progress)
            .await
    }

    /// Dials `resolved` insisting on node `expected` (if given) and runs
    /// one session.
    pub(crate) async fn sync_pinned(
        &self,
        endpoint: &Endpoint,
        resolved: SocketAddr,
        expected: Option<NodeId>,
        live: bool,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<SyncSummary, NodeError> {
        // The Hello leaves with our side of the handshake done, a round
        // trip before the peer confirms it; a refusal of our key comes
        // back as the session's error, the same as from `connect`.
        let conn = match endpoint.connect_early(resolved, expected).await {
            Ok(conn) => conn,
            Err(e) => {
                // A refused peer key goes to the audit log now: a one-shot
                // sync has no periodic refresh to write it.
                let _ = self.refresh();
                return Err(e.into());
            }
        };
        let summary = self.run_session(&conn, true, live, progress).await;
        conn.close("xong");
        summary
    }

    /// Accepts peers until `shutdown` resolves; with `hub`, also keeps a
    /// live session upstream, reconnecting with jittered backoff.
    pub async fn serve(
        &self,
        endpoint: Endpoint,
        hub: Option<PeerAddr>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), NodeError> {
        let endpoint = Arc::new(endpoint);
        let mut tasks: JoinSet<()> = JoinSet::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(SESSIONS_MAX));
        {
            let me = self.clone();
            tasks.spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
                    if let Err(e) = me.refresh() {
                        tracing::warn!("không đọc được kho: {e}");
                    }
                }
            });
        }
        if let Some(hub) = hub {
            let me = self.clone();
            let endpoint = endpoint.clone();
            tasks.spawn(async move { me.upstream(&endpoint, hub).await });
        }
        tokio::pin!(shutdown);
        loop {
            // Only shutdown may interrupt `accept`: dropping it mid-handshake
            // would abort the peer's connection.
            let incoming = tokio::select! {
                _ = &mut shutdown => break,
                incoming = endpoint.accept() => incoming,
            };
            while let Some(done) = tasks.try_join_next() {
                if let Err(e) = done
                    && e.is_panic()
                {
                    tracing::error!("một phiên đồng bộ bị lỗi nghiêm trọng: {e}");
                }
            }
            let Some(incoming) = incoming else { break };
            let conn = match incoming {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!("từ chối kết nối: {e}");
                    continue;
                }
            };
            let me = self.clone();
            let slots = slots.clone();
            tasks.spawn(async move {
                let Ok(_slot) = slots.acquire_owned().await else {
                    return;
                };
                let peer = conn.peer().short();
                match me.respond(&conn).await {
                    Ok(None) => {}
                    Ok(Some(s)) => tracing::info!(
                        "phiên với {peer} kết thúc: gửi {} nhận {} thay đổi",
                        s.changes_sent,
                        s.changes_stored
                    ),
                    Err(e) => tracing::warn!("phiên với {peer} lỗi: {e}"),
                }
            });
        }
        tasks.shutdown().await;
        endpoint.close();
        Ok(())
    }

    /// [`SharedNode::serve`] on `endpoint`, no upstream, in a background
    /// task until the returned sender sends (or is dropped); the handle
    /// ends with what `serve` returned.
    pub fn serve_in_background(
        &self,
        endpoint: Endpoint,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<(), NodeError>>,
    ) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = self.clone();
        let serving = tokio::spawn(async move {
            server
                .serve(endpoint, None, async {
                    let _ = stopped.await;
                })
                .await
        });
        (stop, serving)
    }

    async fn upstream(&self, endpoint: &Endpoint, hub: PeerAddr) {
        let backoff = Backoff::default();
        let mut attempt = 0u32;
        let ipv6 = Some(endpoint.local_addr().is_ipv6());
        loop {
            let expected = self.node_at(&hub).ok().flatten();
            // The name is looked up at every attempt: a hub that moved
            // behind its name is found again.
            let connected = match hub.resolve(ipv6).await {
                Ok(addr) => endpoint.connect_early(addr, expected).await,
                Err(e) => Err(e),
            };
            match connected {
                Ok(conn) => {
                    attempt = 0;
                    match self.run_session(&conn, true, true, &mut |_| {}).await {
                        Ok(s) => tracing::info!(
                            "phiên với trạm {hub} kết thúc: {} thay đổi mới",
                            s.changes_stored
                        ),
                        Err(e) => tracing::warn!("phiên với trạm {hub} lỗi: {e}"),
                    }
                }
                Err(e) => tracing::warn!("chưa kết nối được trạm {hub}: {e}"),
            }
            let random = u64::from_le_bytes(crate::node::random_bytes());
            // Retries never run out for the upstream link: it is the node's
            // whole purpose; the delay stays capped by the backoff ceiling.
            let delay = backoff
                .delay_ms(attempt.min(backoff.retries_max.saturating_sub(1)), random)
                .unwrap_or(backoff.max_ms);
            attempt = attempt.saturating_add(1);
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
    }
}

/// One running session and what its bookkeeping needs from its setup.
struct SessionRun {
    session: Session,
    peer: NodeId,
    live: bool,
    /// This node's read-scope key when the session began.
    scope: String,
    /// The roster version when the session began.
    roster_before: u64,
    /// The peer's read-scope key, as this node's roster gives it, when the
    /// session began (`None` without a roster).
    peer_scope: Option<String>,
    last_progress: Option<Progress>,
    /// This node's changes the peer refused (the first
    /// [`REFUSED_LISTED_MAX`]).
    refused: Vec<RefusedChange>,
}

/// A whole frame from the reader task, with the verification of the
/// changes it carries already started (`intake::Ahead`).
struct Frame {
    bytes: Vec<u8>,
    ahead: Option<AheadHandle>,
}

impl Frame {
    fn read(bytes: Vec<u8>) -> Frame {
        Frame {
            ahead: Ahead::start(&bytes),
            bytes,
        }
    }
}

/// Whole frames from the reader task.
type Frames = tokio::sync::mpsc::Receiver<Result<Option<Frame>, danvan_net::NetError>>;

/// `FrameReceiver::recv` is not cancel-safe (a frame half read when another
/// branch of the driver's select wins would be lost), so one task owns the
/// receiver and hands over whole frames. The bounded channel keeps at most
/// two frames in memory ahead of the session.
fn read_frames(mut rx: FrameReceiver, first: Option<Vec<u8>>) -> (Frames, AbortOnDrop<()>) {
    let (frames_tx, frames) = tokio::sync::mpsc::channel(2);
    let reader = AbortOnDrop(tokio::spawn(async move {
        if let Some(frame) = first
            && frames_tx.send(Ok(Some(Frame::read(frame)))).await.is_err()
        {
            return;
        }
        loop {
            let frame = rx.recv().await.map(|f| f.map(Frame::read));
            let end = !matches!(frame, Ok(Some(_)));
            if frames_tx.send(frame).await.is_err() || end {
                break;
            }
        }
    }));
    (frames, reader)
}

/// Sends the session's last frames and ends this side of the stream. The
/// session is over either way, so a failure to send its goodbye is only
/// logged.
async fn close_stream(
    session: &mut Session,
    mut tx: FrameSender,
    frames: &mut Frames,
    outcome: Result<SessionStats, NodeError>,
) -> Result<SessionStats, NodeError> {
    while let Some(frame) = session.poll_transmit() {
        if let Err(e) = tx.send(&frame).await {
            tracing::debug!("không gửi được tin cuối của phiên: {e}");
            break;
        }
    }
    if let Err(e) = tx.finish() {
        tracing::debug!("không đóng được luồng đồng bộ: {e}");
    }
    // Let the peer read everything before the connection goes: its last
    // frames need no answer, so closing at once could cut them off. Wait
    // (bounded) for it to end its side.
    if outcome.is_ok()
        && tokio::time::timeout(Duration::from_millis(CLOSE_WAIT_MS), async {
            while let Some(Ok(Some(_))) = frames.recv().await {}
        })
        .await
        .is_err()
    {
        tracing::debug!("nút bên kia chưa đóng phiên sau {CLOSE_WAIT_MS} ms");
    }
    outcome
}
