//! Unit tests of the depacketizer with hand-built RTP packets.

use super::*;

#[path = "depacketize_quirk_tests.rs"]
mod quirks;

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
        self.rtp_ssrc(1, seq, ts, marker, payload);
    }
    fn rtp_ssrc(&mut self, ssrc: u32, seq: u16, ts: u32, marker: bool, payload: &[u8]) {
        // An interleaved header before each packet, as on the wire.
        self.buf.extend_from_slice(&[b'$', 0, 0, 0]);
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0x80, PT | if marker { 0x80 } else { 0 }]);
        self.buf.extend_from_slice(&seq.to_be_bytes());
        self.buf.extend_from_slice(&ts.to_be_bytes());
        self.buf.extend_from_slice(&ssrc.to_be_bytes());
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

/// A STAP-A packet of `n` 1-byte NAL units of type `nal`.
fn stap_a_of_tiny_nals(n: usize, nal: u8) -> Vec<u8> {
    let mut v = vec![24];
    for _ in 0..n {
        v.extend_from_slice(&[0, 1, nal]);
    }
    v
}

/// Capacities of every vector the depacketizer owns stay within twice the
/// bounds documented on [`Limits`] (vectors grow by doubling), or their
/// initial capacity.
fn assert_bounded(d: &Depacketizer) {
    let l = d.limits();
    let cap = |bound: usize, initial: usize| (2 * bound).max(initial);
    assert!(d.pieces.len() <= l.max_pieces, "{} pieces held, limit {}", d.pieces.len(), l.max_pieces);
    assert!(d.pieces.capacity() <= cap(l.max_pieces, 1024), "pieces capacity {}", d.pieces.capacity());
    assert!(d.side.capacity() <= cap(6 * l.max_pieces, 4096), "side capacity {}", d.side.capacity());
    assert!(d.frames.capacity() <= cap(l.max_pieces, 64), "frames capacity {}", d.frames.capacity());
    for v in [&d.scratch, &d.params.vps, &d.params.sps, &d.params.pps] {
        assert!(v.capacity() <= 2 * MAX_PARAM_SET_BYTES, "parameter buffer capacity {}", v.capacity());
    }
}

/// A hostile camera: frames of 60,000 1-byte NAL units (three STAP-A
/// packets of 20,000 each), over and over. Whether the caller never clears
/// completed frames or clears them after every packet (as the recorder
/// does after a batch), every vector stays bounded; what does not fit is
/// dropped as a discontinuity, and a normal keyframe afterwards is
/// recorded.
#[test]
fn hostile_stap_a_of_one_byte_nals_keeps_every_buffer_bounded() {
    for clear_each_packet in [false, true] {
        let mut w = Wire::new();
        let mut seq = 0u16;
        for f in 0..40u32 {
            for part in 0..3 {
                w.rtp(seq, f * 3600, part == 2, &stap_a_of_tiny_nals(20_000, 0x65));
                seq += 1;
            }
        }
        w.rtp(seq, 40 * 3600, true, &[0x65, 1, 2, 3]);
        let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
        let (mut delivered, mut errors) = (Vec::new(), 0);
        for &(s, e) in &w.pkts {
            if let Err(err) = d.push(&w.buf, s, e) {
                assert!(matches!(err, DepacketizeError::TooManyPieces { .. }), "{err}");
                errors += 1;
            }
            assert_bounded(&d);
            if clear_each_packet {
                delivered.extend_from_slice(d.frames());
                d.clear_completed();
            }
        }
        delivered.extend_from_slice(d.frames());
        let last = delivered.last().copied().unwrap();
        assert_eq!((last.pts, last.len), (40 * 3600, 8), "the normal keyframe after the attack is recorded");
        if clear_each_packet {
            // 120,000 pieces per frame fit the default 131,072: every frame is kept.
            assert_eq!((delivered.len(), errors, d.stats().oversized_frames), (41, 0, 0));
        } else {
            // Never cleared: the first frame fills the limit, the rest are dropped.
            assert!(d.stats().oversized_frames >= 39, "{:?}", d.stats());
            assert_eq!(errors as u64, d.stats().oversized_frames);
            assert!(last.discontinuity && last.keyframe);
            assert_eq!(d.stats().bad_packets, 0);
        }
    }
}

/// The same attack against a small limit: frames of 60,000 NAL units never
/// fit 8,192 pieces; each is dropped once (its remaining packets skipped
/// without further errors), memory stays bounded, and recording resumes at
/// the next keyframe.
#[test]
fn frames_over_the_piece_limit_are_dropped_once_each() {
    let mut w = Wire::new();
    let mut seq = 0u16;
    for f in 0..20u32 {
        for part in 0..3 {
            w.rtp(seq, f * 3600, part == 2, &stap_a_of_tiny_nals(20_000, 0x65));
            seq += 1;
        }
    }
    w.rtp(seq, 20 * 3600, true, &[0x65, 9]);
    let mut d = Depacketizer::with_limits(Codec::H264, PT, CodecParams::default(), Limits::for_buffer(1 << 20));
    assert_eq!(d.limits().max_pieces, 8192);
    let (mut errors, mut f) = (0, Vec::new());
    for &(s, e) in &w.pkts {
        if d.push(&w.buf, s, e).is_err() {
            errors += 1;
        }
        assert_bounded(&d);
        f.extend_from_slice(d.frames());
        d.clear_completed();
    }
    assert_eq!((errors, d.stats().oversized_frames), (20, 20));
    assert_eq!(f.len(), 1);
    assert!(f[0].keyframe && f[0].discontinuity && f[0].pts == 20 * 3600);
}

#[test]
fn access_unit_over_max_frame_bytes_is_dropped_and_the_session_goes_on() {
    let limits = Limits { max_frame_bytes: 10_000, max_pieces: 4096 };
    let mut big = vec![0x65];
    big.extend(std::iter::repeat_n(0x11u8, 30_000));
    let mut w = Wire::new();
    w.rtp(1, 0, true, &[0x65, 1]);
    let frags = fu_a(&big, 1000);
    for (i, f) in frags.iter().enumerate() {
        w.rtp(2 + i as u16, 3600, i + 1 == frags.len(), f);
    }
    let n = 2 + frags.len() as u16;
    w.rtp(n, 7200, true, &[0x41, 2]); // P frame after the loss: dropped
    w.rtp(n + 1, 10800, true, &[0x65, 3]);
    let mut d = Depacketizer::with_limits(Codec::H264, PT, CodecParams::default(), limits);
    let r = w.run(&mut d);
    let errs: Vec<&DepacketizeError> = r.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errs, vec![&DepacketizeError::FrameTooLarge { codec: Codec::H264, limit: 10_000 }]);
    assert!(errs[0].to_string().contains("limit of 10000 bytes"), "{}", errs[0]);
    let f: Vec<(i64, bool, bool)> = d.frames().iter().map(|f| (f.pts, f.keyframe, f.discontinuity)).collect();
    assert_eq!(f, vec![(0, true, false), (10800, true, true)]);
    assert_eq!(d.stats().oversized_frames, 1);
    assert_eq!(d.stats().bad_packets, 0);
    assert_eq!(gathered(&d, &w), lp(&[&[0x65, 1], &[0x65, 3]]));
}

#[test]
fn caller_can_drop_a_frame_that_does_not_fit_its_buffer() {
    let idr = idr();
    let frags = fu_a(&idr, 1000);
    let mut w = Wire::new();
    w.rtp(1, 0, false, &frags[0]);
    w.rtp(2, 0, false, &frags[1]);
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    w.run(&mut d);
    assert!(d.recv_floor().is_some());
    assert!(d.drop_oversized_in_progress());
    assert_eq!((d.recv_floor(), d.held_pieces(), d.stats().oversized_frames), (None, 0, 1));
    assert!(!d.drop_oversized_in_progress());
    // The rest of the dropped frame is skipped quietly; the next keyframe
    // is a discontinuity.
    let mut w2 = Wire::new();
    w2.rtp(3, 0, true, &frags[2]);
    w2.rtp(4, 3600, true, &[0x65, 5]);
    assert!(w2.run(&mut d).iter().all(|r| r.is_ok()));
    assert_eq!(d.frames().len(), 1);
    assert!(d.frames()[0].discontinuity);
}
