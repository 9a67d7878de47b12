//! Contiguous spans of a camera's video (`GET /api/v1/recordings` on the
//! NVR, `GET /api/v1/held/{NVR}/recordings` on the spare): segments of the
//! same source merged across small gaps.

use hotspare_api::{Location, RecordingSpan, Source};
use hotspare_store::{Origin, SegmentInfo};

/// Segments closer than this are one span.
pub const MAX_GAP_US: i64 = 1_500_000;

/// Spans of segments of the same source (local, failover) whose gaps are at
/// most [`MAX_GAP_US`], sorted by start. Sources are merged separately, so a
/// failover span overlapping the NVR's own recording at failback does not
/// split the local timeline.
pub fn spans(camera: &str, segs: &[SegmentInfo]) -> Vec<RecordingSpan> {
    let mut out: Vec<RecordingSpan> = Vec::new();
    for source in [Source::Local, Source::Failover] {
        let mut merged: Vec<RecordingSpan> = Vec::new();
        for s in segs.iter().filter(|s| source_of(s) == source) {
            let (start, end) = (s.start_wall_us, s.end_wall_us());
            if let Some(last) = merged.last_mut() {
                if start - last.end_us <= MAX_GAP_US && start >= last.start_us {
                    last.end_us = last.end_us.max(end);
                    last.frames += u64::from(s.frames);
                    continue;
                }
            }
            merged.push(RecordingSpan {
                camera: camera.to_owned(),
                start_us: start,
                end_us: end,
                frames: u64::from(s.frames),
                source,
                location: Location::Nvr,
            });
        }
        out.extend(merged);
    }
    out.sort_by_key(|s| (s.start_us, s.end_us));
    out
}

fn source_of(s: &SegmentInfo) -> Source {
    match s.origin {
        Origin::Local => Source::Local,
        Origin::Imported { .. } => Source::Failover,
    }
}

/// True when a re-inserted span of `local` already covers `s` (within the merge tolerance).
pub fn reinserted(local: &[RecordingSpan], s: &RecordingSpan) -> bool {
    local.iter().any(|l| {
        l.source == Source::Failover && l.start_us <= s.start_us + MAX_GAP_US && l.end_us + MAX_GAP_US >= s.end_us
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hotspare_media::Codec;
    use hotspare_store::SegmentId;

    /// A closed segment of `dur_s` seconds starting at `start_s` (also used by `mp4`'s tests).
    pub(crate) fn seg(start_s: i64, dur_s: u64, origin: Origin) -> SegmentInfo {
        SegmentInfo {
            id: SegmentId { start_wall_us: start_s * 1_000_000, seq: 0 },
            camera: "c".into(),
            start_wall_us: start_s * 1_000_000,
            duration_90k: dur_s * 90_000,
            frames: (dur_s * 25) as u32,
            bytes: 1,
            codec: Codec::H264,
            open: false,
            origin,
        }
    }

    #[test]
    fn merging() {
        let imp = Origin::Imported { uid: "u".into() };
        let segs = [
            seg(0, 10, Origin::Local),
            seg(11, 10, Origin::Local), // 1 s gap: merged
            seg(23, 5, Origin::Local),  // 2 s gap: new span
            seg(28, 5, imp.clone()),    // other source: new span
            seg(33, 5, imp),
        ];
        let s = spans("c", &segs);
        let got: Vec<(i64, i64, u64, Source)> =
            s.iter().map(|s| (s.start_us / 1_000_000, s.end_us / 1_000_000, s.frames, s.source)).collect();
        assert_eq!(
            got,
            vec![(0, 21, 500, Source::Local), (23, 28, 125, Source::Local), (28, 38, 250, Source::Failover)]
        );
        let spare =
            RecordingSpan { start_us: 28_500_000, end_us: 37_000_000, location: Location::Spare, ..s[2].clone() };
        assert!(reinserted(&s, &spare));
        let other = RecordingSpan { start_us: 50_000_000, end_us: 60_000_000, ..spare };
        assert!(!reinserted(&s, &other));
    }
}
