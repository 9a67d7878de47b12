//! A scripted loopback RTSP camera for the recorder's session tests: it
//! answers OPTIONS/DESCRIBE/SETUP/PLAY with `sdp` (SETUP echoes the
//! transport the client asked for) and sends `media` (interleaved frames)
//! after the PLAY answer; and `record`, which runs the real client,
//! recorder and store against it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hotspare_camera_policy::CameraPolicy;
use hotspare_recorder::{run_camera, CameraConfig, CameraStatus, RecorderOptions, StatusHandle};
use hotspare_store::{Store, StoreConfig};
use tokio::sync::watch;

/// Session and video track of an H.264 camera; append audio media sections.
pub const VIDEO_SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\na=control:*\r\n\
m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
a=fmtp:96 packetization-mode=1;profile-level-id=64001E;sprop-parameter-sets=Z2QAHqwsaoLA9puCgIKgAAADACAAAAMD0IAA,aO4xshsA\r\n\
a=control:trackID=0\r\n";

/// An interleaved frame (`$`, channel, length, data).
pub fn frame(channel: u8, rtp: &[u8]) -> Vec<u8> {
    let mut f = vec![b'$', channel];
    f.extend_from_slice(&(rtp.len() as u16).to_be_bytes());
    f.extend_from_slice(rtp);
    f
}

/// An RTP packet of payload type `pt` (SSRC 0x12345600 + pt).
pub fn rtp(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&(0x1234_5600u32 + u32::from(pt)).to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// The payload of video frame `i`: an IDR every 30 frames, else a P slice.
pub fn video_payload(i: u32) -> &'static [u8] {
    if i.is_multiple_of(30) {
        &[0x65, 0x88, 1, 2, 3]
    } else {
        &[0x41, 0x9a, 1, 2, 3]
    }
}

fn serve(mut sock: TcpStream, sdp: &str, media: &[u8]) {
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
            "DESCRIBE" => ("Content-Type: application/sdp\r\n".to_string(), sdp),
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
        if method == "PLAY" && sock.write_all(media).is_err() {
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

/// Records a camera serving `sdp` and `media` with `policy` until `done`
/// holds of its status (or 10 s pass); returns the status.
pub async fn record(
    sdp: &str,
    media: Vec<u8>,
    policy: CameraPolicy,
    done: impl Fn(&CameraStatus) -> bool,
) -> CameraStatus {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (sdp, media): (Arc<str>, Arc<[u8]>) = (sdp.into(), media.into());
    std::thread::spawn(move || {
        for sock in listener.incoming().flatten() {
            let (sdp, media) = (sdp.clone(), media.clone());
            std::thread::spawn(move || serve(sock, &sdp, &media));
        }
    });
    let dir = std::env::temp_dir().join(format!("hotspare-recorder-test-{}-{port}", std::process::id()));
    let _cleanup = TempStore(dir.clone());
    let store: Arc<Store> = Store::open(&dir, StoreConfig::default()).expect("store");
    let cam = CameraConfig { id: "cam".into(), url: format!("rtsp://127.0.0.1:{port}/s0"), credentials: None, policy };
    let status = StatusHandle::default();
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run_camera(cam, store, RecorderOptions::default(), status.clone(), stop_rx));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(&status.get()) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    status.get()
}
