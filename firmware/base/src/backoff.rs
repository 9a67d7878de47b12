//! Capped exponential backoff: `min`, `2·min`, `4·min`, … up to `max`. A plain
//! value with no clock: the caller sleeps (or blocks a client) for the delay.

use std::time::Duration;

/// Delays between retries; [`Backoff::succeeded`] starts again from `min`.
#[derive(Clone, Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    /// Failures since the last success (or since creation).
    failures: u32,
}

impl Backoff {
    /// Delays from `min` doubling up to `max` (`max` below `min` means `min`).
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff { min, max: max.max(min), failures: 0 }
    }

    /// The delay after `n` earlier failures: `min · 2ⁿ`, at most `max` (never overflows).
    pub fn nth(min: Duration, max: Duration, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n).unwrap_or(u32::MAX);
        min.saturating_mul(factor).min(max.max(min))
    }

    /// The delay [`Backoff::failed`] will return next.
    pub fn next_delay(&self) -> Duration {
        Self::nth(self.min, self.max, self.failures)
    }

    /// An attempt failed: how long to wait before the next one.
    pub fn failed(&mut self) -> Duration {
        let d = self.next_delay();
        self.failures = self.failures.saturating_add(1);
        d
    }

    /// An attempt succeeded (e.g. a session delivered media): start again from `min`.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(4));
        let got: Vec<u64> = (0..6).map(|_| b.failed().as_millis() as u64).collect();
        assert_eq!(got, vec![500, 1000, 2000, 4000, 4000, 4000]);
        b.succeeded();
        assert_eq!(b.next_delay(), Duration::from_millis(500));
        assert_eq!(b.failed(), Duration::from_millis(500));
    }

    #[test]
    fn nth_never_overflows_and_respects_the_cap() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(300));
        assert_eq!(Backoff::nth(min, max, 0), min);
        assert_eq!(Backoff::nth(min, max, 3), Duration::from_secs(8));
        assert_eq!(Backoff::nth(min, max, 20), max);
        assert_eq!(Backoff::nth(min, max, 200), max);
        assert_eq!(Backoff::nth(Duration::MAX, Duration::MAX, 5), Duration::MAX);
        let mut b = Backoff::new(min, max);
        for _ in 0..100 {
            assert!(b.failed() <= max);
        }
    }
}
