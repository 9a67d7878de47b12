//! The depacketizer's camera-quirk policies (`SingleFragmentFu`,
//! `StartCodesInNal`, `UnknownSsrc`), each with the packets the quirky
//! camera sends, under the default and the alternative.

use hotspare_camera_policy::{CameraPolicy, SingleFragmentFu, StartCodesInNal, UnknownSsrc};

use super::*;

fn with(policy: CameraPolicy) -> Depacketizer {
    Depacketizer::new(Codec::H264, PT, CodecParams::default()).with_policy(&policy)
}

/// `fu_a` but one fragment with both the start and the end bit.
fn single_fragment_fu(nal: &[u8]) -> Vec<u8> {
    let mut v = vec![(nal[0] & 0xe0) | 28, 0xc0 | (nal[0] & 0x1f)];
    v.extend_from_slice(&nal[1..]);
    v
}

#[test]
fn single_fragment_fu_is_a_whole_nal_unit_by_default() {
    let mut w = Wire::new();
    w.rtp(1, 0, false, &single_fragment_fu(SPS));
    w.rtp(2, 0, false, &single_fragment_fu(PPS));
    w.rtp(3, 0, true, &[0x65, 1, 2]);
    w.rtp(4, 3600, true, &single_fragment_fu(&[0x41, 3, 4]));
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    assert!(w.run(&mut d).iter().all(|r| r.is_ok()));
    assert_eq!(d.frames().len(), 2);
    assert!(d.frames()[0].keyframe && !d.frames()[1].discontinuity);
    assert_eq!(gathered(&d, &w), lp(&[SPS, PPS, &[0x65, 1, 2], &[0x41, 3, 4]]));
    assert_eq!((d.params().sps.as_slice(), d.params().pps.as_slice()), (SPS, PPS));
    assert_eq!(d.stats().single_fragment_fus, 3);

    // `Drop`: today's behaviour, malformed.
    let mut d = with(CameraPolicy { single_fragment_fu: SingleFragmentFu::Drop, ..CameraPolicy::default() });
    let r = w.run(&mut d);
    assert!(matches!(r[0], Err(DepacketizeError::BadFragment { .. })));
    assert!(d.params().sps.is_empty());
    assert_eq!(d.stats().single_fragment_fus, 0);
}

#[test]
fn h265_single_fragment_fu_is_accepted() {
    let mut w = Wire::new();
    w.rtp(1, 0, true, &[49 << 1, 1, 0xc0 | 19, 0xaa, 0xbb]);
    let mut d = Depacketizer::new(Codec::H265, PT, CodecParams::default());
    assert!(w.run(&mut d).iter().all(|r| r.is_ok()));
    assert_eq!(gathered(&d, &w), lp(&[&[19 << 1, 1, 0xaa, 0xbb]]));
    assert!(d.frames()[0].keyframe);
}

/// The camera's key frame: one NAL unit labelled SPS holding SPS, PPS and
/// IDR in Annex B form (first start code already stripped).
fn keyframe_as_one_sps_nal(idr: &[u8]) -> Vec<u8> {
    let mut v = SPS.to_vec();
    v.extend_from_slice(&[0, 0, 0, 1]);
    v.extend_from_slice(PPS);
    v.extend_from_slice(&[0, 0, 1]);
    v.extend_from_slice(idr);
    v
}

#[test]
fn keyframe_in_one_fu_a_labelled_sps_is_split_at_start_codes() {
    let idr = idr();
    let nal = keyframe_as_one_sps_nal(&idr);
    // Fragment sizes putting fragment boundaries inside the start codes too.
    for chunk in [1, 2, 3, 4, 5, 6, 7, 9, 1000, 5000] {
        let mut w = Wire::new();
        let frags = fu_a(&nal, chunk);
        let n = frags.len() as u16;
        for (i, f) in frags.iter().enumerate() {
            w.rtp(1 + i as u16, 0, i as u16 + 1 == n, f);
        }
        w.rtp(1 + n, 3600, true, &[0x41, 7]);
        let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
        assert!(w.run(&mut d).iter().all(|r| r.is_ok()), "chunk {chunk}");
        assert_eq!(d.frames().len(), 2, "chunk {chunk}");
        assert!(d.frames()[0].keyframe, "chunk {chunk}");
        assert_eq!(gathered(&d, &w), lp(&[SPS, PPS, &idr, &[0x41, 7]]), "chunk {chunk}");
        assert_eq!((d.params().sps.as_slice(), d.params().pps.as_slice()), (SPS, PPS), "chunk {chunk}");
        assert_eq!(d.stats().split_nals, 1);
    }
    // `Keep`: stored as sent, never a keyframe, nothing recorded (today's behaviour).
    let mut w = Wire::new();
    for (i, f) in fu_a(&nal, 1000).iter().enumerate() {
        w.rtp(1 + i as u16, 0, i == 3, f);
    }
    let mut d = with(CameraPolicy { start_codes_in_nal: StartCodesInNal::Keep, ..CameraPolicy::default() });
    w.run(&mut d);
    assert!(d.frames().is_empty());
}

#[test]
fn start_codes_in_single_and_aggregated_nal_units_are_split() {
    let mut w = Wire::new();
    w.rtp(1, 0, false, &keyframe_as_one_sps_nal(&[0x65, 1, 2, 3]));
    w.rtp(2, 3600, false, &stap_a(&[&keyframe_as_one_sps_nal(&[0x65, 4])]));
    w.rtp(3, 3600, true, &[0x41, 5, 0, 0, 1, 6]); // a slice is never scanned
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    assert!(w.run(&mut d).iter().all(|r| r.is_ok()));
    let want = lp(&[SPS, PPS, &[0x65, 1, 2, 3], SPS, PPS, &[0x65, 4], &[0x41, 5, 0, 0, 1, 6]]);
    assert_eq!(gathered(&d, &w), want);
    assert!(d.frames().iter().all(|f| f.keyframe));
    assert_eq!(d.stats().split_nals, 2);
}

#[test]
fn splitting_stays_within_the_limits() {
    // An SEI of 400 start codes: 401 parts, over a limit of 64 pieces.
    let mut sei = vec![0x06];
    for _ in 0..400 {
        sei.extend_from_slice(&[9, 0, 0, 1, 0x06]);
    }
    let limits = Limits { max_frame_bytes: 1 << 20, max_pieces: 64 };
    for packets in [vec![sei.clone()], fu_a(&sei, 300)] {
        let mut w = Wire::new();
        let n = packets.len();
        for (i, p) in packets.iter().enumerate() {
            w.rtp(1 + i as u16, 0, false, p);
        }
        w.rtp(1 + n as u16, 0, true, &[0x65, 1]);
        w.rtp(2 + n as u16, 3600, true, &[0x65, 2]);
        let mut d = Depacketizer::with_limits(Codec::H264, PT, CodecParams::default(), limits);
        let r = w.run(&mut d);
        assert!(r.iter().any(|r| matches!(r, Err(DepacketizeError::TooManyPieces { .. }))), "{r:?}");
        assert!(d.held_pieces() <= 64);
        // Recording resumes at the next keyframe.
        assert_eq!(d.frames().last().map(|f| (f.pts, f.discontinuity)), Some((3600, true)));
    }
}

/// The field case: a stale session of the camera (another SSRC, its own
/// sequence numbers and timestamps) interleaved with ours.
fn ours_and_stale(w: &mut Wire, ours_first: bool) -> Vec<i64> {
    let (ours, stale) = (0x1111_1111, 0x2222_2222);
    let mut want = Vec::new();
    for i in 0..50u16 {
        let ts = 1_000 + u32::from(i) * 3600;
        let stale_pkt = |w: &mut Wire| {
            w.rtp_ssrc(stale, 20_000 + i, 3_000_000_000 + u32::from(i) * 1234, true, &[0x41, 9]);
        };
        if !ours_first || i > 0 {
            stale_pkt(w);
        }
        let nal: &[u8] = if i % 10 == 0 { &[0x65, 1] } else { &[0x41, 2] };
        w.rtp_ssrc(ours, 100 + i, ts, true, nal);
        want.push(i64::from(ts));
        if ours_first && i == 0 {
            stale_pkt(w);
        }
    }
    want
}

#[test]
fn packets_of_a_stale_session_are_ignored_not_counted_as_loss() {
    for (expected, ours_first) in [(Some(0x1111_1111), false), (Some(0x1111_1111), true), (None, true)] {
        let mut w = Wire::new();
        let want = ours_and_stale(&mut w, ours_first);
        let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
        d.set_expected_ssrc(expected);
        assert!(w.run(&mut d).iter().all(|r| r.is_ok()));
        let pts: Vec<i64> = d.frames().iter().map(|f| f.pts).collect();
        assert_eq!(pts, want, "expected {expected:?}");
        assert!(d.frames().iter().all(|f| !f.discontinuity));
        let s = d.stats();
        assert_eq!((s.lost_packets, s.discontinuities, s.foreign_packets), (0, 0, 50), "{s:?}");
    }
    // `Accept`: today's behaviour, the stale packets are taken as ours.
    let mut w = Wire::new();
    ours_and_stale(&mut w, true);
    let mut d = with(CameraPolicy { unknown_ssrc: UnknownSsrc::Accept, ..CameraPolicy::default() });
    w.run(&mut d);
    assert!(d.stats().lost_packets > 1000, "{:?}", d.stats());
}

#[test]
fn an_announced_ssrc_after_locking_to_another_switches_streams_monotonically() {
    let mut w = Wire::new();
    w.rtp_ssrc(7, 10, 900_000, true, &[0x65, 1]); // stale, seen first
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    w.run(&mut d);
    d.set_expected_ssrc(Some(8)); // RTP-Info names ours
    let mut w2 = Wire { buf: w.buf.clone(), pkts: Vec::new() };
    w2.rtp_ssrc(8, 500, 5, true, &[0x65, 2]);
    w2.rtp_ssrc(7, 11, 903_600, true, &[0x41, 3]);
    w2.rtp_ssrc(8, 501, 3605, true, &[0x41, 4]);
    assert!(w2.run(&mut d).iter().all(|r| r.is_ok()));
    let pts: Vec<i64> = d.frames().iter().map(|f| f.pts).collect();
    assert_eq!(pts, vec![900_000, 900_001, 903_601]);
    assert_eq!((d.stats().lost_packets, d.stats().foreign_packets), (0, 1));
}

#[test]
fn packets_before_the_announced_start_are_ignored() {
    let mut w = Wire::new();
    w.rtp(98, 0, true, &[0x65, 1]); // previous PLAY
    w.rtp(99, 3600, true, &[0x41, 2]);
    w.rtp(100, 90_000, true, &[0x65, 3]);
    w.rtp(99, 3600, true, &[0x41, 2]); // late: an old packet, not a new start
    w.rtp(101, 93_600, true, &[0x41, 4]);
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    d.set_expected_start(100);
    w.run(&mut d);
    let pts: Vec<i64> = d.frames().iter().map(|f| f.pts).collect();
    assert_eq!(pts, vec![90_000, 93_600]);
    assert_eq!((d.stats().foreign_packets, d.stats().lost_packets), (2, 0));
}

#[test]
fn a_wrongly_announced_ssrc_is_given_up_when_only_another_one_comes() {
    let mut w = Wire::new();
    let n = crate::stream_lock::ADOPT_AFTER as u16 + 10;
    for i in 0..n {
        w.rtp_ssrc(0x6666, i, u32::from(i) * 3600, true, if i % 25 == 0 { &[0x65, 1] } else { &[0x41, 2] });
    }
    let mut d = Depacketizer::new(Codec::H264, PT, CodecParams::default());
    d.set_expected_ssrc(Some(0x5555));
    assert!(w.run(&mut d).iter().all(|r| r.is_ok()));
    let s = d.stats();
    assert_eq!(s.foreign_packets, u64::from(crate::stream_lock::ADOPT_AFTER) - 1);
    assert!(!d.frames().is_empty() && d.frames()[0].keyframe);
    assert_eq!(s.lost_packets, 0);
}
