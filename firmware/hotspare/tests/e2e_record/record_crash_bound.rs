//! The crash bound of `hotspare record`: 20 `kill -9` at seeded-random
//! moments while recording from `hotspare sim-camera`; each loses at most
//! 1 s of video (plus the frames still in flight, see [`IN_FLIGHT_MARGIN_S`]).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;
use hotspare_store::{Store, StoreConfig};

const KILLS: usize = 20;
/// The simulator's frame rate (its default): one frame is 1/25 s.
const FPS: f64 = 25.0;
/// Video the recorder may lose by construction: it flushes before 1 s is unsaved.
const BOUND_S: f64 = 1.0;
/// Frames the simulator counts as sent once they are written to the loopback socket; the
/// recorder may not have read them yet when SIGKILL lands (its wake-up latency on a loaded
/// 2-core machine). No flush policy can save bytes the recorder never read, so the test
/// allows up to 5 frames (0.2 s) of them on top of the bound.
const IN_FLIGHT_MARGIN_S: f64 = 0.2;

/// Frames stored after the kill, read through a full recovery (the recorder is dead, so the
/// test process may be the store's writer): frames whose index record the kill cut off are
/// indexed from the sample file, as the next `record` would.
fn stored_after_recovery(store: &Path) -> i64 {
    let s = Store::open(store, StoreConfig::default()).expect("recovery after kill -9");
    s.segments("cam").unwrap().iter().map(|s| i64::from(s.frames)).sum()
}

#[test]
fn kill_9_loses_at_most_one_second() {
    let sim = Sim::start("h264", free_port(), &[]);
    // Fixed seed: the same kill moments on every run.
    let mut x: u64 = 0x00c0_ffee_1234_5678;
    let mut losses = Vec::new();
    for k in 0..KILLS {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let after_ms = 200 + (x >> 33) % 2300;
        let store = tempfile::tempdir().unwrap();
        let mut rec = Proc::spawn("record", record_cmd(&sim.url(), store.path(), "cam", &["--segment", "2s"]));
        // Recording has begun once the first frame is in a sample file.
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let first = segments(store.path(), "cam").first().and_then(|(_, p)| std::fs::metadata(p).ok());
            if first.is_some_and(|m| m.len() > 0) {
                break;
            }
            assert!(Instant::now() < end, "kill {k}: nothing recorded:\n{}", rec.stderr.text());
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(after_ms));
        rec.kill();
        let stderr = rec.stderr.text();
        assert!(!stderr.contains("panicked"), "{stderr}");
        drop(rec);
        let sent = sim.wait_sent(k + 1)[k];
        let stored = stored_after_recovery(store.path());
        assert!(stored <= sent, "kill {k}: stored {stored} > sent {sent}");
        let lost_s = (sent - stored) as f64 / FPS;
        eprintln!("kill {k:2} after {after_ms:4} ms: sent {sent:3}, stored {stored:3}, lost {lost_s:.2} s");
        losses.push(lost_s);
        assert!(corrupt_files(store.path()).is_empty(), "kill {k}: {:?}", corrupt_files(store.path()));
    }
    let max = losses.iter().cloned().fold(0.0, f64::max);
    let mean = losses.iter().sum::<f64>() / losses.len() as f64;
    eprintln!("{KILLS} kills: loss max {max:.2} s, mean {mean:.2} s, per kill {losses:.2?}");
    for (k, l) in losses.iter().enumerate() {
        assert!(
            *l <= BOUND_S + IN_FLIGHT_MARGIN_S,
            "kill {k} lost {l:.2} s (bound {BOUND_S} s + {IN_FLIGHT_MARGIN_S} s)"
        );
    }
}
