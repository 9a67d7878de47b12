//! Steady state of the depacketizer allocates nothing per frame: after a
//! warm-up, thousands of RTP packets (single NALs, STAP-A, FU-A) go through
//! `push` and `clear_completed` with zero heap allocations, counted by a
//! global allocator. The same for the camera that sends each key frame as
//! one FU-A labelled SPS holding SPS, PPS and IDR (split at start codes).

use hotspare_media::depacketize::Depacketizer;
use hotspare_media::{Codec, CodecParams};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocs;

/// RTP packets of `frames` frames at 25 fps: every 25th a keyframe sent as
/// STAP-A(SPS, PPS) + FU-A, the others as single NAL units.
fn wire(frames: u32, keyframe_in_one_sps_fu: bool) -> (Vec<u8>, Vec<(usize, usize)>) {
    let (mut buf, mut pkts) = (Vec::new(), Vec::new());
    let mut seq = 0u16;
    let mut push = |buf: &mut Vec<u8>, ts: u32, marker: bool, payload: &[u8]| {
        let start = buf.len();
        buf.extend_from_slice(&[0x80, 96 | if marker { 0x80 } else { 0 }]);
        buf.extend_from_slice(&seq.to_be_bytes());
        buf.extend_from_slice(&ts.to_be_bytes());
        buf.extend_from_slice(&[0, 0, 0, 1]);
        buf.extend_from_slice(payload);
        pkts.push((start, buf.len()));
        seq = seq.wrapping_add(1);
    };
    for f in 0..frames {
        let ts = f * 3600;
        if f % 25 == 0 && keyframe_in_one_sps_fu {
            // SPS header, SPS body, start code, PPS, start code, IDR.
            let mut nal = vec![0x67u8, 0x64, 0, 0x28, 0, 0, 0, 1, 0x68, 0xee, 0x3c, 0x80, 0, 0, 1, 0x65];
            nal.extend(std::iter::repeat_n(0xabu8, 30_000));
            let chunks: Vec<&[u8]> = nal[1..].chunks(1400).collect();
            for (i, c) in chunks.iter().enumerate() {
                let mut fu = 7u8 | if i == 0 { 0x80 } else { 0 };
                if i + 1 == chunks.len() {
                    fu |= 0x40;
                }
                let mut p = vec![0x7c, fu];
                p.extend_from_slice(c);
                push(&mut buf, ts, i + 1 == chunks.len(), &p);
            }
        } else if f % 25 == 0 {
            let sps = [0x67u8, 0x64, 0, 0x28];
            let pps = [0x68u8, 0xee, 0x3c, 0x80];
            let mut stap = vec![24u8];
            for n in [&sps[..], &pps[..]] {
                stap.extend_from_slice(&(n.len() as u16).to_be_bytes());
                stap.extend_from_slice(n);
            }
            push(&mut buf, ts, false, &stap);
            let body = vec![0xabu8; 30_000];
            let chunks: Vec<&[u8]> = body.chunks(1400).collect();
            for (i, c) in chunks.iter().enumerate() {
                let mut fu = 5u8 | if i == 0 { 0x80 } else { 0 };
                if i + 1 == chunks.len() {
                    fu |= 0x40;
                }
                let mut p = vec![0x7c, fu];
                p.extend_from_slice(c);
                push(&mut buf, ts, i + 1 == chunks.len(), &p);
            }
        } else {
            let mut p = vec![0x41u8];
            p.extend(std::iter::repeat_n(0x22u8, 1200));
            push(&mut buf, ts, true, &p);
        }
    }
    (buf, pkts)
}

#[test]
fn depacketizer_steady_state_allocates_nothing() {
    steady_state_allocates_nothing(false);
}

#[test]
fn splitting_keyframes_at_start_codes_allocates_nothing() {
    steady_state_allocates_nothing(true);
}

fn steady_state_allocates_nothing(keyframe_in_one_sps_fu: bool) {
    let (buf, pkts) = wire(500, keyframe_in_one_sps_fu);
    let mut d = Depacketizer::new(Codec::H264, 96, CodecParams::default());
    let (warm, rest) = pkts.split_at(pkts.len() / 5);
    // Warm-up: buffers grow to their working size (and parameter sets are learnt).
    for &(s, e) in warm {
        d.push(&buf, s, e).unwrap();
        if d.frames().len() >= 25 {
            d.clear_completed();
        }
    }
    d.clear_completed();
    let before = allocs();
    let mut frames = 0;
    for &(s, e) in rest {
        d.push(&buf, s, e).unwrap();
        if d.frames().len() >= 25 {
            frames += d.frames().len();
            d.clear_completed();
        }
    }
    let during = allocs() - before;
    // The counter works: a fresh Vec is counted.
    let probe = allocs();
    let v: Vec<u8> = Vec::with_capacity(64);
    assert_eq!(allocs(), probe + 1);
    drop(v);
    assert!(frames >= 350, "{frames} frames");
    let keyframes_split = d.stats().split_nals;
    assert_eq!(keyframes_split > 0, keyframe_in_one_sps_fu, "{:?}", d.stats());
    assert_eq!(during, 0, "{during} allocations for {frames} frames in steady state");
}
