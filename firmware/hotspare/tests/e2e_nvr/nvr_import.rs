//! End to end: imports into a real `hotspare nvr`. Invalid segments are
//! refused with a 4xx naming the problem and leave nothing on disk; the
//! resumable protocol (chunks at offsets, an interrupted transfer resumed);
//! the spare's re-insertion streams segments larger than the NVR's
//! per-request limit and sets aside the segment the NVR refuses while the
//! others go in; the NVR's memory stays bounded while it imports a segment
//! larger than 256 MiB.

use crate::common::{free_port, Sim};
use crate::nvr_common::*;
use hotspare_api::spare::ReinsertProgress;
use hotspare_api::{ImportOffset, ImportReceipt, ImportSegment, Recordings, Source};
use hotspare_failover::client::NvrClient;
use hotspare_failover::reinsert::{run_with, ReinsertOptions};
use hotspare_store::index::{encode_record, FrameEntry, IndexHeader};
use hotspare_store::{parse_index, Store};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A segment's files and what its index says.
#[derive(Clone)]
struct Seg {
    index: Vec<u8>,
    sample: Vec<u8>,
}

impl Seg {
    fn body(&self) -> Vec<u8> {
        [&self.index[..], &self.sample[..]].concat()
    }
    fn desc(&self, uid: &str) -> ImportSegment {
        let p = parse_index(&self.index).unwrap();
        ImportSegment {
            uid: uid.into(),
            camera: "cam1".into(),
            start_us: p.header.start_wall_us,
            end_us: p.header.start_wall_us + 1,
            frames: p.frames.len() as u64,
            index_len: self.index.len() as u64,
            sample_len: self.sample.len() as u64,
            sha256: sha256_hex(&self.body()),
            audio_index_len: 0,
            audio_len: 0,
        }
    }
    /// The same segment with its index header or frames edited.
    fn edited(&self, edit: impl FnOnce(&mut IndexHeader, &mut Vec<FrameEntry>)) -> Seg {
        let mut p = parse_index(&self.index).unwrap();
        edit(&mut p.header, &mut p.frames);
        let mut index = Vec::new();
        encode_record(&p.header, &mut index).unwrap();
        encode_record(&p.frames[..], &mut index).unwrap();
        Seg { index, sample: self.sample.clone() }
    }
    fn start_us(&self) -> i64 {
        parse_index(&self.index).unwrap().header.start_wall_us
    }
}

/// The first segment of 4 s recorded from the simulator.
fn recorded_segment(work: &Path) -> Seg {
    let port = free_port();
    let _sim = Sim::start("h264", port, &[]);
    let dir = work.join("recorded");
    let out = crate::common::record(
        &format!("rtsp://127.0.0.1:{port}/cam0"),
        &dir,
        "cam1",
        &["--duration", "4s"],
        Duration::from_secs(20),
    );
    assert!(out.success(), "{}", out.dump());
    let store = Store::open(&dir, Default::default()).unwrap();
    let seg = store.segments("cam1").unwrap().remove(0);
    let (i, s) = store.segment_paths(&seg).unwrap();
    Seg { index: std::fs::read(i).unwrap(), sample: std::fs::read(s).unwrap() }
}

fn nvr(work: &Path, env: &[(&str, &str)]) -> (Nvr, PathBuf) {
    let port = free_port();
    let dir = work.join(format!("nvr-store-{port}"));
    let config = work.join(format!("nvr-{port}.toml"));
    std::fs::write(&config, config_text(port, &dir, &[], "", "")).unwrap();
    (Nvr::start_env(&config, port, env), dir)
}

fn post(port: u16, desc: &ImportSegment, body: &[u8]) -> Resp {
    let headers = vec![basic(ADMIN.0, ADMIN.1), ("X-Hotspare-Segment".into(), serde_json::to_string(desc).unwrap())];
    http(port, "POST", "/api/v1/import", &headers, body)
}

fn put(port: u16, desc: &ImportSegment, first: usize, chunk: &[u8]) -> Resp {
    let total = desc.index_len + desc.sample_len;
    let headers = vec![
        basic(ADMIN.0, ADMIN.1),
        ("X-Hotspare-Segment".into(), serde_json::to_string(desc).unwrap()),
        ("Content-Range".into(), format!("bytes {first}-{}/{total}", first + chunk.len() - 1)),
    ];
    http(port, "PUT", "/api/v1/import", &headers, chunk)
}

fn offset(port: u16, uid: &str) -> ImportOffset {
    let r =
        http(port, "GET", &format!("/api/v1/import?uid={}", uid.replace('/', "%2F")), &[basic(ADMIN.0, ADMIN.1)], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Files under `dir` (recursively), relative.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn failover_frames(port: u16) -> u64 {
    let r = http(port, "GET", "/api/v1/recordings?camera=cam1", &[basic(ADMIN.0, ADMIN.1)], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let rec: Recordings = r.json();
    rec.spans.iter().filter(|s| s.source == Source::Failover).map(|s| s.frames).sum()
}

#[test]
fn invalid_imports_are_refused_with_the_reason_and_leave_nothing() {
    let work = tempfile::tempdir().unwrap();
    let seg = recorded_segment(work.path());
    let (nvr, store) = nvr(work.path(), &[]);
    let mut random = seg.clone();
    let mut x: u32 = 7;
    for b in &mut random.sample {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    let mut overrun = seg.clone();
    let first_nal = u32::from_be_bytes(overrun.sample[..4].try_into().unwrap());
    overrun.sample[..4].copy_from_slice(&(first_nal + 1_000_000).to_be_bytes());
    let cases = [
        ("negative start", seg.edited(|h, _| h.start_wall_us = -1_000_000), "before the Unix epoch"),
        ("random bytes", random, "frame 0"),
        ("bad SPS", seg.edited(|h, _| h.params.sps = vec![0x67, 0xff]), "SPS does not parse"),
        ("NAL length overrun", overrun, "past the frame's end"),
        ("frames not summing to the file", seg.edited(|_, f| f[0].len += 1), "index frames total"),
    ];
    for (i, (what, bad, reason)) in cases.iter().enumerate() {
        let uid = format!("SPARE-1/nvr1/cam1/bad-{i}");
        let before = tree(&store);
        let r = post(nvr.port, &bad.desc(&uid), &bad.body());
        assert_eq!(r.status, 422, "{what}: {}", r.text());
        assert!(r.text().contains(reason), "{what}: reply {:?} does not say {reason:?}", r.text());
        assert_eq!(tree(&store), before, "{what}: files left behind");
        assert!(tree(&store.join(".import")).is_empty(), "{what}: temp files left");
        // The same through the resumable form, in two chunks.
        let body = bad.body();
        let half = body.len() / 2;
        let uid = format!("{uid}-put");
        let r = put(nvr.port, &bad.desc(&uid), 0, &body[..half]);
        assert_eq!(r.status, 202, "{what}: {}", r.text());
        let r = put(nvr.port, &bad.desc(&uid), half, &body[half..]);
        assert_eq!(r.status, 422, "{what}: {}", r.text());
        assert!(r.text().contains(reason), "{what}: reply {:?} does not say {reason:?}", r.text());
        assert!(tree(&store.join(".import")).is_empty(), "{what}: partial upload left: {:?}", tree(&store));
        assert_eq!(offset(nvr.port, &uid).offset, 0);
    }
    assert_eq!(failover_frames(nvr.port), 0);
    // A valid import still works, and is listed.
    let r = post(nvr.port, &seg.desc("SPARE-1/nvr1/cam1/good"), &seg.body());
    assert_eq!(r.status, 201, "{}", r.text());
    let frames = parse_index(&seg.index).unwrap().frames.len() as u64;
    assert_eq!(failover_frames(nvr.port), frames);
}

/// Sends the headers of a PUT of `body` at `first` and only the first `sent` bytes of it, then
/// closes the connection (an interrupted transfer).
fn interrupted_put(port: u16, desc: &ImportSegment, first: usize, body: &[u8], sent: usize) -> Box<dyn ReadWrite> {
    let total = desc.index_len + desc.sample_len;
    let (k, v) = basic(ADMIN.0, ADMIN.1);
    let head = format!(
        "PUT /api/v1/import HTTP/1.1\r\nHost: 127.0.0.1\r\n{k}: {v}\r\nX-Hotspare-Segment: {}\r\n\
         Content-Range: bytes {first}-{}/{total}\r\nContent-Length: {}\r\n\r\n",
        serde_json::to_string(desc).unwrap(),
        first + body.len() - 1,
        body.len()
    );
    let mut s = connect(port, Duration::from_secs(30)).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..sent]).unwrap();
    s.flush().unwrap();
    // The caller drops the connection once the NVR has the bytes: closing a TLS connection
    // with the server's session tickets unread makes the kernel reset it, and a reset
    // discards what the NVR had not read yet.
    s
}

#[test]
fn resumable_import_continues_from_the_nvr_offset() {
    let work = tempfile::tempdir().unwrap();
    let seg = recorded_segment(work.path());
    let (nvr, store) = nvr(work.path(), &[]);
    let uid = "SPARE-1/nvr1/cam1/resumed";
    let desc = seg.desc(uid);
    let body = seg.body();
    assert!(body.len() > 20_000, "segment of {} bytes", body.len());
    assert_eq!(offset(nvr.port, uid).offset, 0);
    // A first chunk that ends inside the index.
    let r = put(nvr.port, &desc, 0, &body[..10]);
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json::<ImportOffset>().offset, 10);
    // A chunk at the wrong offset is refused and changes nothing.
    let r = put(nvr.port, &desc, 500, &body[500..600]);
    assert_eq!(r.status, 416, "{}", r.text());
    assert!(r.text().contains("holds 10 bytes"), "{}", r.text());
    // An interrupted transfer: the bytes that arrived are kept.
    let sent = body.len() / 2;
    let conn = interrupted_put(nvr.port, &desc, 10, &body[10..], sent);
    let end = Instant::now() + Duration::from_secs(20);
    let mut held = offset(nvr.port, uid).offset;
    while held != (10 + sent) as u64 {
        assert!(Instant::now() < end, "NVR holds {held} bytes, {} were sent", 10 + sent);
        std::thread::sleep(Duration::from_millis(100));
        held = offset(nvr.port, uid).offset;
    }
    drop(conn);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(offset(nvr.port, uid).offset, held, "bytes of the interrupted transfer were not kept");
    // Resumed from the NVR's offset: complete, stored, listed.
    let r = put(nvr.port, &desc, held as usize, &body[held as usize..]);
    assert_eq!(r.status, 201, "{}", r.text());
    let rc: ImportReceipt = r.json();
    assert!(rc.created && rc.sha256 == desc.sha256);
    assert_eq!(failover_frames(nvr.port), desc.frames);
    assert!(tree(&store.join(".import")).is_empty(), "{:?}", tree(&store));
    // The same uid again in one chunk: already there.
    let r = put(nvr.port, &desc, 0, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.json::<ImportReceipt>().created);
    // Uploads in progress are bounded: 8 at once, the 9th waits (503) until one completes.
    let descs: Vec<ImportSegment> = (0..9).map(|i| seg.desc(&format!("SPARE-1/nvr1/cam1/open-{i}"))).collect();
    for d in &descs[..8] {
        let r = put(nvr.port, d, 0, &body[..10]);
        assert_eq!(r.status, 202, "{}", r.text());
    }
    let r = put(nvr.port, &descs[8], 0, &body[..10]);
    assert_eq!(r.status, 503, "{}", r.text());
    let r = put(nvr.port, &descs[0], 10, &body[10..]);
    assert_eq!(r.status, 201, "{}", r.text());
    let r = put(nvr.port, &descs[8], 0, &body[..10]);
    assert_eq!(r.status, 202, "{}", r.text());
}

/// Writes `seg` into the spare store at `root` as camera `cam1`, starting at `start_us`.
fn place(root: &Path, seg: &Seg, start_us: i64) {
    let seg = seg.edited(|h, _| h.start_wall_us = start_us);
    let dir = root.join("cam1");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{start_us:016x}-0.index")), &seg.index).unwrap();
    std::fs::write(dir.join(format!("{start_us:016x}-0.sample")), &seg.sample).unwrap();
}

fn reinsert(root: &Path, port: u16, chunk: u64) -> ReinsertProgress {
    let store = Store::open(root, Default::default()).unwrap();
    let client = NvrClient::new(&format!("https://127.0.0.1:{port}"), ADMIN.0, ADMIN.1, pinned(port));
    let progress = Arc::new(Mutex::new(ReinsertProgress::default()));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let run = run_with(store, client, "SPARE-1".into(), "nvr1".into(), progress.clone(), ReinsertOptions { chunk });
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(240), run).await }).expect("re-insertion finishes");
    let p = progress.lock().unwrap().clone();
    p
}

#[test]
fn reinsertion_streams_large_segments_and_sets_aside_invalid_ones() {
    let work = tempfile::tempdir().unwrap();
    let seg = recorded_segment(work.path());
    let limit = 64 * 1024;
    assert!(seg.sample.len() > 2 * limit, "segment of {} bytes is not larger than the limit", seg.sample.len());
    let (nvr, store) = nvr(work.path(), &[("HOTSPARE_IMPORT_MAX_REQUEST", "65536")]);
    // The NVR's per-request limit is real: the whole segment in one request is refused.
    let r = post(nvr.port, &seg.desc("SPARE-1/nvr1/cam1/whole"), &seg.body());
    assert_eq!(r.status, 413, "{}", r.text());

    let spare = work.path().join("spare-store");
    let t0 = seg.start_us();
    let bad = seg.edited(|h, _| h.params.sps = vec![0x67, 0xff]);
    place(&spare, &seg, t0);
    place(&spare, &bad, t0 + 10_000_000);
    place(&spare, &seg, t0 + 20_000_000);
    place(&spare, &seg, t0 + 30_000_000);
    let p = reinsert(&spare, nvr.port, 1 << 20);
    eprintln!("{p:?}");
    assert!(p.finished && p.last_error.is_none(), "{p:?}");
    assert_eq!((p.segments_done, p.segments_left, p.already_there), (3, 0, 0), "{p:?}");
    assert_eq!(p.set_aside.len(), 1, "{p:?}");
    let bad_uid = format!("SPARE-1/nvr1/cam1/{:016x}-0", t0 + 10_000_000);
    assert!(p.set_aside[0].starts_with(&bad_uid) && p.set_aside[0].contains("SPS does not parse"), "{p:?}");
    // The valid segments are on the NVR, the refused one is still on the spare.
    let frames = parse_index(&seg.index).unwrap().frames.len() as u64;
    assert_eq!(failover_frames(nvr.port), 3 * frames);
    let left = Store::open(&spare, Default::default()).unwrap().segments("cam1").unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].start_wall_us, t0 + 10_000_000);
    assert!(tree(&store.join(".import")).is_empty(), "{:?}", tree(&store));
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let mut s = String::new();
    std::fs::File::open(format!("/proc/{pid}/status")).unwrap().read_to_string(&mut s).unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A 272 MiB segment (above the old 256 MiB body limit) re-inserted in 16 MiB chunks; the
/// peak RSS of the NVR and of the re-inserting side stay far below the segment's size.
#[test]
fn large_segment_reinserted_with_bounded_nvr_memory() {
    let work = tempfile::tempdir().unwrap();
    let seg = recorded_segment(work.path());
    let (nvr, _store) = nvr(work.path(), &[]);
    let before = vm_hwm_kib(nvr.proc.pid());
    // 68 frames of one 4 MiB IDR slice each, with the recorded segment's parameter sets.
    let (n, size) = (68usize, 4usize << 20);
    let big = seg.edited(|_, f| {
        *f = (0..n as i64).map(|i| FrameEntry { len: size as u32, pts_rel_90k: i * 3600, keyframe: i == 0 }).collect()
    });
    let spare = work.path().join("spare-store");
    let t0 = seg.start_us();
    let dir = spare.join("cam1");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{t0:016x}-0.index")), &big.index).unwrap();
    let mut f = std::fs::File::create(dir.join(format!("{t0:016x}-0.sample"))).unwrap();
    let mut frame = vec![0x5au8; size];
    frame[..5].copy_from_slice(&[(size as u32 - 4).to_be_bytes()[..].to_vec(), vec![0x65]].concat()[..5]);
    for _ in 0..n {
        f.write_all(&frame).unwrap();
    }
    drop(f);
    let p = reinsert(&spare, nvr.port, 16 << 20);
    assert!(p.finished && p.set_aside.is_empty() && p.segments_done == 1, "{p:?}");
    assert_eq!(failover_frames(nvr.port), n as u64);
    let after = vm_hwm_kib(nvr.proc.pid());
    let spare = vm_hwm_kib(std::process::id());
    let mib = (n * size) >> 20;
    eprintln!(
        "NVR peak RSS (VmHWM) {} MiB before, {} MiB after importing a {mib} MiB segment; this test process \
         (the spare's re-insertion, in process) peaked at {} MiB",
        before / 1024,
        after / 1024,
        spare / 1024
    );
    assert!(after < 128 * 1024, "NVR peak RSS {after} KiB while importing a {mib} MiB segment");
    assert!(spare < 128 * 1024, "spare side peak RSS {spare} KiB while sending a {mib} MiB segment");
}

/// G.711 audio for a segment starting at `start_us`: 4 s of 20 ms frames; `short` drops the last
/// byte of the audio data (its index then lists one byte more than there is).
fn audio_files(start_us: i64, short: bool) -> (Vec<u8>, Vec<u8>) {
    use hotspare_media::{AudioCodec, AudioParams};
    use hotspare_store::audio_index::{AudioEntry, AudioIndexHeader, AUDIO_INDEX_VERSION};
    let params = AudioParams { codec: AudioCodec::Pcma, sample_rate: 8000, channels: 1, config: vec![] };
    let header = AudioIndexHeader { version: AUDIO_INDEX_VERSION, params, start_wall_us: start_us, first_pts: 0 };
    let mut index = Vec::new();
    encode_record(&header, &mut index).unwrap();
    let frames: Vec<AudioEntry> = (0..200).map(|k| AudioEntry { len: 160, pts_rel: k * 160, duration: 160 }).collect();
    encode_record(&frames[..], &mut index).unwrap();
    let mut data: Vec<u8> = (0..200 * 160).map(|i| (i % 251) as u8).collect();
    if short {
        data.pop();
    }
    (index, data)
}

/// Re-insertion carries a segment's audio: the spare sends the audio parts after the video
/// (in chunks crossing the parts), the NVR validates and stores them, and its export has both
/// tracks; audio the spare's recovery had to cut goes in as cut; a video-only segment goes in
/// as before; a body whose audio is bad is refused with the reason and leaves nothing.
#[test]
fn reinsertion_carries_audio() {
    let work = tempfile::tempdir().unwrap();
    let seg = recorded_segment(work.path());
    let (nvr, store) = nvr(work.path(), &[]);
    let spare = work.path().join("spare-store");
    let t0 = seg.start_us();
    let dir = spare.join("cam1");
    for (i, audio) in [(0, Some(false)), (1, Some(true)), (2, None)] {
        let start = t0 + i * 10_000_000;
        place(&spare, &seg, start);
        if let Some(short) = audio {
            let (index, data) = audio_files(start, short);
            std::fs::write(dir.join(format!("{start:016x}-0.audio-index")), index).unwrap();
            std::fs::write(dir.join(format!("{start:016x}-0.audio")), data).unwrap();
        }
    }
    let p = reinsert(&spare, nvr.port, 7_000);
    assert!(p.finished && p.last_error.is_none(), "{p:?}");
    assert_eq!((p.segments_done, p.set_aside.len()), (3, 0), "{p:?}");
    let files = tree(&store.join("cam1"));
    assert_eq!(files.iter().filter(|f| f.ends_with(".audio")).count(), 2, "{files:?}");
    assert_eq!(files.iter().filter(|f| f.ends_with(".audio-index")).count(), 2, "{files:?}");
    let nvr_store = Store::open_readonly(&store).unwrap();
    let segs = nvr_store.segments("cam1").unwrap();
    let audio: Vec<Option<usize>> =
        segs.iter().map(|s| nvr_store.read_audio(s).unwrap().map(|a| a.frames.len())).collect();
    assert_eq!(audio, vec![Some(200), Some(199), None], "the torn last frame was cut on the spare");
    let plan = nvr_store.export_mp4("cam1", None, Some(t0 + 5_000_000)).unwrap();
    assert_eq!(plan.audio, Some(hotspare_media::AudioCodec::Pcma));
    assert!(plan.audio_frames > 150, "{} audio frames", plan.audio_frames);
    let plan = nvr_store.export_mp4("cam1", Some(t0 + 20_000_000), None).unwrap();
    assert_eq!(plan.audio, None, "the video-only segment exports as before");
    assert!(tree(&store.join(".import")).is_empty(), "{:?}", tree(&store));

    // Sent as is by another sender: audio whose index lists a byte more than there is.
    let bad = seg.edited(|h, _| h.start_wall_us = t0 + 40_000_000);
    let (aindex, adata) = audio_files(t0 + 40_000_000, true);
    let body = [&bad.index[..], &bad.sample[..], &aindex[..], &adata[..]].concat();
    let desc = ImportSegment {
        audio_index_len: aindex.len() as u64,
        audio_len: adata.len() as u64,
        sha256: sha256_hex(&body),
        ..bad.desc("SPARE-1/nvr1/cam1/bad-audio")
    };
    let r = post(nvr.port, &desc, &body);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("invalid audio") && r.text().contains("audio frames total"), "{}", r.text());
    let r = post(nvr.port, &ImportSegment { audio_index_len: 0, ..desc.clone() }, &body);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(Store::open_readonly(&store).unwrap().segments("cam1").unwrap().len(), 3, "nothing stored");
    assert!(tree(&store.join(".import")).is_empty(), "{:?}", tree(&store));
}
