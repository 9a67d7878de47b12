//! The audio track's SETUP, after the video's and on the same session:
//! set up on the next interleaved channels with its `RTP-Info` SSRC; a
//! refused SETUP, a broken AAC track or `audio = ignore` leave a session
//! that plays the video only.

use super::*;
use hotspare_camera_policy::Audio;
use hotspare_media::AudioCodec;

/// GStreamer's PCMU track: SETUP on channels 2-3 after the video's.
#[tokio::test]
async fn gstreamer_audio_track_on_channel_2() {
    let (s, server) =
        play("gstreamer/rtsp-server-1.22.txt", CameraPolicy::default(), frames_after_play(96, 0x63601709)).await;
    let s = s.expect("session sets up");
    assert_eq!(
        setups(&server.seen()),
        ["rtsp://127.0.0.1:46873/cam0/stream=0", "rtsp://127.0.0.1:46873/cam0/stream=1"]
    );
    let a = s.audio.as_ref().expect("audio set up");
    assert_eq!(a.track.params.codec, AudioCodec::Pcmu);
    assert_eq!(a.track.params.sample_rate, 8000);
    assert!(matches!(a.media, Media::Interleaved { channel: 2 }), "{:?}", a.media);
    assert_eq!(a.expected_ssrc, None, "RTP-Info lists the video only: not taken for audio");
    assert_eq!(s.expected_ssrc, Some(1667241737));
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// Reolink: the audio entry of `RTP-Info` gives the audio SSRC.
#[tokio::test]
async fn reolink_audio_ssrc_from_rtp_info() {
    let (s, _server) = play("reolink/rlc-410.txt", CameraPolicy::default(), frames_after_play(96, 0xdcc4a0d8)).await;
    let s = s.expect("session sets up");
    let a = s.audio.as_ref().expect("audio set up");
    assert_eq!(a.track.params.codec, AudioCodec::Aac);
    assert_eq!((a.expected_ssrc, a.rtp_info_seq), (Some(0x9fc9fff8), Some(39409)));
    assert_eq!(s.expected_ssrc, Some(0xdcc4a0d8));
}

/// A camera answering the audio SETUP with 461: video only, still playing.
#[tokio::test]
async fn refused_audio_setup_records_video() {
    let (s, server) =
        play("field/audio-setup-refused.txt", CameraPolicy::default(), frames_after_play(96, 0x63601709)).await;
    let s = s.expect("the session plays without audio");
    assert_eq!(setups(&server.seen()).len(), 2, "audio was asked for");
    assert!(s.audio.is_none());
    assert!(server.seen().iter().any(|r| r.method == "PLAY"));
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// An AAC track without `config=`: no audio SETUP, the video plays.
#[tokio::test]
async fn broken_aac_track_records_video() {
    let (s, server) = play("field/aac-no-config.txt", CameraPolicy::default(), frames_after_play(96, 0x63601709)).await;
    let s = s.expect("the session plays without audio");
    assert_eq!(setups(&server.seen()), ["rtsp://127.0.0.1:46873/cam0/stream=0"]);
    assert!(s.audio.is_none());
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// `audio = ignore`: the audio track is not set up.
#[tokio::test]
async fn audio_ignore_sets_up_video_only() {
    let policy = CameraPolicy { audio: Audio::Ignore, ..CameraPolicy::default() };
    let (s, server) = play("gstreamer/rtsp-server-1.22.txt", policy, frames_after_play(96, 0x63601709)).await;
    let s = s.expect("session sets up");
    assert_eq!(setups(&server.seen()), ["rtsp://127.0.0.1:46873/cam0/stream=0"]);
    assert!(s.audio.is_none());
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}
