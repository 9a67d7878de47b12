//! End to end: `hotspare nvr` with its recorder child process, real
//! simulated cameras on loopback, the HTTP API, imports, restarts and faults
//! reproduced with real mechanisms (SIGSTOP, read-only mounts, a full
//! tmpfs, a degraded-RAID mdstat).

use crate::common::mount;
use crate::common::{free_port, now_us, Sim, Tmpfs};
use crate::nvr_common::*;
use hotspare_api::{DiskState, ImportReceipt, ImportSegment, Location, Recordings, Source, TakeoverConfig};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn two_cam_sim() -> (Sim, Vec<(&'static str, String)>) {
    let port = free_port();
    let sim = Sim::start("h264", port, &["--streams", "2"]);
    let cams =
        vec![("cam1", format!("rtsp://127.0.0.1:{port}/cam0")), ("cam2", format!("rtsp://127.0.0.1:{port}/cam1"))];
    (sim, cams)
}

fn all_recording(s: &hotspare_api::NvrStatus) -> bool {
    !s.cameras.is_empty() && s.cameras.iter().all(|c| c.recording)
}

#[test]
fn nvr_status_config_recordings_and_mp4() {
    let (_sim, cams) = two_cam_sim();
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let dir = work.path().join("store");
    let nvr = Nvr::with_config(work.path(), &config_text(port, &dir, &cams, "", ""), port);

    // 1. Status: both cameras recording, storage and recycling ok, identity.
    let s = nvr.wait_status(WAIT, "both cameras recording", all_recording);
    assert_eq!((s.server_name.as_str(), s.serial.as_str()), ("Test NVR", "NVR-T1"));
    assert_eq!(s.firmware_version, env!("CARGO_PKG_VERSION"));
    assert!(s.uptime_s < 60);
    for c in &s.cameras {
        assert!((now_us() - c.last_frame_us.unwrap()).abs() < 3_000_000, "{c:?}");
    }
    assert_eq!((s.storage.state, s.storage.writable), (DiskState::Ok, true), "{:?}", s.storage);
    assert!(!s.recycling.failing);

    // 2. Config: admin only; hash, never the clear password.
    let r = http(port, "GET", "/api/v1/config", &[], b"");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"hotspare\""));
    let r = get(port, "/api/v1/config");
    assert_eq!(r.status, 403, "the viewer may not read the settings");
    assert!(r.json::<hotspare_api::ApiError>().error.contains("admin"));
    let r = http(port, "GET", "/api/v1/config", &[basic(ADMIN.0, "wrong")], b"");
    assert_eq!(r.status, 401);
    let r = nvr.admin_get("/api/v1/config");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains(ADMIN.1), "clear admin password in {}", r.text());
    let c: TakeoverConfig = r.json();
    assert_eq!(c.cameras.len(), 2);
    assert_eq!(c.cameras[0].url, cams[0].1);
    assert_eq!(c.cameras[1].password.as_deref(), Some("cam-pw-cam2"));
    assert_eq!(c.server.admin_user, ADMIN.0);
    assert!(hotspare_nvr::verify_password(ADMIN.1, &c.server.admin_password_hash));
    assert!(!hotspare_nvr::verify_password("Adm1n-s3creT", &c.server.admin_password_hash));
    assert_eq!(c.recording.segment_seconds, 60);

    // 3. Recordings after ~6 s: one local span per camera; MP4 with ranges.
    std::thread::sleep(Duration::from_secs(6));
    for (id, _) in &cams {
        let r = get(port, &format!("/api/v1/recordings?camera={id}"));
        assert_eq!(r.status, 200, "{}", r.text());
        let rec: Recordings = r.json();
        assert_eq!(rec.spans.len(), 1, "{rec:?}");
        let sp = &rec.spans[0];
        assert_eq!((sp.source, sp.location), (Source::Local, Location::Nvr));
        assert!(sp.end_us - sp.start_us > 5_000_000 && sp.frames > 100, "{sp:?}");
    }
    assert_eq!(get(port, "/api/v1/recordings").status, 400);
    assert_eq!(get(port, "/api/v1/recordings?camera=nope").status, 404);
    assert_eq!(get(port, "/api/v1/recordings?camera=cam1&from=yesterday").status, 400);

    let full = get(port, "/api/v1/recordings/cam1.mp4");
    assert_eq!(full.status, 200, "{}", full.text());
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert_eq!(full.header("content-length").unwrap().parse::<usize>().unwrap(), full.body.len());
    let mp4 = work.path().join("cam1.mp4");
    std::fs::write(&mp4, &full.body).unwrap();
    let (frames, errors) = ffprobe_frames(&mp4);
    assert!(frames > 100 && errors.trim().is_empty(), "{frames} frames, errors: {errors}");

    // Ranges against the same time window (the recording grows, so pin `to`).
    let to = now_us() - 2_000_000;
    let path = format!("/api/v1/recordings/cam1.mp4?to={to}");
    let whole = get(port, &path);
    assert_eq!(whole.status, 200);
    let viewer = basic(VIEWER.0, VIEWER.1);
    let part = http(port, "GET", &path, &[viewer.clone(), ("Range".into(), "bytes=0-99".into())], b"");
    assert_eq!(part.status, 206, "{}", part.text());
    assert_eq!(part.body.len(), 100);
    assert_eq!(part.body[..], whole.body[..100]);
    assert_eq!(part.header("content-range"), Some(format!("bytes 0-99/{}", whole.body.len()).as_str()));
    let past = http(port, "GET", &path, &[viewer, ("Range".into(), format!("bytes={}-", whole.body.len() + 10))], b"");
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some(format!("bytes */{}", whole.body.len()).as_str()));
    assert_eq!(get(port, "/api/v1/recordings/cam1.mp4?to=1000").status, 404);
    assert_eq!(get(port, "/api/v1/nothing").status, 404);
}

/// Index and sample bytes of the first segment recorded into a fresh store.
fn foreign_segment(url: &str, work: &Path) -> (hotspare_store::SegmentInfo, Vec<u8>, Vec<u8>) {
    let store_dir = work.join("spare-store");
    let out = crate::common::record(url, &store_dir, "cam1", &["--duration", "4s"], Duration::from_secs(20));
    assert!(out.success(), "{}", out.dump());
    let store = hotspare_store::Store::open(&store_dir, Default::default()).unwrap();
    let seg = store.segments("cam1").unwrap().remove(0);
    let (i, s) = store.segment_paths(&seg).unwrap();
    (seg, std::fs::read(i).unwrap(), std::fs::read(s).unwrap())
}

fn post_import(port: u16, desc: &ImportSegment, body: &[u8]) -> crate::nvr_common::Resp {
    let headers = vec![basic(ADMIN.0, ADMIN.1), ("X-Hotspare-Segment".into(), serde_json::to_string(desc).unwrap())];
    http(port, "POST", "/api/v1/import", &headers, body)
}

#[test]
fn nvr_import_and_restart() {
    let (_sim, cams) = two_cam_sim();
    let work = tempfile::tempdir().unwrap();
    // A segment recorded elsewhere before the NVR starts (as a spare would have).
    let (seg, index, sample) = foreign_segment(&cams[0].1, work.path());
    let port = free_port();
    let dir = work.path().join("store");
    let nvr = Nvr::with_config(work.path(), &config_text(port, &dir, &cams, "", ""), port);
    nvr.wait_status(WAIT, "recording", all_recording);

    let mut body = index.clone();
    body.extend_from_slice(&sample);
    let desc = ImportSegment {
        uid: "SPARE-1/cam1/1".into(),
        camera: "cam1".into(),
        start_us: seg.start_wall_us,
        end_us: seg.end_wall_us(),
        frames: u64::from(seg.frames),
        index_len: index.len() as u64,
        sample_len: sample.len() as u64,
        sha256: sha256_hex(&body),
        audio_index_len: 0,
        audio_len: 0,
    };
    let r = http(port, "POST", "/api/v1/import", &[], &body);
    assert_eq!(r.status, 401);
    let r = post_import(port, &desc, &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let rc: ImportReceipt = r.json();
    assert!(rc.created && rc.uid == desc.uid && rc.sha256 == desc.sha256);
    let r = post_import(port, &desc, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.json::<ImportReceipt>().created);
    // Tampered body: checksum mismatch.
    let mut bad = body.clone();
    let n = bad.len();
    bad[n - 10] ^= 0x55;
    let r = post_import(port, &ImportSegment { uid: "SPARE-1/cam1/2".into(), ..desc.clone() }, &bad);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("SHA-256"), "{}", r.text());
    // Same uid, other content: conflict.
    let r = post_import(port, &ImportSegment { sha256: sha256_hex(&bad), ..desc.clone() }, &bad);
    assert_eq!(r.status, 409, "{}", r.text());
    // Wrong lengths: the index frames do not add up.
    let d2 = ImportSegment {
        uid: "SPARE-1/cam1/3".into(),
        index_len: desc.index_len + 1,
        sample_len: desc.sample_len - 1,
        ..desc.clone()
    };
    let r = post_import(port, &d2, &body);
    assert_eq!(r.status, 422, "{}", r.text());

    let check = |nvr: &Nvr| {
        let rec: Recordings = get(nvr.port, "/api/v1/recordings?camera=cam1").json();
        let fo: Vec<_> = rec.spans.iter().filter(|s| s.source == Source::Failover).collect();
        assert_eq!(fo.len(), 1, "{rec:?}");
        assert_eq!(
            (fo[0].start_us, fo[0].frames, fo[0].location),
            (seg.start_wall_us, u64::from(seg.frames), Location::Nvr)
        );
        assert!(rec.spans.iter().any(|s| s.source == Source::Local), "{rec:?}");
        let r =
            get(nvr.port, &format!("/api/v1/recordings/cam1.mp4?from={}&to={}", seg.start_wall_us, seg.end_wall_us()));
        assert_eq!(r.status, 200, "{}", r.text());
        let f = work.path().join("imported.mp4");
        std::fs::write(&f, &r.body).unwrap();
        let (frames, errors) = ffprobe_frames(&f);
        assert_eq!(frames, u64::from(seg.frames), "ffprobe errors: {errors}");
        assert!(errors.trim().is_empty(), "{errors}");
    };
    check(&nvr);

    // Restart: SIGTERM stops the NVR and its recorder (exit 0); the import survives.
    let child = nvr.recorder_pid();
    let mut nvr = nvr;
    let st = nvr.proc.terminate(Duration::from_secs(10)).expect("nvr stops on SIGTERM");
    assert!(st.success(), "{st:?}\n{}", nvr.proc.stderr.text());
    let end = Instant::now() + Duration::from_secs(5);
    while pid_alive(child) {
        assert!(Instant::now() < end, "recorder child survived its parent");
        std::thread::sleep(Duration::from_millis(50));
    }
    let nvr = Nvr::start(&nvr.config, port);
    nvr.wait_status(WAIT, "recording after restart", all_recording);
    check(&nvr);
    let r = post_import(port, &desc, &body);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn nvr_frozen_recorder() {
    let (_sim, cams) = two_cam_sim();
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let nvr = Nvr::with_config(work.path(), &config_text(port, &work.path().join("s"), &cams, "", ""), port);
    nvr.wait_status(WAIT, "recording", all_recording);
    let child = nvr.recorder_pid();
    signal(child, "STOP");
    let t = Instant::now();
    let s =
        nvr.wait_status(Duration::from_secs(8), "cameras not recording", |s| s.cameras.iter().all(|c| !c.recording));
    assert!(t.elapsed() < Duration::from_secs(6), "took {:?}", t.elapsed());
    assert_eq!(s.storage.state, DiskState::Ok);
    signal(child, "CONT");
    nvr.wait_status(WAIT, "recording again", all_recording);
    assert_eq!(nvr.recorder_pid(), child);

    // A recorder that dies is restarted.
    signal(child, "KILL");
    let end = Instant::now() + WAIT;
    while nvr.recorder_pid() == child {
        assert!(Instant::now() < end, "recorder not restarted");
        std::thread::sleep(Duration::from_millis(200));
    }
    nvr.wait_status(WAIT, "recording after the recorder restarted", all_recording);
}

#[test]
fn nvr_storage_read_only_and_gone() {
    let Some(fs) = Tmpfs::or_skip("64m", "nvr_api") else { return };
    let (_sim, cams) = two_cam_sim();
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let dir = fs.path().to_owned();
    let nvr = Nvr::with_config(work.path(), &config_text(port, &dir, &cams, "", ""), port);
    nvr.wait_status(WAIT, "recording", all_recording);
    let d = dir.to_str().unwrap();
    // The recorder keeps segment files open for writing, which makes the kernel refuse a plain
    // remount (EBUSY); then a read-only bind mount is laid over the directory instead: every new
    // open through the path meets a read-only mount, as after an errors=remount-ro.
    let mut bound = false;
    if let Err(why) = mount(&["-o", "remount,ro", d]) {
        eprintln!("remount,ro refused ({why}); using a read-only bind mount over {d}");
        mount(&["--bind", d, d]).unwrap();
        bound = true;
        mount(&["-o", "remount,bind,ro", d]).unwrap();
    }
    let s = nvr.wait_status(Duration::from_secs(8), "storage failed", |s| s.storage.state == DiskState::Failed);
    assert!(!s.storage.writable);
    assert!(s.storage.detail.to_lowercase().contains("read-only"), "{:?}", s.storage);
    if bound {
        let _ = Command::new("umount").arg(d).status();
    } else {
        mount(&["-o", "remount,rw", d]).unwrap();
    }
    nvr.wait_status(Duration::from_secs(8), "storage ok again", |s| s.storage.state == DiskState::Ok);
    drop(nvr);

    // The directory vanishes.
    let port = free_port();
    let dir = work.path().join("vanishing");
    let nvr = Nvr::with_config(work.path(), &config_text(port, &dir, &cams, "", ""), port);
    nvr.wait_status(WAIT, "recording", all_recording);
    std::fs::remove_dir_all(&dir).unwrap();
    let s = nvr.wait_status(Duration::from_secs(8), "storage failed", |s| s.storage.state == DiskState::Failed);
    assert!(!s.storage.writable && s.storage.detail.contains("No such file"), "{:?}", s.storage);
    drop(nvr);
    drop(fs);
}

#[test]
fn nvr_recycling_fails_on_full_volume() {
    let Some(fs) = Tmpfs::or_skip("4m", "nvr_api") else { return };
    // Something that is not video takes 95 % of the volume: retention has nothing to delete.
    std::fs::write(fs.path().join("filler.bin"), vec![7u8; 3_900_000]).unwrap();
    let (_sim, cams) = two_cam_sim();
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let nvr = Nvr::with_config(work.path(), &config_text(port, fs.path(), &cams, "", ""), port);
    let s = nvr.wait_status(WAIT, "recycling failing", |s| s.recycling.failing);
    // Whichever the recorder meets first names the problem: the retention pass finding the
    // volume above the high-water mark with nothing to delete, or a write hitting ENOSPC after
    // a recycling pass (with ~190 kB free, two cameras fill it within a second).
    let r = &s.recycling.reason;
    assert!(r.contains("mark") || r.contains("no space left"), "{:?}", s.recycling);
    assert!(s.storage.writable, "a full volume is not a failed disk: {:?}", s.storage);
    std::thread::sleep(Duration::from_secs(4));
    let s = nvr.status();
    assert!(s.recycling.failing, "{:?}", s.recycling);
    drop(nvr);
    drop(fs);
}

#[test]
fn nvr_raid_degraded() {
    let (_sim, cams) = two_cam_sim();
    let work = tempfile::tempdir().unwrap();
    let mdstat = work.path().join("mdstat");
    std::fs::write(
        &mdstat,
        "Personalities : [raid1] \nmd0 : active raid1 sdb[1](F) sda[0]\n      1046528 blocks super 1.2 [2/1] [U_]\n      \nunused devices: <none>\n",
    )
    .unwrap();
    let port = free_port();
    let extra = format!("raid_device = \"md0\"\nmdstat = \"{}\"\n", mdstat.display());
    let nvr = Nvr::with_config(work.path(), &config_text(port, &work.path().join("s"), &cams, &extra, ""), port);
    let s = nvr.wait_status(WAIT, "recording", all_recording);
    assert_eq!(s.storage.state, DiskState::Degraded, "{:?}", s.storage);
    assert!(s.storage.writable);
    let raid = s.storage.raid.as_ref().unwrap();
    assert_eq!((raid.device.as_str(), raid.state, raid.members.as_str()), ("md0", DiskState::Degraded, "[2/1] [U_]"));
    assert_eq!(s.storage.disks.len(), 2);
    assert!(s.storage.disks.iter().any(|d| d.name == "sdb" && d.state == DiskState::Failed));
    // Repaired: the next check (≤ 2 s old) is ok.
    std::fs::write(&mdstat, "md0 : active raid1 sdb[1] sda[0]\n      1046528 blocks super 1.2 [2/2] [UU]\n\n").unwrap();
    nvr.wait_status(Duration::from_secs(6), "raid ok", |s| s.storage.state == DiskState::Ok);
}

#[test]
fn nvr_bad_config() {
    let work = tempfile::tempdir().unwrap();
    let good = config_text(free_port(), &work.path().join("s"), &[("cam1", "rtsp://127.0.0.1:1/cam0".into())], "", "");
    let cases: Vec<(String, &str)> = vec![
        (good.replace("[storage]", "[storage]\ncolour = \"blue\""), "colour"),
        (good.replace("url = \"rtsp://127.0.0.1:1/cam0\"\n", ""), "url"),
        (good.replace("listen = \"127.0.0.1:", "listen = \"nowhere:"), "server.listen"),
        (good.replace("segment_seconds = 60", "segment_seconds = 0"), "storage.segment_seconds"),
    ];
    for (i, (text, key)) in cases.iter().enumerate() {
        let cfg = work.path().join(format!("bad{i}.toml"));
        std::fs::write(&cfg, text).unwrap();
        let mut cmd = Command::new(crate::common::bin());
        cmd.arg("nvr").arg("--config").arg(&cfg);
        let out = crate::common::Proc::spawn("nvr", cmd).finish(Duration::from_secs(10));
        assert!(!out.success(), "case {i} accepted:\n{text}");
        assert!(out.stderr.contains(key) && out.stderr.contains(&format!("bad{i}.toml")), "case {i}: {}", out.dump());
    }
    // An unreadable file: the CLI prints the error and its cause (the source chain).
    let missing = work.path().join("missing.toml");
    let mut cmd = Command::new(crate::common::bin());
    cmd.arg("nvr").arg("--config").arg(&missing);
    let out = crate::common::Proc::spawn("nvr", cmd).finish(Duration::from_secs(10));
    assert!(!out.success());
    let chain = format!("error: {}: cannot read: caused by No such file or directory", missing.display());
    assert!(out.stderr.contains(&chain), "{}", out.dump());
}
