//! SDPs of real cameras (testdata/sdp/, each file naming its source): each
//! parses under the default policy with the video and audio tracks the
//! camera offers; those with truncated session lines are refused under
//! `SdpSessionLines::Strict` and report their repairs under `Repair`.

use hotspare_camera_policy::{CameraPolicy, SdpSessionLines};
use hotspare_media::sdp::Description;
use hotspare_media::sdp_audio::AudioFraming;
use hotspare_media::{AudioCodec, Codec};

struct Want {
    file: &'static str,
    video: (Codec, u8, &'static str),
    /// Codec, RTP clock rate, channels, payload type.
    audio: Option<(AudioCodec, u32, u8, u8)>,
    /// Lines repaired or dropped under the default policy (refused under Strict when > 0).
    repairs: usize,
}

const CAMERAS: &[Want] = &[
    Want {
        file: "hikvision.sdp",
        video: (
            Codec::H264,
            96,
            "rtsp://192.168.5.106:554/Streaming/Channels/101/trackID=1?transportmode=unicast&profile=Profile_1",
        ),
        audio: None,
        repairs: 0,
    },
    Want {
        file: "dahua-h264-aac.sdp",
        video: (Codec::H264, 96, "trackID=0"),
        audio: Some((AudioCodec::Aac, 48000, 1, 97)),
        repairs: 0,
    },
    Want {
        file: "dahua-h265-pcma.sdp",
        video: (Codec::H265, 98, "trackID=0"),
        audio: Some((AudioCodec::Pcma, 8000, 1, 8)),
        repairs: 0,
    },
    Want {
        file: "reolink.sdp",
        video: (Codec::H264, 96, "trackID=1"),
        audio: Some((AudioCodec::Aac, 16000, 1, 97)),
        repairs: 0,
    },
    Want {
        file: "axis-gstreamer-aac.sdp",
        video: (Codec::H264, 96, "rtsp://hostname/axis-media/media.amp/stream=0?audio=1&video=1"),
        audio: Some((AudioCodec::Aac, 16000, 1, 97)),
        repairs: 0,
    },
    Want {
        file: "tplink-h265-pcma.sdp",
        video: (Codec::H265, 96, "track1"),
        audio: Some((AudioCodec::Pcma, 8000, 1, 8)),
        repairs: 0,
    },
    Want { file: "anpviz-aac-without-mode.sdp", video: (Codec::H264, 96, "trackID=1"), audio: None, repairs: 0 },
    Want {
        file: "vstarcam-pcma.sdp",
        video: (Codec::H264, 96, "track0"),
        audio: Some((AudioCodec::Pcma, 8000, 1, 8)),
        repairs: 0,
    },
    Want {
        file: "ubiquiti-aac-opus.sdp",
        video: (Codec::H264, 97, "trackID=2"),
        audio: Some((AudioCodec::Aac, 48000, 1, 96)),
        repairs: 0,
    },
    Want { file: "sony-snc-wr630.sdp", video: (Codec::H264, 105, "trackID=1"), audio: None, repairs: 0 },
    Want {
        file: "live-reporter-origin-without-space.sdp",
        video: (Codec::H264, 96, "streamid=0"),
        audio: Some((AudioCodec::Aac, 48000, 1, 97)),
        repairs: 1,
    },
    Want {
        file: "uniview-truncated-origin.sdp",
        video: (Codec::H264, 105, "rtsp://192.168.5.237/media/video1/video"),
        audio: None,
        repairs: 1,
    },
    Want {
        file: "uniview-connection-without-address.sdp",
        video: (Codec::H264, 105, "rtsp://192.168.40.81/media/video1/video"),
        audio: Some((AudioCodec::Pcmu, 8000, 1, 0)),
        repairs: 2,
    },
    Want {
        file: "gstreamer-pcmu.sdp",
        video: (Codec::H264, 96, "stream=0"),
        audio: Some((AudioCodec::Pcmu, 8000, 1, 0)),
        repairs: 0,
    },
    Want { file: "origin-without-address.sdp", video: (Codec::H264, 96, "trackID=1"), audio: None, repairs: 1 },
];

fn read(file: &str) -> Vec<u8> {
    let path = format!("{}/testdata/sdp/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_captured_camera_sdp_gives_its_tracks() {
    let dir = format!("{}/testdata/sdp", env!("CARGO_MANIFEST_DIR"));
    let files = std::fs::read_dir(&dir).expect("testdata/sdp").count();
    assert_eq!(files, CAMERAS.len(), "every file in {dir} has its expectations here");
    for want in CAMERAS {
        let raw = read(want.file);
        let d = Description::parse(&raw).unwrap_or_else(|e| panic!("{}: {e}", want.file));
        assert_eq!(d.repairs.len(), want.repairs, "{}: {:?}", want.file, d.repairs);
        let v = d.video().unwrap_or_else(|e| panic!("{}: {e}", want.file));
        assert_eq!((v.codec, v.payload_type, v.control.as_deref()), (want.video.0, want.video.1, Some(want.video.2)));
        assert!(v.params.is_complete(v.codec), "{}: parameter sets", want.file);
        let a = d.audio_track().map(|a| (a.params.codec, a.params.sample_rate, a.params.channels, a.payload_type));
        assert_eq!(a, want.audio, "{}", want.file);
        if let Some(a) = d.audio_track() {
            assert_eq!(matches!(a.framing, AudioFraming::Aac(_)), a.params.codec == AudioCodec::Aac, "{}", want.file);
        }
        let strict = CameraPolicy { sdp_session_lines: SdpSessionLines::Strict, ..CameraPolicy::default() };
        assert_eq!(Description::parse_with(&raw, &strict).is_err(), want.repairs > 0, "{} under Strict", want.file);
    }
}
