//! Maps a stream's 90 kHz presentation times to wall-clock time.
//!
//! Policy (camera quirk, `wall_clock` of the camera's policy): under `auto`
//! the camera's RTCP sender reports are trusted when they agree with the
//! local clock within `max_skew`; a camera whose clock is far off (never
//! set, wrong time zone) is timed by arrival instead, so recordings land
//! where the operator expects them on the timeline. Under `arrival` sender
//! reports are never used for the wall clock (a camera whose clock drifts
//! or jumps while staying within `max_skew`).

use hotspare_camera_policy::WallClockSource;

/// Wall-clock mapping of one RTP session.
#[derive(Clone, Debug)]
pub struct WallClock {
    max_skew_us: i64,
    source: WallClockSource,
    /// (pts, wall µs) anchor.
    anchor: Option<(i64, i64)>,
    from_rtcp: bool,
    /// Sender reports rejected for skew (or not used: `arrival`).
    pub rejected_reports: u64,
}

impl WallClock {
    pub fn new(max_skew_us: i64, source: WallClockSource) -> Self {
        WallClock { max_skew_us, source, anchor: None, from_rtcp: false, rejected_reports: 0 }
    }

    /// A sender report arrived at local time `now_us`; `near_pts` is any
    /// recent extended pts used to extend the report's 32-bit timestamp.
    pub fn on_sender_report(&mut self, rtp_ts: u32, sr_wall_us: i64, near_pts: i64, now_us: i64) {
        if self.source == WallClockSource::Arrival || (sr_wall_us - now_us).abs() > self.max_skew_us {
            self.rejected_reports += 1;
            return;
        }
        let ext = near_pts + rtp_ts.wrapping_sub(near_pts as u32) as i32 as i64;
        self.anchor = Some((ext, sr_wall_us));
        self.from_rtcp = true;
    }

    /// Wall time of a frame with extended `pts` that completed at local
    /// time `now_us`.
    pub fn wall_us(&mut self, pts: i64, now_us: i64) -> i64 {
        let (p0, w0) = *self.anchor.get_or_insert((pts, now_us));
        w0 + (pts - p0) * 1_000_000 / 90_000
    }

    /// True once a sender report set the mapping.
    pub fn from_rtcp(&self) -> bool {
        self.from_rtcp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_anchor_then_pts_steps() {
        let mut c = WallClock::new(300_000_000, WallClockSource::Auto);
        assert_eq!(c.wall_us(1000, 5_000_000), 5_000_000);
        assert_eq!(c.wall_us(1000 + 90_000, 9_999_999), 6_000_000);
    }

    #[test]
    fn sender_report_wins_when_sane_and_handles_wrap() {
        let mut c = WallClock::new(300_000_000, WallClockSource::Auto);
        c.wall_us(10, 1_000_000_000);
        let near = (u32::MAX as i64) + 100; // pts past a wrap
        c.on_sender_report(50, 1_000_500_000, near, 1_000_400_000);
        assert!(c.from_rtcp());
        // Report's 32-bit ts 50 extends to 2^32 + 50, just before `near`.
        assert_eq!(c.wall_us((1i64 << 32) + 50 + 9000, 0), 1_000_600_000);
    }

    #[test]
    fn skewed_camera_clock_is_ignored() {
        let mut c = WallClock::new(300_000_000, WallClockSource::Auto);
        c.on_sender_report(0, 0, 0, 1_700_000_000_000_000);
        assert!(!c.from_rtcp());
        assert_eq!(c.rejected_reports, 1);
    }

    #[test]
    fn arrival_policy_never_takes_a_sender_report() {
        let mut c = WallClock::new(300_000_000, WallClockSource::Arrival);
        assert_eq!(c.wall_us(0, 5_000_000), 5_000_000);
        // A sane report (within the skew) that would move the anchor by 0.5 s.
        c.on_sender_report(0, 5_500_000, 0, 5_000_000);
        assert!(!c.from_rtcp());
        assert_eq!(c.rejected_reports, 1);
        assert_eq!(c.wall_us(90_000, 6_000_000), 6_000_000);
    }
}
