//! Reconnect delays: exponential backoff with full jitter.

use std::time::Duration;

/// How long to wait before each reconnect attempt: a random delay between zero and `min_delay * 2^attempt`,
/// capped at `max_delay` ("full jitter"), so that many clients cut off at once do not come back in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first attempt's delay.
    pub min_delay: Duration,
    /// The largest ceiling, reached after a few failed attempts.
    pub max_delay: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { min_delay: Duration::from_millis(500), max_delay: Duration::from_secs(30) }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (0 for the first after a loss), drawn at random.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_at(attempt, rand::random::<f64>())
    }

    /// The ceiling for `attempt`: `min_delay * 2^attempt`, at most `max_delay`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        // 2^20 times any sensible minimum is past any sensible maximum; capping the exponent avoids overflow.
        let factor = 1u32 << attempt.min(20);
        self.min_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The delay for `attempt` given `unit`, a number in `[0, 1)`: the deterministic part, for tests.
    fn delay_at(&self, attempt: u32, unit: f64) -> Duration {
        self.ceiling(attempt).mul_f64(unit.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ceilings_double_up_to_the_maximum() {
        let b = Backoff { min_delay: 100 * MS, max_delay: 1000 * MS };
        let ceilings: Vec<u128> = (0..6).map(|a| b.ceiling(a).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(u32::MAX), 1000 * MS, "no overflow on absurd attempt counts");
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let b = Backoff { min_delay: 100 * MS, max_delay: 1000 * MS };
        assert_eq!(b.delay_at(2, 0.0), Duration::ZERO);
        assert_eq!(b.delay_at(2, 0.5), 200 * MS);
        assert_eq!(b.delay_at(9, 0.25), 250 * MS);
        for attempt in 0..10 {
            for _ in 0..50 {
                assert!(b.delay(attempt) <= b.ceiling(attempt));
            }
        }
    }

    #[test]
    fn draws_differ() {
        let b = Backoff::default();
        let draws: std::collections::HashSet<Duration> = (0..20).map(|_| b.delay(3)).collect();
        assert!(draws.len() > 1, "jitter, not a fixed delay");
    }
}
