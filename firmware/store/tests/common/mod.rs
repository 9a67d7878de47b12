//! Test helpers: synthetic and Annex B clips turned into store batches, and a
//! small real tmpfs for disk-full tests.
#![allow(dead_code)]

use hotspare_media::{Codec, CodecParams};
use hotspare_store::{FrameIn, StreamInfo};
use std::io::IoSlice;

/// Real SPS/PPS of fixtures/clip-h264.h264 (1920x1080 Main).
pub const H264_SPS: &[u8] = &[
    0x67, 0x4d, 0x40, 0x28, 0xda, 0x01, 0xe0, 0x08, 0x9f, 0x97, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00,
    0x03, 0x03, 0x20, 0xf1, 0x83, 0x2a,
];
pub const H264_PPS: &[u8] = &[0x68, 0xef, 0x3c, 0x80];
pub const WALL0: i64 = 1_700_000_000_000_000;

/// A clip: per frame, its NAL units (without prefix) and keyframe flag.
pub struct Clip {
    pub codec: Codec,
    pub params: CodecParams,
    pub frames: Vec<(Vec<Vec<u8>>, bool)>,
}

impl Clip {
    pub fn stream(&self) -> StreamInfo {
        StreamInfo { codec: self.codec, params: self.params.clone() }
    }
}

/// Synthetic H.264: `n` frames, keyframe every `gop`, slices of `size` bytes.
pub fn synthetic_h264(n: usize, gop: usize, size: usize) -> Clip {
    let frames = (0..n)
        .map(|i| {
            let key = i % gop == 0;
            let mut slice = vec![if key { 0x65 } else { 0x41 }, 0x88];
            slice.extend((0..size.saturating_sub(2)).map(|k| (k as u8) | 1));
            let nals = if key { vec![H264_SPS.to_vec(), H264_PPS.to_vec(), slice] } else { vec![slice] };
            (nals, key)
        })
        .collect();
    Clip {
        codec: Codec::H264,
        params: CodecParams { vps: vec![], sps: H264_SPS.to_vec(), pps: H264_PPS.to_vec() },
        frames,
    }
}

/// Splits an Annex B file into access units (first-slice bit / non-VCL after VCL).
pub fn load_annexb(path: &str, codec: Codec) -> Clip {
    let d = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= d.len() {
        if d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut e = starts.get(k + 1).map_or(d.len(), |&n| n - 3);
        while e > s && d[e - 1] == 0 {
            e -= 1;
        }
        nals.push(d[s..e].to_vec());
    }
    let hl = codec.nal_header_len();
    let mut params = CodecParams::default();
    let mut frames: Vec<(Vec<Vec<u8>>, bool)> = Vec::new();
    let mut cur: Vec<Vec<u8>> = Vec::new();
    let (mut cur_vcl, mut cur_key) = (false, false);
    for n in nals {
        let t = codec.nal_type(n[0]);
        match (codec, t) {
            (Codec::H264, 7) | (Codec::H265, 33) if params.sps.is_empty() => params.sps = n.clone(),
            (Codec::H264, 8) | (Codec::H265, 34) if params.pps.is_empty() => params.pps = n.clone(),
            (Codec::H265, 32) if params.vps.is_empty() => params.vps = n.clone(),
            _ => {}
        }
        let vcl = codec.is_vcl_nal(t);
        let first = vcl && n[hl] & 0x80 != 0;
        if cur_vcl && (!vcl || first) {
            frames.push((std::mem::take(&mut cur), cur_key));
            cur_vcl = false;
            cur_key = false;
        }
        cur_vcl |= vcl;
        cur_key |= vcl && codec.is_keyframe_nal(t);
        cur.push(n);
    }
    if cur_vcl {
        frames.push((cur, cur_key));
    }
    Clip { codec, params, frames }
}

/// Batch of frames `range` of `clip`: pieces (prefix and NAL as separate slices) + FrameIn.
/// Frame i has pts i*3600 and wall WALL0 + wall_offset + i*40 ms.
pub struct Batch {
    pub pieces: Vec<Vec<u8>>,
    pub frames: Vec<FrameIn>,
}

impl Batch {
    pub fn new(clip: &Clip, range: std::ops::Range<usize>, wall_offset: i64) -> Batch {
        let mut b = Batch { pieces: Vec::new(), frames: Vec::new() };
        for i in range {
            let (nals, key) = &clip.frames[i];
            let mut len = 0;
            for n in nals {
                b.pieces.push((n.len() as u32).to_be_bytes().to_vec());
                b.pieces.push(n.clone());
                len += 4 + n.len() as u32;
            }
            b.frames.push(FrameIn {
                pts_90k: i as i64 * 3600,
                wall_us: WALL0 + wall_offset + i as i64 * 40_000,
                keyframe: *key,
                discontinuity: false,
                len,
                pieces: 2 * nals.len() as u32,
            });
        }
        b
    }

    pub fn iov(&self) -> Vec<IoSlice<'_>> {
        self.pieces.iter().map(|p| IoSlice::new(p)).collect()
    }
}

/// Writes `clip` frames in batches of `batch` frames.
pub fn feed(
    w: &mut hotspare_store::CameraWriter,
    clip: &Clip,
    range: std::ops::Range<usize>,
    batch: usize,
    wall_offset: i64,
) {
    let stream = clip.stream();
    let mut i = range.start;
    while i < range.end {
        let j = (i + batch).min(range.end);
        let b = Batch::new(clip, i..j, wall_offset);
        w.write(&stream, &b.frames, &b.iov()).expect("write");
        i = j;
    }
}

/// A mounted 8 MiB tmpfs (needs root), unmounted on drop.
pub struct Tmpfs {
    _dir: tempfile::TempDir,
    pub path: std::path::PathBuf,
}

impl Tmpfs {
    /// `None`, with the reason printed, where mounting is not allowed.
    pub fn mount() -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().to_owned();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(&path)
            .output()
            .ok()?;
        if !out.status.success() {
            println!("SKIP: cannot mount tmpfs: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        Some(Tmpfs { _dir: dir, path })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.path).status();
    }
}

/// Frames k in `range` of 20 ms G.711 (160 bytes, one piece each): pts k*160,
/// wall WALL0 + k*20 ms.
pub fn g711_frames(range: std::ops::Range<usize>) -> Vec<hotspare_store::AudioFrameIn> {
    range
        .map(|k| hotspare_store::AudioFrameIn {
            pts: k as i64 * 160,
            wall_us: WALL0 + k as i64 * 20_000,
            duration: 160,
            discontinuity: false,
            len: 160,
            pieces: 1,
        })
        .collect()
}
