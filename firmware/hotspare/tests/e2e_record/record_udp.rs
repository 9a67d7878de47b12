//! RTP over UDP unicast (`hotspare record --transport udp|udp-then-tcp`)
//! from the simulator and from GStreamer's RTSP server: recordings checked
//! with ffprobe/ffmpeg, no loss on loopback, receiver reports reaching the
//! camera, datagrams of a stray sender kept out, the fallback to TCP, and
//! reconnects.

use std::net::UdpSocket;
use std::time::Duration;

use crate::common::*;

/// "cam0: sent N frames over T, K receiver reports received" of each finished session: (T, K).
fn sessions_of(sim_log: &str) -> Vec<(String, i64)> {
    sim_log
        .lines()
        .filter_map(|l| {
            let rest = &l[l.find(": sent ")? + 7..];
            let over = rest.split(" over ").nth(1)?;
            let (transport, rest) = over.split_once(", ")?;
            let reports = rest.split(' ').next()?.parse().ok()?;
            Some((transport.to_string(), reports))
        })
        .collect()
}

fn assert_clean_export(store: &std::path::Path, camera: &str, frames: i64) {
    let mp4 = store.join(format!("{camera}.mp4"));
    let (exported, p) = export_and_check(store, camera, &mp4, "h264", (1920, 1080));
    assert_eq!(exported, frames, "export vs the recorder's summary");
    assert_eq!(p.frames, exported);
}

#[test]
fn sim_udp_record_export() {
    let sim = Sim::start("h264", free_port(), &[]);
    let store = tempfile::tempdir().unwrap();
    let out = record(
        &sim.url(),
        store.path(),
        "cam",
        &["--duration", "7s", "--segment", "2s", "--transport", "udp"],
        Duration::from_secs(20),
    );
    let s = expect_summary(&out);
    assert_eq!(s.transport.as_deref(), Some("udp"), "{}", out.dump());
    assert_eq!((s.sessions, s.lost_packets, s.discontinuities), (1, 0, 0), "{}", out.dump());
    let sent = sim.wait_sent(1)[0];
    // 7 s at 25 fps less the set-up; frames sent after the recorder stopped are not loss.
    assert!((150..=sent).contains(&s.frames) && s.frames + 25 >= sent, "recorded {} of {sent}", s.frames);
    let sessions = sessions_of(&sim.proc.stderr.text());
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].0, "udp");
    // One report about 1 s after PLAY, then every 5 s.
    assert!(sessions[0].1 >= 2, "receiver reports at the simulator: {sessions:?}");
    assert_clean_export(store.path(), "cam", s.frames);
    eprintln!("udp: sim sent {sent}, recorded {}, receiver reports {}", s.frames, sessions[0].1);
}

/// RTP datagrams from another port of the camera's host (valid headers, the
/// video payload type, another SSRC and sequence) never reach the
/// depacketizer: no loss, no discontinuity, a clean export.
#[test]
fn stray_udp_sender_is_ignored() {
    let sim = Sim::start("h264", free_port(), &[]);
    let store = tempfile::tempdir().unwrap();
    let rec =
        Proc::spawn("record", record_cmd(&sim.url(), store.path(), "cam", &["--duration", "6s", "--transport", "udp"]));
    sim.proc.wait_for_output(Duration::from_secs(10), "PLAY over udp", |_, e| e.contains("over udp to port "));
    let log = sim.proc.stderr.text();
    let port: u16 = log
        .split("over udp to port ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("client RTP port in the simulator's log");
    let stray = UdpSocket::bind("127.0.0.1:0").unwrap();
    let end = std::time::Instant::now() + Duration::from_secs(4);
    let mut seq = 0u16;
    while std::time::Instant::now() < end {
        let mut p = vec![0x80, 96];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(seq as u32 * 3000).to_be_bytes());
        p.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        p.extend_from_slice(&[0x65, 0x88, 0x80, 0x40]);
        let _ = stray.send_to(&p, ("127.0.0.1", port));
        seq = seq.wrapping_add(977);
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = rec.finish(Duration::from_secs(20));
    let s = expect_summary(&out);
    assert_eq!(s.transport.as_deref(), Some("udp"));
    assert_eq!((s.sessions, s.lost_packets, s.discontinuities), (1, 0, 0), "{}", out.dump());
    assert_clean_export(store.path(), "cam", s.frames);
}

#[test]
fn gstreamer_udp() {
    if let Err(why) = gst_has("x264enc") {
        eprintln!("SKIP: GStreamer over UDP: {why}");
        return;
    }
    let gst = Gst::start(&["--codec", "h264", "--frames", "100"]);
    let store = tempfile::tempdir().unwrap();
    let out = record(
        &gst.url(),
        store.path(),
        "gst",
        &["--duration", "8s", "--segment", "2s", "--transport", "udp"],
        Duration::from_secs(18),
    );
    let s = expect_summary(&out);
    assert_eq!(s.transport.as_deref(), Some("udp"), "{}", out.dump());
    assert_eq!((s.sessions, s.lost_packets, s.discontinuities), (1, 0, 0), "{}", out.dump());
    let mp4 = store.path().join("out.mp4");
    let exported = export_ok(store.path(), "gst", None, None, &mp4);
    let p = ffprobe(&mp4);
    assert_eq!(p.codec, "h264", "{p:?}");
    assert!(p.stderr.trim().is_empty(), "ffprobe errors: {}", p.stderr);
    let errs = ffmpeg_errors(&mp4);
    assert!(errs.trim().is_empty(), "ffmpeg decode errors:\n{errs}");
    assert_eq!(exported, s.frames);
    assert_near(p.frames, 100, GOP, "frames recorded of the 100 GStreamer sent over UDP");
    eprintln!("gstreamer over udp: 100 sent, recorded {}", s.frames);
}

/// A camera whose UDP never arrives (a firewall): `udp-then-tcp` tears the
/// UDP session down and records over TCP.
#[test]
fn udp_then_tcp_falls_back_when_udp_gets_nothing() {
    let sim = Sim::start("h264", free_port(), &["--udp", "silent"]);
    let store = tempfile::tempdir().unwrap();
    let out = record(
        &sim.url(),
        store.path(),
        "cam",
        &["--duration", "10s", "--transport", "udp-then-tcp"],
        Duration::from_secs(25),
    );
    let s = expect_summary(&out);
    assert_eq!(s.transport.as_deref(), Some("tcp"), "{}", out.dump());
    assert_eq!(s.sessions, 2, "one UDP session that got nothing, then TCP:\n{}", out.dump());
    assert!(
        out.stderr.contains("no RTP over UDP") && out.stderr.contains("setting up again over TCP"),
        "{}",
        out.dump()
    );
    // 10 s less the 4 s wait for UDP and the set-ups.
    assert!(s.frames >= 100, "recorded {} frames over TCP:\n{}", s.frames, out.dump());
    sim.wait_sent(2);
    let sessions = sessions_of(&sim.proc.stderr.text());
    assert_eq!(sessions.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["udp", "tcp"]);
    // Receiver reports go on the interleaved RTCP channel too.
    assert!(sessions[1].1 >= 1, "receiver reports over TCP: {sessions:?}");
    assert_clean_export(store.path(), "cam", s.frames);
}

/// A camera that refuses UDP (461): `udp-then-tcp` records over TCP at once;
/// `udp` does not fall back and says why nothing was recorded.
#[test]
fn udp_refused() {
    let sim = Sim::start("h264", free_port(), &["--udp", "refuse"]);
    let store = tempfile::tempdir().unwrap();
    let out = record(
        &sim.url(),
        store.path(),
        "cam",
        &["--duration", "4s", "--transport", "udp-then-tcp"],
        Duration::from_secs(15),
    );
    let s = expect_summary(&out);
    assert_eq!((s.transport.as_deref(), s.sessions), (Some("tcp"), 1), "{}", out.dump());
    assert!(s.frames >= 60, "{}", out.dump());

    let out =
        record(&sim.url(), store.path(), "cam2", &["--duration", "3s", "--transport", "udp"], Duration::from_secs(15));
    assert!(!out.success(), "nothing can be recorded over UDP:\n{}", out.dump());
    out.assert_no_panic();
    assert!(out.stdout.contains("nothing recorded") || out.stderr.contains("nothing recorded"), "{}", out.dump());
    assert!(out.all().contains("461"), "the reason is named:\n{}", out.dump());
}

/// The camera goes away mid-recording and comes back on the same port:
/// recording over UDP resumes.
#[test]
fn udp_recording_resumes_after_camera_restart() {
    let port = free_port();
    let mut sim = Sim::start("h264", port, &[]);
    let store = tempfile::tempdir().unwrap();
    let rec = Proc::spawn(
        "record",
        record_cmd(
            &sim.url(),
            store.path(),
            "cam",
            &["--duration", "14s", "--transport", "udp", "--stall-timeout", "3s"],
        ),
    );
    rec.wait_for_output(Duration::from_secs(10), "first UDP session", |_, e| e.contains("over udp"));
    std::thread::sleep(Duration::from_secs(4));
    sim.proc.kill();
    std::thread::sleep(Duration::from_secs(1));
    let sim2 = Sim::start("h264", port, &[]);
    rec.wait_for_output(Duration::from_secs(10), "second UDP session", |_, e| e.matches("over udp").count() >= 2);
    let out = rec.finish(Duration::from_secs(25));
    let s = expect_summary(&out);
    assert_eq!(s.transport.as_deref(), Some("udp"));
    assert!(s.sessions >= 2, "{}", out.dump());
    let sent = sim2.wait_sent(1);
    let after = sent[0];
    assert!(after >= 100, "second camera instance sent {after} frames");
    // Everything the restarted camera sent was recorded (less frames in flight at the stop).
    assert!(
        s.frames >= 80 + after - 25,
        "recorded {} frames; the restarted camera sent {after}:\n{}",
        s.frames,
        out.dump()
    );
    assert_clean_export(store.path(), "cam", s.frames);
}
