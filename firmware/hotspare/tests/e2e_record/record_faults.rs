//! `hotspare record` when things go wrong: authentication, `kill -9`, a
//! camera that disappears and returns, a full disk, and servers that speak
//! bad RTSP/RTP.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;

// ---------------------------------------------------------------- auth

#[test]
fn sim_digest_auth() {
    let sim = Sim::start("h264", free_port(), &["--user", "admin", "--password", "pa55word"]);
    auth_cases(&sim.url(), sim.port, "admin", "pa55word");
}

// ---------------------------------------------------------------- kill -9

/// `kill -9` after ~5 s: the frames handed to the store survive (at most the
/// last ~1 s batch is lost), recovery leaves no corrupt files, and a new
/// `record` appends to the same store.
#[test]
fn kill_9_then_restart() {
    let sim = Sim::start("h264", free_port(), &[]);
    let store = tempfile::tempdir().unwrap();
    let mut rec = Proc::spawn("record", record_cmd(&sim.url(), store.path(), "cam", &["--segment", "2s"]));
    std::thread::sleep(Duration::from_secs(5));
    rec.kill();
    let killed_at = now_us();
    let stderr1 = rec.stderr.text();
    drop(rec);
    assert!(!stderr1.contains("panicked"), "{stderr1}");
    let sent1 = sim.wait_sent(1)[0];

    // Recovery runs when the store is opened (here by export).
    let first = store.path().join("first.mp4");
    let (frames1, _) = export_and_check(store.path(), "cam", &first, "h264", (1920, 1080));
    assert!(frames1 <= sent1, "stored {frames1} > sent {sent1}");
    assert!(frames1 >= sent1 - GOP, "kill -9 lost {} of {sent1} frames (more than 1 s)", sent1 - frames1);
    assert!(corrupt_files(store.path()).is_empty(), "corrupt files: {:?}", corrupt_files(store.path()));
    let segs1 = segments(store.path(), "cam");

    let out =
        record(&sim.url(), store.path(), "cam", &["--duration", "4s", "--segment", "2s"], Duration::from_secs(12));
    let s2 = expect_summary(&out);
    let sent2 = sim.wait_sent(2)[1];
    assert_near(s2.frames, sent2, GOP, "second run: recorded vs sent");
    assert!(corrupt_files(store.path()).is_empty(), "corrupt files: {:?}", corrupt_files(store.path()));

    let all = store.path().join("all.mp4");
    let (total, _) = export_and_check(store.path(), "cam", &all, "h264", (1920, 1080));
    assert_eq!(total, frames1 + s2.frames, "both runs in one export");
    // The first run's segments alone, after the second run's recovery: unchanged.
    let again = export_ok(
        store.path(),
        "cam",
        Some(&rfc3339(segs1[0].0)),
        Some(&rfc3339(killed_at)),
        &store.path().join("again.mp4"),
    );
    assert_eq!(again, frames1, "first run's frames after the restart");
    let errs = ffmpeg_errors(&store.path().join("again.mp4"));
    assert!(errs.trim().is_empty(), "{errs}");
    eprintln!(
        "kill -9: sim sent {sent1}, stored {frames1} (lost {}), {} segments; rerun sent {sent2}, recorded {}; total {total}",
        sent1 - frames1,
        segs1.len(),
        s2.frames
    );
}

// ---------------------------------------------------------------- camera goes away

/// The camera vanishes for ~3 s and returns on the same port: the same
/// `record` process records it again.
#[test]
fn camera_disappears_and_returns() {
    let port = free_port();
    let mut sim = Sim::start("h264", port, &[]);
    let store = tempfile::tempdir().unwrap();
    let rec = Proc::spawn(
        "record",
        record_cmd(&sim.url(), store.path(), "cam", &["--duration", "14s", "--stall-timeout", "2s", "--segment", "2s"]),
    );
    std::thread::sleep(Duration::from_secs(4));
    sim.proc.kill();
    let first_secs = rec.started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(3));
    let back_at = now_us();
    let sim2 = Sim::start("h264", port, &[]);
    let out = rec.finish(Duration::from_secs(20));
    let s = expect_summary(&out);
    assert!(s.sessions >= 2, "sessions {}:\n{}", s.sessions, out.dump());
    let sent2 = sim2.wait_sent(1)[0];

    let mp4 = store.path().join("out.mp4");
    let (total, _) = export_and_check(store.path(), "cam", &mp4, "h264", (1920, 1080));
    assert_eq!(total, s.frames);
    let first_max = (first_secs * 25.0) as i64 + 1;
    assert!(total > first_max + 50, "total {total} frames, first period at most {first_max}");
    let before = export_ok(store.path(), "cam", None, Some(&rfc3339(back_at)), &store.path().join("a.mp4"));
    let after = export_ok(store.path(), "cam", Some(&rfc3339(back_at)), None, &store.path().join("b.mp4"));
    assert!(before <= first_max && before >= first_max - 2 * GOP, "first period {before} frames, at most {first_max}");
    assert_near(after, sent2, GOP, "second period: stored vs sent by the returned camera");
    assert_eq!(before + after, total);
    eprintln!(
        "camera away: first period {before} (<= {first_max}), second {after} (sim sent {sent2}), sessions {}, total {total}",
        s.sessions
    );
}

// ---------------------------------------------------------------- disk full

/// A 6 MiB tmpfs, 2 MiB taken by something else: usage crosses the 60 %
/// mark after ~6 s; retention (every 5 s) deletes the oldest segments and
/// recording goes on.
#[test]
fn disk_full_retention_keeps_recording() {
    let Some(fs) = Tmpfs::or_skip("6m", "disk full test") else { return };
    std::fs::write(fs.path().join("other-data"), vec![0x55u8; 2 << 20]).unwrap();
    let store = fs.path().join("store");
    let sim = Sim::start("h264", free_port(), &[]);
    let t0 = now_us();
    let out = record(
        &sim.url(),
        &store,
        "cam",
        &["--duration", "12s", "--segment", "1s", "--high-water", "60"],
        Duration::from_secs(20),
    );
    let t1 = now_us();
    let s = expect_summary(&out);
    // The store logs "deleted segment cam/<id>" (earlier: "retention: deleted cam/<id>").
    let deleted = out.stderr.lines().filter(|l| l.contains("deleted") && l.contains("cam/")).count();
    assert!(deleted >= 2, "retention deleted {deleted} segments:\n{}", out.dump());
    assert!(!out.all().contains("volume full"), "writes failed:\n{}", out.dump());
    let sent = sim.wait_sent(1)[0];
    assert_near(s.frames, sent, GOP, "recorded vs sent");
    let segs = segments(&store, "cam");
    assert!(!segs.is_empty());
    assert!(segs[0].0 > t0 + 2_000_000, "oldest segment starts {} ms after the start", (segs[0].0 - t0) / 1000);
    assert!(segs[segs.len() - 1].0 > t1 - 3_000_000, "no recent segment");
    // Exports go elsewhere: the tmpfs is nearly full by design.
    let outdir = tempfile::tempdir().unwrap();
    let mp4 = outdir.path().join("out.mp4");
    let (exported, _) = export_and_check(&store, "cam", &mp4, "h264", (1920, 1080));
    assert!(exported < s.frames - 2 * GOP, "export {exported} vs recorded {}: nothing deleted?", s.frames);
    let last = s.last_frame.as_deref().unwrap();
    let last_us =
        humantime::parse_rfc3339_weak(last).unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    let recent = export_ok(&store, "cam", Some(&rfc3339(last_us - 1_000_000)), None, &outdir.path().join("recent.mp4"));
    assert!(recent >= GOP, "last second: {recent} frames");
    eprintln!(
        "disk full: recorded {} (sent {sent}), {deleted} segments deleted, kept {exported} in {} segments, oldest kept +{} ms",
        s.frames,
        segs.len(),
        (segs[0].0 - t0) / 1000
    );
}

/// The volume is 95 % full of other data: retention has nothing to delete.
/// `record` must not panic and must say "recycle failure".
#[test]
fn disk_full_recycle_failure() {
    let Some(fs) = Tmpfs::or_skip("1m", "recycle failure test") else { return };
    std::fs::write(fs.path().join("other-data"), vec![0x55u8; 1_000_000 - 4096 * 3]).unwrap();
    let store = fs.path().join("store");
    let sim = Sim::start("h264", free_port(), &[]);
    let out = record(
        &sim.url(),
        &store,
        "cam",
        &["--duration", "4s", "--segment", "1s", "--high-water", "60"],
        Duration::from_secs(12),
    );
    out.assert_no_panic();
    assert!(out.stdout.contains("recycle failure: "), "no recycle failure reported:\n{}", out.dump());
    // Retention's own reason is logged; the summary's reason may be the writer's ENOSPC.
    assert!(out.stderr.contains("no closed segment left to delete"), "{}", out.dump());
    let line = out.stdout.lines().find(|l| l.starts_with("recycle failure: ")).unwrap();
    assert!(line.len() > "recycle failure: ".len() + 10, "no reason given: {line:?}");
    assert!(summary(&out.stdout).is_some(), "{}", out.dump());
    eprintln!("recycle failure: exit {:?}, {line}", out.status);
}

/// A volume smaller than one segment (~275 kB/s, 1 s segments): writes hit
/// ENOSPC. No panic, a clean exit at the deadline, and what was stored exports.
#[test]
fn disk_full_tiny_volume() {
    let Some(fs) = Tmpfs::or_skip("200k", "tiny volume test") else { return };
    let store = fs.path().join("store");
    let sim = Sim::start("h264", free_port(), &[]);
    let out = record(
        &sim.url(),
        &store,
        "cam",
        &["--duration", "7s", "--segment", "1s", "--high-water", "60"],
        Duration::from_secs(15),
    );
    out.assert_no_panic();
    assert!(out.elapsed < Duration::from_secs(10), "{}", out.dump());
    assert!(summary(&out.stdout).is_some(), "{}", out.dump());
    assert!(out.all().contains("volume full") || out.all().contains("No space"), "{}", out.dump());
    eprintln!("tiny volume: {}", out.stdout.trim().replace('\n', " | "));
}

// ---------------------------------------------------------------- bad servers

#[derive(Clone, Copy, Debug)]
enum Bad {
    /// Garbage bytes instead of a reply to OPTIONS.
    Garbage,
    /// DESCRIBE gives an SDP with only an audio track.
    AudioOnly,
    /// A proper set-up, then interleaved garbage RTP.
    GarbageRtp,
    /// Accepts and never answers.
    Silent,
    /// A proper set-up, then STAP-A packets of thousands of 1-byte NAL
    /// units (see [`send_tiny_nal_flood`]), then normal frames.
    TinyNalFlood,
}

struct BadServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for BadServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl BadServer {
    fn start(kind: Bad) -> BadServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, st) = (connections.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((sock, _)) => {
                        c.fetch_add(1, Ordering::SeqCst);
                        let st = st.clone();
                        std::thread::spawn(move || {
                            let _ = serve_bad(sock, kind, port, &st);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        BadServer { port, connections, stop }
    }
}

/// Reads one request (headers only; requests from the recorder have no body).
fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<(String, String)>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            let method = head.split(' ').next().unwrap_or("").to_string();
            let cseq = head
                .lines()
                .find_map(|l| {
                    l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("cseq")).map(|(_, v)| v.trim().to_string())
                })
                .unwrap_or_else(|| "0".into());
            return Ok(Some((method, cseq)));
        }
        let mut chunk = [0u8; 4096];
        let n = sock.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn reply(sock: &mut TcpStream, cseq: &str, headers: &[(&str, String)], body: &str) -> std::io::Result<()> {
    let mut r = format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nServer: bad-camera\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    r.push_str(body);
    sock.write_all(r.as_bytes())
}

const AUDIO_ONLY_SDP: &str =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=bad\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=control:*\r\n\
m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=control:trackID=1\r\n";

/// As [`H264_SDP`] with a 1920x1080 SPS and a PPS in `sprop-parameter-sets`.
const H264_SDP_WITH_PARAMS: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=bad\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=control:*\r\n\
m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z01AKNoB4AiflwEQAAADABAAAAMDIPGDKg==,aO48gA==\r\na=control:trackID=0\r\n";

const H264_SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=bad\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=control:*\r\n\
m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:trackID=0\r\n";

fn interleaved(packet: &[u8]) -> Vec<u8> {
    let mut v = vec![b'$', 0, (packet.len() >> 8) as u8, packet.len() as u8];
    v.extend_from_slice(packet);
    v
}

fn rtp_header(version: u8, seq: u16, ts: u32) -> Vec<u8> {
    let mut h = vec![version << 6, 96, (seq >> 8) as u8, seq as u8];
    h.extend_from_slice(&ts.to_be_bytes());
    h.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    h
}

fn serve_bad(mut sock: TcpStream, kind: Bad, port: u16, stop: &AtomicBool) -> std::io::Result<()> {
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    let base = format!("rtsp://127.0.0.1:{port}/cam0/");
    loop {
        let Some((method, cseq)) = read_request(&mut sock, &mut buf)? else { return Ok(()) };
        match (kind, method.as_str()) {
            (Bad::Silent, _) => {
                // Hold the connection without a word.
                while !stop.load(Ordering::SeqCst) && sock.read(&mut [0u8; 1024]).map(|n| n > 0).unwrap_or(false) {}
                return Ok(());
            }
            (Bad::Garbage, _) => {
                sock.write_all(b"\x00\xffSSH-2.0-not-rtsp\x01\x02\x03\r\n\r\n")?;
                std::thread::sleep(Duration::from_millis(200));
                return Ok(());
            }
            (_, "OPTIONS") => {
                reply(&mut sock, &cseq, &[("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN".into())], "")?
            }
            (Bad::AudioOnly | Bad::GarbageRtp | Bad::TinyNalFlood, "DESCRIBE") => {
                let sdp = match kind {
                    Bad::AudioOnly => AUDIO_ONLY_SDP,
                    Bad::GarbageRtp => H264_SDP,
                    _ => H264_SDP_WITH_PARAMS,
                };
                let headers = [("Content-Type", "application/sdp".into()), ("Content-Base", base.clone())];
                reply(&mut sock, &cseq, &headers, sdp)?
            }
            (Bad::GarbageRtp | Bad::TinyNalFlood, "SETUP") => reply(
                &mut sock,
                &cseq,
                &[
                    ("Session", "4B1D0C0FFEE;timeout=60".into()),
                    ("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=12345678;mode=\"PLAY\"".into()),
                ],
                "",
            )?,
            (Bad::GarbageRtp | Bad::TinyNalFlood, "PLAY") => {
                reply(
                    &mut sock,
                    &cseq,
                    &[
                        ("Session", "4B1D0C0FFEE;timeout=60".into()),
                        ("Range", "npt=0.000-".into()),
                        ("RTP-Info", format!("url={base}trackID=0;seq=0;rtptime=0")),
                    ],
                    "",
                )?;
                return match kind {
                    Bad::TinyNalFlood => send_tiny_nal_flood(&mut sock, stop),
                    _ => send_garbage_rtp(&mut sock, stop),
                };
            }
            _ => {
                sock.write_all(format!("RTSP/1.0 404 Not Found\r\nCSeq: {cseq}\r\n\r\n").as_bytes())?;
            }
        }
    }
}

/// Version-0 packets, packets shorter than an RTP header, and FU-A
/// fragments without a start, about 600 a second, until the peer leaves.
fn send_garbage_rtp(sock: &mut TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
    sock.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut seq = 0u16;
    while !stop.load(Ordering::SeqCst) {
        let mut out = Vec::new();
        for i in 0..24u32 {
            seq = seq.wrapping_add(1);
            let ts = 3600 * (seq as u32 / 3);
            let pkt = match i % 3 {
                0 => {
                    let mut p = rtp_header(0, seq, ts);
                    p.extend_from_slice(&[0x65, 0x88, 0x80, 0x40]);
                    p
                }
                1 => vec![0x80, 96, 0x00],
                _ => {
                    let mut p = rtp_header(2, seq, ts);
                    // FU-A (type 28) of an IDR slice, middle fragment: no S bit.
                    p.extend_from_slice(&[0x7c, 0x05]);
                    p.extend_from_slice(&[0xAB; 600]);
                    p
                }
            };
            out.extend(interleaved(&pkt));
        }
        sock.write_all(&out)?;
        std::thread::sleep(Duration::from_millis(40));
    }
    Ok(())
}

/// An RTP packet (payload type 96) with the marker bit as given.
fn rtp_packet(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = rtp_header(2, seq, ts);
    p[1] |= if marker { 0x80 } else { 0 };
    p.extend_from_slice(payload);
    p
}

/// A STAP-A payload of `n` 1-byte IDR NAL units (3 bytes each on the wire,
/// two pieces and a 4-byte length prefix each in the depacketizer).
fn stap_a_of_tiny_nals(n: usize) -> Vec<u8> {
    let mut v = vec![24u8];
    for _ in 0..n {
        v.extend_from_slice(&[0, 1, 0x65]);
    }
    v
}

/// A hostile camera, then a normal one, on one session:
/// 0. one FU-A NAL unit that never ends: 20 MiB of 1400-byte fragments
///    (more than the 16 MiB receive buffer holds);
/// 1. one access unit that never ends: 64 MiB of STAP-A packets of 21,000
///    1-byte NAL units with one timestamp and no marker;
/// 2. 100 frames of 60,000 1-byte NAL units each (three packets a frame);
/// 3. normal frames at 25 fps (an IDR slice every 25th, else P slices)
///    until the peer leaves.
fn send_tiny_nal_flood(sock: &mut TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
    sock.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut seq = 0u16;
    let mut send = |sock: &mut TcpStream, ts: u32, marker: bool, payload: &[u8]| {
        seq = seq.wrapping_add(1);
        sock.write_all(&interleaved(&rtp_packet(seq, ts, marker, payload)))
    };
    let mut frag = vec![0x7c, 0x85]; // FU-A start of an IDR slice
    frag.extend(std::iter::repeat_n(0x11u8, 1400));
    send(sock, 0, false, &frag)?;
    frag[1] = 0x05; // middle fragments, no end
    for _ in 0..(20 << 20) / 1400 {
        send(sock, 0, false, &frag)?;
    }
    let stap = stap_a_of_tiny_nals(21_000);
    for _ in 0..(64 << 20) / stap.len() {
        send(sock, 1800, false, &stap)?;
    }
    let stap = stap_a_of_tiny_nals(20_000);
    for f in 1..=100u32 {
        for part in 0..3 {
            send(sock, f * 3600, part == 2, &stap)?;
        }
    }
    let mut idr = vec![0x65u8, 0x88, 0x84];
    idr.extend(std::iter::repeat_n(0x5au8, 1000));
    let mut p_slice = vec![0x41u8, 0x9a];
    p_slice.extend(std::iter::repeat_n(0x33u8, 200));
    let mut f = 101u32;
    while !stop.load(Ordering::SeqCst) {
        send(sock, f * 3600, true, if f % 25 == 1 { &idr } else { &p_slice })?;
        f += 1;
        std::thread::sleep(Duration::from_millis(40));
    }
    Ok(())
}

/// Peak resident memory (VmHWM) of a running process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap();
    kb.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap() * 1024
}

/// A camera floods STAP-A packets of thousands of 1-byte NAL units (one
/// recorder used to grow to 204 MB on this and end the session). The
/// recorder's peak memory stays bounded, the oversized frames are dropped
/// with a clear log, and the same session goes on to record the normal
/// frames that follow.
#[test]
fn hostile_camera_tiny_nal_flood_keeps_memory_bounded() {
    let srv = BadServer::start(Bad::TinyNalFlood);
    let url = format!("rtsp://127.0.0.1:{}/cam0", srv.port);
    let store = tempfile::tempdir().unwrap();
    let rec = Proc::spawn("record", record_cmd(&url, store.path(), "cam", &["--duration", "12s", "--segment", "2s"]));
    // Peak memory while it runs (VmHWM is gone once it exits).
    let mut peak = 0;
    while rec.started.elapsed() < Duration::from_secs(10) {
        peak = peak.max(peak_rss(rec.pid()));
        std::thread::sleep(Duration::from_millis(200));
    }
    peak = peak.max(peak_rss(rec.pid()));
    let out = rec.finish(Duration::from_secs(20));
    let s = expect_summary(&out);
    assert_eq!(s.sessions, 1, "the flood ended the session:\n{}", out.dump());
    assert_eq!(srv.connections.load(Ordering::SeqCst), 1, "reconnected:\n{}", out.dump());
    assert!(out.stderr.contains("per-camera limit"), "no log of the dropped frames:\n{}", out.dump());
    assert!(out.stderr.contains("does not fit the receive buffer"), "no log of the oversized NAL:\n{}", out.dump());
    // 16 MiB receive buffer + bounded depacketizer state + the process itself.
    assert!(peak < 80 << 20, "recorder peak RSS {} MB under the flood", peak >> 20);
    // The normal frames after the flood (about 25 a second) were recorded.
    assert!(s.frames >= 50, "{} frames recorded after the flood:\n{}", s.frames, out.dump());
    eprintln!(
        "tiny-NAL flood: recorder peak RSS {} MB, {} frames, {} discontinuities",
        peak >> 20,
        s.frames,
        s.discontinuities
    );
}

fn bad_server_case(kind: Bad, expect_any: &[&str]) {
    let srv = BadServer::start(kind);
    let url = format!("rtsp://127.0.0.1:{}/cam0", srv.port);
    let store = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out =
        record(&url, store.path(), "bad", &["--duration", "4s", "--stall-timeout", "1s"], Duration::from_secs(10));
    let took = started.elapsed();
    assert!(!out.success(), "{kind:?}: record succeeded:\n{}", out.dump());
    out.assert_no_panic();
    assert!(took < Duration::from_secs(7), "{kind:?}: took {took:?} to give up:\n{}", out.dump());
    let all = out.all();
    assert!(all.contains("nothing recorded from"), "{kind:?}:\n{}", out.dump());
    assert!(expect_any.iter().any(|e| all.contains(e)), "{kind:?}: none of {expect_any:?} in:\n{}", out.dump());
    let n = srv.connections.load(Ordering::SeqCst);
    assert!(n >= 2, "{kind:?}: only {n} connection(s): no reconnect");
    assert!(n <= 8, "{kind:?}: {n} connections in 4 s: no backoff");
    let last = all.lines().find(|l| l.contains("nothing recorded from")).unwrap_or("").to_string();
    eprintln!("{kind:?}: {n} connections, exit after {took:?}: {last}");
}

#[test]
fn bad_server_garbage_reply() {
    bad_server_case(Bad::Garbage, &["not RTSP"]);
}

#[test]
fn bad_server_audio_only_sdp() {
    bad_server_case(Bad::AudioOnly, &["no H.264 or H.265 video track"]);
}

#[test]
fn bad_server_garbage_rtp() {
    bad_server_case(Bad::GarbageRtp, &["bad RTP", "stalled"]);
}

/// A server that accepts and never answers: `record` still stops at its
/// deadline (the pending request is abandoned), with a clear message.
#[test]
fn bad_server_silent() {
    let srv = BadServer::start(Bad::Silent);
    let url = format!("rtsp://127.0.0.1:{}/cam0", srv.port);
    let store = tempfile::tempdir().unwrap();
    let out =
        record(&url, store.path(), "bad", &["--duration", "3s", "--stall-timeout", "1s"], Duration::from_secs(10));
    assert!(!out.success(), "{}", out.dump());
    out.assert_no_panic();
    assert!(out.elapsed < Duration::from_secs(5), "did not stop at the deadline: {:?}", out.elapsed);
    assert!(out.all().contains("nothing recorded from"), "{}", out.dump());
    eprintln!("silent: {}", out.stderr.lines().last().unwrap_or(""));
}
