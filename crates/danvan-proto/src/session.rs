//! One sync session with one peer over one bidirectional message stream.
//!
//! Both sides run the same state machine and are puller and sender at once:
//!
//! ```text
//! A                                   B
//! Hello ───────────────────────────►          (both send Hello at once)
//!       ◄─────────────────────────── Hello
//! Offer(from, upto, hashes) ───────►          (A serves its feed since B's checkpoint)
//!       ◄─────────────────────────── Want(upto, bitmap)
//! Bodies(upto, changes) ───────────►          (zstd, ≤ batch_bytes_max each)
//!       ◄─────────────────────────── Ack(upto) (after B's commit)
//! ```
//!
//! and the same from B to A at the same time. A cold puller (empty store)
//! asks in its Hello for `Inline` batches: bodies without offers, sized to
//! the link as the Acks come back (`SessionConfig::inline_bytes_max`).
//!
//! The puller's checkpoint moves only inside the commit that stores the last
//! wanted body of an offer, so a cut link loses at most the batches in
//! flight. Time is a `u64` of milliseconds passed in by the driver.

use std::collections::{HashSet, VecDeque};
use std::fmt;

use danvan_model::{
    ChangeError, EPOCH_LEN, NodeId, SignedChange, body_hash, check_body, parse_change_body,
};

use crate::limits::{
    BATCH_BYTES_MAX, BATCH_CHANGES_MAX, BATCHES_IN_FLIGHT_MAX, CHANGE_BYTES_MAX,
    INLINE_BATCHES_IN_FLIGHT_MAX, INLINE_IN_FLIGHT_BYTES_MAX, MIN_PROTOCOL_VERSION,
    OFFER_BODY_BYTES_MAX, OFFER_HASHES_MAX, PROTOCOL_VERSION,
};
use danvan_model::{Checkpoint, FeedEntry, Rejection};

use crate::replica::{PeerStore, Replica, ReplicaError};
use crate::wire::{
    COVERED_SINCE_VERSION, Hello, Message, REFUSED_SINCE_VERSION, WireChange, WireError,
    decode_message, encode_message_as,
};

/// The link time an Inline batch is sized to once the peer's pace is
/// measured: a cut loses about twice this much of the link (two batches in
/// flight), and each batch is still large next to a round trip.
pub const INLINE_BATCH_TARGET_MS: u64 = 1_000;

/// How a session behaves; the defaults suit a 3G link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Stay open after catching up and push new local changes (the driver
    /// calls [`Session::handle_local_change`]). Otherwise the session ends
    /// with [`Event::Done`] once both directions are caught up.
    pub live: bool,
    /// End the session when it waits this long for the peer without
    /// receiving anything. Must exceed the time one batch takes on the
    /// slowest link (1 MiB on 2G at 40 kbit/s is about 200 s).
    pub stall_timeout_ms: u64,
    /// Uncompressed change bytes per Bodies or Inline message this side
    /// sends; clamped to [`BATCH_BYTES_MAX`]. Smaller batches lose less
    /// when a link is cut, larger ones compress better. Inline batches
    /// start at this size and grow on a fast link (`inline_bytes_max`).
    pub batch_bytes_max: usize,
    /// Largest Inline batch (a cold puller's) on a link that carries
    /// batches fast: each next batch is sized to what the peer took in
    /// [`INLINE_BATCH_TARGET_MS`] (body bytes of the last acknowledged
    /// batch over the time it took), at most twice the batch before it,
    /// between `batch_bytes_max` and this (clamped to [`BATCH_BYTES_MAX`]).
    /// On 2G a batch stays at `batch_bytes_max`; on a LAN a 100,000-record
    /// pull commits a quarter as many batches.
    pub inline_bytes_max: usize,
    /// Hashes per offer this side sends; clamped to [`OFFER_HASHES_MAX`].
    pub offer_hashes_max: usize,
    /// The newest protocol version this side offers in its Hello; clamped to
    /// [`MIN_PROTOCOL_VERSION`]..=[`PROTOCOL_VERSION`]. Lowered only to play
    /// an older release against a newer peer (the CLI's hidden `--protocol`).
    pub protocol_max: u16,
    /// Ask the peer for every change's own signature when it holds one
    /// (protocol 4), instead of one per author's newest change of a
    /// record in each message. A hub asks: it serves peers of older
    /// versions, which can only be sent changes with their own signature.
    pub keep_signatures: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            live: false,
            stall_timeout_ms: 300_000,
            // 256 KiB of changes is ~50 KB on the wire, two seconds on a
            // 2G downlink: a batch completes within a short spell of signal,
            // and a cut loses at most that. Two batches in flight keep a
            // 3G link full.
            batch_bytes_max: 256 << 10,
            inline_bytes_max: BATCH_BYTES_MAX,
            // 1024 hashes: 32 KiB offered again after each reconnect.
            offer_hashes_max: 1024,
            protocol_max: PROTOCOL_VERSION,
            keep_signatures: false,
        }
    }
}

/// Why a session ended early. Nothing from the message that caused it is
/// stored; what was committed before stays, and the next session resumes at
/// the checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    /// A received message could not be decoded.
    #[error("tin nhắn đồng bộ không hợp lệ từ nút bên kia: {0}")]
    Wire(WireError),
    /// The Hello names a different node than the authenticated connection.
    #[error("nút bên kia xưng là {claimed:?} nhưng kết nối đã xác thực là {expected:?}")]
    PeerMismatch {
        /// The node the TLS handshake authenticated.
        expected: NodeId,
        /// The node the Hello names.
        claimed: NodeId,
    },
    /// The peer only speaks protocol versions newer than this build.
    #[error("phiên bản giao thức {version} của nút bên kia chưa được hỗ trợ — hãy cập nhật danvan")]
    PeerTooNew {
        /// The peer's newest version.
        version: u16,
    },
    /// The peer only speaks protocol versions older than this build accepts.
    #[error(
        "nút bên kia dùng phiên bản giao thức {version}, cũ hơn mức tối thiểu {min} — hãy cập nhật danvan trên nút đó"
    )]
    PeerTooOld {
        /// The peer's newest version.
        version: u16,
        /// The oldest version this build accepts.
        min: u16,
    },
    /// A valid message arrived when the protocol does not allow it.
    #[error("tin nhắn {0} đến sai thứ tự")]
    OutOfOrder(&'static str),
    /// The peer broke a protocol rule.
    #[error("nút bên kia vi phạm giao thức: {0}")]
    Violation(&'static str),
    /// A local change is too large to ever be synced.
    #[error("thay đổi {hash} dài {len} byte, vượt giới hạn {max} byte — không thể đồng bộ")]
    ChangeTooLarge {
        /// Hex prefix of the change hash.
        hash: String,
        /// Its body length.
        len: u32,
        /// The bound.
        max: usize,
    },
    /// Nothing arrived from the peer for `stall_timeout_ms` while waiting.
    #[error("phiên đồng bộ không tiến triển sau {ms} ms; sẽ thử lại ở phiên sau")]
    Stalled {
        /// The configured timeout.
        ms: u64,
    },
    /// The peer ended the session and said why.
    #[error("nút bên kia dừng phiên đồng bộ: {0}")]
    PeerAborted(String),
    /// The local store failed.
    #[error("lỗi kho dữ liệu cục bộ khi đồng bộ: {0}")]
    Replica(ReplicaError),
}

// Not `#[from]`: that would also make the inner error the `source`, and a
// message that already quotes it would print it twice in an error chain
// (`lỗi: …: X: X` from the CLI).
impl From<WireError> for ProtoError {
    fn from(e: WireError) -> Self {
        ProtoError::Wire(e)
    }
}

impl From<ReplicaError> for ProtoError {
    fn from(e: ReplicaError) -> Self {
        ProtoError::Replica(e)
    }
}

/// Counters of one session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Bytes of all messages sent.
    pub bytes_sent: u64,
    /// Bytes of all messages received.
    pub bytes_received: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Times this side heard back after having sent something: the round
    /// trips this side waited for.
    pub round_trips: u64,
    /// Change bodies sent.
    pub changes_sent: u64,
    /// Change bodies received (verified or not).
    pub changes_received: u64,
    /// Received changes that were new to the store.
    pub changes_stored: u64,
    /// Received changes the replica's intake refused (verification or
    /// admission).
    pub changes_rejected: u64,
    /// Changes this side sent that the peer refused (it says so from
    /// protocol version 2 on).
    pub changes_refused_by_peer: u64,
    /// Hashes this side offered (inline batches offer none): what a peer
    /// whose scope widened is listed again.
    pub hashes_offered: u64,
    /// Hashes the peer offered this side.
    pub hashes_offered_by_peer: u64,
}

/// What this side served the peer in a session: its feed from `from_seq`
/// up to `acked_seq`, every batch acknowledged after the peer's commit.
/// The driver keeps it, so that when the peer's read scope later widens
/// only what became readable below it is offered again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Served {
    /// The peer's store (node and epoch) served.
    pub peer: PeerStore,
    /// Where serving started: the peer's checkpoint, 0 without one.
    pub from_seq: u64,
    /// Every entry up to this seq the peer was offered is committed there.
    pub acked_seq: u64,
    /// Both sides held the same roster version when they said Hello, so
    /// the peer's checkpoint was made under the scope this side gives it.
    pub same_roster: bool,
}

impl fmt::Display for SessionStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gửi {} thay đổi ({} bị nút bên kia từ chối), nhận {} ({} mới, {} bị từ chối); {} byte gửi, {} byte nhận; {} lượt khứ hồi",
            self.changes_sent,
            self.changes_refused_by_peer,
            self.changes_received,
            self.changes_stored,
            self.changes_rejected,
            self.bytes_sent,
            self.bytes_received,
            self.round_trips
        )
    }
}

/// Where a session stands, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The peer's feed is pulled and committed up to this seq.
    pub pulled_seq: u64,
    /// The peer's newest seq as known. `pull_target_seq - pulled_seq` is an
    /// upper bound of the changes left to receive (entries the peer skips
    /// count too).
    pub pull_target_seq: u64,
    /// The peer acknowledged this side's feed up to this seq.
    pub served_seq: u64,
    /// This side's newest seq being served.
    pub serve_target_seq: u64,
    /// Counters so far.
    pub stats: SessionStats,
}

/// What a session reports to its driver.
#[derive(Debug)]
pub enum Event {
    /// A batch was committed or acknowledged.
    Progress(Progress),
    /// A received change was refused. Refused by the replica's intake, it is
    /// not stored and the rest of its batch is; a body that is not the change
    /// asked for is refused by the session, which then ends.
    Rejected {
        /// The change hash (for a body that is not an Automerge change at
        /// all: the SHA-256 of the bytes).
        hash: [u8; 32],
        /// The author the change claims.
        author: NodeId,
        /// Why it was rejected.
        reason: ChangeError,
        /// Whether the replica refused it in `Replica::commit` (its intake
        /// then recorded the refusal however it records them); false for a
        /// body the session itself refused, before any commit, for not
        /// being the change asked for.
        by_replica: bool,
    },
    /// The peer refused a change this side sent: it is not stored there.
    /// The sender's user should learn that this work was not accepted.
    RefusedByPeer {
        /// The change hash.
        hash: [u8; 32],
        /// The peer's reason, as it wrote it.
        reason: String,
    },
    /// The peer stored (or already held) these changes this side sent in
    /// one batch: it acknowledged the batch and refused none of them.
    /// Only from protocol version 2 on, where refusals are reported.
    Accepted {
        /// The change hashes.
        hashes: Vec<[u8; 32]>,
    },
    /// Live session: both directions caught up; the session stays open.
    CaughtUp(SessionStats),
    /// Both directions caught up; the session is over (not live).
    Done(SessionStats),
    /// The session ended with an error. An Abort saying why is queued for
    /// the peer: send what `poll_transmit` still returns, then close.
    Failed(ProtoError),
}

enum Phase {
    AwaitingHello,
    Running { version: u8, peer_store: PeerStore },
    Closed,
}

/// The pulling direction: the peer's feed into this store.
#[derive(Default)]
struct Pull {
    /// Where the next offer or inline batch must start.
    next_seq: u64,
    /// The committed checkpoint seq.
    committed_seq: u64,
    target_seq: u64,
    inline: bool,
    /// Offers answered and not yet fully committed, oldest first.
    batches: VecDeque<PullBatch>,
}

struct PullBatch {
    upto_seq: u64,
    /// Hashes wanted and not yet received, in the order bodies will come.
    outstanding: VecDeque<[u8; 32]>,
    /// Every hash wanted in this batch.
    wanted: HashSet<[u8; 32]>,
    /// What the replica refused of this batch so far, with the reasons:
    /// told to the sender before the Ack.
    refused: Vec<([u8; 32], String)>,
}

/// The serving direction: this store's feed to the peer.
#[derive(Default)]
struct Serve {
    next_seq: u64,
    acked_seq: u64,
    target_seq: u64,
    inline: bool,
    batches: VecDeque<ServeBatch>,
    /// Body bytes of the next Inline batch: the configured
    /// `batch_bytes_max` until an Ack measures the link.
    inline_bytes: usize,
    /// When the last batch was acknowledged.
    last_ack_ms: Option<u64>,
}

struct ServeBatch {
    /// When it was sent (the time the driver gave with the call that sent
    /// it, before anything that call committed: a batch's time errs long),
    /// and its body bytes (Inline batches only; 0 for an offer): what the
    /// next Inline batch's size is measured from.
    sent_ms: u64,
    body_bytes: usize,
    upto_seq: u64,
    /// The feed entries offered, in order (their seqs and covering seqs
    /// say which bodies a Bodies message must keep together).
    offered: Vec<FeedEntry>,
    /// The bodies sent, once sent.
    sent: Vec<[u8; 32]>,
    /// The hashes the peer said it refused.
    refused: HashSet<[u8; 32]>,
    state: ServeState,
}

#[derive(PartialEq, Eq)]
enum ServeState {
    /// Offer sent, Want not yet received.
    Offered,
    /// Bodies (or an inline batch) sent, Ack not yet received.
    AwaitingAck,
    /// Nothing was wanted: done, once the batches before it are.
    Resolved,
}

/// A sync session with one peer. See the module docs for the protocol and
/// the crate docs for the driver loop.
pub struct Session {
    config: SessionConfig,
    peer: NodeId,
    my_epoch: [u8; EPOCH_LEN],
    my_hello: Hello,
    phase: Phase,
    pull: Pull,
    serve: Serve,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    last_heard_ms: u64,
    /// The time the driver gave with its latest call.
    now_ms: u64,
    stats: SessionStats,
    sent_since_heard: bool,
    caught_up: bool,
    /// The peer announced a newer roster: serve nothing until it arrives,
    /// since what the peer may read is decided by the newest roster.
    awaiting_roster: bool,
    /// The newest roster version the peer is known to hold.
    peer_roster_version: u64,
    /// Where serving started and whether the two Hellos named one roster.
    served_from: Option<(PeerStore, u64, bool)>,
    /// The peer asked for every signature held (its Hello).
    peer_keeps_signatures: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Opens a session with `peer` (already authenticated by the transport)
    /// and queues this side's Hello.
    pub fn new(
        now_ms: u64,
        config: SessionConfig,
        local: NodeId,
        peer: NodeId,
        replica: &impl Replica,
    ) -> Result<Session, ProtoError> {
        let latest_seq = replica.latest_seq();
        let my_hello = Hello {
            version: config
                .protocol_max
                .clamp(MIN_PROTOCOL_VERSION, PROTOCOL_VERSION),
            min_version: MIN_PROTOCOL_VERSION,
            node: local,
            epoch: replica.epoch(),
            latest_seq,
            roster_version: replica.roster_version(),
            checkpoint: replica.checkpoint(&peer)?,
            cold: latest_seq == 0,
            keep_signatures: config.keep_signatures,
        };
        let mut session = Session {
            config,
            peer,
            my_epoch: my_hello.epoch,
            my_hello: my_hello.clone(),
            phase: Phase::AwaitingHello,
            pull: Pull::default(),
            serve: Serve::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            last_heard_ms: now_ms,
            now_ms,
            stats: SessionStats::default(),
            sent_since_heard: false,
            caught_up: false,
            awaiting_roster: false,
            peer_roster_version: 0,
            served_from: None,
            peer_keeps_signatures: false,
        };
        session.send(&Message::Hello(my_hello));
        Ok(session)
    }

    /// What this side served the peer so far (`None` before its Hello).
    pub fn served(&self) -> Option<Served> {
        let (peer, from_seq, same_roster) = self.served_from?;
        Some(Served {
            peer,
            from_seq,
            acked_seq: self.serve.acked_seq,
            same_roster,
        })
    }

    /// Feeds one frame received from the peer.
    pub fn handle_frame(&mut self, now_ms: u64, frame: &[u8], replica: &mut impl Replica) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        self.stats.bytes_received += frame.len() as u64;
        self.stats.messages_received += 1;
        if self.sent_since_heard {
            self.stats.round_trips += 1;
            self.sent_since_heard = false;
        }
        self.last_heard_ms = now_ms;
        self.now_ms = self.now_ms.max(now_ms);
        let result = self
            .receive(frame, replica)
            .and_then(|()| self.pump_serve(replica));
        match result {
            Ok(()) => self.check_caught_up(),
            Err(error) => self.fail(error),
        }
    }

    /// Tells a live session that the local store has new changes (made here
    /// or committed by another session), so it offers them to the peer.
    /// Non-live sessions serve the feed as it was at Hello and ignore this.
    pub fn handle_local_change(&mut self, now_ms: u64, replica: &impl Replica) {
        if !self.config.live || !matches!(self.phase, Phase::Running { .. }) {
            return;
        }
        self.now_ms = self.now_ms.max(now_ms);
        if self.poll_timeout().is_none() {
            // Idle until now: the stall clock starts with the new work.
            self.last_heard_ms = now_ms;
        }
        match self
            .push_roster(replica)
            .and_then(|()| self.pump_serve(replica))
        {
            Ok(()) => self.check_caught_up(),
            Err(error) => self.fail(error),
        }
    }

    /// Lets the session notice that its deadline ([`Session::poll_timeout`])
    /// has passed.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if let Some(deadline) = self.poll_timeout()
            && now_ms >= deadline
        {
            self.fail(ProtoError::Stalled {
                ms: self.config.stall_timeout_ms,
            });
        }
    }

    /// The next frame to send to the peer, in order.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Session::handle_timeout`], in the driver's
    /// milliseconds; `None` while nothing is awaited from the peer (a live
    /// session that is caught up, or a closed one).
    pub fn poll_timeout(&self) -> Option<u64> {
        let waiting = match self.phase {
            Phase::AwaitingHello => true,
            Phase::Running { .. } => !(self.pull_done() && self.serve_done()),
            Phase::Closed => false,
        };
        waiting.then(|| {
            self.last_heard_ms
                .saturating_add(self.config.stall_timeout_ms)
        })
    }

    /// Whether the session is over (done or failed). Frames still queued
    /// for sending should be flushed before closing the stream.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// The peer this session syncs with.
    pub fn peer(&self) -> NodeId {
        self.peer
    }

    /// Counters so far.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    fn send(&mut self, message: &Message) {
        let version = self.version();
        let frame = encode_message_as(version, message);
        self.stats.bytes_sent += frame.len() as u64;
        self.stats.messages_sent += 1;
        self.sent_since_heard = true;
        self.transmits.push_back(frame);
    }

    fn fail(&mut self, error: ProtoError) {
        if !matches!(error, ProtoError::PeerAborted(_)) {
            self.send(&Message::Abort {
                reason: error.to_string(),
            });
        }
        self.phase = Phase::Closed;
        self.pull.batches.clear();
        self.serve.batches.clear();
        self.events.push_back(Event::Failed(error));
    }

    fn pull_done(&self) -> bool {
        self.pull.batches.is_empty() && self.pull.next_seq >= self.pull.target_seq
    }

    fn serve_done(&self) -> bool {
        // Nothing is served before the peer's newer roster arrives.
        !self.awaiting_roster
            && self.serve.batches.is_empty()
            && self.serve.next_seq >= self.serve.target_seq
    }

    fn check_caught_up(&mut self) {
        if !matches!(self.phase, Phase::Running { .. }) {
            return;
        }
        let caught_up = self.pull_done() && self.serve_done();
        if caught_up && !self.caught_up {
            if self.config.live {
                self.events.push_back(Event::CaughtUp(self.stats));
            } else {
                self.phase = Phase::Closed;
                self.events.push_back(Event::Done(self.stats));
            }
        }
        self.caught_up = caught_up;
    }

    fn progress(&mut self) {
        self.events.push_back(Event::Progress(Progress {
            pulled_seq: self.pull.committed_seq,
            pull_target_seq: self.pull.target_seq,
            served_seq: self.serve.acked_seq,
            serve_target_seq: self.serve.target_seq,
            stats: self.stats,
        }));
    }

    fn receive(&mut self, frame: &[u8], replica: &mut impl Replica) -> Result<(), ProtoError> {
        let message = decode_message(frame)?;
        let (version, peer_store) = match &self.phase {
            Phase::Closed => return Ok(()),
            Phase::AwaitingHello => {
                return match message {
                    Message::Hello(hello) => self.on_hello(hello, replica),
                    Message::Abort { reason } => Err(ProtoError::PeerAborted(reason)),
                    _ => Err(ProtoError::OutOfOrder("trước Hello")),
                };
            }
            Phase::Running {
                version,
                peer_store,
            } => (*version, *peer_store),
        };
        if let Message::Abort { reason } = message {
            return Err(ProtoError::PeerAborted(reason));
        }
        if frame[0] != version {
            return Err(ProtoError::Violation(
                "tin nhắn không theo phiên bản giao thức đã thỏa thuận",
            ));
        }
        match message {
            Message::Offer {
                from_seq,
                upto_seq,
                hashes,
            } => self.on_offer(&peer_store, from_seq, upto_seq, hashes, replica),
            Message::Want { upto_seq, wanted } => self.on_want(upto_seq, wanted, replica),
            Message::Bodies { upto_seq, changes } => {
                self.on_bodies(&peer_store, upto_seq, changes, replica)
            }
            Message::Inline {
                from_seq,
                upto_seq,
                changes,
            } => self.on_inline(&peer_store, from_seq, upto_seq, changes, replica),
            Message::Ack { upto_seq } => self.on_ack(upto_seq, version),
            Message::Refused { upto_seq, refused } => self.on_refused(upto_seq, refused),
            Message::Roster { bytes } => self.on_roster(&bytes, replica),
            Message::Hello(_) => Err(ProtoError::OutOfOrder("Hello lần hai")),
            Message::Abort { .. } => unreachable!("handled above"),
        }
    }

    fn on_hello(&mut self, hello: Hello, replica: &impl Replica) -> Result<(), ProtoError> {
        if hello.node != self.peer {
            return Err(ProtoError::PeerMismatch {
                expected: self.peer,
                claimed: hello.node,
            });
        }
        // The newest version this side speaks in this session.
        let newest = self.my_hello.version;
        if hello.min_version > newest {
            return Err(ProtoError::PeerTooNew {
                version: hello.version,
            });
        }
        let version = hello.version.min(newest);
        if version < MIN_PROTOCOL_VERSION {
            return Err(ProtoError::PeerTooOld {
                version: hello.version,
                min: MIN_PROTOCOL_VERSION,
            });
        }
        let peer_store = PeerStore {
            node: hello.node,
            epoch: hello.epoch,
        };
        // Both sides compute both starting points from the two Hellos, so
        // they agree on where each feed resumes without another message.
        let pull_start = resume_seq(self.my_hello.checkpoint, hello.epoch, hello.latest_seq);
        self.pull = Pull {
            next_seq: pull_start,
            committed_seq: pull_start,
            target_seq: hello.latest_seq,
            inline: self.my_hello.cold,
            batches: VecDeque::new(),
        };
        let serve_start = resume_seq(hello.checkpoint, self.my_epoch, self.my_hello.latest_seq);
        self.serve = Serve {
            next_seq: serve_start,
            acked_seq: serve_start,
            target_seq: self.my_hello.latest_seq,
            inline: hello.cold,
            batches: VecDeque::new(),
            inline_bytes: self.batch_bytes_max(),
            last_ack_ms: None,
        };
        self.phase = Phase::Running {
            version: version as u8,
            peer_store,
        };
        self.served_from = Some((
            peer_store,
            serve_start,
            hello.roster_version == self.my_hello.roster_version,
        ));
        // The roster syncs first: the side holding the newer one sends it
        // before any offer, and the other serves nothing until it arrives.
        self.peer_roster_version = hello.roster_version;
        self.peer_keeps_signatures = hello.keep_signatures;
        self.awaiting_roster = hello.roster_version > self.my_hello.roster_version;
        self.push_roster(replica)
    }

    /// Sends this store's roster if the peer's is older.
    fn push_roster(&mut self, replica: &impl Replica) -> Result<(), ProtoError> {
        if !matches!(self.phase, Phase::Running { .. }) {
            return Ok(());
        }
        let version = replica.roster_version();
        if version <= self.peer_roster_version {
            return Ok(());
        }
        replica.peer_allowed(&self.peer)?;
        if let Some(bytes) = replica.roster() {
            self.send(&Message::Roster { bytes });
            self.peer_roster_version = version;
        }
        Ok(())
    }

    fn on_roster(&mut self, bytes: &[u8], replica: &mut impl Replica) -> Result<(), ProtoError> {
        let version = replica.install_roster(&self.peer, bytes)?;
        self.peer_roster_version = self.peer_roster_version.max(version);
        self.awaiting_roster = false;
        // Under the new roster the peer may have been revoked.
        replica.peer_allowed(&self.peer)?;
        Ok(())
    }

    fn on_offer(
        &mut self,
        peer_store: &PeerStore,
        from_seq: u64,
        upto_seq: u64,
        hashes: Vec<[u8; 32]>,
        replica: &mut impl Replica,
    ) -> Result<(), ProtoError> {
        if self.pull.inline {
            return Err(ProtoError::OutOfOrder(
                "Offer khi đã yêu cầu gửi kèm nội dung",
            ));
        }
        self.stats.hashes_offered_by_peer += hashes.len() as u64;
        if from_seq != self.pull.next_seq {
            return Err(ProtoError::OutOfOrder("Offer không nối tiếp điểm đã kéo"));
        }
        if upto_seq <= from_seq || hashes.len() as u64 > upto_seq - from_seq {
            return Err(ProtoError::Violation("khoảng seq của Offer không hợp lệ"));
        }
        if self.pull.batches.len() >= BATCHES_IN_FLIGHT_MAX {
            return Err(ProtoError::Violation("quá nhiều Offer chưa xong"));
        }
        let mut have = replica.has_changes(&hashes)?;
        if have.len() != hashes.len() {
            return Err(ReplicaError::new("has_changes trả sai số phần tử").into());
        }
        if self.config.keep_signatures {
            // Held without its own signature: asked for again, in case the
            // peer holds it (a copy without one is a no-op).
            let unsigned = replica.held_unsigned(&hashes)?;
            for (have, unsigned) in have.iter_mut().zip(unsigned) {
                *have &= !unsigned;
            }
        }
        // A hash already awaited by an earlier batch is not wanted twice;
        // batches commit in order, so the earlier one covers it.
        let mut awaited: HashSet<[u8; 32]> = self
            .pull
            .batches
            .iter()
            .flat_map(|b| b.outstanding.iter().copied())
            .collect();
        let mut wanted = Vec::with_capacity(hashes.len());
        let mut outstanding = VecDeque::new();
        for (hash, held) in hashes.iter().zip(have) {
            let want = !held && awaited.insert(*hash);
            wanted.push(want);
            if want {
                outstanding.push_back(*hash);
            }
        }
        // An offer of nothing (every entry in its range skipped for us)
        // needs no answer: the sender counts it resolved once sent.
        if !hashes.is_empty() {
            self.send(&Message::Want { upto_seq, wanted });
        }
        self.pull.next_seq = upto_seq;
        self.pull.target_seq = self.pull.target_seq.max(upto_seq);
        self.pull.batches.push_back(PullBatch {
            upto_seq,
            wanted: outstanding.iter().copied().collect(),
            outstanding,
            refused: Vec::new(),
        });
        self.commit_settled_batches(peer_store, replica)
    }

    /// Commits the checkpoints of leading batches that need no more bodies.
    fn commit_settled_batches(
        &mut self,
        peer_store: &PeerStore,
        replica: &mut impl Replica,
    ) -> Result<(), ProtoError> {
        let mut settled = None;
        while let Some(batch) = self.pull.batches.front()
            && batch.outstanding.is_empty()
        {
            settled = Some(batch.upto_seq);
            self.pull.batches.pop_front();
        }
        if let Some(upto_seq) = settled {
            replica.commit(peer_store, Vec::new(), Some(upto_seq))?;
            self.pull.committed_seq = upto_seq;
            self.progress();
        }
        Ok(())
    }

    fn on_bodies(
        &mut self,
        peer_store: &PeerStore,
        upto_seq: u64,
        changes: Vec<WireChange>,
        replica: &mut impl Replica,
    ) -> Result<(), ProtoError> {
        let Some(batch) = self.pull.batches.front() else {
            return Err(ProtoError::OutOfOrder("Bodies khi không chờ nội dung nào"));
        };
        if batch.upto_seq != upto_seq {
            return Err(ProtoError::OutOfOrder("Bodies của lô khác lô đang chờ"));
        }
        if changes.len() > batch.outstanding.len() || changes.is_empty() {
            return Err(ProtoError::Violation("số nội dung khác số đã yêu cầu"));
        }
        // Check the whole message before storing any of it: every body must
        // be the change it was asked for. Signatures, actors and the roster
        // are the receiver's intake to check (`Replica::commit`).
        let mut received = Vec::with_capacity(changes.len());
        for (change, hash) in changes.into_iter().zip(batch.outstanding.iter()) {
            let signed = change.with_hash(*hash);
            if let Err(reason) = body_matches(&signed) {
                // A body of another change of this batch is one that
                // came out of place (only a faulty link does that); a
                // body that is no change asked for was forged or
                // damaged at the peer, and is reported like any refused
                // change before the session ends.
                let actual = parse_change_body(&signed.body).map(|c| c.hash().0);
                if !actual.is_ok_and(|h| batch.wanted.contains(&h)) {
                    self.events.push_back(Event::Rejected {
                        hash: signed.hash,
                        author: signed.author,
                        reason,
                        by_replica: false,
                    });
                }
                return Err(ProtoError::Violation(
                    "nội dung gửi đến không khớp mã băm đã yêu cầu",
                ));
            }
            received.push(signed);
        }
        let count = received.len();
        let batch = self.pull.batches.front_mut().expect("checked above");
        batch.outstanding.drain(..count);
        let complete = batch.outstanding.is_empty();
        let report = replica.commit(peer_store, received, complete.then_some(upto_seq))?;
        let refused = self.note_received(count, report.new, report.rejected);
        let batch = self.pull.batches.front_mut().expect("checked above");
        batch.refused.extend(refused);
        if complete {
            let batch = self.pull.batches.pop_front().expect("checked above");
            self.pull.committed_seq = upto_seq;
            self.send_refused(upto_seq, batch.refused);
            self.send(&Message::Ack { upto_seq });
            self.progress();
            self.commit_settled_batches(peer_store, replica)?;
        }
        Ok(())
    }

    fn on_inline(
        &mut self,
        peer_store: &PeerStore,
        from_seq: u64,
        upto_seq: u64,
        changes: Vec<WireChange>,
        replica: &mut impl Replica,
    ) -> Result<(), ProtoError> {
        if !self.pull.inline {
            return Err(ProtoError::OutOfOrder("Inline khi không yêu cầu"));
        }
        if from_seq != self.pull.next_seq {
            return Err(ProtoError::OutOfOrder("Inline không nối tiếp điểm đã kéo"));
        }
        if upto_seq <= from_seq || changes.len() as u64 > upto_seq - from_seq {
            return Err(ProtoError::Violation("khoảng seq của Inline không hợp lệ"));
        }
        let received = changes.len();
        let report = replica.commit(peer_store, named_by_body(changes), Some(upto_seq))?;
        let refused = self.note_received(received, report.new, report.rejected);
        self.pull.next_seq = upto_seq;
        self.pull.committed_seq = upto_seq;
        self.pull.target_seq = self.pull.target_seq.max(upto_seq);
        // Like an empty offer, an empty inline batch needs no answer.
        if received > 0 {
            self.send_refused(upto_seq, refused);
            self.send(&Message::Ack { upto_seq });
        }
        self.progress();
        Ok(())
    }

    /// Counts a commit and reports its refusals; returns them with their
    /// reasons as the sender will be told.
    fn note_received(
        &mut self,
        received: usize,
        stored: usize,
        rejected: Vec<Rejection>,
    ) -> Vec<([u8; 32], String)> {
        self.stats.changes_received += received as u64;
        self.stats.changes_stored += stored as u64;
        self.stats.changes_rejected += rejected.len() as u64;
        let mut refused = Vec::with_capacity(rejected.len());
        for r in rejected {
            refused.push((r.hash, r.reason.to_string()));
            self.events.push_back(Event::Rejected {
                hash: r.hash,
                author: r.author,
                reason: r.reason,
                by_replica: true,
            });
        }
        refused
    }

    /// Tells the sender what this side refused of a batch, if anything and
    /// if the agreed version has the message.
    fn send_refused(&mut self, upto_seq: u64, refused: Vec<([u8; 32], String)>) {
        if refused.is_empty() || self.version() < REFUSED_SINCE_VERSION {
            return;
        }
        self.send(&Message::Refused { upto_seq, refused });
    }

    /// Leaves out the signatures a later change of the same author covers
    /// (protocol 4), unless the peer asked for every one.
    fn cover(&self, changes: &mut [SignedChange]) {
        if self.version() >= COVERED_SINCE_VERSION && !self.peer_keeps_signatures {
            crate::cover::cover(changes);
        }
    }

    fn version(&self) -> u8 {
        match self.phase {
            Phase::Running { version, .. } => version,
            _ => self.my_hello.version as u8,
        }
    }

    fn on_refused(
        &mut self,
        upto_seq: u64,
        refused: Vec<([u8; 32], String)>,
    ) -> Result<(), ProtoError> {
        let Some(batch) = self
            .serve
            .batches
            .iter_mut()
            .find(|b| b.state == ServeState::AwaitingAck && b.upto_seq == upto_seq)
        else {
            return Err(ProtoError::OutOfOrder("Refused không khớp lô đang chờ"));
        };
        if !batch.refused.is_empty() {
            return Err(ProtoError::Violation("Refused hai lần cho một lô"));
        }
        for (hash, _) in &refused {
            if !batch.sent.contains(hash) || !batch.refused.insert(*hash) {
                return Err(ProtoError::Violation(
                    "Refused nêu thay đổi không có trong lô đã gửi",
                ));
            }
        }
        self.stats.changes_refused_by_peer += refused.len() as u64;
        for (hash, reason) in refused {
            self.events.push_back(Event::RefusedByPeer { hash, reason });
        }
        Ok(())
    }

    fn on_want(
        &mut self,
        upto_seq: u64,
        wanted: Vec<bool>,
        replica: &impl Replica,
    ) -> Result<(), ProtoError> {
        let Some(index) = self
            .serve
            .batches
            .iter()
            .position(|b| b.state == ServeState::Offered)
        else {
            return Err(ProtoError::OutOfOrder("Want khi không có Offer nào chờ"));
        };
        let batch = &self.serve.batches[index];
        if batch.upto_seq != upto_seq || batch.offered.len() != wanted.len() {
            return Err(ProtoError::OutOfOrder("Want không khớp Offer đang chờ"));
        }
        let entries: Vec<FeedEntry> = batch
            .offered
            .iter()
            .zip(&wanted)
            .filter(|(_, w)| **w)
            .map(|(e, _)| *e)
            .collect();
        let hashes: Vec<[u8; 32]> = entries.iter().map(|e| e.hash).collect();
        if hashes.is_empty() {
            self.serve.batches[index].state = ServeState::Resolved;
            self.pop_finished_serve_batches();
            return Ok(());
        }
        let bodies = replica.bodies(&hashes)?;
        if bodies.len() != hashes.len() || bodies.iter().zip(&hashes).any(|(b, h)| b.hash != *h) {
            return Err(ReplicaError::new("kho thiếu nội dung của thay đổi đã đề nghị").into());
        }
        self.serve.batches[index].state = ServeState::AwaitingAck;
        self.serve.batches[index].sent = hashes;
        self.stats.changes_sent += bodies.len() as u64;
        let bytes_max = self.batch_bytes_max();
        for mut chunk in chunk_runs(bodies, &entries, bytes_max) {
            self.cover(&mut chunk);
            self.send(&Message::Bodies {
                upto_seq,
                changes: chunk.into_iter().map(WireChange::from).collect(),
            });
        }
        Ok(())
    }

    fn on_ack(&mut self, upto_seq: u64, version: u8) -> Result<(), ProtoError> {
        let floor = self.batch_bytes_max();
        let ceiling = self.config.inline_bytes_max.clamp(floor, BATCH_BYTES_MAX);
        // At most doubling: two Acks handled in one instant (the driver
        // held up by another session's commit) read as a link of unbounded
        // pace, and would otherwise jump to the ceiling on any link.
        let doubled = self.serve.inline_bytes.saturating_mul(2);
        match self.serve.batches.front_mut() {
            Some(batch) if batch.state == ServeState::AwaitingAck && batch.upto_seq == upto_seq => {
                batch.state = ServeState::Resolved;
                if self.serve.inline {
                    // The time this batch alone took: from its sending, or
                    // from the previous batch's Ack if it was in flight
                    // behind that one.
                    let began = self
                        .serve
                        .last_ack_ms
                        .map_or(batch.sent_ms, |ack| ack.max(batch.sent_ms));
                    let took_ms = self.now_ms.saturating_sub(began).max(1);
                    let fits =
                        batch.body_bytes as u128 * INLINE_BATCH_TARGET_MS as u128 / took_ms as u128;
                    self.serve.inline_bytes =
                        fits.min(doubled as u128)
                            .clamp(floor as u128, ceiling as u128) as usize;
                }
                self.serve.last_ack_ms = Some(self.now_ms);
                // Before version 2 a refusal is never told: nothing is
                // known to be accepted.
                if version >= REFUSED_SINCE_VERSION {
                    let hashes: Vec<[u8; 32]> = std::mem::take(&mut batch.sent)
                        .into_iter()
                        .filter(|h| !batch.refused.contains(h))
                        .collect();
                    if !hashes.is_empty() {
                        self.events.push_back(Event::Accepted { hashes });
                    }
                }
            }
            _ => return Err(ProtoError::OutOfOrder("Ack không khớp lô đang chờ")),
        }
        self.pop_finished_serve_batches();
        self.progress();
        Ok(())
    }

    fn pop_finished_serve_batches(&mut self) {
        while let Some(batch) = self.serve.batches.front()
            && batch.state == ServeState::Resolved
        {
            self.serve.acked_seq = batch.upto_seq;
            self.serve.batches.pop_front();
        }
    }

    fn batch_bytes_max(&self) -> usize {
        self.config.batch_bytes_max.clamp(1, BATCH_BYTES_MAX)
    }

    /// Whether another offer or inline batch may go out: two unanswered at
    /// most, or for inline batches up to [`INLINE_BATCHES_IN_FLIGHT_MAX`]
    /// while their bodies and the next batch's stay within
    /// [`INLINE_IN_FLIGHT_BYTES_MAX`].
    fn serve_room(&self) -> bool {
        let batches = &self.serve.batches;
        if batches.len() < BATCHES_IN_FLIGHT_MAX {
            return true;
        }
        let in_flight: usize = batches.iter().map(|b| b.body_bytes).sum();
        self.serve.inline
            && batches.len() < INLINE_BATCHES_IN_FLIGHT_MAX
            && in_flight.saturating_add(self.serve.inline_bytes) <= INLINE_IN_FLIGHT_BYTES_MAX
    }

    /// Sends offers (or inline batches) while there is feed left to serve
    /// and room in flight.
    fn pump_serve(&mut self, replica: &impl Replica) -> Result<(), ProtoError> {
        let Phase::Running { peer_store, .. } = self.phase else {
            return Ok(());
        };
        if self.awaiting_roster {
            return Ok(());
        }
        if self.config.live {
            self.serve.target_seq = self.serve.target_seq.max(replica.latest_seq());
        }
        while self.serve_room() && self.serve.next_seq < self.serve.target_seq {
            let from_seq = self.serve.next_seq;
            let (count_max, bytes_max) = if self.serve.inline {
                (BATCH_CHANGES_MAX, self.serve.inline_bytes)
            } else {
                (
                    self.config.offer_hashes_max.clamp(1, OFFER_HASHES_MAX),
                    OFFER_BODY_BYTES_MAX,
                )
            };
            let (mut entries, mut scanned_seq) = replica.feed(&peer_store, from_seq, count_max)?;
            check_feed(from_seq, count_max, &entries, scanned_seq)?;
            let mut servable = servable_of(&entries, scanned_seq, self.version(), false);
            if servable.upto_seq <= from_seq {
                // Nothing fits before a run of changes without their own
                // signature whose covering change lies past what was read:
                // read as many entries as a message carries, and if even
                // that does not close the run, pass it over.
                if count_max < BATCH_CHANGES_MAX {
                    (entries, scanned_seq) =
                        replica.feed(&peer_store, from_seq, BATCH_CHANGES_MAX)?;
                    check_feed(from_seq, BATCH_CHANGES_MAX, &entries, scanned_seq)?;
                    servable = servable_of(&entries, scanned_seq, self.version(), false);
                }
                if servable.upto_seq <= from_seq {
                    servable = servable_of(&entries, scanned_seq, self.version(), true);
                }
            }
            let (included, body_bytes) = take_by_bytes(&servable.entries, bytes_max)?;
            let entries = servable.entries;
            let upto_seq = if included == entries.len() {
                servable.upto_seq
            } else {
                entries[included - 1].seq
            };
            let hashes: Vec<[u8; 32]> = entries[..included].iter().map(|e| e.hash).collect();
            if self.serve.inline {
                let mut bodies = replica.bodies(&hashes)?;
                if bodies.len() != hashes.len() {
                    return Err(ReplicaError::new("kho thiếu nội dung của thay đổi").into());
                }
                self.cover(&mut bodies);
                self.stats.changes_sent += bodies.len() as u64;
                let state = if bodies.is_empty() {
                    ServeState::Resolved
                } else {
                    ServeState::AwaitingAck
                };
                let sent = bodies.iter().map(|b| b.hash).collect();
                self.send(&Message::Inline {
                    from_seq,
                    upto_seq,
                    changes: bodies.into_iter().map(WireChange::from).collect(),
                });
                self.serve.batches.push_back(ServeBatch {
                    sent_ms: self.now_ms,
                    body_bytes,
                    upto_seq,
                    offered: Vec::new(),
                    sent,
                    refused: HashSet::new(),
                    state,
                });
            } else {
                self.stats.hashes_offered += hashes.len() as u64;
                let state = if hashes.is_empty() {
                    ServeState::Resolved
                } else {
                    ServeState::Offered
                };
                self.send(&Message::Offer {
                    from_seq,
                    upto_seq,
                    hashes,
                });
                self.serve.batches.push_back(ServeBatch {
                    sent_ms: self.now_ms,
                    body_bytes: 0,
                    upto_seq,
                    offered: entries[..included].to_vec(),
                    sent: Vec::new(),
                    refused: HashSet::new(),
                    state,
                });
            }
            self.serve.next_seq = upto_seq;
            self.pop_finished_serve_batches();
        }
        Ok(())
    }
}

/// Where pulling from a peer store resumes: at the checkpoint if it belongs
/// to the store's current epoch and is not past its end, else from the start
/// (a full reconciliation: hashes again, only missing bodies).
fn resume_seq(checkpoint: Option<Checkpoint>, epoch: [u8; EPOCH_LEN], latest_seq: u64) -> u64 {
    match checkpoint {
        Some(c) if c.epoch == epoch && c.seq <= latest_seq => c.seq,
        _ => 0,
    }
}

/// Holds a [`Replica::feed`] implementation to its contract, so a store bug
/// ends the session instead of confusing the peer.
fn check_feed(
    since: u64,
    limit: usize,
    entries: &[FeedEntry],
    scanned_seq: u64,
) -> Result<(), ProtoError> {
    let mut previous = since;
    for entry in entries {
        if entry.seq <= previous {
            return Err(ReplicaError::new("nguồn thay đổi trả seq không tăng dần").into());
        }
        previous = entry.seq;
    }
    if scanned_seq <= since || scanned_seq < previous || entries.len() > limit {
        return Err(ReplicaError::new("nguồn thay đổi không tiến").into());
    }
    Ok(())
}

/// How many leading entries fit in `bytes_max` body bytes (at least one),
/// and their body bytes. A run of changes held without their own
/// signature is kept whole up to the change covering it ([`servable`]
/// left only runs that end among `entries`), past `bytes_max` if need be.
fn take_by_bytes(entries: &[FeedEntry], bytes_max: usize) -> Result<(usize, usize), ProtoError> {
    let mut total = 0usize;
    // The seq up to which the entries taken so far must reach.
    let mut proofs_to = 0;
    for (i, entry) in entries.iter().enumerate() {
        if entry.body_len as usize > CHANGE_BYTES_MAX {
            return Err(ProtoError::ChangeTooLarge {
                hash: hex_prefix(&entry.hash),
                len: entry.body_len,
                max: CHANGE_BYTES_MAX,
            });
        }
        if total + entry.body_len as usize > bytes_max && i > 0 && proofs_to < entry.seq {
            return Ok((i, total));
        }
        total += entry.body_len as usize;
        proofs_to = proofs_to.max(entry.proof_seq.unwrap_or(0));
    }
    Ok((entries.len(), total))
}

/// The feed entries a batch may carry to a peer of protocol `version`,
/// and the seq the batch may move the peer's checkpoint to.
struct Servable {
    entries: Vec<FeedEntry>,
    upto_seq: u64,
}

/// What of the feed's `entries` (read up to `scanned_seq`) can be sent.
/// A change held without its own signature can be sent only with the
/// change covering it, and only in protocol 4: to an older peer it is
/// passed over (the peer gets it from a store holding its signature — a
/// node that serves keeps every signature), as it is when the covering
/// change is not in this peer's feed (set aside, or the peer's own). A run
/// whose covering change lies past `scanned_seq` ends the batch before
/// the run; read again from there with as many entries as a message
/// carries, it fits — or, when `last_try`, it is passed over too.
fn servable_of(entries: &[FeedEntry], scanned_seq: u64, version: u8, last_try: bool) -> Servable {
    if entries.iter().all(|e| e.proof_seq.is_none()) {
        return Servable {
            entries: entries.to_vec(),
            upto_seq: scanned_seq,
        };
    }
    let held: HashSet<u64> = entries.iter().map(|e| e.seq).collect();
    let pending = |proof: u64| proof > scanned_seq && proof != u64::MAX && !last_try;
    let mut out: Vec<FeedEntry> = Vec::with_capacity(entries.len());
    // The seq every entry kept so far needs the batch to reach, and the
    // length of the longest prefix of `out` that reaches it.
    let mut proofs_to = 0;
    let mut closed = 0;
    for &entry in entries {
        match entry.proof_seq {
            None => out.push(entry),
            Some(_) if version < COVERED_SINCE_VERSION => continue,
            Some(proof) if pending(proof) => {
                // The batch ends before the first run not closed here.
                out.truncate(closed);
                // 0 when nothing closes before it: no progress (the
                // caller reads more, or passes the run over).
                return Servable {
                    upto_seq: out.last().map_or(0, |e| e.seq),
                    entries: out,
                };
            }
            Some(proof) if held.contains(&proof) => {
                out.push(entry);
                proofs_to = proofs_to.max(proof);
            }
            Some(_) => continue,
        }
        if proofs_to <= entry.seq {
            closed = out.len();
        }
    }
    Servable {
        entries: out,
        upto_seq: scanned_seq,
    }
}

/// Received changes named by the hash of each body, without parsing it
/// (the intake's `verify` parses each body once; a compressed body is
/// never inflated).
fn named_by_body(changes: Vec<WireChange>) -> Vec<SignedChange> {
    changes
        .into_iter()
        .map(|change| {
            let hash = body_hash(&change.body);
            change.with_hash(hash)
        })
        .collect()
}

/// The changes a received Bodies or Inline frame carries, named as the
/// session names them when it hands them to [`Replica::commit`]: by each
/// body's hash (a Bodies body that is not the change asked for ends the
/// session before any commit; one that is, is a plain change chunk, whose
/// Automerge hash is [`body_hash`] of it). `None` for a
/// frame of another kind or one that does not decode. For a driver that
/// starts verifying a batch as soon as it arrives, before the session asks
/// for its commit.
pub fn carried_changes(frame: &[u8]) -> Option<Vec<SignedChange>> {
    match decode_message(frame).ok()? {
        Message::Bodies { changes, .. } | Message::Inline { changes, .. } => {
            Some(named_by_body(changes))
        }
        _ => None,
    }
}

/// [`chunk_by_bytes`] for bodies answering a Want, with each body's feed
/// entry (`entries`, in the same order): a run of changes held without
/// their own signature stays in one message with the change covering it,
/// past `bytes_max` if need be.
fn chunk_runs(
    bodies: Vec<SignedChange>,
    entries: &[FeedEntry],
    bytes_max: usize,
) -> Vec<Vec<SignedChange>> {
    let mut proofs_to = 0;
    let may_cut: Vec<bool> = entries
        .iter()
        .map(|entry| {
            let may = proofs_to < entry.seq;
            proofs_to = proofs_to.max(entry.proof_seq.unwrap_or(0));
            may
        })
        .collect();
    chunk_where(bodies, bytes_max, |i| may_cut[i])
}

/// Splits bodies into messages of at most `bytes_max` body bytes each (a
/// larger single change travels alone): the batches a sender makes.
pub fn chunk_by_bytes(bodies: Vec<SignedChange>, bytes_max: usize) -> Vec<Vec<WireChange>> {
    chunk_where(bodies, bytes_max, |_| true)
        .into_iter()
        .map(|chunk| chunk.into_iter().map(WireChange::from).collect())
        .collect()
}

/// Splits bodies into messages of at most `bytes_max` body bytes each,
/// cutting only before a body `may_cut_before` allows (a larger run, or a
/// larger single change, travels alone).
fn chunk_where(
    bodies: Vec<SignedChange>,
    bytes_max: usize,
    may_cut_before: impl Fn(usize) -> bool,
) -> Vec<Vec<SignedChange>> {
    let mut chunks = Vec::new();
    let mut chunk = Vec::new();
    let mut bytes = 0;
    for (i, body) in bodies.into_iter().enumerate() {
        if !chunk.is_empty() && bytes + body.body.len() > bytes_max && may_cut_before(i) {
            chunks.push(std::mem::take(&mut chunk));
            bytes = 0;
        }
        bytes += body.body.len();
        chunk.push(body);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
}

/// Whether a body is, in its signed encoding, the change its hash names.
fn body_matches(signed: &SignedChange) -> Result<(), ChangeError> {
    check_body(&signed.hash, &signed.body)
}

fn hex_prefix(hash: &[u8; 32]) -> String {
    hash[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed entries of `len` body bytes each: `(seq, covering seq)`.
    fn entries(list: &[(u64, Option<u64>)]) -> Vec<FeedEntry> {
        list.iter()
            .map(|&(seq, proof_seq)| FeedEntry {
                seq,
                hash: [seq as u8; 32],
                body_len: 100,
                proof_seq,
            })
            .collect()
    }

    fn seqs(servable: &Servable) -> (Vec<u64>, u64) {
        (
            servable.entries.iter().map(|e| e.seq).collect(),
            servable.upto_seq,
        )
    }

    /// A change held without its own signature travels only with the
    /// change covering it, only in protocol 4; a batch never ends inside
    /// such a run.
    #[test]
    fn a_run_without_signatures_travels_whole_with_its_cover_or_not_at_all() {
        let feed = entries(&[(1, None), (2, Some(4)), (3, None), (4, None), (5, None)]);
        // Protocol 4: all of it. An older peer: passed over.
        assert_eq!(
            seqs(&servable_of(&feed, 5, 4, false)),
            (vec![1, 2, 3, 4, 5], 5)
        );
        assert_eq!(
            seqs(&servable_of(&feed, 5, 3, false)),
            (vec![1, 3, 4, 5], 5)
        );
        // Its cover not in this peer's feed (read past it, or gone).
        let gone = entries(&[(1, None), (2, Some(9)), (3, None)]);
        assert_eq!(seqs(&servable_of(&gone, 12, 4, false)), (vec![1, 3], 12));
        let set_aside = entries(&[(1, None), (2, Some(u64::MAX)), (3, None)]);
        assert_eq!(seqs(&servable_of(&set_aside, 3, 4, false)), (vec![1, 3], 3));
        // Its cover lies past what was read: the batch ends before the run
        // (and before an earlier run not closed yet)…
        let open = entries(&[
            (1, None),
            (2, Some(3)),
            (3, None),
            (4, Some(6)),
            (5, Some(9)),
        ]);
        assert_eq!(seqs(&servable_of(&open, 5, 4, false)), (vec![1, 2, 3], 3));
        let nested = entries(&[(1, None), (2, Some(5)), (3, Some(9)), (4, None), (5, None)]);
        assert_eq!(seqs(&servable_of(&nested, 5, 4, false)), (vec![1], 1));
        // …no progress when it starts the batch (the caller reads more),
        // and on the last try it is passed over.
        let first = entries(&[(4, Some(9)), (5, None)]);
        assert_eq!(seqs(&servable_of(&first, 5, 4, false)), (vec![], 0));
        assert_eq!(seqs(&servable_of(&first, 5, 4, true)), (vec![5], 5));
        // Bytes: no cut inside a run, past the bound if need be.
        let run = entries(&[(1, None), (2, Some(4)), (3, None), (4, None), (5, None)]);
        assert_eq!(take_by_bytes(&run, 150).unwrap(), (1, 100));
        assert_eq!(take_by_bytes(&run[1..], 150).unwrap(), (3, 300));
        let bodies: Vec<SignedChange> = run
            .iter()
            .map(|e| SignedChange {
                hash: e.hash,
                doc: danvan_model::DocId::from_bytes([1; 16]),
                author: NodeId::from_bytes([2; 32]),
                signature: e.proof_seq.is_none().then_some([3; 64]),
                body: vec![0; 100],
            })
            .collect();
        let chunks = chunk_runs(bodies, &run, 150);
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 3, 1]);
    }
}
