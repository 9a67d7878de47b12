//! Interleaved data on a channel no track was set up on, per the camera's
//! policy (`unassigned_channel`): counted and skipped by default (the video
//! records, nothing counts as lost), or the end of the session naming the
//! channel. A loopback RTSP server, the real client, recorder and store.
mod common;

use common::{frame, rtp, video_payload, VIDEO_SDP};
use hotspare_camera_policy::{CameraPolicy, UnassignedChannel};
use hotspare_recorder::CameraStatus;

/// 60 frames (an IDR every 30) on channel 0, each followed by a packet on
/// channel 4, which SETUP never assigned.
fn media() -> Vec<u8> {
    let mut out = Vec::new();
    let mut seq = 1u16;
    for i in 0..60u32 {
        out.extend(frame(0, &rtp(96, seq, 90_000 + i * 3000, true, video_payload(i))));
        seq = seq.wrapping_add(1);
        out.extend(frame(4, b"<tt:MetadataStream/>"));
    }
    out
}

/// Records with `policy` until `done` holds of the camera's status (or 10 s pass).
async fn record(policy: CameraPolicy, done: impl Fn(&CameraStatus) -> bool) -> CameraStatus {
    common::record(VIDEO_SDP, media(), policy, done).await
}

#[tokio::test]
async fn unassigned_channel_data_is_skipped_by_default() {
    let s = record(CameraPolicy::default(), |s| s.frames >= 30).await;
    assert!(s.frames >= 30, "{s:?}");
    assert_eq!((s.lost_packets, s.discontinuities), (0, 0), "{s:?}");
}

#[tokio::test]
async fn unassigned_channel_data_ends_the_session_when_refused() {
    let policy = CameraPolicy { unassigned_channel: UnassignedChannel::Error, ..CameraPolicy::default() };
    let named = |s: &CameraStatus| s.last_error.as_deref().is_some_and(|e| e.contains("channel 4"));
    let s = record(policy, named).await;
    assert!(named(&s), "{s:?}");
}
