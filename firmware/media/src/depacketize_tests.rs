//! Unit tests of the depacketizer with hand-built RTP packets.

use super::*;

const PT: u8 = 96;

struct Wire {
    buf: Vec<u8>,
    pkts: Vec<(usize, usize)>,
}

impl Wire {
    fn new() -> Self {
        Wire { buf: Vec::new(), pkts: Vec::new() }
    }
    fn rtp(&mut self, seq: u16, ts: u32, marker: bool, payload: &[u8]) {
        // An interleaved header before each packet, as on the wire.
        self.buf.extend_from_slice(&[b'$', 0, 0, 0]);
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0x80, PT | if marker { 0x80 } else { 0 }]);
        self.buf.extend_from_slice(&seq.to_be_bytes());
        self.buf.extend_from_slice(&ts.to_be_bytes());
        self.buf.extend_from_slice(&[0, 0, 0, 1]);
        self.buf.extend_from_slice(payload);
        self.pkts.push((start, self.buf.len()));
    }
    fn run(&self, d: &mut Depacketizer) -> Vec<Result<(), DepacketizeError>> {
        self.pkts.iter().map(|&(s, e)| d.push(&self.buf, s, e)).collect()
    }
}

fn lp(nals: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    for n in nals {
        v.extend_from_slice(&(n.len() as u32).to_be_bytes());
        v.extend_from_slice(n);
    }
    v
}

fn stap_a(nals: &[&[u8]]) -> Vec<u8> {
    let mut v = vec![24];
    for n in nals {
        v.extend_from_slice(&(n.len() as u16).to_be_bytes());
        v.extend_from_slice(n);
    }
    v
}

const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x28, 0xac];
const PPS: &[u8] = &[0x68, 0xee, 0x3c, 0xb0];

fn idr() -> Vec<u8> {
    let mut v = vec![0x65];
    v.extend((0..3000u32).map(|i| (i % 251) as u8));
    v
}

/// Splits a NAL into FU-A payloads of at most `max` bytes of data.
fn fu_a(nal: &[u8], max: usize) -> Vec<Vec<u8>> {
    let chunks: Vec<&[u8]> = nal[1..].chunks(max).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut fu = (nal[0] & 0x1f) | if i == 0 { 0x80 } else { 0 };
            if i == chunks.len() - 1 {
                fu |= 0x40;
            }
            let mut v = vec![(nal[0] & 0xe0) | 28, fu];
            v.extend_from_slice(c);
            v
        })
        .collect()
}

fn gathered(d: &Depacketizer, w: &Wire) -> Vec<u8> {
    let mut out = Vec::new();
    gather(d, &w.buf, &mut out);
    out
}

#[test]
fn h264_stap_a_and_fu_a_make_one_keyframe() {
    let mut w = Wire::new();
    let idr = idr();
    w.rtp(10, 1000, false, &stap_a(&[SPS, PPS]));
    let frags = fu_a(&idr, 1200);
    assert_eq!(frags.len(), 3);
    for (i, f) in frags.iter().enumerate() {
        w.rtp(11 + i as u16, 1000, i == 2, f);
    }
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    assert!(w.run(&mut d).iter().all(|r| r.is_ok()));
    assert_eq!(d.frames().len(), 1);
    let f = d.frames()[0];
    assert!(f.keyframe && !f.discontinuity);
    assert_eq!(f.pts, 1000);
    let want = lp(&[SPS, PPS, &idr]);
    assert_eq!(f.len as usize, want.len());
    assert_eq!(gathered(&d, &w), want);
    assert_eq!(d.params().sps, SPS);
    assert_eq!(d.params().pps, PPS);
    assert_eq!(f.pieces as usize, d.completed_pieces().len());
}

#[test]
fn timestamp_change_ends_access_unit_without_marker() {
    let mut w = Wire::new();
    w.rtp(1, 0, false, &[0x65, 1, 2, 3]);
    w.rtp(2, 3600, false, &[0x41, 4, 5]);
    w.rtp(3, 7200, true, &[0x41, 6]);
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    w.run(&mut d);
    let pts: Vec<i64> = d.frames().iter().map(|f| f.pts).collect();
    assert_eq!(pts, vec![0, 3600, 7200]);
    assert_eq!(gathered(&d, &w), lp(&[&[0x65, 1, 2, 3], &[0x41, 4, 5], &[0x41, 6]]));
}

#[test]
fn frames_before_first_keyframe_are_dropped() {
    let mut w = Wire::new();
    w.rtp(1, 0, true, &[0x41, 1]);
    w.rtp(2, 3600, true, &[0x65, 2]);
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    w.run(&mut d);
    assert_eq!(d.frames().len(), 1);
    assert!(d.frames()[0].keyframe);
    assert_eq!(d.stats().dropped_frames, 1);
}

#[test]
fn sequence_gap_drops_to_next_keyframe_and_flags_discontinuity() {
    let idr = idr();
    let frags = fu_a(&idr, 1000);
    let mut w = Wire::new();
    w.rtp(100, 0, true, &[0x65, 9]);
    // Keyframe at 3600 loses its middle fragment.
    w.rtp(101, 3600, false, &frags[0]);
    w.rtp(103, 3600, true, &frags[2]);
    w.rtp(104, 7200, true, &[0x41, 1]); // P frame: must be dropped
    w.rtp(105, 10800, true, &[0x65, 2]); // next keyframe
    w.rtp(106, 14400, true, &[0x41, 3]);
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    let results = w.run(&mut d);
    // The orphan end fragment is reported, not turned into a frame.
    assert!(results[2].is_err());
    let f: Vec<(i64, bool, bool)> = d.frames().iter().map(|f| (f.pts, f.keyframe, f.discontinuity)).collect();
    assert_eq!(f, vec![(0, true, false), (10800, true, true), (14400, false, false)]);
    assert_eq!(d.stats().lost_packets, 1);
    assert_eq!(d.stats().discontinuities, 1);
    assert_eq!(gathered(&d, &w), lp(&[&[0x65, 9], &[0x65, 2], &[0x41, 3]]));
}

#[test]
fn sequence_and_timestamp_wrap_around() {
    let mut w = Wire::new();
    w.rtp(65535, u32::MAX - 1799, true, &[0x65, 1]);
    w.rtp(0, 1800, true, &[0x41, 2]);
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    w.run(&mut d);
    let f = d.frames();
    assert_eq!(f.len(), 2);
    assert_eq!(f[1].pts - f[0].pts, 3600);
    assert_eq!(d.stats().lost_packets, 0);
}

#[test]
fn late_and_duplicate_packets_are_ignored() {
    let mut w = Wire::new();
    w.rtp(5, 0, true, &[0x65, 1]);
    w.rtp(5, 0, true, &[0x65, 1]);
    w.rtp(4, 0, true, &[0x65, 1]);
    w.rtp(6, 3600, true, &[0x41, 2]);
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    w.run(&mut d);
    assert_eq!(d.frames().len(), 2);
    assert_eq!(d.stats().discontinuities, 0);
}

#[test]
fn parameter_sets_with_their_own_timestamp_join_the_next_picture() {
    let mut w = Wire::new();
    w.rtp(1, 0, true, &stap_a(&[SPS, PPS]));
    w.rtp(2, 3600, true, &[0x65, 7]);
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    w.run(&mut d);
    assert_eq!(d.frames().len(), 1);
    assert_eq!(d.frames()[0].pts, 3600);
    assert_eq!(gathered(&d, &w), lp(&[SPS, PPS, &[0x65, 7]]));
}

#[test]
fn clear_and_rebase_keep_frame_in_progress() {
    let idr = idr();
    let frags = fu_a(&idr, 1000);
    let mut w = Wire::new();
    w.rtp(1, 0, true, &[0x65, 1]);
    w.rtp(2, 3600, false, &frags[0]);
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    w.run(&mut d);
    assert_eq!(d.frames().len(), 1);
    d.clear_completed();
    // The receive buffer drops everything before the frame in progress.
    let floor = d.recv_floor().unwrap() as usize;
    let mut w2 = Wire { buf: w.buf[floor..].to_vec(), pkts: Vec::new() };
    d.rebase(floor as u32);
    w2.rtp(3, 3600, false, &frags[1]);
    w2.rtp(4, 3600, true, &frags[2]);
    w2.run(&mut d);
    assert_eq!(d.frames().len(), 1);
    assert_eq!(gathered(&d, &w2), lp(&[&idr]));
}

#[test]
fn malformed_payloads_are_errors_not_panics() {
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    let mut w = Wire::new();
    w.rtp(1, 0, true, &[24, 0, 9, 1]); // STAP-A claiming 9 bytes
    w.rtp(2, 0, true, &[28]); // FU-A without FU header
    w.rtp(3, 0, true, &[]); // empty payload
    w.rtp(4, 0, true, &[25, 1, 2]); // STAP-B
    w.rtp(5, 0, true, &[28, 0x05, 1]); // FU middle without a start
    let r = w.run(&mut d);
    assert!(matches!(r[0], Err(DepacketizeError::BadAggregate { .. })));
    assert!(matches!(r[1], Err(DepacketizeError::BadFragment { .. })));
    assert!(matches!(r[2], Err(DepacketizeError::EmptyPayload)));
    assert!(matches!(r[3], Err(DepacketizeError::UnsupportedNal { nal_type: 25, .. })));
    assert!(matches!(r[4], Err(DepacketizeError::BadFragment { .. })));
    assert!(d.frames().is_empty());
    let buf = vec![0x80u8; 3];
    assert!(d.push(&buf, 0, 3).is_err());
}

#[test]
fn h265_aggregation_and_fragmentation() {
    let vps: &[u8] = &[0x40, 0x01, 0x0c];
    let sps: &[u8] = &[0x42, 0x01, 0x01];
    let pps: &[u8] = &[0x44, 0x01, 0xc1];
    let mut idr = vec![0x26, 0x01]; // IDR_W_RADL (19)
    idr.extend((0..2500u32).map(|i| i as u8));
    let mut ap = vec![48 << 1, 1];
    for n in [vps, sps, pps] {
        ap.extend_from_slice(&(n.len() as u16).to_be_bytes());
        ap.extend_from_slice(n);
    }
    let mut w = Wire::new();
    w.rtp(1, 0, false, &ap);
    let body = &idr[2..];
    let chunks: Vec<&[u8]> = body.chunks(1000).collect();
    for (i, c) in chunks.iter().enumerate() {
        let mut fu = 19u8 | if i == 0 { 0x80 } else { 0 };
        if i == chunks.len() - 1 {
            fu |= 0x40;
        }
        let mut p = vec![49 << 1, 1, fu];
        p.extend_from_slice(c);
        w.rtp(2 + i as u16, 0, i == chunks.len() - 1, &p);
    }
    let mut d = Depacketizer::new(Codec::H265, PT, CodecParams::default());
    assert!(w.run(&mut d).iter().all(|r| r.is_ok()));
    assert_eq!(d.frames().len(), 1);
    assert!(d.frames()[0].keyframe);
    assert_eq!(gathered(&d, &w), lp(&[vps, sps, pps, &idr]));
    assert!(d.params().is_complete(Codec::H265));
}
