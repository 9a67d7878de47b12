//! Unit tests of the audio depacketizer with RTP packets built per
//! RFC 3640 (AAC-hbr / AAC-lbr AU headers) and RFC 3551 (G.711).

use super::*;
use crate::sdp_audio::{AacFraming, AudioFraming, AudioTrack};
use crate::AudioCodec;

const PT: u8 = 97;
const HBR: AacFraming = AacFraming { size_length: 13, index_length: 3, index_delta_length: 3, frame_duration: 1024 };
const LBR: AacFraming = AacFraming { size_length: 6, index_length: 2, index_delta_length: 2, frame_duration: 1024 };

fn aac_track(f: AacFraming) -> AudioTrack {
    AudioTrack {
        params: AudioParams { codec: AudioCodec::Aac, sample_rate: 16000, channels: 1, config: vec![0x14, 0x08] },
        payload_type: PT,
        control: None,
        framing: AudioFraming::Aac(f),
    }
}

fn g711_track(channels: u8) -> AudioTrack {
    AudioTrack {
        params: AudioParams { codec: AudioCodec::Pcma, sample_rate: 8000, channels, config: Vec::new() },
        payload_type: PT,
        control: None,
        framing: AudioFraming::G711,
    }
}

fn rtp(ssrc: u32, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, PT | if marker { 0x80 } else { 0 }];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// An RFC 3640 payload: AU-headers-length, the AU headers (size, then
/// index for the first / index delta for the others), padding to a byte,
/// the AU data. `size_of` overrides the sizes written (fragments).
fn aac_payload(f: AacFraming, aus: &[(&[u8], u32)], size_of: Option<u32>) -> Vec<u8> {
    let mut bits: Vec<bool> = Vec::new();
    let mut put = |v: u32, n: u8| (0..n).rev().for_each(|i| bits.push(v >> i & 1 == 1));
    for (i, (au, index)) in aus.iter().enumerate() {
        put(size_of.unwrap_or(au.len() as u32), f.size_length);
        put(*index, if i == 0 { f.index_length } else { f.index_delta_length });
    }
    let mut v = (bits.len() as u16).to_be_bytes().to_vec();
    for byte in bits.chunks(8) {
        v.push(byte.iter().enumerate().fold(0u8, |acc, (i, &b)| acc | (u8::from(b) << (7 - i))));
    }
    for (au, _) in aus {
        v.extend_from_slice(au);
    }
    v
}

fn au(n: usize, fill: u8) -> Vec<u8> {
    (0..n).map(|i| fill ^ i as u8).collect()
}

fn frames(d: &AudioDepacketizer) -> Vec<(i64, u32, bool, Vec<u8>)> {
    d.frames().iter().map(|f| (f.pts, f.duration, f.discontinuity, d.frame_bytes(f).to_vec())).collect()
}

#[test]
fn several_aac_access_units_per_packet_hbr_and_lbr() {
    let (a, b, c) = (au(200, 1), au(180, 2), au(7, 3));
    for f in [HBR, LBR] {
        // LBR sizes are 6 bits: small AUs only.
        let (a, b, c) = if f == LBR { (&a[..60], &b[..50], &c[..]) } else { (&a[..], &b[..], &c[..]) };
        let mut d = AudioDepacketizer::new(&aac_track(f));
        d.push(&rtp(1, 10, 5000, true, &aac_payload(f, &[(a, 0), (b, 0), (c, 0)], None))).unwrap();
        d.push(&rtp(1, 11, 5000 + 3 * 1024, true, &aac_payload(f, &[(a, 0)], None))).unwrap();
        let want = vec![
            (5000, 1024, false, a.to_vec()),
            (6024, 1024, false, b.to_vec()),
            (7048, 1024, false, c.to_vec()),
            (8072, 1024, false, a.to_vec()),
        ];
        assert_eq!(frames(&d), want, "{f:?}");
    }
}

#[test]
fn index_delta_spaces_interleaved_access_units() {
    let mut d = AudioDepacketizer::new(&aac_track(HBR));
    d.push(&rtp(1, 1, 0, true, &aac_payload(HBR, &[(&[1, 1], 0), (&[2, 2], 2)], None))).unwrap();
    let pts: Vec<i64> = d.frames().iter().map(|f| f.pts).collect();
    assert_eq!(pts, vec![0, 3 * 1024]);
}

#[test]
fn an_access_unit_fragmented_across_packets_is_reassembled() {
    let big = au(3000, 9);
    let mut d = AudioDepacketizer::new(&aac_track(HBR));
    for (i, part) in big.chunks(1200).enumerate() {
        let p = aac_payload(HBR, &[(part, 0)], Some(3000));
        d.push(&rtp(1, 20 + i as u16, 777, i == 2, &p)).unwrap();
        assert_eq!(d.frames().len(), usize::from(i == 2));
    }
    d.push(&rtp(1, 23, 777 + 1024, true, &aac_payload(HBR, &[(&[5, 5, 5], 0)], None))).unwrap();
    assert_eq!(frames(&d), vec![(777, 1024, false, big.clone()), (1801, 1024, false, vec![5, 5, 5])]);
    // Clearing keeps an AU in reassembly.
    d.push(&rtp(1, 24, 3000, false, &aac_payload(HBR, &[(&big[..1200], 0)], Some(3000)))).unwrap();
    d.clear_completed();
    d.push(&rtp(1, 25, 3000, false, &aac_payload(HBR, &[(&big[1200..2400], 0)], Some(3000)))).unwrap();
    d.push(&rtp(1, 26, 3000, true, &aac_payload(HBR, &[(&big[2400..], 0)], Some(3000)))).unwrap();
    assert_eq!(frames(&d), vec![(3000, 1024, false, big)]);
}

#[test]
fn loss_drops_the_partial_access_unit_and_flags_the_next_frame() {
    let big = au(3000, 9);
    let parts: Vec<&[u8]> = big.chunks(1200).collect();
    let mut d = AudioDepacketizer::new(&aac_track(HBR));
    d.push(&rtp(1, 1, 0, false, &aac_payload(HBR, &[(parts[0], 0)], Some(3000)))).unwrap();
    // Packet 2 lost.
    d.push(&rtp(1, 3, 0, true, &aac_payload(HBR, &[(parts[2], 0)], Some(3000)))).unwrap_or(());
    d.push(&rtp(1, 4, 1024, true, &aac_payload(HBR, &[(&[4, 4], 0)], None))).unwrap();
    assert_eq!(frames(&d), vec![(1024, 1024, true, vec![4, 4])]);
    let s = d.stats();
    assert_eq!((s.lost_packets, s.frames), (1, 1));
    assert!(s.dropped_frames >= 1, "{s:?}");
    assert!(d.data().len() <= 2 + 600, "the partial AU's bytes were dropped: {}", d.data().len());
}

#[test]
fn g711_frame_is_the_packet_and_timestamps_wrap() {
    for channels in [1u8, 2] {
        let mut d = AudioDepacketizer::new(&g711_track(channels));
        let n = 160 * usize::from(channels);
        let start = u32::MAX - 159;
        d.push(&rtp(9, 65535, start, false, &au(n, 1))).unwrap();
        d.push(&rtp(9, 0, start.wrapping_add(160), false, &au(n, 2))).unwrap();
        let f = frames(&d);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].0, f[0].1, f[1].0 - f[0].0, f[1].1), (i64::from(start), 160, 160, 160));
        assert_eq!(f[1].3, au(n, 2));
        assert_eq!(d.stats().lost_packets, 0);
    }
}

#[test]
fn a_stale_session_is_ignored_for_audio_too() {
    let mut d = AudioDepacketizer::new(&g711_track(1));
    d.set_expected_ssrc(Some(5));
    for i in 0..20u16 {
        d.push(&rtp(6, 9000 + i * 7, 1_000_000 + u32::from(i) * 999, false, &au(160, 0))).unwrap();
        d.push(&rtp(5, 100 + i, u32::from(i) * 160, false, &au(160, 1))).unwrap();
    }
    let pts: Vec<i64> = d.frames().iter().map(|f| f.pts).collect();
    assert_eq!(pts, (0..20).map(|i| i * 160).collect::<Vec<i64>>());
    assert_eq!((d.stats().lost_packets, d.stats().foreign_packets), (0, 20));
}

#[test]
fn malformed_payloads_are_errors_and_take_nothing() {
    let mut d = AudioDepacketizer::new(&aac_track(HBR));
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0, 16, 0],                  // header cut short
        vec![0, 15, 0, 0],               // 15 bits: not a whole header
        vec![0, 32, 0, 16, 0, 16, 1, 2], // two AUs of 2 bytes, 2 bytes of data
        vec![0, 0],                      // no header at all
    ];
    for (i, p) in cases.iter().enumerate() {
        assert!(d.push(&rtp(1, i as u16, 0, true, p)).is_err(), "case {i}");
    }
    assert!(d.frames().is_empty() && d.data().is_empty());
    assert!(d.push(&[0x80, 1, 2]).is_err());
}

#[test]
fn held_bytes_and_frame_sizes_stay_within_the_limits() {
    let limits = AudioLimits { max_frame_bytes: 2000, max_held_bytes: 10_000 };
    let mut d = AudioDepacketizer::with_limits(&g711_track(1), limits);
    for i in 0..100u16 {
        d.push(&rtp(1, i, u32::from(i) * 1000, false, &au(1000, 0))).unwrap();
        assert!(d.data().len() <= 10_000);
    }
    assert_eq!(d.frames().len(), 10);
    d.push(&rtp(1, 100, 200_000, false, &au(3000, 0))).unwrap();
    assert_eq!(d.frames().len(), 10, "a frame over max_frame_bytes is dropped");
    d.clear_completed();
    d.push(&rtp(1, 101, 300_000, false, &au(1000, 0))).unwrap();
    assert_eq!(d.frames().len(), 1);
    // An AAC fragment announcing an AU over the limit.
    let mut d = AudioDepacketizer::with_limits(&aac_track(HBR), limits);
    let r = d.push(&rtp(1, 1, 0, false, &aac_payload(HBR, &[(&au(1000, 0), 0)], Some(8000))));
    assert!(matches!(r, Err(AudioDepacketizeError::FrameTooLarge { len: 8000, limit: 2000 })), "{r:?}");
}
