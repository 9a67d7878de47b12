//! The store under its real users: `hotspare export` in a loop beside a
//! recording `hotspare record` (readers never damage a live store), a second
//! writer refused with the holder named, and a disk that fills up again and
//! again while recording (no hole of zeros inside what an index covers).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use hotspare_store::{parse_index, Store};

/// Frames stored for `camera`, as a read-only reader sees them.
fn stored_frames(store: &Path, camera: &str) -> i64 {
    let s = Store::open_readonly(store).expect("open store read-only");
    s.segments(camera).unwrap().iter().map(|s| i64::from(s.frames)).sum()
}

/// `exported N frames` of a successful export, or `None` when it failed.
fn exported_frames(o: &Output) -> Option<i64> {
    if !o.success() {
        return None;
    }
    o.stdout
        .lines()
        .find_map(|l| l.strip_prefix("exported ").and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()))
}

/// `hotspare export` runs in a loop while `hotspare record` records 20 s at `--segment 2s`:
/// frames the recorder reports written = frames stored = frames exported, every export
/// after the first succeeds and never shows fewer frames than the one before.
#[test]
fn export_loop_while_recording_loses_nothing() {
    let sim = Sim::start("h264", free_port(), &[]);
    let store = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let rec =
        Proc::spawn("record", record_cmd(&sim.url(), store.path(), "cam", &["--duration", "20s", "--segment", "2s"]));
    let done = Arc::new(AtomicBool::new(false));
    let exporter = {
        let (store, out, done) = (store.path().to_owned(), out.path().to_owned(), done.clone());
        std::thread::spawn(move || {
            let (mut ok, mut last, mut failures_before_first) = (0u32, 0i64, 0u32);
            while !done.load(Ordering::Relaxed) {
                let o = export(&store, "cam", None, None, &out.join("loop.mp4"));
                o.assert_no_panic();
                match exported_frames(&o) {
                    Some(n) => {
                        assert!(n >= last, "export {ok}: {n} frames after {last}: frames disappeared\n{}", o.dump());
                        last = n;
                        ok += 1;
                    }
                    // Before the first frame is stored there is nothing to export.
                    None if ok == 0 => failures_before_first += 1,
                    None => panic!("export {ok} failed while recording:\n{}", o.dump()),
                }
            }
            (ok, failures_before_first, last)
        })
    };
    let o = rec.finish(Duration::from_secs(40));
    done.store(true, Ordering::Relaxed);
    let (exports, early_failures, last_during) = exporter.join().expect("export loop");
    let s = expect_summary(&o);
    assert!(exports >= 20, "only {exports} exports ran during the recording");
    let stored = stored_frames(store.path(), "cam");
    let (exported, _) = export_and_check(store.path(), "cam", &out.path().join("all.mp4"), "h264", (1920, 1080));
    let sent = sim.wait_sent(1)[0];
    eprintln!(
        "export loop: {exports} exports during recording ({early_failures} before the first frame, last saw {last_during}); \
         sim sent {sent}, recorder wrote {}, stored {stored}, exported {exported}, segments {}",
        s.frames, s.segments
    );
    assert_eq!(s.frames, stored, "frames written (recorder) vs stored");
    assert_eq!(stored, exported, "frames stored vs exported");
    assert!(s.segments >= 8, "2 s segments over 20 s: {}", s.segments);
    assert!(corrupt_files(store.path()).is_empty(), "{:?}", corrupt_files(store.path()));
}

/// A second `record` on a store another `record` is writing fails at once with an error
/// naming the holder's pid; `export` (a reader) works meanwhile; once the first writer
/// exits, a new writer opens the store.
#[test]
fn second_writer_refused_naming_holder() {
    let sim = Sim::start("h264", free_port(), &["--streams", "2"]);
    let store = tempfile::tempdir().unwrap();
    let mut first = Proc::spawn("record-1", record_cmd(&sim.url(), store.path(), "cam", &["--segment", "2s"]));
    let lock = store.path().join(hotspare_store::LOCK_FILE);
    let end = Instant::now() + Duration::from_secs(10);
    while stored_frames_or_zero(store.path()) == 0 {
        assert!(Instant::now() < end, "first recorder stored nothing:\n{}", first.stderr.text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&lock).unwrap().trim(), first.pid().to_string(), "lock file names the holder");

    let url1 = format!("rtsp://127.0.0.1:{}/cam1", sim.port);
    let second = record(&url1, store.path(), "other", &["--duration", "3s"], Duration::from_secs(10));
    assert!(!second.success(), "second writer accepted:\n{}", second.dump());
    second.assert_no_panic();
    let want = format!("locked by another writing process (pid {})", first.pid());
    assert!(second.stderr.contains(&want), "error does not name the holder ({want}):\n{}", second.dump());
    assert!(second.elapsed < Duration::from_secs(3), "refused only after {:?}", second.elapsed);
    assert!(!store.path().join("other").exists(), "the refused writer created files");

    let out = tempfile::tempdir().unwrap();
    assert!(export_ok(store.path(), "cam", None, None, &out.path().join("a.mp4")) > 0);

    assert!(first.terminate(Duration::from_secs(10)).is_some_and(|s| s.success()), "first recorder exit");
    let third = record(&url1, store.path(), "other", &["--duration", "2s"], Duration::from_secs(10));
    expect_summary(&third);
    eprintln!("second writer: {}", second.stderr.lines().last().unwrap_or_default());
}

fn stored_frames_or_zero(store: &Path) -> i64 {
    if store.join("cam").is_dir() {
        stored_frames(store, "cam")
    } else {
        0
    }
}

/// Every NAL unit of `frame` (length-prefixed) fits exactly and is not zeros.
fn check_frame(frame: &[u8]) -> Result<(), String> {
    let mut pos = 0;
    while pos < frame.len() {
        let len = frame.get(pos..pos + 4).map(|b| u32::from_be_bytes(b.try_into().unwrap()) as usize);
        let Some(len) = len.filter(|&l| l > 0 && pos + 4 + l <= frame.len()) else {
            return Err(format!("bad NAL length at {pos} of {}", frame.len()));
        };
        if frame[pos + 4] & 0x80 != 0 || frame[pos + 4] == 0 {
            return Err(format!("bad NAL header {:#x} at {pos}", frame[pos + 4]));
        }
        pos += 4 + len;
    }
    Ok(())
}

/// Fills the tmpfs holding the store, leaving `leave` bytes free. The filler is one file.
fn fill(path: &Path, leave: u64) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0x55u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(leave)).unwrap();
}

/// Recording onto a 16 MiB tmpfs that a filler file fills up again and again (leaving
/// 40–250 kB, less than one 1 s batch, so writes fail part-way): afterwards no index entry
/// of any segment points past its sample file's bytes, every stored frame is a clean walk
/// of NAL units (no zeros), and every segment exported alone decodes with `ffmpeg -v
/// error` silent.
#[test]
fn disk_full_again_and_again_leaves_no_hole() {
    let Some(fs) = Tmpfs::or_skip("16m", "disk full (filler) test") else { return };
    let store = fs.path().join("store");
    let filler = fs.path().join("filler");
    let sim = Sim::start("h264", free_port(), &[]);
    let rec = Proc::spawn(
        "record",
        record_cmd(&sim.url(), &store, "cam", &["--duration", "16s", "--segment", "1s", "--high-water", "99"]),
    );
    std::thread::sleep(Duration::from_secs(2));
    // Fixed seed: the same free-space leftovers on every run.
    let mut x: u64 = 0x5eed_1234;
    let mut cycles = 0;
    let t_end = Instant::now() + Duration::from_secs(11);
    while Instant::now() < t_end {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let leave = 40_000 + (x >> 33) % 210_000;
        fill(&filler, leave);
        std::thread::sleep(Duration::from_millis(1200));
        std::fs::remove_file(&filler).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        cycles += 1;
    }
    let o = rec.finish(Duration::from_secs(30));
    o.assert_no_panic();
    let s = summary(&o.stdout).unwrap_or_else(|| panic!("no summary:\n{}", o.dump()));
    let nospace = o.stderr.matches("no space left").count();
    assert!(nospace >= 2, "the volume never filled ({nospace} ENOSPC):\n{}", o.dump());

    let ro = Store::open_readonly(&store).unwrap();
    let segs = ro.segments("cam").unwrap();
    assert!(segs.len() >= 3, "{segs:?}\n{}", o.dump());
    let out = tempfile::tempdir().unwrap();
    let mut frames = 0;
    for (i, seg) in segs.iter().enumerate() {
        let (index_path, sample_path) = ro.segment_paths(seg).unwrap();
        let sample = std::fs::read(&sample_path).unwrap();
        let parsed = parse_index(&std::fs::read(&index_path).unwrap()).unwrap();
        let indexed: u64 = parsed.frames.iter().map(|f| u64::from(f.len)).sum();
        assert!(indexed <= sample.len() as u64, "{}: index covers {indexed} > {} bytes", seg.id, sample.len());
        let mut off = 0usize;
        for (k, f) in parsed.frames.iter().enumerate() {
            let frame = &sample[off..off + f.len as usize];
            check_frame(frame).unwrap_or_else(|e| panic!("{} frame {k}: {e}", seg.id));
            off += f.len as usize;
        }
        let mp4 = out.path().join(format!("seg{i}.mp4"));
        let n =
            export_ok(&store, "cam", Some(&rfc3339(seg.start_wall_us)), Some(&rfc3339(seg.end_wall_us() - 1)), &mp4);
        assert!(n >= i64::from(seg.frames), "{}: exported {n} of {}", seg.id, seg.frames);
        let errs = ffmpeg_errors(&mp4);
        assert!(errs.trim().is_empty(), "segment {} ({} frames) does not decode cleanly:\n{errs}", seg.id, seg.frames);
        frames += seg.frames;
    }
    eprintln!(
        "disk full x{cycles}: recorder wrote {} frames, {nospace} ENOSPC logged, {} segments ({frames} frames) kept, \
         all clean",
        s.frames,
        segs.len()
    );
}
