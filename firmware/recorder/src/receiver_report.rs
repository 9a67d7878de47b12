//! RTCP receiver reports (RFC 3550 §6.4.2) of one session: the reception
//! statistics of the camera's video stream (extended highest sequence
//! number, cumulative and fractional loss, interarrival jitter, the last
//! sender report and the delay since it, per Appendix A.1/A.3/A.8), and the
//! compound RR + SDES CNAME packet sent to the camera every few seconds.
//! Fixed-size state and an output array: nothing is allocated per packet.

use std::time::Duration;

use hotspare_media::rtp::RtpPacket;
use tokio::time::Instant;

/// Interval between receiver reports.
pub const RR_INTERVAL: Duration = Duration::from_secs(5);
/// CNAME of our SDES item.
const CNAME: &[u8] = b"hotspare";
/// Largest report we write: RR with one block (32) + SDES with CNAME (20).
pub const MAX_REPORT: usize = 64;

/// Reception statistics of one RTP source.
#[derive(Debug)]
pub struct ReceiverStats {
    /// Our SSRC, the report's sender.
    own_ssrc: u32,
    payload_type: u8,
    clock_rate: u32,
    start: Instant,
    source: Option<u32>,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Previous `arrival - timestamp`, in RTP units.
    transit: Option<u32>,
    /// Jitter scaled by 16 (Appendix A.8).
    jitter16: u32,
    /// Middle 32 bits of the last sender report's NTP time, and when it arrived.
    last_sr: Option<(u32, Instant)>,
}

impl ReceiverStats {
    /// Statistics of the stream of `payload_type` at `clock_rate` Hz, reported as `own_ssrc`.
    pub fn new(own_ssrc: u32, payload_type: u8, clock_rate: u32, start: Instant) -> Self {
        ReceiverStats {
            own_ssrc,
            payload_type,
            clock_rate: clock_rate.max(1),
            start,
            source: None,
            base_seq: 0,
            max_seq: 0,
            cycles: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter16: 0,
            last_sr: None,
        }
    }

    /// The SSRC reported on (the first seen with our payload type).
    pub fn source(&self) -> Option<u32> {
        self.source
    }

    /// Counts an RTP packet that arrived at `at`. Packets of another payload
    /// type or SSRC, and malformed ones, are not ours and not counted.
    pub fn on_rtp(&mut self, packet: &[u8], at: Instant) {
        let Ok(p) = RtpPacket::parse(packet) else { return };
        if p.payload_type() != self.payload_type {
            return;
        }
        let seq = p.sequence();
        match self.source {
            None => {
                self.source = Some(p.ssrc());
                self.base_seq = seq as u32;
                self.max_seq = seq;
            }
            Some(s) if s != p.ssrc() => return,
            Some(_) => {
                let delta = seq.wrapping_sub(self.max_seq);
                if delta != 0 && delta < 0x8000 {
                    if seq < self.max_seq {
                        self.cycles = self.cycles.wrapping_add(1 << 16);
                    }
                    self.max_seq = seq;
                }
            }
        }
        self.received += 1;
        let elapsed = at.saturating_duration_since(self.start).as_nanos();
        let arrival = (elapsed * self.clock_rate as u128 / 1_000_000_000) as u32;
        let transit = arrival.wrapping_sub(p.timestamp());
        if let Some(prev) = self.transit {
            let d = (transit.wrapping_sub(prev) as i32).unsigned_abs();
            // J += (|D| - J) / 16, kept scaled by 16.
            self.jitter16 = self.jitter16.wrapping_add(d).wrapping_sub((self.jitter16 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Remembers a sender report of our source (NTP time `ntp`) that arrived at `at`.
    pub fn on_sender_report(&mut self, ssrc: u32, ntp: u64, at: Instant) {
        if !matches!(self.source, Some(s) if s != ssrc) {
            self.last_sr = Some(((ntp >> 16) as u32, at));
        }
    }

    fn extended_max(&self) -> u64 {
        self.cycles as u64 + self.max_seq as u64
    }

    /// Packets expected minus packets received since the start (RFC 3550 A.3).
    pub fn cumulative_lost(&self) -> i64 {
        if self.source.is_none() {
            return 0;
        }
        let expected = self.extended_max() + 1 - self.base_seq as u64;
        expected as i64 - self.received as i64
    }

    /// Writes a compound RR (one report block once a packet arrived) + SDES
    /// CNAME into `out` (at least [`MAX_REPORT`] bytes); returns its length.
    /// Starts a new interval for the fraction lost.
    pub fn write_report(&mut self, now: Instant, out: &mut [u8]) -> usize {
        let mut n = 0;
        let mut put = |b: &[u8]| {
            out[n..n + b.len()].copy_from_slice(b);
            n += b.len();
        };
        match self.source {
            None => {
                put(&[0x80, 201, 0, 1]);
                put(&self.own_ssrc.to_be_bytes());
            }
            Some(source) => {
                let expected = self.extended_max() + 1 - self.base_seq as u64;
                let lost = (expected as i64 - self.received as i64).clamp(-0x80_0000, 0x7f_ffff);
                let expected_interval = expected.saturating_sub(self.expected_prior);
                let received_interval = self.received.saturating_sub(self.received_prior);
                self.expected_prior = expected;
                self.received_prior = self.received;
                let lost_interval = expected_interval as i64 - received_interval as i64;
                let fraction = if expected_interval == 0 || lost_interval <= 0 {
                    0
                } else {
                    (lost_interval << 8) / expected_interval as i64
                };
                let (lsr, dlsr) = match self.last_sr {
                    Some((lsr, at)) => {
                        let d = now.saturating_duration_since(at);
                        (lsr, (d.as_nanos() * 65_536 / 1_000_000_000).min(u32::MAX as u128) as u32)
                    }
                    None => (0, 0),
                };
                put(&[0x81, 201, 0, 7]);
                put(&self.own_ssrc.to_be_bytes());
                put(&source.to_be_bytes());
                let lost24 = (lost as i32 as u32) & 0x00ff_ffff;
                put(&((fraction.min(255) as u32) << 24 | lost24).to_be_bytes());
                put(&(self.extended_max() as u32).to_be_bytes());
                put(&(self.jitter16 >> 4).to_be_bytes());
                put(&lsr.to_be_bytes());
                put(&dlsr.to_be_bytes());
            }
        }
        // SDES: one chunk with CNAME, then the END item and padding to 32 bits.
        let sdes_len = (8 + 2 + CNAME.len() + 1).div_ceil(4) * 4;
        put(&[0x81, 202, 0, (sdes_len / 4 - 1) as u8]);
        put(&self.own_ssrc.to_be_bytes());
        put(&[1, CNAME.len() as u8]);
        put(CNAME);
        let pad = sdes_len - (8 + 2 + CNAME.len());
        put(&[0u8; 4][..pad]);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x80, 96];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.push(0x65);
        p
    }

    fn word(b: &[u8], i: usize) -> u32 {
        u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
    }

    #[test]
    fn loss_wraparound_and_fraction() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(0x1111, 96, 90_000, t0);
        let mut out = [0u8; MAX_REPORT];
        // Before any packet: an empty RR and the SDES.
        let n = s.write_report(t0, &mut out);
        assert_eq!(out[..4], [0x80, 201, 0, 1]);
        assert_eq!(n, 8 + 20);
        // 65530..=65535, 0..=9 with 3 and 4 lost, a stray SSRC and another payload type.
        for seq in (65530u16..=65535).chain(0..10).filter(|s| *s != 3 && *s != 4) {
            s.on_rtp(&rtp(seq, seq as u32 * 3600, 7), t0);
        }
        s.on_rtp(&rtp(20, 0, 8), t0);
        let mut other_pt = rtp(30, 0, 7);
        other_pt[1] = 0;
        s.on_rtp(&other_pt, t0);
        s.on_rtp(&rtp(2, 0, 7), t0); // late duplicate: counted as received, not as max
        assert_eq!(s.source(), Some(7));
        assert_eq!(s.cumulative_lost(), 1);
        s.on_sender_report(7, 0x0001_2345_6789_0000, t0);
        let n = s.write_report(t0 + Duration::from_millis(500), &mut out);
        assert_eq!(n, 32 + 20);
        assert_eq!(out[..4], [0x81, 201, 0, 7]);
        assert_eq!(word(&out, 4), 0x1111);
        assert_eq!(word(&out, 8), 7);
        assert_eq!(out[12], (256 / 16) as u8, "fraction lost: 1 of 16 expected");
        assert_eq!(word(&out, 12) & 0xff_ffff, 1);
        assert_eq!(word(&out, 16), (1 << 16) + 9, "extended highest sequence number");
        assert_eq!(word(&out, 24), 0x2345_6789, "LSR: middle bits of the NTP time");
        assert_eq!(word(&out, 28), 32_768, "DLSR: 0.5 s in 1/65536 s");
        assert_eq!(out[32..34], [0x81, 202]);
        assert_eq!(&out[42..50], b"hotspare");
        // A new interval with nothing lost.
        s.on_rtp(&rtp(10, 36_000, 7), t0);
        s.write_report(t0, &mut out);
        assert_eq!(out[12], 0);
    }

    #[test]
    fn jitter_follows_arrival_spread() {
        let t0 = Instant::now();
        let mut steady = ReceiverStats::new(1, 96, 90_000, t0);
        let mut jumpy = ReceiverStats::new(1, 96, 90_000, t0);
        for k in 0..100u32 {
            let at = t0 + Duration::from_millis(40 * k as u64);
            steady.on_rtp(&rtp(k as u16, k * 3600, 5), at);
            let late = if k % 2 == 1 { Duration::from_millis(10) } else { Duration::ZERO };
            jumpy.on_rtp(&rtp(k as u16, k * 3600, 5), at + late);
        }
        assert!(steady.jitter16 >> 4 <= 1, "steady arrival: jitter {}", steady.jitter16 >> 4);
        // 10 ms = 900 ticks of |D| per packet: J converges to 900.
        let j = jumpy.jitter16 >> 4;
        assert!((800..=900).contains(&j), "jitter {j}");
    }
}
