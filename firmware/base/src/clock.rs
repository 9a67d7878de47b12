//! Time as the firmware sees it: wall time in µs since the Unix epoch (what
//! segments, retention and the API are stamped with) and a monotonic instant
//! (for intervals that must not jump with the wall clock).
//!
//! Logic that depends on the time takes a [`SharedClock`] instead of reading
//! the system clock, so tests drive it with a [`SimClock`] and never sleep
//! (the model is Moonfire NVR's `Clocks` with its real and simulated clocks).

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of wall and monotonic time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Wall-clock time in µs since the Unix epoch (0 before the epoch).
    fn now_us(&self) -> i64;

    /// Time since a fixed, arbitrary origin of this clock; never goes backwards.
    fn monotonic(&self) -> Duration;
}

/// A clock shared by everything that depends on it (cheap to clone).
pub type SharedClock = Arc<dyn Clock>;

/// The real wall clock, in µs since the Unix epoch (0 if the system clock is before 1970,
/// `i64::MAX` past the year 294 247). The one place the firmware reads the system time for
/// timestamps; logic that decides on time takes a [`SharedClock`] instead.
pub fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The system's clocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock as a [`SharedClock`] (the default wherever a clock is injected).
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    fn now_us(&self) -> i64 {
        now_us()
    }

    fn monotonic(&self) -> Duration {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }
}

/// A simulated clock for tests: time moves only when the test says so. Clones share one
/// time, so a test keeps a clone and advances the clock it handed to the code under test.
#[derive(Clone, Debug)]
pub struct SimClock(Arc<SimTime>);

#[derive(Debug)]
struct SimTime {
    wall_us: AtomicI64,
    monotonic_us: AtomicU64,
}

impl SimClock {
    /// A clock reading `wall_us` (µs since the epoch), monotonic time zero.
    pub fn new(wall_us: i64) -> Self {
        SimClock(Arc::new(SimTime { wall_us: AtomicI64::new(wall_us), monotonic_us: AtomicU64::new(0) }))
    }

    /// Moves both wall and monotonic time forward by `d`.
    pub fn advance(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.0.wall_us.fetch_add(i64::try_from(us).unwrap_or(i64::MAX), Ordering::SeqCst);
        self.0.monotonic_us.fetch_add(us, Ordering::SeqCst);
    }

    /// Steps the wall clock to `wall_us` (as NTP might, either way); monotonic time is unchanged.
    pub fn set_wall_us(&self, wall_us: i64) {
        self.0.wall_us.store(wall_us, Ordering::SeqCst);
    }

    /// This clock as a [`SharedClock`] (sharing its time with `self`).
    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }
}

impl Clock for SimClock {
    fn now_us(&self) -> i64 {
        self.0.wall_us.load(Ordering::SeqCst)
    }

    fn monotonic(&self) -> Duration {
        Duration::from_micros(self.0.monotonic_us.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_after_2020_and_monotonic() {
        let c = SystemClock::shared();
        assert!(c.now_us() > 1_577_836_800_000_000, "{}", c.now_us());
        let (a, b) = (c.monotonic(), c.monotonic());
        assert!(b >= a);
    }

    #[test]
    fn sim_clock_moves_only_when_told_and_clones_share_time() {
        let sim = SimClock::new(1_700_000_000_000_000);
        let shared = sim.shared();
        assert_eq!(shared.now_us(), 1_700_000_000_000_000);
        assert_eq!(shared.monotonic(), Duration::ZERO);
        sim.advance(Duration::from_millis(1500));
        assert_eq!(shared.now_us(), 1_700_000_001_500_000);
        assert_eq!(shared.monotonic(), Duration::from_millis(1500));
        // A wall-clock step backwards leaves monotonic time alone.
        sim.set_wall_us(5);
        assert_eq!((shared.now_us(), shared.monotonic()), (5, Duration::from_millis(1500)));
    }
}
