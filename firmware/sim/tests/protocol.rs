//! RTSP protocol behaviour checked with a bare TCP client: status codes
//! (400, 404, 461, 401, 454), headers, and the RTP/RTCP stream itself
//! (sequence numbers, timestamps across clip loops, markers, sender reports,
//! audio packets), plus many simultaneous sessions.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_lists_methods() {
    let sim = start(config("clip-h264.h264")).await;
    let mut c = RawClient::connect(sim.addr).await;
    let r = c.request("OPTIONS", &sim.url("/cam0"), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cseq"), Some("1"));
    let public = r.header("public").expect("Public header");
    for m in ["DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER"] {
        assert!(public.contains(m), "{public}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_400_and_server_survives() {
    let sim = start(config("clip-h264.h264")).await;
    for garbage in [
        &b"HELLO THERE\r\n\r\n"[..],
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"DESCRIBE rtsp://[::1/ RTSP/1.0\r\nCSeq: 1\r\n\r\n",
    ] {
        let mut c = RawClient::connect(sim.addr).await;
        c.send_raw(garbage).await;
        let r = c.response().await.expect("a response to garbage");
        assert_eq!(r.status, 400, "for {garbage:?}");
        assert!(c.closed().await, "connection stays open after garbage");
    }
    // An endless header without a blank line is cut off too.
    let mut c = RawClient::connect(sim.addr).await;
    c.send_raw(&[b'A'; 20_000]).await;
    assert_eq!(c.response().await.map(|r| r.status), Some(400));

    let mut c = RawClient::connect(sim.addr).await;
    assert_eq!(c.request("OPTIONS", &sim.url("/cam0"), &[]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_split_across_reads() {
    let sim = start(config("clip-h264.h264")).await;
    let mut c = RawClient::connect(sim.addr).await;
    let req = format!("DESCRIBE {} RTSP/1.0\r\nCSeq: 7\r\nAccept: application/sdp\r\n\r\n", sim.url("/cam0"));
    for chunk in req.as_bytes().chunks(5) {
        c.send_raw(chunk).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let r = c.response().await.expect("response");
    assert_eq!((r.status, r.header("cseq")), (200, Some("7")));
    assert!(r.body.contains("a=rtpmap:96 H264/90000"), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_404() {
    let sim = start(config("clip-h264.h264")).await;
    let mut c = RawClient::connect(sim.addr).await;
    for path in ["/cam99", "/cam4", "/camera0", "/", "/cam0/trackID=7", "/cam0/trackID=1"] {
        assert_eq!(c.request("DESCRIBE", &sim.url(path), &[]).await.status, 404, "{path}");
    }
    assert_eq!(c.request("DESCRIBE", &sim.url("/cam3"), &[]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_sdp_h265_with_audio() {
    let mut cfg = config("clip-h265.h265");
    cfg.audio = true;
    let sim = start(cfg).await;
    let mut c = RawClient::connect(sim.addr).await;
    let r = c.request("DESCRIBE", &sim.url("/cam1"), &[("Accept", "application/sdp")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/sdp"));
    assert_eq!(r.header("content-base"), Some(sim.url("/cam1/").as_str()));
    let sdp = &r.body;
    assert!(sdp.contains("a=rtpmap:96 H265/90000\r\n"), "{sdp}");
    assert!(sdp.contains("sprop-vps=QAEM") && sdp.contains("sprop-sps=QgEB") && sdp.contains("sprop-pps=RAH"), "{sdp}");
    assert!(sdp.contains("m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=control:trackID=1"), "{sdp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_transport_refused_is_461_and_bad_session_is_454() {
    let mut cfg = config("clip-h264.h264");
    cfg.udp = hotspare_sim::UdpMode::Refuse;
    let sim = start(cfg).await;
    let mut c = RawClient::connect(sim.addr).await;
    let url = sim.url("/cam0/trackID=0");
    let r = c.request("SETUP", &url, &[("Transport", "RTP/AVP;unicast;client_port=5000-5001")]).await;
    assert_eq!(r.status, 461);
    let r = c.request("SETUP", &url, &[("Transport", "RTP/AVP;multicast")]).await;
    assert_eq!(r.status, 461, "multicast is never served");
    let r = c.request("PLAY", &sim.url("/cam0/"), &[]).await;
    assert_eq!(r.status, 455, "PLAY before SETUP");
    let r = c.request("SETUP", &url, &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]).await;
    assert_eq!(r.status, 200);
    let r = c.request("PLAY", &sim.url("/cam0/"), &[("Session", "NOTMYSESSION")]).await;
    assert_eq!(r.status, 454);
}

/// UDP is served by default: the reply names our even/odd port pair and source address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_setup_names_server_ports() {
    let sim = start(config("clip-h264.h264")).await;
    let mut c = RawClient::connect(sim.addr).await;
    let url = sim.url("/cam0/trackID=0");
    let r = c.request("SETUP", &url, &[("Transport", "RTP/AVP;unicast;client_port=5000-5001")]).await;
    assert_eq!(r.status, 200);
    let t = r.header("transport").expect("Transport").to_owned();
    let reply = hotspare_rtsp::transport::TransportReply::parse(&t);
    assert!(!reply.tcp, "{t}");
    let (rtp, rtcp) = reply.server_port.expect("server_port");
    assert_eq!((rtp % 2, rtcp.map(|p| p - rtp)), (0, Some(1)), "{t}");
    assert_eq!(reply.source, Some(sim.addr.ip()), "{t}");
    assert!(t.contains("client_port=5000-5001"), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_challenge_and_raw_answer() {
    let mut cfg = config("clip-h264.h264");
    cfg.user = Some("admin".into());
    cfg.password = Some("pw".into());
    let sim = start(cfg).await;
    let mut c = RawClient::connect(sim.addr).await;
    let url = sim.url("/cam0");
    let r = c.request("DESCRIBE", &url, &[]).await;
    assert_eq!(r.status, 401);
    let www = r.header("www-authenticate").expect("challenge").to_owned();
    assert!(www.starts_with("Digest realm=\""), "{www}");
    let challenge = hotspare_rtsp::auth::Challenge::parse(&www).expect("parse challenge");
    let creds = hotspare_rtsp::auth::Credentials { user: "admin".into(), password: "pw".into() };
    let mut a = hotspare_rtsp::auth::Authenticator::new(creds, challenge.clone());
    let h = a.authorization("DESCRIBE", &url);
    assert_eq!(c.request("DESCRIBE", &url, &[("Authorization", &h)]).await.status, 200);
    let bad = hotspare_rtsp::auth::Credentials { user: "admin".into(), password: "nope".into() };
    let h = hotspare_rtsp::auth::Authenticator::new(bad, challenge).authorization("DESCRIBE", &url);
    assert_eq!(c.request("DESCRIBE", &url, &[("Authorization", &h)]).await.status, 401);
}

/// RTP header fields.
struct Rtp {
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
}

fn rtp(d: &[u8]) -> Rtp {
    assert!(d.len() > 12 && d[0] == 0x80, "not RTP v2: {:02x?}", &d[..d.len().min(12)]);
    Rtp {
        marker: d[1] & 0x80 != 0,
        pt: d[1] & 0x7f,
        seq: u16::from_be_bytes([d[2], d[3]]),
        ts: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
        ssrc: u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
    }
}

/// SETUP (video, optionally audio) + PLAY; returns the client and the video SSRC.
async fn play(sim: &Running, cam: u32, audio: bool) -> RawClient {
    let mut c = RawClient::connect(sim.addr).await;
    let base = sim.url(&format!("/cam{cam}/"));
    let r =
        c.request("SETUP", &format!("{base}trackID=0"), &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]).await;
    assert_eq!(r.status, 200);
    let session = r.header("session").expect("Session").to_owned();
    assert!(session.ends_with(&format!(";timeout={}", sim.session_timeout_s)), "{session}");
    let id = session.split(';').next().unwrap_or_default().to_owned();
    assert!(r.header("transport").is_some_and(|t| t.contains("interleaved=0-1")));
    if audio {
        let r = c
            .request(
                "SETUP",
                &format!("{base}trackID=1"),
                &[("Transport", "RTP/AVP/TCP;unicast;interleaved=2-3"), ("Session", &id)],
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let r = c.request("PLAY", &base, &[("Session", &id), ("Range", "npt=0.000-")]).await;
    assert_eq!(r.status, 200);
    let info = r.header("rtp-info").expect("RTP-Info").to_owned();
    assert!(info.starts_with(&format!("url={base}trackID=0;seq=")), "{info}");
    assert_eq!(info.contains("trackID=1"), audio, "{info}");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtp_stream_is_continuous_across_loops() {
    // 100 fps: the 75-frame clip loops every 0.75 s.
    let mut cfg = config("clip-h264.h264");
    cfg.fps = 100;
    cfg.audio = true;
    let sim = start(cfg).await;
    let mut c = play(&sim, 2, true).await;
    let t0 = Instant::now();
    let (mut frames, mut audio, mut srs) = (0u32, 0u32, 0u32);
    let mut last: Option<(u16, u32, bool)> = None;
    let mut last_audio: Option<(u16, u32)> = None;
    let mut first_ts = None;
    while t0.elapsed() < Duration::from_millis(2000) {
        let p = c.interleaved().await.expect("interleaved packet");
        match p.channel {
            0 => {
                let h = rtp(&p.data);
                assert_eq!(h.pt, 96);
                assert!(p.data.len() <= 12 + 1400);
                if let Some((seq, ts, marker)) = last {
                    assert_eq!(h.seq, seq.wrapping_add(1), "sequence gap");
                    if marker {
                        assert_eq!(h.ts.wrapping_sub(ts), 900, "timestamp step at frame {frames}");
                    } else {
                        assert_eq!(h.ts, ts, "timestamp changed inside a frame");
                    }
                }
                first_ts.get_or_insert(h.ts);
                frames += h.marker as u32;
                last = Some((h.seq, h.ts, h.marker));
            }
            1 => {
                assert_eq!(p.data[1], 200, "sender report first");
                srs += 1;
            }
            2 => {
                let h = rtp(&p.data);
                assert_eq!((h.pt, p.data.len()), (0, 12 + 160));
                if let Some((seq, ts)) = last_audio {
                    assert_eq!((h.seq, h.ts), (seq.wrapping_add(1), ts.wrapping_add(160)));
                }
                last_audio = Some((h.seq, h.ts));
                audio += 1;
                let _ = h.ssrc;
            }
            3 => assert_eq!(p.data[1], 200),
            ch => panic!("unexpected channel {ch}"),
        }
    }
    // About 200 frames in 2 s (more than two loops of the clip), 100 audio packets.
    assert!((170..=220).contains(&frames), "{frames} frames in 2 s");
    assert!((80..=115).contains(&audio), "{audio} audio packets in 2 s");
    assert!(srs >= 1, "no sender report");
    let r = c.request("TEARDOWN", &sim.url("/cam2/"), &[]).await;
    assert_eq!(r.status, 200);
    assert!(c.closed().await);
    let reports = sim.wait_finished(1).await;
    assert!(reports[0].frames_sent >= frames as u64, "{reports:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sessions_at_once() {
    let mut cfg = config("clip-h265.h265");
    cfg.streams = 16;
    let sim = start(cfg).await;
    let mut tasks = Vec::new();
    for cam in 0..16 {
        let client = play(&sim, cam, false).await;
        tasks.push(tokio::spawn(async move {
            let mut c = client;
            let (t0, mut frames, mut bytes) = (Instant::now(), 0u32, 0usize);
            while t0.elapsed() < Duration::from_secs(2) {
                let p = c.interleaved().await.expect("packet");
                if p.channel == 0 {
                    frames += rtp(&p.data).marker as u32;
                    bytes += p.data.len();
                }
            }
            (frames, bytes)
        }));
    }
    for t in tasks {
        let (frames, bytes) = t.await.expect("client task");
        assert!((40..=56).contains(&frames), "{frames} frames in 2 s");
        assert!(bytes > 300_000, "{bytes} bytes in 2 s");
    }
    assert_eq!(sim.stats.sessions_played.load(std::sync::atomic::Ordering::Relaxed), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_client_is_dropped() {
    // A client that never reads: the server must give up on it rather than
    // buffer without bound, and keep serving others.
    let sim = start(config("clip-h264.h264")).await;
    let c = play(&sim, 0, false).await;
    let t0 = Instant::now();
    let reports = loop {
        let r = sim.stats.finished();
        if !r.is_empty() || t0.elapsed() > Duration::from_secs(30) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(reports.len(), 1, "stalled client not dropped within 30 s");
    drop(c);
    let mut c2 = RawClient::connect(sim.addr).await;
    assert_eq!(c2.request("OPTIONS", &sim.url("/cam0"), &[]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playing_session_without_requests_times_out() {
    // Like a real camera: a client that sends nothing (no keep-alive) within
    // the announced session timeout is disconnected.
    let mut cfg = config("clip-h264.h264");
    cfg.session_timeout_s = 2;
    let sim = start(cfg).await;
    let mut c = play(&sim, 0, false).await;
    let t0 = Instant::now();
    let drained = tokio::time::timeout(Duration::from_secs(8), async {
        let mut packets = 0u64;
        while c.interleaved().await.is_some() {
            packets += 1;
        }
        packets
    })
    .await
    .expect("session still open 8 s after PLAY with a 2 s timeout");
    let elapsed = t0.elapsed();
    assert!(drained > 0, "no media before the timeout");
    assert!(elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(5), "ended after {elapsed:?}");
}
