//! Import validation (`hotspare_store::validate`): arbitrary index metadata and
//! sample bytes. Never panics; whatever it accepts satisfies the invariants
//! the NVR relies on when it stores and serves an imported segment.
//!
//! Input: byte 0 chooses the form. Even: `[u16 le n][index: n bytes][sample]`
//! (raw index bytes). Odd (structured, so mutations get past the index CRCs):
//! byte 0 bit 1 = H.265; `[u8 frames]` then per frame `[u32 le len][i32 le
//! pts][u8 keyframe]`, `[i64 le start_us]`, `[u8 n][SPS]`, `[u8 n][PPS]`,
//! `[u8 n][VPS]`, then the sample bytes; the index is encoded from these.
//!
//! Byte 0 bit 2 set: the audio part of an import instead
//! (`audio_index::validate_audio` + `audio_times`). Bit 0 clear: `[u16 le n][audio index: n
//! bytes][u32 le data_len]`; set: `[u8 codec][u32 le rate][u8 channels][u8 n][config]
//! [u8 frames] × [u16 le len][i32 le pts][u16 le duration]`, `[i64 le start_us]`,
//! `[u32 le data_len]`, the audio index encoded from these.
#![no_main]

use hotspare_media::{AudioCodec, AudioParams, Codec, CodecParams};
use hotspare_store::audio_index::{
    audio_times, provable_audio, validate_audio, validate_audio_params, AudioEntry, AudioIndexHeader,
    AUDIO_INDEX_VERSION,
};
use hotspare_store::index::{encode_record, FrameEntry, IndexHeader, INDEX_VERSION};
use hotspare_store::validate::{validate_segment, MAX_FUTURE_US};
use libfuzzer_sys::fuzz_target;

/// Fixed "now" so that the verdict depends on the input only.
const NOW_US: i64 = 1_800_000_000_000_000;

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u8()? as usize;
        Some(self.take(n)?.to_vec())
    }
}

/// (index bytes, sample bytes) of the structured form.
fn structured(flags: u8, c: &mut Cursor) -> Option<(Vec<u8>, Vec<u8>)> {
    let n = c.u8()? as usize;
    let mut frames = Vec::with_capacity(n);
    for _ in 0..n {
        let len = u32::from_le_bytes(c.take(4)?.try_into().ok()?);
        let pts = i32::from_le_bytes(c.take(4)?.try_into().ok()?);
        frames.push(FrameEntry { len, pts_rel_90k: i64::from(pts), keyframe: c.u8()? & 1 == 1 });
    }
    let start_wall_us = i64::from_le_bytes(c.take(8)?.try_into().ok()?);
    let (sps, pps, vps) = (c.bytes()?, c.bytes()?, c.bytes()?);
    let codec = if flags & 2 != 0 { Codec::H265 } else { Codec::H264 };
    let header = IndexHeader {
        version: INDEX_VERSION,
        codec,
        params: CodecParams { vps, sps, pps },
        start_wall_us,
        first_pts_90k: 0,
    };
    let mut index = Vec::new();
    encode_record(&header, &mut index).ok()?;
    encode_record(&frames[..], &mut index).ok()?;
    Some((index, c.0.to_vec()))
}

/// Walks one frame's `[u32 be len][NAL]` sequence: true when it ends exactly at the frame's end.
fn walks_exactly(frame: &[u8]) -> bool {
    let mut at = 0usize;
    while at < frame.len() {
        let Some(len) = frame.get(at..at + 4) else { return false };
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len == 0 {
            return false;
        }
        at += 4 + len;
    }
    at == frame.len()
}

/// (audio index bytes, audio data length) of the audio form.
fn audio_input(flags: u8, c: &mut Cursor) -> Option<(Vec<u8>, u64)> {
    if flags & 1 == 0 {
        let n = c.take(2)?;
        let index = c.take(u16::from_le_bytes([n[0], n[1]]) as usize)?.to_vec();
        let len = u32::from_le_bytes(c.take(4)?.try_into().ok()?);
        return Some((index, u64::from(len)));
    }
    let codec = [AudioCodec::Aac, AudioCodec::Pcma, AudioCodec::Pcmu][usize::from(c.u8()? % 3)];
    let sample_rate = u32::from_le_bytes(c.take(4)?.try_into().ok()?);
    let channels = c.u8()?;
    let config = c.bytes()?;
    let n = c.u8()? as usize;
    let mut frames = Vec::with_capacity(n);
    for _ in 0..n {
        let len = u16::from_le_bytes(c.take(2)?.try_into().ok()?);
        let pts = i32::from_le_bytes(c.take(4)?.try_into().ok()?);
        let duration = u16::from_le_bytes(c.take(2)?.try_into().ok()?);
        frames.push(AudioEntry { len: u32::from(len), pts_rel: i64::from(pts), duration: u32::from(duration) });
    }
    let start_wall_us = i64::from_le_bytes(c.take(8)?.try_into().ok()?);
    let data_len = u32::from_le_bytes(c.take(4)?.try_into().ok()?);
    let header = AudioIndexHeader {
        version: AUDIO_INDEX_VERSION,
        params: AudioParams { codec, sample_rate, channels, config },
        start_wall_us,
        first_pts: 0,
    };
    let mut index = Vec::new();
    encode_record(&header, &mut index).ok()?;
    encode_record(&frames[..], &mut index).ok()?;
    Some((index, u64::from(data_len)))
}

/// Whatever audio validation accepts is what export and recovery rely on.
fn check_audio(flags: u8, c: &mut Cursor) {
    let Some((index, data_len)) = audio_input(flags, c) else { return };
    let Ok(p) = validate_audio(&index, data_len) else { return };
    if audio_times(&p, NOW_US).is_err() {
        return;
    }
    assert!(!p.torn && p.valid_len == index.len());
    assert!(validate_audio_params(&p.header.params).is_ok());
    assert!(p.header.start_wall_us >= 0);
    assert_eq!(p.frames.iter().map(|f| u64::from(f.len)).sum::<u64>(), data_len);
    assert!(p.frames.windows(2).all(|w| w[0].pts_rel <= w[1].pts_rel), "audio pts go back");
    assert_eq!(provable_audio(&p, data_len), (p.frames.len(), data_len), "recovery keeps what import accepts");
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let mut c = Cursor(rest);
    if flags & 4 != 0 {
        check_audio(flags, &mut c);
        return;
    }
    let parts = if flags & 1 == 0 {
        c.take(2).and_then(|n| c.take(u16::from_le_bytes([n[0], n[1]]) as usize)).map(|i| (i.to_vec(), c.0.to_vec()))
    } else {
        structured(flags, &mut c)
    };
    let Some((index, sample)) = parts else { return };
    let Ok(p) = validate_segment(&index, &sample, NOW_US) else { return };
    assert!(!p.torn && p.valid_len == index.len());
    assert!(p.frames.first().is_some_and(|f| f.keyframe));
    assert!(p.header.start_wall_us >= 0 && p.header.start_wall_us <= NOW_US + MAX_FUTURE_US);
    let mut off = 0usize;
    let mut prev = 0i64;
    for f in &p.frames {
        assert!(f.pts_rel_90k >= prev, "pts go back");
        prev = f.pts_rel_90k;
        let end = off + f.len as usize;
        let frame = sample.get(off..end).expect("accepted frame outside the sample");
        assert!(walks_exactly(frame), "accepted frame whose NAL lengths do not walk it exactly");
        off = end;
    }
    assert_eq!(off, sample.len(), "accepted frames do not cover the sample exactly");
});
