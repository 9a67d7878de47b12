//! Rebuilding an index from a sample file alone: walks the length-prefixed
//! NAL units, finds the codec and parameter sets from in-band VPS/SPS/PPS,
//! and splits frames at the first slice of each picture. [`frames_from`]
//! does the same for the unindexed tail of a sample file whose index is
//! known up to some offset.

use crate::index::{FrameEntry, DEFAULT_DURATION_90K};
use hotspare_media::sps::{parse_h264_sps, parse_h265_sps};
use hotspare_media::{Codec, CodecParams};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Largest parameter set NAL kept.
const MAX_PARAM_LEN: u32 = 64 * 1024;

struct Nal {
    offset: u64,
    /// Total bytes including the 4-byte length prefix.
    len: u64,
    head: [u8; 3],
}

/// What a sample file scan recovered.
pub(crate) struct Rebuilt {
    pub codec: Codec,
    pub params: CodecParams,
    pub frames: Vec<FrameEntry>,
}

/// What a walk over length-prefixed NAL units found.
struct Walk {
    nals: Vec<Nal>,
    /// Candidate parameter sets (h264 sps, h264 pps, h265 vps, sps, pps).
    ps: [Option<Vec<u8>>; 5],
}

/// Walks the NAL units of the sample file at `path` from byte `from` to the first one that
/// does not fit in the file.
fn walk(path: &Path, from: u64) -> std::io::Result<Walk> {
    let file = std::fs::File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut r = BufReader::new(file);
    r.seek(SeekFrom::Start(from))?;
    let mut nals = Vec::new();
    let mut ps: [Option<Vec<u8>>; 5] = Default::default();
    let mut pos = from;
    while pos.saturating_add(4) < file_len {
        let mut len = [0u8; 4];
        r.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len);
        if len < 2 || pos + 4 + u64::from(len) > file_len {
            break;
        }
        let mut head = [0u8; 3];
        let hn = (len as usize).min(3);
        r.read_exact(&mut head[..hn])?;
        let slot = match (head[0] & 0x1f, (head[0] >> 1) & 0x3f) {
            _ if head[0] & 0x80 != 0 => None,
            (7, _) => Some(0),
            (8, _) => Some(1),
            (_, 32) => Some(2),
            (_, 33) => Some(3),
            (_, 34) => Some(4),
            _ => None,
        };
        let mut consumed = hn as u64;
        if let Some(slot) = slot.filter(|&s| ps[s].is_none() && len <= MAX_PARAM_LEN) {
            let mut nal = vec![0u8; len as usize];
            nal[..hn].copy_from_slice(&head[..hn]);
            r.read_exact(&mut nal[hn..])?;
            consumed = u64::from(len);
            ps[slot] = Some(nal);
        }
        r.seek_relative((u64::from(len) - consumed) as i64)?;
        nals.push(Nal { offset: pos, len: 4 + u64::from(len), head });
        pos += 4 + u64::from(len);
    }
    Ok(Walk { nals, ps })
}

/// Frames of `codec` in the sample file at `path` starting at byte `from` (a frame
/// boundary: the end of the last indexed frame). Durations are unknown: frame `i` gets pts
/// `i` × 1/25 s; the caller shifts them. Empty when nothing whole is there.
pub(crate) fn frames_from(path: &Path, codec: Codec, from: u64) -> std::io::Result<Vec<FrameEntry>> {
    Ok(split_frames(codec, &walk(path, from)?.nals))
}

/// Scans the sample file at `path`. `None` when nothing sane is there (no parameter sets,
/// no complete frame, or the first frame is not a keyframe).
pub(crate) fn rebuild(path: &Path) -> std::io::Result<Option<Rebuilt>> {
    let Walk { nals, ps } = walk(path, 0)?;
    let [s264, p264, v265, s265, p265] = ps;
    let (codec, params) = match (s264, p264, v265, s265, p265) {
        (_, _, Some(vps), Some(sps), Some(pps)) if parse_h265_sps(&sps).is_ok() => {
            (Codec::H265, CodecParams { vps, sps, pps })
        }
        (Some(sps), Some(pps), ..) if parse_h264_sps(&sps).is_ok() => {
            (Codec::H264, CodecParams { vps: vec![], sps, pps })
        }
        _ => return Ok(None),
    };
    let frames = split_frames(codec, &nals);
    if !frames.first().is_some_and(|f| f.keyframe) {
        return Ok(None);
    }
    Ok(Some(Rebuilt { codec, params, frames }))
}

/// Groups NAL units into frames. Non-VCL NALs after a picture's slices belong to the next
/// picture; a VCL NAL whose first slice bit is set starts a new picture.
fn split_frames(codec: Codec, nals: &[Nal]) -> Vec<FrameEntry> {
    let hl = codec.nal_header_len();
    let mut frames = Vec::new();
    // Current frame: start offset, whether it has a VCL NAL yet, keyframe.
    let mut cur: Option<(u64, bool, bool)> = None;
    // Offset of the first non-VCL NAL seen after the current frame's VCL NALs.
    let mut pending: Option<u64> = None;
    let mut end = 0u64;
    let push = |frames: &mut Vec<FrameEntry>, start: u64, stop: u64, key: bool| {
        let i = frames.len() as i64;
        frames.push(FrameEntry {
            len: (stop - start) as u32,
            pts_rel_90k: i * i64::from(DEFAULT_DURATION_90K),
            keyframe: key,
        });
    };
    for n in nals {
        let t = codec.nal_type(n.head[0]);
        let vcl = codec.is_vcl_nal(t) && (codec == Codec::H264 || t <= 21);
        let first_slice = n.len > 4 + hl as u64 && n.head[hl] & 0x80 != 0;
        match (&mut cur, vcl) {
            (None, _) => cur = Some((n.offset, vcl, vcl && codec.is_keyframe_nal(t))),
            (Some((_, has_vcl, _)), false) => {
                if *has_vcl && pending.is_none() {
                    pending = Some(n.offset);
                }
            }
            (Some((start, has_vcl, key)), true) => {
                if *has_vcl && first_slice {
                    let new_start = pending.unwrap_or(n.offset);
                    push(&mut frames, *start, new_start, *key);
                    cur = Some((new_start, true, codec.is_keyframe_nal(t)));
                } else {
                    *has_vcl = true;
                    *key |= codec.is_keyframe_nal(t);
                }
                pending = None;
            }
        }
        end = n.offset + n.len;
    }
    if let Some((start, true, key)) = cur {
        // Trailing non-VCL NALs (parameter sets of a picture never written) are dropped.
        push(&mut frames, start, pending.unwrap_or(end), key);
    }
    frames
}
