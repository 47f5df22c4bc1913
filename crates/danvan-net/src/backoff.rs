//! How long to wait before dialing a peer again.
//!
//! Pure arithmetic: the caller brings the randomness, so that the simulator and
//! tests can replay a schedule from a seed.

/// Exponential backoff with full jitter and a bounded number of retries.
///
/// Before retry `attempt` (counting from 0) the ceiling is
/// `min(max_ms, base_ms × multiplier^attempt)`, and the delay is drawn
/// uniformly from `0..=ceiling`. Full jitter spreads out the many commune
/// nodes that lose the hub at the same moment, so that they do not all dial
/// it again in the same second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first delay.
    pub base_ms: u64,
    /// No delay is longer than this.
    pub max_ms: u64,
    /// Growth of the ceiling per attempt.
    pub multiplier: u32,
    /// Retries after the first try; then the caller gives up and reports.
    pub retries_max: u32,
}

impl Default for Backoff {
    /// 0.5 s growing to at most 1 min, 8 retries: a few minutes of trying
    /// before the error reaches the user, who may retry by hand.
    fn default() -> Self {
        Backoff {
            base_ms: 500,
            max_ms: 60_000,
            multiplier: 2,
            retries_max: 8,
        }
    }
}

impl Backoff {
    /// The largest delay before retry `attempt`; never overflows.
    pub fn ceiling_ms(&self, attempt: u32) -> u64 {
        u64::from(self.multiplier)
            .checked_pow(attempt)
            .and_then(|factor| self.base_ms.checked_mul(factor))
            .map_or(self.max_ms, |ceiling| ceiling.min(self.max_ms))
    }

    /// The delay before retry `attempt` given a uniformly random `random`, or
    /// `None` once `retries_max` retries have been used.
    pub fn delay_ms(&self, attempt: u32, random: u64) -> Option<u64> {
        if attempt >= self.retries_max {
            return None;
        }
        // The modulo bias is below 2^-40 for any ceiling a person would configure.
        Some(random % self.ceiling_ms(attempt).saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        base_ms: 100,
        max_ms: 1_000,
        multiplier: 2,
        retries_max: 5,
    };

    #[test]
    fn ceiling_grows_by_the_multiplier_and_stops_at_the_maximum() {
        let ceilings: Vec<u64> = (0..6).map(|a| BACKOFF.ceiling_ms(a)).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
        // Huge attempts and multipliers saturate instead of overflowing.
        assert_eq!(BACKOFF.ceiling_ms(u32::MAX), 1_000);
        let steep = Backoff {
            multiplier: u32::MAX,
            max_ms: u64::MAX,
            ..BACKOFF
        };
        assert_eq!(steep.ceiling_ms(3), u64::MAX);
        assert!(steep.delay_ms(3, u64::MAX).is_some());
    }

    #[test]
    fn delay_is_jittered_within_zero_and_the_ceiling() {
        for attempt in 0..BACKOFF.retries_max {
            let ceiling = BACKOFF.ceiling_ms(attempt);
            assert_eq!(BACKOFF.delay_ms(attempt, 0), Some(0));
            assert_eq!(BACKOFF.delay_ms(attempt, ceiling), Some(ceiling));
            assert_eq!(BACKOFF.delay_ms(attempt, ceiling + 1), Some(0));
            for random in [1, 7, 12_345, u64::MAX / 3, u64::MAX] {
                let delay = BACKOFF.delay_ms(attempt, random).unwrap();
                assert!(delay <= ceiling, "attempt {attempt}: {delay} > {ceiling}");
            }
        }
        // Different random inputs give different delays: the jitter is real.
        let delays: std::collections::BTreeSet<u64> = (0..50u64)
            .filter_map(|r| BACKOFF.delay_ms(3, r * 7_919))
            .collect();
        assert!(delays.len() > 10, "{delays:?}");
    }

    #[test]
    fn retries_are_bounded() {
        assert!(BACKOFF.delay_ms(4, 1).is_some());
        assert_eq!(BACKOFF.delay_ms(5, 1), None);
        assert_eq!(BACKOFF.delay_ms(u32::MAX, 1), None);
        let never = Backoff {
            retries_max: 0,
            ..BACKOFF
        };
        assert_eq!(never.delay_ms(0, 1), None);
    }
}
