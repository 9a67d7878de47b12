//! The index file format: an append-only log of CRC-framed postcard records
//! (one header record, then one record per written batch of frames), its
//! encoder and the never-panicking decoder [`parse_index`].
//!
//! Record framing: `[u32 le length][u32 le crc32(payload)][payload]` where
//! the payload is postcard. The first record is an [`IndexHeader`], every
//! later record is a postcard sequence of [`FrameEntry`] (one per frame of the
//! batch). Decoding stops at the first record that is truncated, fails its CRC
//! or does not decode: everything before it is kept (torn-tail tolerance).

use crate::error::IndexError;
use hotspare_media::{Codec, CodecParams};
use serde::{Deserialize, Serialize};

/// Version written in every [`IndexHeader`].
pub const INDEX_VERSION: u16 = 1;
/// Bytes of record framing before the payload.
pub const RECORD_HEADER_LEN: usize = 8;
/// Records longer than this are treated as corrupt.
pub const MAX_RECORD_LEN: usize = 64 << 20;
/// Frame duration used when none is known (a lone frame, rebuilt indexes): 1/25 s.
pub const DEFAULT_DURATION_90K: u32 = 90_000 / 25;

/// First record of an index file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexHeader {
    pub version: u16,
    pub codec: Codec,
    pub params: CodecParams,
    /// Wall-clock time of the first frame, µs since the Unix epoch.
    pub start_wall_us: i64,
    /// 90 kHz pts of the first frame (stream timeline, informative).
    pub first_pts_90k: i64,
}

/// One frame as stored in a batch record. Durations are not stored: a frame's
/// duration is the pts delta to the next frame (see [`frame_durations`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameEntry {
    /// Bytes of the frame in the sample file.
    pub len: u32,
    /// pts minus the segment's first pts, 90 kHz (zigzag varint on disk).
    pub pts_rel_90k: i64,
    pub keyframe: bool,
}

/// Result of [`parse_index`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedIndex {
    pub header: IndexHeader,
    pub frames: Vec<FrameEntry>,
    /// Bytes of the file covered by whole, valid records.
    pub valid_len: usize,
    /// Number of valid batch records (the header not counted).
    pub batches: usize,
    /// True when bytes after `valid_len` were ignored (torn or corrupt tail).
    pub torn: bool,
}

/// Appends one framed record holding `value` to `buf`.
pub fn encode_record<T: Serialize + ?Sized>(value: &T, buf: &mut Vec<u8>) -> Result<(), postcard::Error> {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; RECORD_HEADER_LEN]);
    let taken = std::mem::take(buf);
    *buf = postcard::to_extend(value, taken)?;
    let payload_len = buf.len() - start - RECORD_HEADER_LEN;
    let crc = crc32fast::hash(&buf[start + RECORD_HEADER_LEN..]);
    buf[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Splits the next valid record off `bytes`: `(payload, total record length)`.
pub(crate) fn next_record(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let len = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
    if len > MAX_RECORD_LEN {
        return None;
    }
    let payload = bytes.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + len)?;
    (crc32fast::hash(payload) == crc).then_some((payload, RECORD_HEADER_LEN + len))
}

/// Decodes an index file. Never panics: a bad header is an error, a bad
/// record after the header ends the log (reported through `torn`).
pub fn parse_index(bytes: &[u8]) -> Result<ParsedIndex, IndexError> {
    if bytes.len() < RECORD_HEADER_LEN {
        return Err(IndexError::NoHeader);
    }
    let (payload, mut pos) = match next_record(bytes) {
        Some(r) => r,
        None if bytes.len()
            < RECORD_HEADER_LEN + u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize =>
        {
            return Err(IndexError::NoHeader)
        }
        None => return Err(IndexError::HeaderCrc),
    };
    let header: IndexHeader = postcard::from_bytes(payload).map_err(IndexError::HeaderDecode)?;
    if header.version != INDEX_VERSION {
        return Err(IndexError::Version(header.version));
    }
    let mut frames = Vec::new();
    let mut batches = 0;
    while let Some((payload, len)) = bytes.get(pos..).and_then(next_record) {
        let Ok(batch) = postcard::from_bytes::<Vec<FrameEntry>>(payload) else { break };
        frames.extend_from_slice(&batch);
        batches += 1;
        pos += len;
    }
    Ok(ParsedIndex { header, frames, valid_len: pos, batches, torn: pos < bytes.len() })
}

/// Duration of each frame: pts delta to the next frame (negative deltas
/// clamp to 0); the last frame gets the previous frame's duration, or
/// [`DEFAULT_DURATION_90K`] when it is alone.
pub fn frame_durations(frames: &[FrameEntry]) -> impl Iterator<Item = u32> + '_ {
    let n = frames.len();
    (0..n).map(move |i| {
        let delta = |a: usize, b: usize| {
            (frames[b].pts_rel_90k.saturating_sub(frames[a].pts_rel_90k)).clamp(0, i64::from(u32::MAX)) as u32
        };
        if i + 1 < n {
            delta(i, i + 1)
        } else if n >= 2 {
            delta(n - 2, n - 1)
        } else {
            DEFAULT_DURATION_90K
        }
    })
}

/// Total duration of a segment whose frames are `frames` (90 kHz).
pub fn total_duration(frames: &[FrameEntry]) -> u64 {
    match frames {
        [] => 0,
        [_] => u64::from(DEFAULT_DURATION_90K),
        [.., a, b] => {
            let last = (b.pts_rel_90k.saturating_sub(a.pts_rel_90k)).max(0) as u64;
            (b.pts_rel_90k.saturating_sub(frames[0].pts_rel_90k)).max(0) as u64 + last
        }
    }
}

/// How many of `frames` (from the start) lie entirely within a sample file
/// of `sample_len` bytes, and the bytes they span. Readers never go past it.
pub fn frames_within(frames: &[FrameEntry], sample_len: u64) -> (usize, u64) {
    let mut bytes = 0u64;
    let mut count = 0;
    for f in frames {
        if bytes + u64::from(f.len) > sample_len {
            break;
        }
        bytes += u64::from(f.len);
        count += 1;
    }
    (count, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> IndexHeader {
        IndexHeader {
            version: INDEX_VERSION,
            codec: Codec::H264,
            params: CodecParams { vps: vec![], sps: vec![0x67, 1, 2], pps: vec![0x68, 3] },
            start_wall_us: 1_700_000_000_000_000,
            first_pts_90k: 12345,
        }
    }

    #[test]
    fn round_trip_and_torn_tail() {
        let mut buf = Vec::new();
        encode_record(&header(), &mut buf).unwrap();
        let f = |i: i64| FrameEntry { len: 100 + i as u32, pts_rel_90k: i * 3600, keyframe: i == 0 };
        encode_record(&[f(0), f(1)][..], &mut buf).unwrap();
        let good = buf.len();
        encode_record(&[f(2)][..], &mut buf).unwrap();
        let p = parse_index(&buf).unwrap();
        assert_eq!((p.frames.len(), p.batches, p.torn, p.valid_len), (3, 2, false, buf.len()));
        assert_eq!(frame_durations(&p.frames).collect::<Vec<_>>(), vec![3600, 3600, 3600]);
        assert_eq!(total_duration(&p.frames), 3 * 3600);
        for cut in good..buf.len() {
            let p = parse_index(&buf[..cut]).unwrap();
            assert_eq!((p.frames.len(), p.valid_len, p.torn), (2, good, cut > good));
        }
        buf[good + 9] ^= 0xff;
        assert_eq!(parse_index(&buf).unwrap().frames.len(), 2);
    }

    #[test]
    fn garbage_never_panics() {
        let mut hdr = Vec::new();
        encode_record(&header(), &mut hdr).unwrap();
        let mut x: u32 = 99;
        for len in 0..300usize {
            let mut v = hdr.clone();
            for _ in 0..len {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                v.push((x >> 16) as u8);
            }
            assert!(parse_index(&v).is_ok());
            let _ = parse_index(&v[8..]);
            for cut in 0..hdr.len() {
                assert!(parse_index(&v[..cut]).is_err());
            }
        }
    }
}
