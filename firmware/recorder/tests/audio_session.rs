//! The audio track of a session, through the real client, recorder and
//! store on a loopback RTSP server: PCMU on interleaved channel 2 is
//! recorded beside the video; garbage on the audio channel costs the video
//! nothing; under `audio = ignore` the track is not set up and its data is
//! skipped as unassigned.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hotspare_camera_policy::CameraPolicy;
use hotspare_recorder::{run_camera, CameraConfig, CameraStatus, RecorderOptions, StatusHandle};
use hotspare_store::{Store, StoreConfig};
use tokio::sync::watch;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\na=control:*\r\n\
m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
a=fmtp:96 packetization-mode=1;profile-level-id=64001E;sprop-parameter-sets=Z2QAHqwsaoLA9puCgIKgAAADACAAAAMD0IAA,aO4xshsA\r\n\
a=control:trackID=0\r\n\
m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=control:trackID=1\r\n";

/// What the camera sends on channel 2.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Audio {
    /// 40 ms of PCMU per video frame.
    Pcmu,
    /// Bytes that are not RTP.
    Garbage,
}

fn frame(channel: u8, rtp: &[u8]) -> Vec<u8> {
    let mut f = vec![b'$', channel];
    f.extend_from_slice(&(rtp.len() as u16).to_be_bytes());
    f.extend_from_slice(rtp);
    f
}

fn rtp(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&(0x1234_5600u32 + u32::from(pt)).to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// 60 frames (an IDR every 30) on channel 0 at 25 fps, each followed by a
/// packet on channel 2.
fn media(audio: Audio) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..60u32 {
        let payload: &[u8] = if i % 30 == 0 { &[0x65, 0x88, 1, 2, 3] } else { &[0x41, 0x9a, 1, 2, 3] };
        out.extend(frame(0, &rtp(96, 1 + i as u16, 90_000 + i * 3600, true, payload)));
        match audio {
            Audio::Pcmu => out.extend(frame(2, &rtp(0, 500 + i as u16, 8000 + i * 320, true, &[0xff; 320]))),
            Audio::Garbage => out.extend(frame(2, b"\x01\x02")),
        }
    }
    out
}

fn serve(mut sock: TcpStream, audio: Audio) {
    let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match sock.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + 4);
        let method = head.split(' ').next().unwrap_or("").to_string();
        let cseq = head.lines().find_map(|l| l.strip_prefix("CSeq:")).unwrap_or("0").trim().to_string();
        let (extra, body) = match method.as_str() {
            "DESCRIBE" => ("Content-Type: application/sdp\r\n".to_string(), SDP),
            "SETUP" => {
                // The channels the client asked for.
                let t = head.lines().find_map(|l| l.strip_prefix("Transport:")).unwrap_or("").trim().to_string();
                (format!("Transport: {t}\r\nSession: 77;timeout=60\r\n"), "")
            }
            _ => ("Session: 77\r\n".into(), ""),
        };
        let reply = format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{extra}Content-Length: {}\r\n\r\n{body}", body.len());
        if sock.write_all(reply.as_bytes()).is_err() {
            return;
        }
        if method == "PLAY" && sock.write_all(&media(audio)).is_err() {
            return;
        }
    }
}

struct TempStore(PathBuf);
impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Records with `policy` until `done` holds of the camera's status (or 10 s pass).
async fn record(policy: CameraPolicy, audio: Audio) -> CameraStatus {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for sock in listener.incoming().flatten() {
            std::thread::spawn(move || serve(sock, audio));
        }
    });
    let dir = std::env::temp_dir().join(format!("hotspare-audio-session-{}-{port}", std::process::id()));
    let _cleanup = TempStore(dir.clone());
    let store: Arc<Store> = Store::open(&dir, StoreConfig::default()).expect("store");
    let cam = CameraConfig { id: "cam".into(), url: format!("rtsp://127.0.0.1:{port}/s0"), credentials: None, policy };
    let status = StatusHandle::default();
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run_camera(cam, store, RecorderOptions::default(), status.clone(), stop_rx));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while status.get().frames < 59 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    status.get()
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
