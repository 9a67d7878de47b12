//! The audio track of a session, through the real client, recorder and
//! store on a loopback RTSP server: PCMU on interleaved channel 2 is
//! recorded beside the video; garbage on the audio channel costs the video
//! nothing; under `audio = ignore` the track is not set up and its data is
//! skipped as unassigned.
mod common;

use common::{frame, rtp, video_payload, VIDEO_SDP};
use hotspare_camera_policy::CameraPolicy;
use hotspare_recorder::CameraStatus;

const AUDIO_SECTION: &str = "m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=control:trackID=1\r\n";

/// What the camera sends on channel 2.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Audio {
    /// 40 ms of PCMU per video frame.
    Pcmu,
    /// Bytes that are not RTP.
    Garbage,
}

/// 60 frames (an IDR every 30) on channel 0 at 25 fps, each followed by a
/// packet on channel 2.
fn media(audio: Audio) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..60u32 {
        out.extend(frame(0, &rtp(96, 1 + i as u16, 90_000 + i * 3600, true, video_payload(i))));
        match audio {
            Audio::Pcmu => out.extend(frame(2, &rtp(0, 500 + i as u16, 8000 + i * 320, true, &[0xff; 320]))),
            Audio::Garbage => out.extend(frame(2, b"\x01\x02")),
        }
    }
    out
}

/// Records with `policy` until 59 frames are in (or 10 s pass).
async fn record(policy: CameraPolicy, audio: Audio) -> CameraStatus {
    common::record(&format!("{VIDEO_SDP}{AUDIO_SECTION}"), media(audio), policy, |s| s.frames >= 59).await
}

#[tokio::test]
async fn pcmu_on_channel_2_is_recorded_beside_the_video() {
    let s = record(CameraPolicy::default(), Audio::Pcmu).await;
    assert!(s.frames >= 59, "{s:?}");
    // The audio packet before the first keyframe's is dropped by the store; all others stored.
    assert!(s.audio_frames >= 55, "{s:?}");
    assert_eq!((s.lost_packets, s.discontinuities), (0, 0), "{s:?}");
}

#[tokio::test]
async fn garbage_on_the_audio_channel_costs_the_video_nothing() {
    let s = record(CameraPolicy::default(), Audio::Garbage).await;
    assert!(s.frames >= 59, "{s:?}");
    assert_eq!(s.audio_frames, 0, "{s:?}");
    assert_eq!(s.last_error, None, "{s:?}");
}

#[tokio::test]
async fn audio_ignore_records_video_only() {
    let policy = CameraPolicy { audio: hotspare_camera_policy::Audio::Ignore, ..CameraPolicy::default() };
    let s = record(policy, Audio::Pcmu).await;
    assert!(s.frames >= 59, "{s:?}");
    assert_eq!((s.audio_frames, s.audio_dropped), (0, 0), "{s:?}");
}
