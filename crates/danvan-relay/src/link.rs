//! The model of one bad link: what happens to each datagram, decided from the
//! time it is sent and a seeded rng. Pure: time comes in as an argument
//! (microseconds since the link started), so tests drive it with a simulated
//! clock and a seed replays a run exactly.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Two-state Markov loss (Gilbert–Elliott): a good state with rare losses and
/// a bad state (a fade, a cell handover) where most datagrams are lost. The
/// state moves once per datagram, so losses come in bursts as on a real radio
/// link rather than independently.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GilbertElliott {
    /// Chance per datagram of going from good to bad.
    pub good_to_bad: f64,
    /// Chance per datagram of going from bad back to good; the mean burst
    /// length is `1 / bad_to_good` datagrams.
    pub bad_to_good: f64,
    /// Chance of losing a datagram in the good state.
    pub loss_good: f64,
    /// Chance of losing a datagram in the bad state.
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// No loss at all.
    pub const NONE: GilbertElliott = GilbertElliott {
        good_to_bad: 0.0,
        bad_to_good: 1.0,
        loss_good: 0.0,
        loss_bad: 0.0,
    };

    /// The long-run share of datagrams lost.
    pub fn mean_loss(&self) -> f64 {
        let total = self.good_to_bad + self.bad_to_good;
        if total == 0.0 {
            return self.loss_good;
        }
        let bad_share = self.good_to_bad / total;
        bad_share * self.loss_bad + (1.0 - bad_share) * self.loss_good
    }
}

/// One direction of a link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DirectionProfile {
    /// One-way propagation delay in ms.
    pub delay_ms: u64,
    /// Extra delay drawn uniformly from `0..=jitter_ms` per datagram. The link
    /// stays first-in first-out (a datagram never overtakes an earlier one),
    /// as on a cellular bearer.
    pub jitter_ms: u64,
    /// Bandwidth cap in bits per second; 0 means no cap.
    pub rate_bits_per_s: u64,
    /// Bytes the token bucket lets through at once after an idle spell.
    pub burst_bytes: u64,
    /// Bytes that may wait for the link; a datagram that would go past this
    /// is dropped (drop-tail), as a modem's buffer does.
    pub queue_bytes_max: u64,
    /// Random and bursty loss.
    pub loss: GilbertElliott,
}

impl DirectionProfile {
    /// A direction that changes nothing.
    pub const CLEAN: DirectionProfile = DirectionProfile {
        delay_ms: 0,
        jitter_ms: 0,
        rate_bits_per_s: 0,
        burst_bytes: 0,
        queue_bytes_max: u64::MAX,
        loss: GilbertElliott::NONE,
    };
}

/// Scheduled outages: the link is up for `up_ms`, then down for `down_ms`,
/// `count` times, then up for good. Both directions go down together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outages {
    /// Time up before each outage, in ms.
    pub up_ms: u64,
    /// Length of each outage, in ms.
    pub down_ms: u64,
    /// Outages in all; `u32::MAX` for a link that never settles.
    pub count: u32,
}

impl Outages {
    /// Whether the link is up at `now_us` since it started.
    pub fn is_up(&self, now_us: u64) -> bool {
        let period_us = (self.up_ms + self.down_ms).saturating_mul(1000);
        if self.down_ms == 0 || period_us == 0 {
            return true;
        }
        let cycle = now_us / period_us;
        if cycle >= u64::from(self.count) {
            return true;
        }
        now_us % period_us < self.up_ms * 1000
    }

    /// Outages that have started by `now_us`.
    pub fn started(&self, now_us: u64) -> u32 {
        let period_us = (self.up_ms + self.down_ms).saturating_mul(1000);
        if self.down_ms == 0 || period_us == 0 {
            return 0;
        }
        let begun = (now_us + period_us - self.up_ms * 1000) / period_us;
        u32::try_from(begun).unwrap_or(u32::MAX).min(self.count)
    }
}

/// A named link: both directions and the outage schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkProfile {
    /// From the client (the node that dials) towards the upstream.
    pub up: DirectionProfile,
    /// From the upstream back to the client.
    pub down: DirectionProfile,
    /// Scheduled outages, if any.
    pub outages: Option<Outages>,
}

/// The profile names [`LinkProfile::named`] knows.
pub const PROFILE_NAMES: &[&str] = &["clean", "edge", "3g", "flaky"];

impl LinkProfile {
    /// A link that changes nothing (a baseline to compare against).
    pub fn clean() -> LinkProfile {
        LinkProfile {
            up: DirectionProfile::CLEAN,
            down: DirectionProfile::CLEAN,
            outages: None,
        }
    }

    /// 2G EDGE at a commune office: about 200 kbit/s down and 80 kbit/s up,
    /// 800 ms round trip, 3–5 % loss in bursts.
    pub fn edge() -> LinkProfile {
        // Mean loss 4 %: 1 % in the good state, 50 % in bad states of about
        // 3 datagrams (bad_to_good 0.3); good_to_bad solves
        // 0.01 + 0.49 · p / (p + 0.3) = 0.04.
        let loss = GilbertElliott {
            good_to_bad: 0.0196,
            bad_to_good: 0.3,
            loss_good: 0.01,
            loss_bad: 0.5,
        };
        let direction = |rate_bits_per_s: u64| DirectionProfile {
            delay_ms: 370,
            jitter_ms: 60,
            rate_bits_per_s,
            burst_bytes: 3_000,
            // About 2.5 s of the downlink rate: a modem's deep buffer.
            queue_bytes_max: 64 * 1024,
            loss,
        };
        LinkProfile {
            up: direction(80_000),
            down: direction(200_000),
            outages: None,
        }
    }

    /// 3G: about 1 Mbit/s down and 384 kbit/s up, 300 ms round trip, 1–2 %
    /// loss in shorter bursts.
    pub fn three_g() -> LinkProfile {
        // Mean loss 1.5 %: 0.5 % good, 30 % bad, bursts of about 2.5.
        let loss = GilbertElliott {
            good_to_bad: 0.0140,
            bad_to_good: 0.4,
            loss_good: 0.005,
            loss_bad: 0.3,
        };
        let direction = |rate_bits_per_s: u64| DirectionProfile {
            delay_ms: 135,
            jitter_ms: 30,
            rate_bits_per_s,
            burst_bytes: 6_000,
            queue_bytes_max: 128 * 1024,
            loss,
        };
        LinkProfile {
            up: direction(384_000),
            down: direction(1_000_000),
            outages: None,
        }
    }

    /// 3G that drops out: 30 s up, 60 s down, for good.
    pub fn flaky() -> LinkProfile {
        LinkProfile {
            outages: Some(Outages {
                up_ms: 30_000,
                down_ms: 60_000,
                count: u32::MAX,
            }),
            ..LinkProfile::three_g()
        }
    }

    /// The profile of a name in [`PROFILE_NAMES`].
    pub fn named(name: &str) -> Option<LinkProfile> {
        match name {
            "clean" => Some(LinkProfile::clean()),
            "edge" => Some(LinkProfile::edge()),
            "3g" => Some(LinkProfile::three_g()),
            "flaky" => Some(LinkProfile::flaky()),
            _ => None,
        }
    }
}

/// Why a datagram did not arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// The link was down (a scheduled outage).
    Outage,
    /// The queue in front of the bandwidth cap was full (drop-tail).
    QueueFull,
    /// Lost on the air (Gilbert–Elliott).
    Loss,
}

/// What becomes of one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It arrives at this time (µs since the link started).
    Deliver {
        /// Arrival time in µs.
        at_us: u64,
    },
    /// It is lost.
    Dropped(Drop),
}

/// One direction of a link in motion: its queue, loss state and rng.
#[derive(Debug)]
pub struct Direction {
    profile: DirectionProfile,
    outages: Option<Outages>,
    rng: ChaCha8Rng,
    /// When the bandwidth cap has sent everything admitted so far. May lag
    /// behind now by up to the burst allowance (the token bucket's credit).
    link_free_at_us: u64,
    /// Arrival time of the last datagram delivered: later ones never arrive
    /// before it.
    last_arrival_us: u64,
    bad_state: bool,
}

impl Direction {
    /// A direction of `profile`, going down during `outages`, drawing from `seed`.
    pub fn new(profile: DirectionProfile, outages: Option<Outages>, seed: u64) -> Direction {
        Direction {
            profile,
            outages,
            rng: ChaCha8Rng::seed_from_u64(seed),
            link_free_at_us: 0,
            last_arrival_us: 0,
            bad_state: false,
        }
    }

    /// Whether the link is up at `now_us`.
    pub fn is_up(&self, now_us: u64) -> bool {
        self.outages.is_none_or(|o| o.is_up(now_us))
    }

    /// Bytes waiting for the bandwidth cap at `now_us`.
    pub fn queued_bytes(&self, now_us: u64) -> u64 {
        let rate = self.profile.rate_bits_per_s;
        if rate == 0 {
            return 0;
        }
        let wait_us = self.link_free_at_us.saturating_sub(now_us);
        (u128::from(wait_us) * u128::from(rate) / 8_000_000) as u64
    }

    /// Sends a datagram of `bytes` at `now_us`. Times passed in must not go
    /// backwards.
    pub fn send(&mut self, now_us: u64, bytes: usize) -> Fate {
        if !self.is_up(now_us) {
            return Fate::Dropped(Drop::Outage);
        }
        let bytes = bytes as u64;
        let p = self.profile;
        // The token bucket: the link sends at `rate`, with a credit of
        // `burst_bytes` after an idle spell, and a bounded queue before it.
        let departure_us = if p.rate_bits_per_s == 0 {
            now_us
        } else {
            if self.queued_bytes(now_us) + bytes > p.queue_bytes_max {
                return Fate::Dropped(Drop::QueueFull);
            }
            let burst_us = airtime_us(p.burst_bytes, p.rate_bits_per_s);
            let start_us = self.link_free_at_us.max(now_us.saturating_sub(burst_us));
            self.link_free_at_us = start_us + airtime_us(bytes, p.rate_bits_per_s);
            self.link_free_at_us.max(now_us)
        };
        // The datagram took its airtime whether or not it gets through.
        let switch = if self.bad_state {
            p.loss.bad_to_good
        } else {
            p.loss.good_to_bad
        };
        if self.rng.gen_bool(switch.clamp(0.0, 1.0)) {
            self.bad_state = !self.bad_state;
        }
        let loss = if self.bad_state {
            p.loss.loss_bad
        } else {
            p.loss.loss_good
        };
        let lost = self.rng.gen_bool(loss.clamp(0.0, 1.0));
        let jitter_us = if p.jitter_ms == 0 {
            0
        } else {
            self.rng.gen_range(0..=p.jitter_ms * 1000)
        };
        if lost {
            return Fate::Dropped(Drop::Loss);
        }
        let at_us = (departure_us + p.delay_ms * 1000 + jitter_us).max(self.last_arrival_us);
        // A datagram that would land inside an outage is lost with the link.
        if !self.is_up(at_us) {
            return Fate::Dropped(Drop::Outage);
        }
        self.last_arrival_us = at_us;
        Fate::Deliver { at_us }
    }
}

/// Time in µs to send `bytes` at `rate_bits_per_s` (not 0).
fn airtime_us(bytes: u64, rate_bits_per_s: u64) -> u64 {
    bytes.saturating_mul(8_000_000) / rate_bits_per_s.max(1)
}

/// Both directions of one client's link.
#[derive(Debug)]
pub struct Link {
    /// Client towards upstream.
    pub up: Direction,
    /// Upstream towards client.
    pub down: Direction,
}

impl Link {
    /// A link of `profile`; each direction draws from its own stream of `seed`.
    pub fn new(profile: &LinkProfile, seed: u64) -> Link {
        Link {
            up: Direction::new(profile.up, profile.outages, seed.wrapping_mul(2)),
            down: Direction::new(
                profile.down,
                profile.outages,
                seed.wrapping_mul(2).wrapping_add(1),
            ),
        }
    }
}
