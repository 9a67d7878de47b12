//! Depacketizer on a stream of RTP packets, H.264 and H.265.
//!
//! Input: one flags byte, then packets, each `[u16 be control][bytes]`:
//! the low 11 bits of `control` are the packet length (cut at the end of
//! the input), bit 15 asks for `clear_completed` + `rebase` after the push,
//! bit 14 skips a sequence number (a lost packet). Flags bit 0 "fixes up"
//! every packet header (version 2, payload type 96, consecutive sequence
//! numbers) so the fuzzer spends its time in the payload formats. Flags
//! bits 1–3 pick the camera policy (`SingleFragmentFu::Drop`,
//! `StartCodesInNal::Keep`, `UnknownSsrc::Accept`; clear: the defaults),
//! bit 4 sets the expected SSRC to the seeds' 0x12345678, bit 5 the
//! expected start to the first fixed-up sequence number.
//!
//! Each packet goes, behind a 4-byte interleaved header as on the wire, to
//! two depacketizers per codec: A keeps every byte it was given, B clears
//! completed frames and drops consumed bytes when asked. After every push
//! both must agree (same result, same new frames with the same bytes) and
//! every completed frame must be well formed: pieces inside their buffers,
//! piece lengths adding up to `len`, bytes a sequence of 4-byte length
//! prefixed NAL units that ends exactly at the frame's end.
//!
//! A third depacketizer C runs with tiny [`Limits`] (and clears like B):
//! its frames are well formed too, none is larger than the limit, and it
//! never holds more pieces or side bytes than the limits allow.
#![no_main]

use hotspare_camera_policy::{CameraPolicy, SingleFragmentFu, StartCodesInNal, UnknownSsrc};
use hotspare_media::depacketize::{gather, Depacketizer, Frame, Limits, Piece};
use hotspare_media::{Codec, CodecParams};
use libfuzzer_sys::fuzz_target;

const PT: u8 = 96;
const SMALL: Limits = Limits { max_frame_bytes: 1500, max_pieces: 48 };

/// Checks every completed frame of `d` over `buf`; returns the bytes of
/// frames `from..`.
fn check(d: &Depacketizer, buf: &[u8], from: usize) -> Vec<(Frame, Vec<u8>)> {
    let frames = d.frames();
    let pieces = d.completed_pieces();
    let side = d.side();
    let total: u64 = frames.iter().map(|f| f.pieces as u64).sum();
    assert_eq!(total, pieces.len() as u64, "frames' piece counts vs completed pieces");
    assert_eq!(d.completed_bytes(), frames.iter().map(|f| f.len as u64).sum::<u64>());
    let mut out = Vec::new();
    let mut at = 0usize;
    for (i, f) in frames.iter().enumerate() {
        let ps = &pieces[at..at + f.pieces as usize];
        at += f.pieces as usize;
        let mut sum = 0u64;
        for p in ps {
            match *p {
                Piece::Recv { start, len } => {
                    assert!(start as u64 + len as u64 <= buf.len() as u64, "Recv piece {p:?} outside buffer of {}", buf.len());
                    sum += len as u64;
                }
                Piece::Side { start, len } => {
                    assert!(start as u64 + len as u64 <= side.len() as u64, "Side piece {p:?} outside side of {}", side.len());
                    sum += len as u64;
                }
            }
        }
        assert_eq!(sum, f.len as u64, "frame {i}: pieces add up to {sum}, len says {}", f.len);
        if i < from {
            continue;
        }
        let mut bytes = Vec::with_capacity(f.len as usize);
        for p in ps {
            match *p {
                Piece::Recv { start, len } => bytes.extend_from_slice(&buf[start as usize..][..len as usize]),
                Piece::Side { start, len } => bytes.extend_from_slice(&side[start as usize..][..len as usize]),
            }
        }
        check_nals(&bytes, d.codec());
        out.push((*f, bytes));
    }
    out
}

/// A frame's bytes: `[u32 be len][NAL]...`, lengths adding up exactly.
fn check_nals(mut b: &[u8], codec: Codec) {
    let mut vcl = false;
    assert!(!b.is_empty(), "empty frame");
    while !b.is_empty() {
        assert!(b.len() >= 4, "{} stray bytes after the last NAL unit", b.len());
        let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        assert!(n >= 1, "zero-length NAL unit");
        assert!(b.len() - 4 >= n, "NAL length {n} runs past the frame ({} left)", b.len() - 4);
        vcl |= codec.is_vcl_nal(codec.nal_type(b[4]));
        b = &b[4 + n..];
    }
    assert!(vcl, "completed frame without a VCL NAL unit");
}

struct Pair {
    a: Depacketizer,
    b: Depacketizer,
    /// A: everything pushed so far. B: what is left after rebasing.
    wa: Vec<u8>,
    wb: Vec<u8>,
    seen_a: usize,
    seen_b: usize,
    /// Tiny limits, cleared like B, with its own buffer.
    c: Depacketizer,
    wc: Vec<u8>,
}

/// The policy and expectations flags bits 1–5 pick.
fn setup(d: Depacketizer, flags: u8, seq: u16) -> Depacketizer {
    let policy = CameraPolicy {
        single_fragment_fu: if flags & 2 != 0 { SingleFragmentFu::Drop } else { SingleFragmentFu::Accept },
        start_codes_in_nal: if flags & 4 != 0 { StartCodesInNal::Keep } else { StartCodesInNal::Split },
        unknown_ssrc: if flags & 8 != 0 { UnknownSsrc::Accept } else { UnknownSsrc::Ignore },
        ..CameraPolicy::default()
    };
    let mut d = d.with_policy(&policy);
    if flags & 16 != 0 {
        d.set_expected_ssrc(Some(0x1234_5678));
    }
    if flags & 32 != 0 {
        d.set_expected_start(seq);
    }
    d
}

impl Pair {
    fn new(codec: Codec, flags: u8, seq: u16) -> Self {
        let new = |limits| setup(Depacketizer::with_limits(codec, PT, CodecParams::default(), limits), flags, seq);
        Pair {
            a: new(Limits::default()),
            b: new(Limits::default()),
            wa: Vec::new(),
            wb: Vec::new(),
            seen_a: 0,
            seen_b: 0,
            c: new(SMALL),
            wc: Vec::new(),
        }
    }

    fn push(&mut self, pkt: &[u8], clear: bool) {
        let sa = self.wa.len() + 4;
        self.wa.extend_from_slice(&[b'$', 0, (pkt.len() >> 8) as u8, pkt.len() as u8]);
        self.wa.extend_from_slice(pkt);
        let sb = self.wb.len() + 4;
        self.wb.extend_from_slice(&[b'$', 0, (pkt.len() >> 8) as u8, pkt.len() as u8]);
        self.wb.extend_from_slice(pkt);
        let ra = self.a.push(&self.wa, sa, self.wa.len());
        let rb = self.b.push(&self.wb, sb, self.wb.len());
        assert_eq!(ra, rb, "same packet, different results");

        let na = check(&self.a, &self.wa, self.seen_a);
        let nb = check(&self.b, &self.wb, self.seen_b);
        self.seen_a = self.a.frames().len();
        self.seen_b = self.b.frames().len();
        assert_eq!(na, nb, "clearing/rebasing changed the frames");
        assert_eq!(self.a.stats(), self.b.stats());
        assert_eq!(self.a.stats().frames, self.a.frames().len() as u64);
        assert_eq!(self.a.params(), self.b.params());

        // gather() agrees with the per-frame walk.
        let mut g = Vec::new();
        gather(&self.b, &self.wb, &mut g);
        let all = check(&self.b, &self.wb, 0);
        assert_eq!(g, all.iter().flat_map(|(_, b)| b.iter().copied()).collect::<Vec<u8>>());

        let sc = self.wc.len() + 4;
        self.wc.extend_from_slice(&[b'$', 0, (pkt.len() >> 8) as u8, pkt.len() as u8]);
        self.wc.extend_from_slice(pkt);
        let _ = self.c.push(&self.wc, sc, self.wc.len());
        for (f, _) in check(&self.c, &self.wc, 0) {
            assert!(f.len <= SMALL.max_frame_bytes, "frame of {} bytes over the limit", f.len);
        }
        assert!(self.c.held_pieces() <= SMALL.max_pieces, "{} pieces held", self.c.held_pieces());
        assert!(self.c.side().len() <= 6 * SMALL.max_pieces, "{} side bytes", self.c.side().len());

        if clear {
            self.c.clear_completed();
            let floor = self.c.recv_floor().map(|f| f as usize).unwrap_or(self.wc.len());
            if floor > 0 {
                self.wc.drain(..floor);
                self.c.rebase(floor as u32);
            }
            // As the recorder does after writing a batch.
            self.b.clear_completed();
            self.seen_b = 0;
            assert!(self.b.frames().is_empty() && self.b.completed_pieces().is_empty());
            let floor = self.b.recv_floor().map(|f| f as usize).unwrap_or(self.wb.len());
            assert!(floor <= self.wb.len(), "recv_floor {floor} past the buffer end {}", self.wb.len());
            if floor > 0 {
                self.wb.drain(..floor);
                self.b.rebase(floor as u32);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else { return };
    let fixup = flags & 1 != 0;
    let mut seq: u16 = u16::from(flags) << 8;
    let mut pairs = [Pair::new(Codec::H264, flags, seq), Pair::new(Codec::H265, flags, seq)];
    let mut pkt = Vec::new();
    while rest.len() >= 2 {
        let ctl = u16::from_be_bytes([rest[0], rest[1]]);
        rest = &rest[2..];
        let n = (ctl & 0x07ff) as usize;
        let n = n.min(rest.len());
        pkt.clear();
        pkt.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        if ctl & 0x4000 != 0 {
            seq = seq.wrapping_add(1);
        }
        if fixup && pkt.len() >= 12 {
            pkt[0] = 0x80 | (pkt[0] & 0x3f);
            pkt[1] = (pkt[1] & 0x80) | PT;
            pkt[2..4].copy_from_slice(&seq.to_be_bytes());
        }
        seq = seq.wrapping_add(1);
        for p in &mut pairs {
            p.push(&pkt, ctl & 0x8000 != 0);
        }
    }
});
