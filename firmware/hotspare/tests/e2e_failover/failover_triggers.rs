//! End to end: the four takeover situations of the vendor behaviour, each
//! reproduced with a real mechanism on a real NVR process watched by a real
//! spare (fast profile: 1 s checks × 3): power cut (SIGKILL to the NVR's
//! process group), frozen recorder (SIGSTOP), a volume retention cannot
//! free (tmpfs filled with a non-video file), and a failed disk (read-only
//! mount, or the directory gone). Each must end in a takeover with the
//! right reason in the spare's status and log, and the spare recording the
//! NVR's cameras.

use crate::common::{now_us, Tmpfs};
use crate::failover_common::*;
use hotspare_api::spare::NvrView;
use hotspare_api::DiskState;
use rustix::process::Signal;
use std::time::Duration;

const TAKEOVER_WAIT: Duration = Duration::from_secs(25);

fn healthy_site(customize: impl FnOnce(&mut Site)) -> Site {
    let mut site = Site::prepare(1, 2);
    customize(&mut site);
    site.start();
    site.wait_healthy();
    site
}

/// Waits for the takeover, then checks the reason (status and log), the
/// recording of every camera, and returns the view and the detection time.
fn expect_takeover(site: &Site, fault_us: i64, reason_prefix: &str) -> (NvrView, i64) {
    let v = site.wait_takeover(0, TAKEOVER_WAIT);
    let reason = v.reason.clone().unwrap_or_default();
    assert!(reason.starts_with(reason_prefix), "reason {reason:?}, expected {reason_prefix:?}…\n{}", site.dump());
    assert_eq!(v.takeovers.len(), 1, "{v:#?}");
    assert_eq!(v.takeovers[0].reason, reason);
    assert!(v.takeovers[0].failback_us.is_none());
    let log_line = format!("nvr1: TAKEOVER: {reason}");
    assert!(site.spare_log().contains(&log_line), "spare log lacks {log_line:?}\n{}", site.dump());
    let since = v.since_us.expect("since_us");
    assert!(since >= fault_us, "takeover at {since} before the fault at {fault_us}");
    assert!(v.snapshot_us.is_some(), "the takeover must work from the synced snapshot: {v:#?}");
    // The spare records every camera: a first frame after the decision, and still growing.
    for (cam, first) in &v.first_frame_us {
        let first = first.unwrap();
        assert!(first >= since && first - since < 5_000_000, "{cam}: first frame {first} vs takeover {since}");
    }
    std::thread::sleep(Duration::from_millis(1500));
    for cam in site.nvrs[0].cam_ids() {
        let held = site.held(0, &cam);
        let frames: u64 = held.spans.iter().map(|s| s.frames).sum();
        assert!(frames >= 25, "{cam}: only {frames} frames recorded on the spare\n{held:?}\n{}", site.dump());
    }
    let detection = since - fault_us;
    eprintln!(
        "takeover ({reason}): detected {:.2} s after the fault; first frames {}",
        secs(detection),
        v.first_frame_us
            .iter()
            .map(|(c, f)| format!("{c} +{:.2} s", secs(f.unwrap() - since)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    (v, detection)
}

#[test]
fn takeover_on_network_disconnection() {
    let mut site = healthy_site(|_| {});
    let killed = site.kill_nvr(0);
    let (v, detection) = expect_takeover(&site, killed, "network disconnection: no answer to 3 checks in a row (");
    // Three unanswered 1 s checks: more than two intervals, well under the bound.
    assert!((1_900_000..=8_000_000).contains(&detection), "detection {detection} µs");
    assert!(v.last_error.is_some(), "{v:#?}");
}

#[test]
fn takeover_when_connected_but_not_recording() {
    let site = healthy_site(|_| {});
    // Past the spare's start-up grace for a freshly started NVR (10 s of NVR uptime, minus the
    // 3 s it takes a frozen recorder to look stale), so the figure is the detection proper.
    while site.nvr(0).try_status().unwrap().uptime_s < 7 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let recorder = site.nvr(0).recorder_pid();
    signal_pid(recorder, Signal::STOP);
    let stopped = now_us();
    let (_, detection) = expect_takeover(&site, stopped, "connected but not recording: 0 of 2 cameras recording");
    // The NVR still answers (not a disconnection) and reports its cameras as not recording.
    let s = site.nvr(0).try_status().expect("the NVR API still answers");
    assert!(s.cameras.iter().all(|c| !c.recording), "{s:#?}");
    assert_eq!(s.storage.state, DiskState::Ok);
    // Status file and last frame are stale after 3 s; then one 1 s recording check.
    assert!((2_000_000..=12_000_000).contains(&detection), "detection {detection} µs");
    signal_pid(recorder, Signal::CONT);
}

#[test]
fn takeover_when_recycling_fails() {
    let Some(fs) = Tmpfs::or_skip("24m", "failover_triggers") else { return };
    let store = fs.path().join("store");
    let site = healthy_site(|s| s.nvrs[0].storage = store.clone());
    // Something that is not video takes the volume up to 2 % free: above the 90 % high-water
    // mark with nothing retention may delete.
    let (size, _) = fs_space(fs.path());
    let filled = fill(fs.path(), size / 50);
    let t = now_us();
    eprintln!("filled {filled} of {size} bytes with a non-video file");
    let (_, detection) = expect_takeover(&site, t, "fails to recycle video files: ");
    let s = site.nvr(0).try_status().expect("NVR answers");
    assert!(s.recycling.failing && s.storage.writable, "a full volume is not a failed disk: {s:#?}");
    assert!(detection <= 20_000_000, "detection {detection} µs");
    // The volume stays above its mark: no failback and takeover again (one retention pass later).
    std::thread::sleep(Duration::from_secs(5));
    let v = site.view(0).unwrap();
    assert!(v.phase == "taken_over" && v.takeovers.len() == 1, "flapping: {v:#?}\n{}", site.dump());
    drop(site);
    drop(fs);
}

#[test]
fn takeover_when_the_disk_turns_read_only() {
    let mut site = Site::prepare(1, 2);
    let storage = site.nvrs[0].storage.clone();
    std::fs::create_dir_all(&storage).unwrap();
    site.start();
    site.wait_healthy();
    // The recorder holds segment files open, so the volume is made read-only by a read-only
    // bind mount over the directory (every new open for writing meets EROFS).
    let ro = match ReadOnlyBind::over(&storage) {
        Ok(ro) => ro,
        Err(why) => {
            eprintln!("skipped: cannot mount here ({why})");
            return;
        }
    };
    let t = now_us();
    let (v, detection) = expect_takeover(&site, t, "HDD failed: ");
    let reason = v.reason.unwrap();
    assert!(reason.to_lowercase().contains("read-only"), "{reason}");
    assert!(detection <= 12_000_000, "detection {detection} µs");
    drop(site);
    drop(ro);
}

#[test]
fn takeover_when_the_disk_vanishes() {
    let site = healthy_site(|_| {});
    std::fs::remove_dir_all(&site.nvrs[0].storage).unwrap();
    let t = now_us();
    let (v, detection) = expect_takeover(&site, t, "HDD failed: ");
    let reason = v.reason.unwrap();
    assert!(reason.contains("No such file"), "{reason}");
    assert!(detection <= 12_000_000, "detection {detection} µs");
}
