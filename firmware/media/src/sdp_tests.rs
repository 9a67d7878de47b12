//! Tests of the tolerant SDP parsing (`sdp_repair`) and of the audio track
//! (`sdp_audio`), with SDP lines as cameras send them.

use hotspare_camera_policy::{CameraPolicy, SdpSessionLines};

use crate::sdp::{Description, SdpError};
use crate::sdp_audio::{AacFraming, AudioFraming, AudioSpecificConfig};
use crate::{AudioCodec, Codec};

const STRICT: CameraPolicy = CameraPolicy { sdp_session_lines: SdpSessionLines::Strict, ..DEFAULT };
const DEFAULT: CameraPolicy = CameraPolicy {
    transport: hotspare_camera_policy::Transport::Tcp,
    audio: hotspare_camera_policy::Audio::Record,
    wall_clock: hotspare_camera_policy::WallClockSource::Auto,
    sdp_session_lines: SdpSessionLines::Repair,
    content_base: hotspare_camera_policy::ContentBase::Repair,
    start_codes_in_nal: hotspare_camera_policy::StartCodesInNal::Split,
    single_fragment_fu: hotspare_camera_policy::SingleFragmentFu::Accept,
    unknown_ssrc: hotspare_camera_policy::UnknownSsrc::Ignore,
    unassigned_channel: hotspare_camera_policy::UnassignedChannel::Ignore,
};

const VIDEO: &str = "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z2QAKKwbGoB4AiflwFuAgICgAAADACAAAAZR4wYsAA==,aO48sA==\r\n\
a=control:trackID=1\r\n";

fn sdp(session: &str, media: &str) -> String {
    format!("v=0\r\n{session}{VIDEO}{media}")
}

#[test]
fn default_policy_is_repair() {
    assert_eq!(DEFAULT, CameraPolicy::default());
}

/// Each truncated session-level line: repaired under the default policy
/// (video found, the repair reported), refused under `Strict`.
#[test]
fn truncated_session_lines_are_repaired_or_refused_by_policy() {
    let cases = [
        ("o=- 1001 1 IN \r\ns=Media Presentation\r\nt=0 0\r\n", "o=- 1001 1 IN"),
        ("o=- 1 1 IN IP4\r\ns=x\r\nt=0 0\r\n", "o=- 1 1 IN IP4"),
        ("o=- 1 1 IN IP4 1.2.3.4\r\ns=x\r\nc=IN \r\nt=0 0\r\n", "c=IN"),
        ("o=- 1 1 IN IP4 1.2.3.4\r\ns=x\r\nt=now\r\n", "t=now"),
        ("o=- 1 1 IN IP4 1.2.3.4\r\no=- 2 2 IN IP4 1.2.3.4\r\ns=x\r\n", "o=- 2 2"),
    ];
    for (session, bad) in cases {
        let text = sdp(session, "");
        let d = Description::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{bad}: {e}"));
        assert_eq!(d.video().expect("video").payload_type, 96, "{bad}");
        assert_eq!(d.repairs.len(), 1, "{bad}: {:?}", d.repairs);
        assert!(d.repairs[0].contains(bad), "{bad}: {:?}", d.repairs);
        let e = Description::parse_with(text.as_bytes(), &STRICT).expect_err(bad);
        assert!(matches!(e, SdpError::Syntax(_)), "{bad}: {e}");
    }
}

#[test]
fn bad_connection_line_in_a_media_section_is_dropped() {
    let text = sdp("s=x\r\n", "m=audio 0 RTP/AVP 8\r\nc=IN IP4\r\na=control:trackID=2\r\n");
    let d = Description::parse(text.as_bytes()).expect("repaired");
    assert_eq!(d.tracks.len(), 2);
    assert_eq!(d.tracks[1].control.as_deref(), Some("trackID=2"), "the section's other lines stay");
    assert_eq!(d.audio_track().expect("audio").params.codec, AudioCodec::Pcma);
    assert!(Description::parse_with(text.as_bytes(), &STRICT).is_err());
}

#[test]
fn a_broken_media_line_drops_only_its_section() {
    let text = sdp("s=x\r\n", "m=audio\r\na=rtpmap:0 PCMU/8000\r\na=control:trackID=2\r\n");
    let d = Description::parse(text.as_bytes()).expect("repaired");
    assert_eq!(d.tracks.len(), 1);
    assert_eq!(d.tracks[0].control.as_deref(), Some("trackID=1"));
    assert!(d.repairs[0].contains("media section"), "{:?}", d.repairs);
}

#[test]
fn valid_descriptions_report_no_repairs() {
    let d = Description::parse(sdp("o=- 1 1 IN IP4 1.2.3.4\r\ns=x\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n", "").as_bytes())
        .expect("valid");
    assert!(d.repairs.is_empty(), "{:?}", d.repairs);
}

#[test]
fn repairs_are_bounded() {
    let mut text = sdp("s=x\r\n", "");
    for _ in 0..100 {
        text.push_str("c=IN\r\n");
    }
    assert!(matches!(Description::parse(text.as_bytes()), Err(SdpError::Syntax(_))));
}

#[test]
fn aac_hbr_track() {
    let text = sdp(
        "s=x\r\n",
        "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 mpeg4-generic/16000/1\r\n\
a=fmtp:97 streamtype=5; profile-level-id=15; mode=AAC-hbr; config=1408; sizeLength=13; indexLength=3; indexDeltaLength=3\r\n\
a=control:trackID=2\r\n",
    );
    let a = Description::parse(text.as_bytes()).unwrap().audio_track().expect("aac");
    assert_eq!(a.params.codec, AudioCodec::Aac);
    assert_eq!((a.params.sample_rate, a.params.channels), (16000, 1));
    assert_eq!(a.params.config, vec![0x14, 0x08]);
    assert_eq!((a.payload_type, a.control.as_deref()), (97, Some("trackID=2")));
    let want = AacFraming { size_length: 13, index_length: 3, index_delta_length: 3, frame_duration: 1024 };
    assert_eq!(a.framing, AudioFraming::Aac(want));
}

#[test]
fn aac_lbr_defaults_and_channels_from_config() {
    // config 1210: AAC-LC, 44.1 kHz, 2 channels; no rtpmap channels, no lengths.
    let text = sdp(
        "s=x\r\n",
        "m=audio 0 RTP/AVP 98\r\na=rtpmap:98 MPEG4-GENERIC/44100\r\na=fmtp:98 mode=AAC-lbr;config=1210\r\n",
    );
    let a = Description::parse(text.as_bytes()).unwrap().audio_track().expect("aac");
    assert_eq!((a.params.sample_rate, a.params.channels), (44100, 2));
    let want = AacFraming { size_length: 6, index_length: 2, index_delta_length: 2, frame_duration: 1024 };
    assert_eq!(a.framing, AudioFraming::Aac(want));
}

#[test]
fn audio_specific_config_fields() {
    let asc = AudioSpecificConfig::parse(&[0x14, 0x08]).expect("asc");
    assert_eq!((asc.object_type, asc.core_rate, asc.channels, asc.frame_samples), (2, 16000, Some(1), 1024));
    // frameLengthFlag set: 960-sample frames.
    assert_eq!(AudioSpecificConfig::parse(&[0x14, 0x0c]).expect("asc").frame_samples, 960);
    // Reserved sampling frequency index 13.
    assert_eq!(AudioSpecificConfig::parse(&[0x16, 0x88]), None);
    assert_eq!(AudioSpecificConfig::parse(&[0x14]), None);
}

#[test]
fn g711_with_and_without_rtpmap() {
    for (media, codec, pt) in [
        ("m=audio 0 RTP/AVP 8\r\n", AudioCodec::Pcma, 8),
        ("m=audio 0 RTP/AVP 0\r\n", AudioCodec::Pcmu, 0),
        ("m=audio 0 RTP/AVP 101\r\na=rtpmap:101 PCMA/8000/1\r\n", AudioCodec::Pcma, 101),
        ("m=audio 0 RTP/AVP 102\r\na=rtpmap:102 pcmu/16000/2\r\n", AudioCodec::Pcmu, 102),
    ] {
        let a = Description::parse(sdp("s=x\r\n", media).as_bytes()).unwrap().audio_track().expect(media);
        assert_eq!((a.params.codec, a.payload_type, a.framing), (codec, pt, AudioFraming::G711), "{media}");
        assert!(a.params.config.is_empty());
        let want = if pt == 102 { (16000, 2) } else { (8000, 1) };
        assert_eq!((a.params.sample_rate, a.params.channels), want, "{media}");
    }
}

#[test]
fn unsupported_or_broken_audio_is_none_and_video_still_records() {
    for media in [
        "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MP4A-LATM/44100/2\r\n",
        "m=audio 0 RTP/AVP 2\r\na=rtpmap:2 G726-32/8000\r\n",
        "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000\r\na=fmtp:97 mode=AAC-hbr\r\n",
        "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000\r\na=fmtp:97 mode=AAC-hbr;config=zz08\r\n",
        "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000\r\na=fmtp:97 mode=AAC-hbr;config=1408;sizelength=40\r\n",
        "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000\r\na=fmtp:97 mode=generic;config=1408\r\n",
        "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000\r\na=fmtp:97 config=1408\r\n",
    ] {
        let d = Description::parse(sdp("s=x\r\n", media).as_bytes()).expect(media);
        assert_eq!(d.audio_track(), None, "{media}");
        assert_eq!(d.video().expect("video").codec, Codec::H264, "{media}");
    }
}
