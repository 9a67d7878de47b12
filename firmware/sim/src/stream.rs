//! Media pacing of one playing session: which video frame, audio packet and
//! RTCP sender report is due when, on an absolute schedule from the PLAY
//! instant (no drift), with RTP timestamps that keep increasing across clip
//! loops.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::audio::{CLOCK_RATE as AUDIO_RATE, SAMPLES_PER_PACKET};
use crate::packetize::{PacketizedFrame, RtpStream};

/// RTP clock rate of video.
pub const VIDEO_RATE: u32 = 90_000;
/// Interval between RTCP sender reports.
pub const SR_INTERVAL: Duration = Duration::from_secs(5);
/// Duration of one audio packet.
pub const AUDIO_PACKET: Duration = Duration::from_millis(20);
/// Seconds from 1900 (NTP epoch) to 1970 (Unix epoch).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Schedule and RTP state of a playing session.
#[derive(Debug)]
pub struct Playout {
    pub start: Instant,
    pub fps: u32,
    pub video: RtpStream,
    pub video_ts0: u32,
    /// Index of the next video frame (counts across loops).
    pub frame_idx: u64,
    pub audio: Option<(RtpStream, u32)>,
    pub audio_idx: u64,
    pub next_sr: Instant,
}

impl Playout {
    /// Starts at `start`; the first frame and a first sender report are due at once.
    pub fn new(start: Instant, fps: u32, video: RtpStream, video_ts0: u32, audio: Option<(RtpStream, u32)>) -> Self {
        Playout { start, fps, video, video_ts0, frame_idx: 0, audio, audio_idx: 0, next_sr: start }
    }

    fn frame_due(&self, k: u64) -> Instant {
        self.start + Duration::from_nanos(k * 1_000_000_000 / self.fps as u64)
    }

    fn frame_ts(&self, k: u64) -> u32 {
        self.video_ts0.wrapping_add((k * VIDEO_RATE as u64 / self.fps as u64) as u32)
    }

    fn audio_due(&self, j: u64) -> Instant {
        self.start + AUDIO_PACKET * j as u32
    }

    /// The next instant something is due.
    pub fn next_deadline(&self) -> Instant {
        let mut t = self.frame_due(self.frame_idx).min(self.next_sr);
        if self.audio.is_some() {
            t = t.min(self.audio_due(self.audio_idx));
        }
        t
    }

    /// How far behind schedule the next video frame is at `now`.
    pub fn lag(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.frame_due(self.frame_idx))
    }

    /// Appends everything due at `now` to `out`; returns the number of video frames.
    pub fn produce(
        &mut self,
        now: Instant,
        frames: &[PacketizedFrame],
        tone: &[u8],
        cname: &str,
        out: &mut Vec<u8>,
    ) -> u64 {
        let mut n = 0;
        if self.next_sr <= now {
            self.write_reports(now, cname, out);
            self.next_sr += SR_INTERVAL;
            if self.next_sr <= now {
                self.next_sr = now + SR_INTERVAL;
            }
        }
        while self.frame_due(self.frame_idx) <= now {
            let frame = &frames[(self.frame_idx % frames.len() as u64) as usize];
            let ts = self.frame_ts(self.frame_idx);
            self.video.write_frame(out, frame, ts);
            self.frame_idx += 1;
            n += 1;
        }
        if self.audio.is_some() {
            while self.audio_due(self.audio_idx) <= now {
                let j = self.audio_idx;
                if let Some((a, ts0)) = &mut self.audio {
                    let ts = ts0.wrapping_add((j * SAMPLES_PER_PACKET as u64) as u32);
                    a.write_packet(out, tone, ts, j == 0);
                }
                self.audio_idx += 1;
            }
        }
        n
    }

    /// Sender reports for every stream: wall-clock NTP time and the RTP time
    /// of the same instant on the session's schedule.
    fn write_reports(&self, now: Instant, cname: &str, out: &mut Vec<u8>) {
        let ntp = ntp_now();
        let elapsed = now.saturating_duration_since(self.start).as_nanos() as u64;
        let vts = self.video_ts0.wrapping_add((elapsed as u128 * VIDEO_RATE as u128 / 1_000_000_000) as u32);
        self.video.write_sender_report(out, ntp, vts, cname);
        if let Some((a, ts0)) = &self.audio {
            let ats = ts0.wrapping_add((elapsed as u128 * AUDIO_RATE as u128 / 1_000_000_000) as u32);
            a.write_sender_report(out, ntp, ats, cname);
        }
    }
}

/// The wall clock as a 64-bit NTP timestamp.
pub fn ntp_now() -> u64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() + NTP_UNIX_OFFSET;
    let frac = ((d.subsec_nanos() as u64) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn timestamps_continue_across_loops() {
        let frames = vec![PacketizedFrame { payloads: vec![vec![0x65]], keyframe: true, bytes: 1 }; 3];
        let start = Instant::now();
        let mut p = Playout::new(start, 25, RtpStream::new(96, 0), 1000, None);
        let mut out = Vec::new();
        // At start: one SR and frame 0.
        assert_eq!(p.produce(start, &frames, &[], "c", &mut out), 1);
        // 1 s later: frames 1..=25 (the 3-frame clip looped 8 times).
        out.clear();
        assert_eq!(p.produce(start + Duration::from_secs(1), &frames, &[], "c", &mut out), 25);
        assert_eq!(p.frame_ts(25), 1000 + 90_000);
        assert_eq!(p.next_deadline(), start + Duration::from_millis(1040));
    }
}
