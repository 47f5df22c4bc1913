//! Congestion control for slow radio links: quinn's Cubic, with a floor
//! under its window after a loss, taken from BBR's model of the path.
//!
//! A commune's 2G or 3G link loses a few percent of its packets to the
//! radio, not to a full queue. Cubic, quinn's default, cuts its window to
//! 70 % on every loss as if the link were congested; on the edge profile
//! that is a loss about every round trip, and the window spends much of
//! its time below what the path holds while the link idles
//! (ARCHITECTURE.md, Decisions: "Cold sync over a 2G EDGE link").
//!
//! So Cubic keeps doing what it does, growing and cutting, and this
//! controller only keeps the window, after a loss, from falling below
//! [`FLOOR_GAIN`] times the path's bandwidth-delay product as BBR measures
//! it (Cardwell et al., "BBR: congestion-based congestion control", 2016):
//! the highest delivery rate of the last [`BANDWIDTH_SAMPLES`] round trips
//! times the smallest round trip seen. A random loss then leaves a full
//! link full. The floor holds until Cubic's own window is back above it
//! and is set anew at each loss from the rates measured then; it is never
//! above the window before the loss, so a loss never raises the window, and
//! a persistent congestion (every packet lost for a while) falls to
//! Cubic's minimum with no floor. When a link really is congested, the
//! rate it delivers to this connection falls, and the floor with it within
//! ten round trips, as BBR's own estimate does.
//!
//! Measured alternatives, all with `danvan-bench link --records 3000`:
//! Cubic alone kept the downlink busy 81 % of the time; quinn's BBR 88 %,
//! but by overflowing the modem's queue (864 datagrams dropped there
//! against 13); Westwood+ (a floor of a smoothed rate times the smallest
//! round trip, with NewReno's growth) measured only the rate its own
//! too-small window allowed and fell to 46 % (`--quick`); the same floor
//! with BBR's rate filter but no gain, 84 %; this controller 89 %, with
//! the handshake and the session's end the rest (ARCHITECTURE.md has the
//! table, and the 10,000-record runs: 1.16–1.21× the link's time with
//! Cubic, 1.04–1.05× with this).
//!
//! The measuring is pure: time comes in as arguments, so the tests drive it
//! with made-up instants.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quinn::congestion::{Controller, ControllerFactory, ControllerMetrics, CubicConfig};

/// The shortest bandwidth sample: one per round trip, none shorter than
/// 50 ms, so that on a fast path a sample spans more than a couple of
/// acknowledgements (Linux's Westwood+ takes the same bound).
const SAMPLE_MIN: Duration = Duration::from_millis(50);

/// Round-trip samples the delivery rate is the highest of: BBR's window
/// for its bottleneck bandwidth, long enough to span the losses of a bad
/// radio spell, short enough to follow a link that slows down.
const BANDWIDTH_SAMPLES: usize = 10;

/// The floor is this many times the bandwidth-delay product. The smallest
/// round trip is below the usual one (jitter, delayed acknowledgements:
/// 750 ms against about 830 ms on the edge profile) and the delivery rate
/// is the link's less its losses, so a floor of exactly the product left
/// the link idle a tenth of the time; a quarter more covers both. BBR
/// itself keeps up to twice the product in flight.
const FLOOR_GAIN: f64 = 1.25;

/// The factory quinn builds a [`PathFloor`] from for each connection.
#[derive(Debug, Default)]
pub(crate) struct PathFloorConfig {
    cubic: CubicConfig,
}

impl ControllerFactory for PathFloorConfig {
    fn build(self: Arc<Self>, now: Instant, current_mtu: u16) -> Box<dyn Controller> {
        let cubic = Arc::new(self.cubic.clone()).build(now, current_mtu);
        Box::new(PathFloor::new(cubic))
    }
}

/// Cubic, never below the measured path after a loss.
pub(crate) struct PathFloor {
    /// The controller that does the growing and the cutting.
    inner: Box<dyn Controller>,
    /// The least window until the inner one is back above it; 0 for none.
    floor: u64,
    /// When the current recovery period began: losses of packets sent
    /// before it belong to the same congestion event and set no new floor.
    recovery_start: Option<Instant>,
    /// The smallest round trip seen, from quinn's estimator.
    rtt_min: Option<Duration>,
    bandwidth: BandwidthFilter,
}

impl Clone for PathFloor {
    fn clone(&self) -> Self {
        PathFloor {
            inner: self.inner.clone_box(),
            floor: self.floor,
            recovery_start: self.recovery_start,
            rtt_min: self.rtt_min,
            bandwidth: self.bandwidth.clone(),
        }
    }
}

impl PathFloor {
    pub(crate) fn new(inner: Box<dyn Controller>) -> PathFloor {
        PathFloor {
            inner,
            floor: 0,
            recovery_start: None,
            rtt_min: None,
            bandwidth: BandwidthFilter::default(),
        }
    }

    /// The floor a loss now would set: [`FLOOR_GAIN`] times the highest
    /// recent delivery rate times the smallest round trip, once both are
    /// known.
    pub(crate) fn path_floor(&self) -> Option<u64> {
        let rate = self.bandwidth.bytes_per_s()?;
        let rtt_min = self.rtt_min?;
        Some((FLOOR_GAIN * rate * rtt_min.as_secs_f64()) as u64)
    }

    /// Takes in an acknowledgement of `bytes` received at `now`, with
    /// quinn's smoothed and smallest round trips. Every acknowledged byte
    /// was delivered, in recovery too, so the rate counts them all.
    pub(crate) fn measure(&mut self, now: Instant, bytes: u64, rtt: Duration, rtt_min: Duration) {
        self.rtt_min = Some(rtt_min);
        self.bandwidth.acked(now, bytes, rtt.max(SAMPLE_MIN));
        if self.inner.window() >= self.floor {
            self.floor = 0;
        }
    }
}

impl Controller for PathFloor {
    fn on_sent(&mut self, now: Instant, bytes: u64, last_packet_number: u64) {
        self.inner.on_sent(now, bytes, last_packet_number);
    }

    fn on_ack(
        &mut self,
        now: Instant,
        sent: Instant,
        bytes: u64,
        app_limited: bool,
        rtt: &quinn_proto::RttEstimator,
    ) {
        self.inner.on_ack(now, sent, bytes, app_limited, rtt);
        self.measure(now, bytes, rtt.get(), rtt.min());
    }

    fn on_end_acks(
        &mut self,
        now: Instant,
        in_flight: u64,
        app_limited: bool,
        largest_packet_num_acked: Option<u64>,
    ) {
        self.inner
            .on_end_acks(now, in_flight, app_limited, largest_packet_num_acked);
    }

    fn on_congestion_event(
        &mut self,
        now: Instant,
        sent: Instant,
        is_persistent_congestion: bool,
        lost_bytes: u64,
    ) {
        let before = self.window();
        self.inner
            .on_congestion_event(now, sent, is_persistent_congestion, lost_bytes);
        if is_persistent_congestion {
            self.floor = 0;
            self.recovery_start = Some(now);
            return;
        }
        if self.recovery_start.is_some_and(|start| sent <= start) {
            return;
        }
        self.recovery_start = Some(now);
        self.floor = self.path_floor().unwrap_or(0).min(before);
    }

    fn on_mtu_update(&mut self, new_mtu: u16) {
        self.inner.on_mtu_update(new_mtu);
    }

    fn window(&self) -> u64 {
        self.inner.window().max(self.floor)
    }

    fn metrics(&self) -> ControllerMetrics {
        let mut metrics = self.inner.metrics();
        metrics.congestion_window = self.window();
        metrics
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(self.clone())
    }

    fn initial_window(&self) -> u64 {
        self.inner.initial_window()
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// BBR's bottleneck-bandwidth estimate: the bytes acknowledged over each
/// round trip, and the highest of the last [`BANDWIDTH_SAMPLES`] of them.
/// A round trip's rate can only be lower than the link's (losses, a window
/// too small), so the highest recent one is the best guess of the link.
#[derive(Clone, Debug, Default)]
struct BandwidthFilter {
    /// Start of the sample being taken, and its bytes so far.
    sample_start: Option<Instant>,
    sample_bytes: u64,
    /// The last samples, in bytes per second, oldest first.
    samples: VecDeque<f64>,
}

impl BandwidthFilter {
    fn acked(&mut self, now: Instant, bytes: u64, sample_length: Duration) {
        let Some(start) = self.sample_start else {
            // The first sample starts here; these bytes left before it.
            self.sample_start = Some(now);
            return;
        };
        self.sample_bytes += bytes;
        let elapsed = now.saturating_duration_since(start);
        if elapsed < sample_length {
            return;
        }
        if self.samples.len() == BANDWIDTH_SAMPLES {
            self.samples.pop_front();
        }
        self.samples
            .push_back(self.sample_bytes as f64 / elapsed.as_secs_f64());
        self.sample_start = Some(now);
        self.sample_bytes = 0;
    }

    fn bytes_per_s(&self) -> Option<f64> {
        self.samples.iter().copied().reduce(f64::max)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// The edge link's downlink, 200 kbit/s, and its round trips.
    const RATE_BYTES_PER_S: u64 = 25_000;
    const RTT: Duration = Duration::from_millis(820);
    const RTT_MIN: Duration = Duration::from_millis(770);
    const TICK: Duration = Duration::from_millis(10);
    const MINIMUM_WINDOW: u64 = 2 * 1200;

    /// A stand-in for Cubic whose window the test sets, and which halves it
    /// on a congestion event.
    #[derive(Clone)]
    struct Halving(Arc<AtomicU64>);

    impl Controller for Halving {
        fn on_congestion_event(&mut self, _: Instant, _: Instant, persistent: bool, _: u64) {
            let window = self.0.load(Ordering::Relaxed);
            let cut = if persistent {
                MINIMUM_WINDOW
            } else {
                window / 2
            };
            self.0.store(cut, Ordering::Relaxed);
        }
        fn on_mtu_update(&mut self, _: u16) {}
        fn window(&self) -> u64 {
            self.0.load(Ordering::Relaxed)
        }
        fn clone_box(&self) -> Box<dyn Controller> {
            Box::new(self.clone())
        }
        fn initial_window(&self) -> u64 {
            12_000
        }
        fn into_any(self: Box<Self>) -> Box<dyn Any> {
            self
        }
    }

    /// A sender on the edge link: acknowledgements at `RATE_BYTES_PER_S` in
    /// 10 ms steps, a clock of its own, and the inner window in the test's
    /// hands.
    struct Path {
        controller: PathFloor,
        inner_window: Arc<AtomicU64>,
        now: Instant,
    }

    impl Path {
        fn new(inner_window: u64) -> Path {
            let shared = Arc::new(AtomicU64::new(inner_window));
            Path {
                controller: PathFloor::new(Box::new(Halving(shared.clone()))),
                inner_window: shared,
                now: Instant::now(),
            }
        }

        /// `duration` of acknowledgements at the path's rate.
        fn deliver(&mut self, duration: Duration) {
            self.deliver_at(RATE_BYTES_PER_S, duration);
        }

        fn deliver_at(&mut self, bytes_per_s: u64, duration: Duration) {
            let bytes_per_tick = bytes_per_s * TICK.as_millis() as u64 / 1000;
            for _ in 0..duration.as_millis() / TICK.as_millis() {
                self.now += TICK;
                self.controller
                    .measure(self.now, bytes_per_tick, RTT, RTT_MIN);
            }
        }

        /// A loss of a packet sent `ago`; `persistent` as quinn says.
        fn lose(&mut self, ago: Duration, persistent: bool) {
            self.now += TICK;
            self.controller
                .on_congestion_event(self.now, self.now - ago, persistent, 1200);
        }

        fn window(&self) -> u64 {
            self.controller.window()
        }
    }

    /// The floor the test path should get: its bytes with no queue, and
    /// a quarter more.
    fn path_floor(bytes_per_s: u64) -> u64 {
        (FLOOR_GAIN * bytes_per_s as f64 * RTT_MIN.as_secs_f64()) as u64
    }

    fn close_to(measured: u64, expected: u64) -> bool {
        (measured.abs_diff(expected) as f64) < 0.02 * expected as f64
    }

    fn measured(seconds: u64, inner_window: u64) -> Path {
        let mut path = Path::new(inner_window);
        path.deliver(Duration::from_secs(seconds));
        path
    }

    #[test]
    fn the_floor_follows_the_rate_acknowledgements_come_at() {
        let mut path = measured(20, 30_000);
        let floor = path
            .controller
            .path_floor()
            .expect("an estimate after 20 s");
        assert!(
            close_to(floor, path_floor(RATE_BYTES_PER_S)),
            "floor {floor} B"
        );
        // A few slow round trips (a bad spell) do not lower it: the
        // highest of the last ten counts.
        path.deliver_at(RATE_BYTES_PER_S / 2, RTT * 3);
        assert_eq!(path.controller.path_floor(), Some(floor));
        // A link that stays slower for ten round trips does.
        path.deliver_at(RATE_BYTES_PER_S / 2, RTT * 12);
        let slower = path.controller.path_floor().expect("an estimate");
        assert!(
            close_to(slower, path_floor(RATE_BYTES_PER_S / 2)),
            "floor {slower} B"
        );
    }

    #[test]
    fn a_random_loss_leaves_the_window_at_the_path_until_the_inner_one_regrows() {
        let mut path = measured(20, 30_000);
        let estimate = path.controller.path_floor().expect("an estimate");
        assert!(estimate > 15_000 && estimate < 30_000, "floor {estimate} B");
        path.lose(TICK / 2, false);
        // The inner controller cut to 15,000 B, below the path: the link
        // would idle until it regrew. The floor keeps what the path holds.
        assert_eq!(path.inner_window.load(Ordering::Relaxed), 15_000);
        assert_eq!(path.window(), estimate);
        // Another loss in the same recovery period is the same event.
        path.lose(Duration::from_secs(1), false);
        assert_eq!(path.window(), estimate);
        // Once the inner window is back above the floor, it rules alone,
        // and the next loss sets the floor anew from the window it cut.
        path.inner_window.store(estimate + 1200, Ordering::Relaxed);
        path.deliver(TICK);
        assert_eq!(path.window(), estimate + 1200);
        path.inner_window.store(estimate - 1200, Ordering::Relaxed);
        path.deliver(TICK);
        assert_eq!(path.window(), estimate - 1200, "the floor was cleared");
        path.lose(TICK / 2, false);
        assert_eq!(
            path.window(),
            estimate - 1200,
            "never above the window before the loss"
        );
    }

    #[test]
    fn without_an_estimate_the_inner_cut_stands() {
        let mut path = Path::new(12_000);
        path.lose(TICK / 2, false);
        assert_eq!(path.window(), 6_000);
    }

    #[test]
    fn persistent_congestion_falls_to_the_minimum_with_no_floor() {
        let mut path = measured(20, 30_000);
        path.lose(TICK / 2, true);
        assert_eq!(path.window(), MINIMUM_WINDOW);
    }

    #[test]
    fn a_window_far_above_the_path_is_cut_by_the_inner_controller() {
        // A queue built by real congestion: the inner cut is still above
        // the path, and the floor does not hold it up.
        let mut path = measured(20, 200_000);
        path.lose(TICK / 2, false);
        assert_eq!(path.window(), 100_000);
    }
}
