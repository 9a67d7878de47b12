//! Replayed exchanges of real cameras and servers (captures under
//! `testdata/<vendor>/`, each naming its source), one test per quirk,
//! through the client the recorder uses (`hotspare_rtsp::client`) on a
//! loopback socket, and the RTP that follows PLAY through the recorder's
//! depacketizer (`hotspare_media::depacketize`).

mod audio;
mod rtp;
mod script;
mod server;

use std::time::Duration;

use hotspare_camera_policy::{CameraPolicy, ContentBase, SdpSessionLines};
use hotspare_media::depacketize::Depacketizer;
use hotspare_media::interleaved;
use hotspare_rtsp::auth::Credentials;
use hotspare_rtsp::transport::Media;
use hotspare_rtsp::{ClientOptions, RtspError, Session};
use rtp::RtpStream;
use script::Script;
use server::{Seen, Server, Stream};
use tokio::io::AsyncReadExt;

const FRAMES: usize = 10;

fn opts(policy: CameraPolicy) -> ClientOptions {
    ClientOptions { request_timeout: Duration::from_secs(5), policy, ..ClientOptions::default() }
}

fn creds() -> Option<Credentials> {
    Some(Credentials { user: server::USER.into(), password: server::PASSWORD.into() })
}

/// The stream our session gets: `FRAMES` frames on channel 0.
fn our_stream(payload_type: u8, ssrc: u32) -> RtpStream {
    RtpStream { channel: 0, payload_type, ssrc, seq: 1000, ts: 90_000 }
}

async fn play(script: &str, policy: CameraPolicy, stream: Stream) -> (Result<Session, RtspError>, Server) {
    let server = Server::start(Script::load(script), stream);
    let url = format!("rtsp://127.0.0.1:{}/stream", server.port);
    let r = hotspare_rtsp::play(&url, creds(), &opts(policy)).await;
    (r, server)
}

/// Reads the session's interleaved frames into the recorder's depacketizer
/// until `want` frames came out (or 5 s passed); returns the frame count.
async fn depacketize(s: Session, want: u64) -> u64 {
    depacketize_counts(s, want).await.0
}

/// As [`depacketize`], returning (frames, lost packets, foreign packets).
async fn depacketize_counts(mut s: Session, want: u64) -> (u64, u64, u64) {
    let mut d = Depacketizer::new(s.video.codec, s.video.payload_type, s.video.params.clone())
        .with_policy(&CameraPolicy::default());
    d.set_expected_ssrc(s.expected_ssrc);
    let channel = match s.media {
        Media::Interleaved { channel } => channel,
        Media::Udp(_) => panic!("replays set up interleaved TCP"),
    };
    let mut buf = std::mem::take(&mut s.leftover);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        while let Some(f) = interleaved::parse(&buf) {
            if f.channel == channel {
                d.push(&buf, f.packet.start, f.packet.end).expect("our RTP packet depacketizes");
            }
            buf.drain(..f.total);
        }
        if d.stats().frames >= want {
            let st = d.stats();
            return (st.frames, st.lost_packets, st.foreign_packets);
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, s.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => {
                let st = d.stats();
                return (st.frames, st.lost_packets, st.foreign_packets);
            }
        }
    }
}

fn setups(seen: &[Seen]) -> Vec<String> {
    seen.iter().filter(|s| s.method == "SETUP").map(|s| s.uri.clone()).collect()
}

fn frames_after_play(payload_type: u8, ssrc: u32) -> Stream {
    Stream { before_play: Vec::new(), after_play: our_stream(payload_type, ssrc).frames(FRAMES) }
}

/// Hikvision: absolute track control with a query string on the camera's
/// own address, `Session` padded with spaces, SSRC in `Transport`, Digest
/// with Basic offered beside it.
#[tokio::test]
async fn hikvision_absolute_controls_and_transport_ssrc() {
    let (s, server) = play("hikvision/ds-2cd.txt", CameraPolicy::default(), frames_after_play(96, 0x4cacc3d1)).await;
    let s = s.expect("session sets up");
    assert_eq!(
        setups(&server.seen()),
        ["rtsp://192.168.5.106:554/Streaming/Channels/101/trackID=1?transportmode=unicast&profile=Profile_1"]
    );
    assert!(server.seen().iter().any(|r| r.authorization.as_deref().is_some_and(|a| a.starts_with("Digest "))));
    assert_eq!(s.expected_ssrc, Some(0x4cacc3d1));
    assert_eq!((s.rtp_info_seq, s.rtp_info_rtptime), (Some(24104), Some(1270711678)));
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// Hikvision-OEM firmware offering Digest with `algorithm="SHA-256"` only.
#[tokio::test]
async fn hikvision_oem_sha256_only_digest() {
    let (s, server) =
        play("hikvision/oem-sha256-only.txt", CameraPolicy::default(), frames_after_play(96, 0x0d6d6627)).await;
    let s = s.expect("SHA-256 Digest authenticates");
    assert_eq!(s.expected_ssrc, Some(0x0d6d6627), "`ssrc= d6d6627`: space and 7 digits");
    let seen = server.seen();
    let auth = seen.iter().rev().find_map(|r| r.authorization.clone()).expect("an Authorization header");
    assert!(auth.contains("algorithm=SHA-256"), "{auth}");
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// Dahua: Content-Base with a query and a trailing slash, relative track
/// controls, `RTP-Info` with relative URLs, SSRC in `Transport`.
#[tokio::test]
async fn dahua_query_content_base_and_relative_rtp_info() {
    let (s, server) = play("dahua/ipc-onvif.txt", CameraPolicy::default(), frames_after_play(96, 0x30A98EE7)).await;
    let s = s.expect("session sets up");
    assert_eq!(
        setups(&server.seen()),
        [
            "rtsp://192.168.5.111:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif/trackID=0",
            "rtsp://192.168.5.111:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif/trackID=1"
        ]
    );
    assert_eq!(s.expected_ssrc, Some(0x30A98EE7));
    assert_eq!((s.rtp_info_seq, s.rtp_info_rtptime), (Some(47121), Some(3475222385)));
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// A camera whose `Content-Base` has no scheme (`host:554/path/`): repaired
/// by default, refused under `content_base = "strict"`.
#[tokio::test]
async fn content_base_without_scheme() {
    let (s, server) =
        play("field/content-base-no-scheme.txt", CameraPolicy::default(), frames_after_play(96, 0x30A98EE7)).await;
    let s = s.expect("session sets up");
    assert_eq!(
        setups(&server.seen()),
        [
            "rtsp://192.168.5.111:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif/trackID=0",
            "rtsp://192.168.5.111:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif/trackID=1"
        ]
    );
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
    drop(server);

    let strict = CameraPolicy { content_base: ContentBase::Strict, ..CameraPolicy::default() };
    let (r, server) = play("field/content-base-no-scheme.txt", strict, Stream::default()).await;
    let e = r.expect_err("strict refuses");
    assert!(e.to_string().contains("192.168.5.111:554/cam/realmonitor"), "{e}");
    assert!(setups(&server.seen()).is_empty());
}

/// Reolink: `RTP-Info` carrying each track's SSRC (relative URLs), no SSRC
/// in `Transport`; a stale session's RTP arrives before the PLAY answer and
/// is never handed on.
#[tokio::test]
async fn reolink_rtp_info_ssrc_and_stale_rtp_before_play() {
    let mut stale = RtpStream { channel: 0, payload_type: 96, ssrc: 0x0bad_cafe, seq: 50_000, ts: 7 };
    let stream = Stream { before_play: stale.frames(3), after_play: our_stream(96, 0xdcc4a0d8).frames(FRAMES) };
    let (s, server) = play("reolink/rlc-410.txt", CameraPolicy::default(), stream).await;
    let s = s.expect("session sets up");
    assert_eq!(
        setups(&server.seen()),
        ["rtsp://192.168.5.206/h264Preview_01_main/trackID=1", "rtsp://192.168.5.206/h264Preview_01_main/trackID=2"]
    );
    assert_eq!(s.expected_ssrc, Some(0xdcc4a0d8), "the video entry's SSRC, not the audio's");
    assert_eq!(s.rtp_info_seq, Some(16852));
    assert_eq!(s.skipped_before_play, 4, "the stale session's 4 packets were skipped");
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// Wowza (a server, not a camera): audio before video, `Session` in the
/// DESCRIBE answer, a different session id in the PLAY answer.
#[tokio::test]
async fn wowza_audio_first_and_session_in_describe() {
    let (s, server) = play("wowza/bunny.txt", CameraPolicy::default(), frames_after_play(97, 0x1234_5678)).await;
    let s = s.expect("session sets up");
    assert_eq!(
        setups(&server.seen()),
        [
            "rtsp://wowzaec2demo.streamlock.net/vod/mp4:BigBuckBunny_115k.mov/trackID=2",
            "rtsp://wowzaec2demo.streamlock.net/vod/mp4:BigBuckBunny_115k.mov/trackID=1"
        ]
    );
    assert_eq!(s.expected_ssrc, None);
    assert_eq!(s.rtp_info_seq, Some(1));
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// GeoVision: Content-Base with a query and no trailing slash, controls
/// `video`/`audio`, `Session: id; timeout=60` with a space, an `RTP-Info`
/// URL that names neither our base nor our track.
#[tokio::test]
async fn geovision_query_base_without_slash() {
    let (s, server) = play("geovision/gv-main.txt", CameraPolicy::default(), frames_after_play(96, 0x0101_0101)).await;
    let s = s.expect("session sets up");
    assert_eq!(
        setups(&server.seen()),
        [
            "rtsp://192.168.1.110:5050/H264?channel=1&subtype=0&unicast=true&proto=Onvif/video",
            "rtsp://192.168.1.110:5050/H264?channel=1&subtype=0&unicast=true&proto=Onvif/audio"
        ]
    );
    assert_eq!(s.timeout, Duration::from_secs(60));
    assert_eq!(s.rtp_info_seq, Some(271), "the only entry is ours");
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// VStarcam: no `Content-Base`, no session-level control (the request URL is
/// the base), `Cseq` spelled so.
#[tokio::test]
async fn vstarcam_no_content_base_no_session_control() {
    let (s, server) = play("vstarcam/ipcam.txt", CameraPolicy::default(), frames_after_play(96, 0x0303_0303)).await;
    let s = s.expect("session sets up");
    assert_eq!(
        setups(&server.seen()),
        [
            format!("rtsp://127.0.0.1:{}/stream/track0", server.port),
            format!("rtsp://127.0.0.1:{}/stream/track1", server.port)
        ]
    );
    let play_uri = server.seen().iter().find(|r| r.method == "PLAY").map(|r| r.uri.clone());
    assert_eq!(play_uri, Some(format!("rtsp://127.0.0.1:{}/stream", server.port)));
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// Foscam (LIVE555 2014): `Content-Base` on another port than ours, `o=`
/// naming yet another address.
#[tokio::test]
async fn foscam_content_base_on_another_port() {
    let (s, server) = play("foscam/ipcam.txt", CameraPolicy::default(), frames_after_play(96, 0x0404_0404)).await;
    let s = s.expect("session sets up");
    assert_eq!(
        setups(&server.seen()),
        ["rtsp://192.168.5.107:65534/videoMain/track1", "rtsp://192.168.5.107:65534/videoMain/track2"]
    );
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// GStreamer's gst-rtsp-server (the reference peer of the end-to-end
/// tests): Digest without `qop`, `stream=N` controls, SSRC in `Transport`
/// (hex of the SDP's decimal `a=ssrc`), no timeout in `Session`.
#[tokio::test]
async fn gstreamer_rtsp_server() {
    let (s, server) =
        play("gstreamer/rtsp-server-1.22.txt", CameraPolicy::default(), frames_after_play(96, 0x63601709)).await;
    let s = s.expect("session sets up");
    assert_eq!(
        setups(&server.seen()),
        ["rtsp://127.0.0.1:46873/cam0/stream=0", "rtsp://127.0.0.1:46873/cam0/stream=1"]
    );
    assert!(server.seen().iter().any(|r| r.authorization.as_deref().is_some_and(|a| a.starts_with("Digest "))));
    assert_eq!(s.expected_ssrc, Some(1667241737), "the SDP's a=ssrc:1667241737");
    assert_eq!(s.rtp_info_seq, Some(17642));
    assert_eq!(s.timeout, Duration::from_secs(60));
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// H3C (go2rtc issue #1663): `o=- 1001 1 IN` and `c=IN`, fields missing.
/// Only the media sections matter: the session sets up and records.
#[tokio::test]
async fn truncated_origin_and_connection_lines() {
    let (s, server) =
        play("field/truncated-origin-h3c.txt", CameraPolicy::default(), frames_after_play(105, 0x0202_0202)).await;
    let s = s.expect("session sets up");
    assert_eq!(setups(&server.seen()), ["rtsp://192.168.0.60/media/video1/video"]);
    assert!(depacketize(s, FRAMES as u64 - 1).await >= FRAMES as u64 - 1);
}

/// The same exchange under `sdp_session_lines = strict`: refused, no SETUP.
#[tokio::test]
async fn truncated_origin_refused_when_strict() {
    let policy = CameraPolicy { sdp_session_lines: SdpSessionLines::Strict, ..CameraPolicy::default() };
    let (s, server) = play("field/truncated-origin-h3c.txt", policy, frames_after_play(105, 0x0202_0202)).await;
    let e = s.expect_err("strict refuses the truncated SDP");
    assert!(e.to_string().contains("SDP"), "{e}");
    assert!(setups(&server.seen()).is_empty());
}

/// Reolink with a stale session's RTP (another SSRC, its own sequence and
/// timestamps) interleaved on our channel AFTER the PLAY answer: the SSRC
/// announced in `RTP-Info` picks our stream; the stale packets are counted as
/// foreign, never as loss.
#[tokio::test]
async fn reolink_stale_ssrc_interleaved_after_play() {
    let mut ours = our_stream(96, 0xdcc4a0d8).frames(FRAMES);
    let stale =
        RtpStream { channel: 0, payload_type: 96, ssrc: 0x1234_5678, seq: 40_000, ts: 7_000_000 }.frames(FRAMES);
    let mut after_play = Vec::new();
    for (a, b) in ours.drain(..).zip(stale) {
        after_play.push(b);
        after_play.push(a);
    }
    let stream = Stream { before_play: Vec::new(), after_play };
    let (s, _server) = play("reolink/rlc-410.txt", CameraPolicy::default(), stream).await;
    let s = s.expect("session sets up");
    assert_eq!(s.expected_ssrc, Some(0xdcc4a0d8));
    let (frames, lost, foreign) = depacketize_counts(s, FRAMES as u64 - 1).await;
    assert!(frames >= FRAMES as u64 - 1, "{frames} frames");
    assert_eq!(lost, 0, "stale packets counted as loss");
    assert!(foreign > 0, "stale packets not seen as foreign");
}
