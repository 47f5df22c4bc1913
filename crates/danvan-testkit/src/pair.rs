//! Two nodes and one session between them over a simulated link with a fixed
//! one-way delay: the driver of feature tests. Time jumps to the next frame
//! arrival or session deadline, like quinn-proto's test `Pair`.

use std::collections::VecDeque;

use danvan_proto::{Event, ProtoError, Session, SessionConfig, SessionStats};

use crate::node::TestNode;

/// Which end of a [`Pair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The first node.
    A,
    /// The second node.
    B,
}

/// Two nodes syncing over one session.
pub struct Pair<'n> {
    /// The first node.
    pub a: &'n mut TestNode,
    /// The second node.
    pub b: &'n mut TestNode,
    /// A's end of the session.
    pub session_a: Session,
    /// B's end of the session.
    pub session_b: Session,
    /// The simulated clock.
    pub now_ms: u64,
    delay_ms: u64,
    /// Bytes per second each way (`None`: unlimited), and when each
    /// direction's link is next free.
    bytes_per_s: Option<u64>,
    free_to_a_ms: u64,
    free_to_b_ms: u64,
    to_a: VecDeque<(u64, Vec<u8>)>,
    to_b: VecDeque<(u64, Vec<u8>)>,
    /// Events A's session reported.
    pub events_a: Vec<Event>,
    /// Events B's session reported.
    pub events_b: Vec<Event>,
    /// Frames delivered to A, in order.
    pub delivered_to_a: Vec<Vec<u8>>,
    /// Frames delivered to B, in order.
    pub delivered_to_b: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Pair<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("now_ms", &self.now_ms)
            .field("a", &self.session_a)
            .field("b", &self.session_b)
            .finish()
    }
}

impl<'n> Pair<'n> {
    /// Opens a session between `a` and `b` at time 0; both Hellos are
    /// queued on the link.
    pub fn new(
        a: &'n mut TestNode,
        b: &'n mut TestNode,
        config_a: SessionConfig,
        config_b: SessionConfig,
        one_way_delay_ms: u64,
    ) -> Self {
        let session_a = Session::new(0, config_a, a.id(), b.id(), &a.store).expect("store works");
        let session_b = Session::new(0, config_b, b.id(), a.id(), &b.store).expect("store works");
        let mut pair = Pair {
            a,
            b,
            session_a,
            session_b,
            now_ms: 0,
            delay_ms: one_way_delay_ms,
            bytes_per_s: None,
            free_to_a_ms: 0,
            free_to_b_ms: 0,
            to_a: VecDeque::new(),
            to_b: VecDeque::new(),
            events_a: Vec::new(),
            events_b: Vec::new(),
            delivered_to_a: Vec::new(),
            delivered_to_b: Vec::new(),
        };
        pair.flush();
        pair
    }

    /// Limits each direction of the link to `bytes_per_s`: a frame leaves
    /// once the frames before it have, and takes its length over the rate.
    /// The Hellos [`Pair::new`] queued already travel unlimited.
    pub fn with_bandwidth(mut self, bytes_per_s: u64) -> Self {
        self.bytes_per_s = Some(bytes_per_s.max(1));
        self
    }

    /// When a frame of `len` bytes sent now arrives, on the direction that
    /// is next free at `free_ms`.
    fn arrival(
        now_ms: u64,
        delay_ms: u64,
        bytes_per_s: Option<u64>,
        free_ms: &mut u64,
        len: usize,
    ) -> u64 {
        match bytes_per_s {
            None => now_ms + delay_ms,
            Some(rate) => {
                let done = now_ms.max(*free_ms) + (len as u64 * 1000).div_ceil(rate);
                *free_ms = done;
                done + delay_ms
            }
        }
    }

    fn flush(&mut self) {
        let (now, delay, rate) = (self.now_ms, self.delay_ms, self.bytes_per_s);
        while let Some(frame) = self.session_a.poll_transmit() {
            let arrival = Self::arrival(now, delay, rate, &mut self.free_to_b_ms, frame.len());
            self.to_b.push_back((arrival, frame));
        }
        while let Some(frame) = self.session_b.poll_transmit() {
            let arrival = Self::arrival(now, delay, rate, &mut self.free_to_a_ms, frame.len());
            self.to_a.push_back((arrival, frame));
        }
        while let Some(event) = self.session_a.poll_event() {
            self.events_a.push(event);
        }
        while let Some(event) = self.session_b.poll_event() {
            self.events_b.push(event);
        }
    }

    /// Frames on the link, not yet delivered.
    pub fn in_flight(&self) -> usize {
        self.to_a.len() + self.to_b.len()
    }

    /// The frames on the link towards one side, sent and not yet delivered.
    pub fn on_the_way(&self, to: Side) -> impl Iterator<Item = &[u8]> {
        match to {
            Side::A => &self.to_a,
            Side::B => &self.to_b,
        }
        .iter()
        .map(|(_, frame)| frame.as_slice())
    }

    /// Loses every frame on the link (a cut; the sessions will stall).
    pub fn drop_in_flight(&mut self) {
        self.to_a.clear();
        self.to_b.clear();
    }

    /// Rewrites the frames on the link towards one side (an attacker on
    /// the path, or a buggy peer).
    pub fn tamper(&mut self, to: Side, mut rewrite: impl FnMut(&mut Vec<u8>)) {
        let queue = match to {
            Side::A => &mut self.to_a,
            Side::B => &mut self.to_b,
        };
        for (_, frame) in queue.iter_mut() {
            rewrite(frame);
        }
    }

    /// Delivers `frame` to one side now, bypassing the link.
    pub fn inject(&mut self, to: Side, frame: &[u8]) {
        match to {
            Side::A => self
                .session_a
                .handle_frame(self.now_ms, frame, &mut self.a.store),
            Side::B => self
                .session_b
                .handle_frame(self.now_ms, frame, &mut self.b.store),
        }
        self.flush();
    }

    /// Tells one side's session that its store has new local changes.
    pub fn local_change(&mut self, side: Side) {
        match side {
            Side::A => self
                .session_a
                .handle_local_change(self.now_ms, &self.a.store),
            Side::B => self
                .session_b
                .handle_local_change(self.now_ms, &self.b.store),
        }
        self.flush();
    }

    /// Advances to the next frame arrival or deadline and handles it.
    /// Returns false when nothing is left to happen.
    pub fn step(&mut self) -> bool {
        let next_b = self.to_b.front().map(|(t, _)| *t);
        let next_a = self.to_a.front().map(|(t, _)| *t);
        let frame_side = match (next_a, next_b) {
            (Some(ta), Some(tb)) => Some(if tb <= ta { Side::B } else { Side::A }),
            (Some(_), None) => Some(Side::A),
            (None, Some(_)) => Some(Side::B),
            (None, None) => None,
        };
        let frame_time = next_a.into_iter().chain(next_b).min();
        let deadline = self
            .session_a
            .poll_timeout()
            .into_iter()
            .chain(self.session_b.poll_timeout())
            .min();
        match (frame_side, frame_time, deadline) {
            (Some(side), Some(t), d) if d.is_none_or(|d| t <= d) => {
                self.now_ms = self.now_ms.max(t);
                let (_, frame) = match side {
                    Side::A => self.to_a.pop_front(),
                    Side::B => self.to_b.pop_front(),
                }
                .expect("front exists");
                match side {
                    Side::A => self.delivered_to_a.push(frame.clone()),
                    Side::B => self.delivered_to_b.push(frame.clone()),
                }
                self.inject(side, &frame);
                true
            }
            (_, _, Some(d)) => {
                self.now_ms = self.now_ms.max(d);
                self.session_a.handle_timeout(self.now_ms);
                self.session_b.handle_timeout(self.now_ms);
                self.flush();
                true
            }
            _ => false,
        }
    }

    /// Steps until nothing is left to happen.
    pub fn run(&mut self) -> &mut Self {
        for _ in 0..1_000_000 {
            if !self.step() {
                return self;
            }
        }
        panic!("pair did not settle in a million steps: {self:?}");
    }

    /// Steps until `frames` frames have been delivered in total.
    pub fn run_frames(&mut self, frames: usize) -> &mut Self {
        while self.delivered_to_a.len() + self.delivered_to_b.len() < frames {
            if !self.step() {
                break;
            }
        }
        self
    }

    /// The stats of a side's `Done` event, if it finished.
    pub fn done(&self, side: Side) -> Option<SessionStats> {
        self.events(side).iter().find_map(|e| match e {
            Event::Done(stats) => Some(*stats),
            _ => None,
        })
    }

    /// The error a side's session failed with, if any.
    pub fn failure(&self, side: Side) -> Option<&ProtoError> {
        self.events(side).iter().find_map(|e| match e {
            Event::Failed(error) => Some(error),
            _ => None,
        })
    }

    /// The events a side reported.
    pub fn events(&self, side: Side) -> &[Event] {
        match side {
            Side::A => &self.events_a,
            Side::B => &self.events_b,
        }
    }
}
