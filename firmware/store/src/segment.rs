//! Segment identity and file naming, the public per-segment descriptions
//! ([`SegmentInfo`], [`SegmentIndex`]) and the in-memory catalog the store
//! keeps of every segment on disk.

use crate::origin::Origin;
use hotspare_media::{Codec, CodecParams};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Identity of a segment within its camera directory. Ordered by start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId {
    /// Wall-clock time of the first frame, µs since the Unix epoch.
    pub start_wall_us: i64,
    /// Disambiguates segments of one camera starting in the same µs.
    pub seq: u32,
}

impl SegmentId {
    /// Parses a file stem `<start_us:016x>-<seq:x>`.
    pub fn parse_stem(stem: &str) -> Option<SegmentId> {
        let (start, seq) = stem.split_once('-')?;
        if start.len() != 16 || seq.is_empty() || seq.len() > 8 {
            return None;
        }
        let start = u64::from_str_radix(start, 16).ok()?;
        Some(SegmentId { start_wall_us: i64::try_from(start).ok()?, seq: u32::from_str_radix(seq, 16).ok()? })
    }

    pub fn sample_path(&self, camera_dir: &Path) -> PathBuf {
        camera_dir.join(format!("{self}.{SAMPLE_EXT}"))
    }

    pub fn index_path(&self, camera_dir: &Path) -> PathBuf {
        camera_dir.join(format!("{self}.{INDEX_EXT}"))
    }

    /// The segment's audio frames (optional; see [`crate::audio_index`]).
    pub fn audio_path(&self, camera_dir: &Path) -> PathBuf {
        camera_dir.join(format!("{self}.{AUDIO_EXT}"))
    }

    /// The index of the segment's audio frames (optional).
    pub fn audio_index_path(&self, camera_dir: &Path) -> PathBuf {
        camera_dir.join(format!("{self}.{AUDIO_INDEX_EXT}"))
    }
}

/// File stem: `<start_us:016x>-<seq:x>`, so names sort by start time.
impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{:x}", self.start_wall_us as u64, self.seq)
    }
}

pub const SAMPLE_EXT: &str = "sample";
pub const INDEX_EXT: &str = "index";
pub const AUDIO_EXT: &str = "audio";
pub const AUDIO_INDEX_EXT: &str = "audio-index";
pub const CORRUPT_EXT: &str = "corrupt";
pub const TMP_EXT: &str = "tmp";

/// Summary of one segment, as listed by [`crate::Store::segments`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    pub id: SegmentId,
    pub camera: String,
    pub start_wall_us: i64,
    /// Sum of frame durations, 90 kHz.
    pub duration_90k: u64,
    pub frames: u32,
    /// Verified bytes of the sample file.
    pub bytes: u64,
    pub codec: Codec,
    /// Still being written by a [`crate::CameraWriter`]; retention never deletes it.
    pub open: bool,
    /// Recorded here or imported from a failover spare.
    pub origin: Origin,
}

impl SegmentInfo {
    /// Wall-clock end (start + duration), µs.
    pub fn end_wall_us(&self) -> i64 {
        self.start_wall_us.saturating_add(ticks_to_us(self.duration_90k))
    }
}

/// One frame of a [`SegmentIndex`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexedFrame {
    /// Byte offset in the sample file.
    pub offset: u64,
    pub len: u32,
    pub duration_90k: u32,
    /// pts relative to the segment's first frame, 90 kHz.
    pub pts_rel_90k: i64,
    pub keyframe: bool,
}

/// Full index of a segment, as returned by [`crate::Store::read_index`].
/// Only frames whose bytes are inside the sample file are listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentIndex {
    pub id: SegmentId,
    pub camera: String,
    pub codec: Codec,
    pub params: CodecParams,
    pub start_wall_us: i64,
    pub first_pts_90k: i64,
    pub sample_path: PathBuf,
    pub frames: Vec<IndexedFrame>,
}

impl SegmentIndex {
    /// Wall-clock time of frame `i`, µs.
    pub fn frame_wall_us(&self, i: usize) -> i64 {
        let rel = self.frames.get(i).map_or(0, |f| f.pts_rel_90k);
        self.start_wall_us.saturating_add(rel.saturating_mul(100) / 9)
    }

    pub fn duration_90k(&self) -> u64 {
        self.frames.iter().map(|f| u64::from(f.duration_90k)).sum()
    }
}

/// 90 kHz ticks to µs.
pub fn ticks_to_us(ticks: u64) -> i64 {
    i64::try_from(u128::from(ticks) * 100 / 9).unwrap_or(i64::MAX)
}

/// What the catalog remembers per segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SegMeta {
    pub duration_90k: u64,
    pub frames: u32,
    pub bytes: u64,
    pub codec: Codec,
    pub open: bool,
    pub origin: Origin,
    /// SHA-256 given at import (imported segments only).
    pub sha256: Option<String>,
    /// `(index length, sample length)` when last scanned by [`crate::Store::refresh`]
    /// (segments this store writes or recovered itself: `None`).
    pub scanned: Option<(u64, u64)>,
}

/// Camera id → segments, kept in step with the disk.
pub(crate) type Catalog = BTreeMap<String, BTreeMap<SegmentId, SegMeta>>;

pub(crate) fn info(camera: &str, id: SegmentId, m: &SegMeta) -> SegmentInfo {
    SegmentInfo {
        id,
        camera: camera.to_owned(),
        start_wall_us: id.start_wall_us,
        duration_90k: m.duration_90k,
        frames: m.frames,
        bytes: m.bytes,
        codec: m.codec,
        open: m.open,
        origin: m.origin.clone(),
    }
}

/// Valid camera id: 1 to 64 characters of `[A-Za-z0-9_-]`.
pub fn valid_camera_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stem_round_trip() {
        let id = SegmentId { start_wall_us: 1_700_000_000_123_456, seq: 17 };
        assert_eq!(SegmentId::parse_stem(&id.to_string()), Some(id));
        assert_eq!(SegmentId::parse_stem("xyz"), None);
        assert_eq!(SegmentId::parse_stem("ffffffffffffffff-0"), None);
        assert!(valid_camera_id("cam_01-A"));
        assert!(!valid_camera_id("../etc") && !valid_camera_id("") && !valid_camera_id(&"a".repeat(65)));
    }
}
