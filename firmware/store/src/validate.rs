//! Validation of a segment offered for import (failover re-insertion), as
//! strict as what recovery proves of local files: the index decodes
//! completely, its parameter sets parse, its times are sane, and the sample
//! bytes walk exactly as `[u32 be length][NAL unit]` sequences that end at
//! each frame's end, the frames adding up to the sample file. Pure functions
//! over bytes and readers (no store state), so they are fuzzed directly.

use crate::index::{parse_index, total_duration, FrameEntry, ParsedIndex};
use hotspare_media::sps::{parse_h264_sps, parse_h265_sps};
use hotspare_media::{Codec, CodecParams};
use std::io::Read;
use thiserror::Error;

/// How far in the future (past the receiver's clock) a segment may start or end: one day.
pub const MAX_FUTURE_US: i64 = 86_400_000_000;
/// Longest accepted segment (by its pts): one day, in 90 kHz ticks.
pub const MAX_SEGMENT_90K: u64 = 86_400 * 90_000;

/// Why an offered segment is refused. Frame numbers count from 0.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidSegment {
    #[error("index does not decode: {0}")]
    IndexDecode(#[source] crate::error::IndexError),
    #[error("index has {0} bytes after its last valid record")]
    IndexTail(usize),
    #[error("index lists no frames")]
    NoFrames,
    #[error("the first frame is not a keyframe")]
    FirstNotKeyframe,
    #[error("parameter sets incomplete for {0:?}")]
    MissingParams(Codec),
    #[error("SPS does not parse: {0}")]
    BadSps(String),
    #[error("{which} is not a {which} NAL unit (first byte {first:#04x})")]
    BadParamNal { which: &'static str, first: u8 },
    #[error("start time {0} µs is before the Unix epoch")]
    NegativeStart(i64),
    #[error("segment ends at {end_us} µs, more than a day after now ({now_us} µs)")]
    InFuture { end_us: i64, now_us: i64 },
    #[error("frame {frame}: pts {pts} is negative")]
    NegativePts { frame: usize, pts: i64 },
    #[error("frame {frame}: pts {pts} goes back before the previous frame's {prev}")]
    PtsBackwards { frame: usize, pts: i64, prev: i64 },
    #[error("segment lasts {0} (90 kHz ticks), more than one day")]
    TooLong(u64),
    #[error("index frames total {indexed} bytes but the sample data is {sample} bytes")]
    LengthMismatch { indexed: u64, sample: u64 },
    #[error("frame {frame}: {len} bytes cannot hold a length-prefixed NAL unit")]
    FrameTooShort { frame: usize, len: u32 },
    #[error(
        "frame {frame}: NAL unit at byte {at} of the frame claims {len} bytes, past the frame's end ({frame_len})"
    )]
    NalOverrun { frame: usize, at: u64, len: u32, frame_len: u32 },
    #[error("frame {frame}: NAL unit at byte {at} is shorter than a NAL header ({len} bytes)")]
    NalTooShort { frame: usize, at: u64, len: u32 },
    #[error("frame {frame}: NAL unit at byte {at} has its forbidden_zero_bit set")]
    ForbiddenBit { frame: usize, at: u64 },
    #[error("frame {frame}: no slice (VCL NAL unit)")]
    NoSlice { frame: usize },
    #[error("frame {frame} is marked keyframe but holds no IDR/IRAP slice")]
    KeyframeWithoutIdr { frame: usize },
    #[error("sample data ends after {got} bytes, the index lists {want}")]
    SampleShort { got: u64, want: u64 },
    #[error("sample data is longer than the {want} bytes the index lists")]
    SampleLong { want: u64 },
    #[error("reading the sample data: {0}")]
    Read(String),
}

/// Decodes `index` and checks everything it says on its own: complete (no torn tail), at least
/// one frame, a keyframe first, parameter sets that parse, start ≥ 0, end not more than
/// [`MAX_FUTURE_US`] after `now_us`, pts non-negative and non-decreasing, duration at most
/// [`MAX_SEGMENT_90K`], every frame long enough for one length-prefixed NAL unit.
pub fn validate_index(index: &[u8], now_us: i64) -> Result<ParsedIndex, InvalidSegment> {
    let parsed = parse_index(index).map_err(InvalidSegment::IndexDecode)?;
    if parsed.torn {
        return Err(InvalidSegment::IndexTail(index.len() - parsed.valid_len));
    }
    let first = parsed.frames.first().ok_or(InvalidSegment::NoFrames)?;
    if !first.keyframe {
        return Err(InvalidSegment::FirstNotKeyframe);
    }
    validate_params(parsed.header.codec, &parsed.header.params)?;
    let start = parsed.header.start_wall_us;
    if start < 0 {
        return Err(InvalidSegment::NegativeStart(start));
    }
    let mut prev = 0i64;
    for (frame, f) in parsed.frames.iter().enumerate() {
        if f.pts_rel_90k < 0 {
            return Err(InvalidSegment::NegativePts { frame, pts: f.pts_rel_90k });
        }
        if f.pts_rel_90k < prev {
            return Err(InvalidSegment::PtsBackwards { frame, pts: f.pts_rel_90k, prev });
        }
        prev = f.pts_rel_90k;
        if (f.len as usize) < 4 + parsed.header.codec.nal_header_len() {
            return Err(InvalidSegment::FrameTooShort { frame, len: f.len });
        }
    }
    let duration = total_duration(&parsed.frames);
    if duration > MAX_SEGMENT_90K {
        return Err(InvalidSegment::TooLong(duration));
    }
    let end_us = start.saturating_add((duration / 9 * 100) as i64);
    if end_us > now_us.saturating_add(MAX_FUTURE_US) {
        return Err(InvalidSegment::InFuture { end_us, now_us });
    }
    Ok(parsed)
}

/// The parameter sets are present, of the right NAL types, and the SPS parses.
pub fn validate_params(codec: Codec, p: &CodecParams) -> Result<(), InvalidSegment> {
    if !p.is_complete(codec) {
        return Err(InvalidSegment::MissingParams(codec));
    }
    let nal_is = |nal: &[u8], which: &'static str, t: u8| match nal.first() {
        Some(&b) if b & 0x80 == 0 && codec.nal_type(b) == t && nal.len() >= codec.nal_header_len() => Ok(()),
        first => Err(InvalidSegment::BadParamNal { which, first: first.copied().unwrap_or(0) }),
    };
    match codec {
        Codec::H264 => {
            nal_is(&p.pps, "PPS", 8)?;
            parse_h264_sps(&p.sps).map(|_| ()).map_err(|e| InvalidSegment::BadSps(e.to_string()))
        }
        Codec::H265 => {
            nal_is(&p.vps, "VPS", 32)?;
            nal_is(&p.pps, "PPS", 34)?;
            parse_h265_sps(&p.sps).map(|_| ()).map_err(|e| InvalidSegment::BadSps(e.to_string()))
        }
    }
}

/// Sum of the frames' lengths equals `sample_len`.
pub fn validate_lengths(frames: &[FrameEntry], sample_len: u64) -> Result<(), InvalidSegment> {
    let indexed: u64 = frames.iter().map(|f| u64::from(f.len)).sum();
    if indexed != sample_len {
        return Err(InvalidSegment::LengthMismatch { indexed, sample: sample_len });
    }
    Ok(())
}

/// Reads exactly `n` bytes into `buf[..n]`; a short read is [`InvalidSegment::SampleShort`].
fn read_exact<R: Read>(r: &mut R, buf: &mut [u8], pos: u64, want: u64) -> Result<(), InvalidSegment> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => InvalidSegment::SampleShort { got: pos, want },
        _ => InvalidSegment::Read(e.to_string()),
    })
}

/// Skips `n` bytes of `r`.
fn skip<R: Read>(r: &mut R, n: u64, pos: u64, want: u64) -> Result<(), InvalidSegment> {
    let skipped =
        std::io::copy(&mut r.take(n), &mut std::io::sink()).map_err(|e| InvalidSegment::Read(e.to_string()))?;
    if skipped < n {
        return Err(InvalidSegment::SampleShort { got: pos + skipped, want });
    }
    Ok(())
}

/// Walks the sample data of `frames` from `sample` (which must hold exactly the frames' total
/// bytes and nothing more): every frame is a sequence of `[u32 be length][NAL unit]` ending
/// exactly at the frame's end, every NAL unit holds at least its header with the
/// forbidden_zero_bit clear, every frame holds a slice, and a frame marked keyframe an IDR/IRAP
/// slice. Reads the NAL headers only (bounded memory: pass a buffered reader).
pub fn validate_sample<R: Read>(codec: Codec, frames: &[FrameEntry], mut sample: R) -> Result<(), InvalidSegment> {
    let want: u64 = frames.iter().map(|f| u64::from(f.len)).sum();
    let hl = codec.nal_header_len();
    let mut pos = 0u64;
    for (frame, f) in frames.iter().enumerate() {
        let (mut at, mut slice, mut idr) = (0u64, false, false);
        while at < u64::from(f.len) {
            let room = u64::from(f.len) - at;
            if room < 4 {
                return Err(InvalidSegment::NalOverrun { frame, at, len: 0, frame_len: f.len });
            }
            let mut len = [0u8; 4];
            read_exact(&mut sample, &mut len, pos, want)?;
            let len = u32::from_be_bytes(len);
            if u64::from(len) > room - 4 {
                return Err(InvalidSegment::NalOverrun { frame, at, len, frame_len: f.len });
            }
            if (len as usize) < hl {
                return Err(InvalidSegment::NalTooShort { frame, at, len });
            }
            let mut head = [0u8; 1];
            read_exact(&mut sample, &mut head, pos + 4, want)?;
            if head[0] & 0x80 != 0 {
                return Err(InvalidSegment::ForbiddenBit { frame, at });
            }
            let t = codec.nal_type(head[0]);
            slice |= codec.is_vcl_nal(t);
            idr |= codec.is_keyframe_nal(t);
            skip(&mut sample, u64::from(len) - 1, pos + 5, want)?;
            at += 4 + u64::from(len);
            pos += 4 + u64::from(len);
        }
        if !slice {
            return Err(InvalidSegment::NoSlice { frame });
        }
        if f.keyframe && !idr {
            return Err(InvalidSegment::KeyframeWithoutIdr { frame });
        }
    }
    let mut extra = [0u8; 1];
    match sample.read(&mut extra) {
        Ok(0) => Ok(()),
        Ok(_) => Err(InvalidSegment::SampleLong { want }),
        Err(e) => Err(InvalidSegment::Read(e.to_string())),
    }
}

/// [`validate_index`] then [`validate_sample`] over a sample held in memory.
pub fn validate_segment(index: &[u8], sample: &[u8], now_us: i64) -> Result<ParsedIndex, InvalidSegment> {
    let parsed = validate_index(index, now_us)?;
    validate_lengths(&parsed.frames, sample.len() as u64)?;
    validate_sample(parsed.header.codec, &parsed.frames, sample)?;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: u32, keyframe: bool) -> FrameEntry {
        FrameEntry { len, pts_rel_90k: 0, keyframe }
    }

    fn walk(frames: &[FrameEntry], sample: &[u8]) -> Result<(), InvalidSegment> {
        validate_sample(Codec::H264, frames, sample)
    }

    #[test]
    fn nal_walk_is_exact() {
        // Two frames: [len 3][IDR slice], then [len 1][SEI] [len 2][P slice].
        let sample = [0, 0, 0, 3, 0x65, 1, 2, 0, 0, 0, 1, 0x06, 0, 0, 0, 2, 0x41, 9];
        assert_eq!(walk(&[frame(7, true), frame(11, false)], &sample), Ok(()));
        // A frame boundary inside a NAL, a length prefix cut by the frame's end, extra bytes.
        assert!(matches!(
            walk(&[frame(6, true), frame(12, false)], &sample),
            Err(InvalidSegment::NalOverrun { frame: 0, .. })
        ));
        assert!(matches!(
            walk(&[frame(9, true), frame(9, false)], &sample),
            Err(InvalidSegment::NalOverrun { frame: 0, .. })
        ));
        assert_eq!(
            walk(&[frame(7, true), frame(11, false)], &[&sample[..], &[0]].concat()),
            Err(InvalidSegment::SampleLong { want: 18 })
        );
        assert_eq!(
            walk(&[frame(7, true), frame(11, false)], &sample[..17]),
            Err(InvalidSegment::SampleShort { got: 17, want: 18 })
        );
        // Content checks: a keyframe without IDR, a frame without a slice, the forbidden bit.
        assert_eq!(
            walk(&[frame(7, true), frame(11, true)], &sample),
            Err(InvalidSegment::KeyframeWithoutIdr { frame: 1 })
        );
        assert_eq!(walk(&[frame(7, true)], &[0, 0, 0, 3, 0x06, 1, 2]), Err(InvalidSegment::NoSlice { frame: 0 }));
        assert_eq!(
            walk(&[frame(7, true)], &[0, 0, 0, 3, 0xe5, 1, 2]),
            Err(InvalidSegment::ForbiddenBit { frame: 0, at: 0 })
        );
        assert_eq!(
            walk(&[frame(7, true)], &[0, 0, 0, 0, 0, 0, 0]),
            Err(InvalidSegment::NalTooShort { frame: 0, at: 0, len: 0 })
        );
    }
}
