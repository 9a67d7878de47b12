//! Deterministic tests of the vendor behaviour, one per situation.

use super::*;
use hotspare_api::{CameraRecording, RaidStatus, RecyclingStatus, StorageStatus};

const S: i64 = 1_000_000;

fn status(recording: &[bool]) -> NvrStatus {
    NvrStatus {
        server_name: "NVR-1".into(),
        serial: "SN1".into(),
        firmware_version: "0.1.0".into(),
        uptime_s: 10,
        now_us: 0,
        cameras: recording
            .iter()
            .enumerate()
            .map(|(i, r)| CameraRecording { id: format!("cam{i}"), recording: *r, last_frame_us: Some(0) })
            .collect(),
        storage: StorageStatus {
            state: DiskState::Ok,
            writable: true,
            detail: String::new(),
            raid: None,
            disks: Vec::new(),
            disk_generation: "g1".into(),
        },
        recycling: RecyclingStatus { failing: false, reason: String::new() },
        fingerprint: None,
    }
}

fn ok(s: NvrStatus) -> Event {
    Event::Check(Observation::Status(Box::new(s)))
}

fn down() -> Event {
    Event::Check(Observation::Unreachable { error: "connection refused".into() })
}

fn fast() -> Monitor {
    Monitor::new(Timing::fast_profile())
}

fn took_over(actions: &[Action]) -> Option<&Reason> {
    actions.iter().find_map(|a| match a {
        Action::TakeOver { reason } => Some(reason),
        _ => None,
    })
}

#[test]
fn healthy_nvr_is_synced_not_taken_over() {
    let mut m = fast();
    for t in 0..5 {
        assert_eq!(m.handle(t * S, ok(status(&[true, true]))), vec![Action::SyncConfig]);
    }
    assert_eq!(m.phase(), &Phase::Watching);
}

#[test]
fn network_disconnection_after_three_misses() {
    let mut m = fast();
    m.handle(0, ok(status(&[true])));
    assert!(m.handle(S, down()).is_empty());
    assert!(m.handle(2 * S, down()).is_empty());
    let a = m.handle(3 * S, down());
    assert!(matches!(took_over(&a), Some(Reason::NetworkDisconnection { checks: 3, .. })));
    assert!(matches!(m.phase(), Phase::TakenOver { since_us, .. } if *since_us == 3 * S));
}

#[test]
fn a_flapping_nvr_is_not_taken_over() {
    let mut m = fast();
    for t in 0..20 {
        let e = if t % 3 == 1 { down() } else { ok(status(&[true])) };
        assert!(took_over(&m.handle(t * S, e)).is_none(), "check {t}");
    }
    // Two misses then an answer: still nothing.
    m.handle(30 * S, down());
    m.handle(31 * S, down());
    m.handle(32 * S, ok(status(&[true])));
    assert!(m.handle(33 * S, down()).is_empty());
    assert_eq!(m.phase(), &Phase::Watching);
}

#[test]
fn connected_but_not_recording() {
    let mut m = fast();
    let a = m.handle(0, ok(status(&[false, false])));
    assert_eq!(took_over(&a), Some(&Reason::NotRecording { cameras: 2 }));
}

#[test]
fn one_camera_down_is_a_camera_problem_not_an_nvr_failure() {
    let mut m = fast();
    assert_eq!(m.handle(0, ok(status(&[true, false]))), vec![Action::SyncConfig]);
}

#[test]
fn recycle_failure() {
    let mut s = status(&[true]);
    s.recycling = RecyclingStatus { failing: true, reason: "volume 97% full, nothing to delete".into() };
    let a = fast().handle(0, ok(s));
    assert!(matches!(took_over(&a), Some(Reason::RecycleFailure { detail }) if detail.contains("97%")));
}

#[test]
fn hdd_failure() {
    let mut s = status(&[true]);
    s.storage.writable = false;
    s.storage.state = DiskState::Failed;
    s.storage.detail = "read-only file system".into();
    let a = fast().handle(0, ok(s));
    assert!(matches!(took_over(&a), Some(Reason::HddFailure { detail }) if detail == "read-only file system"));
}

#[test]
fn degraded_raid_still_recording_is_not_taken_over() {
    let mut s = status(&[true, true]);
    s.storage.state = DiskState::Degraded;
    s.storage.raid =
        Some(RaidStatus { device: "md0".into(), state: DiskState::Degraded, members: "[2/1] [U_]".into() });
    let mut m = fast();
    for t in 0..5 {
        assert_eq!(m.handle(t * S, ok(s.clone())), vec![Action::SyncConfig]);
    }
}

#[test]
fn recording_health_is_checked_at_its_own_interval() {
    let mut m = Monitor::new(Timing::default_profile());
    // First check evaluates; the next, 30 s later, does not (60 s interval).
    assert_eq!(m.handle(0, ok(status(&[true]))), vec![Action::SyncConfig]);
    assert_eq!(m.handle(30 * S, ok(status(&[false]))), vec![Action::SyncConfig]);
    let a = m.handle(60 * S, ok(status(&[false])));
    assert!(took_over(&a).is_some());
}

#[test]
fn failback_hands_back_camera_by_camera() {
    let mut m = fast();
    m.handle(0, ok(status(&[true, true])));
    for t in 1..=3 {
        m.handle(t * S, down());
    }
    m.handle(3 * S, Event::TookOver { cameras: vec!["cam0".into(), "cam1".into()] });
    assert_eq!(m.next_check_in(), Timing::fast_profile().failback_check_interval);
    // Still down: nothing.
    assert!(m.handle(5 * S, down()).is_empty());
    // Back, records cam0 only: hand back cam0, keep cam1.
    let a = m.handle(7 * S, ok(status(&[true, false])));
    assert_eq!(a, vec![Action::HandBack { camera: "cam0".into() }]);
    let a = m.handle(9 * S, ok(status(&[true, true])));
    assert_eq!(a, vec![Action::HandBack { camera: "cam1".into() }, Action::FailbackDone]);
    assert_eq!(m.phase(), &Phase::Watching);
}

#[test]
fn no_failback_while_the_volume_is_still_failed() {
    let mut m = fast();
    let mut bad = status(&[true]);
    bad.storage.writable = false;
    bad.storage.state = DiskState::Failed;
    m.handle(0, ok(bad.clone()));
    m.handle(0, Event::TookOver { cameras: vec!["cam0".into()] });
    assert!(m.handle(2 * S, ok(bad)).is_empty());
}

#[test]
fn a_different_server_at_the_address_is_not_failed_back_to() {
    let mut m = fast();
    m.handle(0, ok(status(&[true])));
    for t in 1..=3 {
        m.handle(t * S, down());
    }
    m.handle(3 * S, Event::TookOver { cameras: vec!["cam0".into()] });
    let mut other = status(&[true]);
    other.serial = "SN-OTHER".into();
    assert!(m.handle(5 * S, ok(other.clone())).is_empty());
    // ...unless it reports a new HDD set (same box, disks replaced): then it is
    // the same NVR after a disk swap.
    let mut swapped = status(&[true]);
    swapped.storage.disk_generation = "g2".into();
    assert_eq!(m.handle(7 * S, ok(swapped)).last(), Some(&Action::FailbackDone));
}

#[test]
fn new_hdd_after_hdd_failure_fails_back() {
    let mut m = fast();
    m.handle(0, ok(status(&[true])));
    let mut bad = status(&[true]);
    bad.storage.writable = false;
    bad.storage.state = DiskState::Failed;
    m.handle(S, ok(bad));
    m.handle(S, Event::TookOver { cameras: vec!["cam0".into()] });
    let mut fixed = status(&[true]);
    fixed.storage.disk_generation = "g-new".into();
    let a = m.handle(3 * S, ok(fixed));
    assert_eq!(a, vec![Action::HandBack { camera: "cam0".into() }, Action::FailbackDone]);
}

#[test]
fn a_starting_nvr_that_records_nothing_yet_is_not_taken_over() {
    let mut m = fast();
    let mut starting = status(&[false, false]);
    starting.uptime_s = 1;
    for t in 0..3 {
        assert_eq!(m.handle(t * S, ok(starting.clone())), vec![Action::SyncConfig], "check {t}");
    }
    // Still nothing once it has been up for the grace period: now it is a failure.
    starting.uptime_s = STARTUP_GRACE_S;
    let a = m.handle(3 * S, ok(starting));
    assert_eq!(took_over(&a), Some(&Reason::NotRecording { cameras: 2 }));
    // A starting NVR with a failed volume is taken over at once.
    let mut bad = status(&[false]);
    bad.uptime_s = 0;
    bad.storage.writable = false;
    bad.storage.state = DiskState::Failed;
    assert!(matches!(took_over(&fast().handle(0, ok(bad))), Some(Reason::HddFailure { .. })));
}

#[test]
fn a_takeover_at_first_sight_syncs_the_settings_first() {
    let mut m = fast();
    let a = m.handle(0, ok(status(&[false, false])));
    assert_eq!(a, vec![Action::SyncConfig, Action::TakeOver { reason: Reason::NotRecording { cameras: 2 } }]);
    assert_eq!(m.identity().map(|i| i.serial.as_str()), Some("SN1"));
}

#[test]
fn failback_checks_are_evaluated_once_per_failback_interval() {
    // fast profile: checks every second, failback evaluated every 2 s.
    let mut m = fast();
    m.handle(0, ok(status(&[true, true])));
    for t in 1..=3 {
        m.handle(t * S, down());
    }
    m.handle(3 * S, Event::TookOver { cameras: vec!["cam0".into(), "cam1".into()] });
    // The first check after the takeover is evaluated (still down).
    assert!(m.handle(4 * S, down()).is_empty());
    // One second later the NVR is back and records: ignored, too early.
    assert!(m.handle(5 * S, ok(status(&[true, true]))).is_empty());
    assert!(matches!(m.phase(), Phase::TakenOver { .. }));
    // Two seconds after the last evaluation: failback.
    let a = m.handle(6 * S, ok(status(&[true, true])));
    assert_eq!(a.last(), Some(&Action::FailbackDone));
}

#[test]
fn failing_again_while_partly_handed_back_takes_over_again() {
    let mut m = fast();
    m.handle(0, ok(status(&[true, true])));
    for t in 1..=3 {
        m.handle(t * S, down());
    }
    m.handle(3 * S, Event::TookOver { cameras: vec!["cam0".into(), "cam1".into()] });
    // Back with cam0 only: cam0 handed back.
    assert_eq!(m.handle(5 * S, ok(status(&[true, false]))), vec![Action::HandBack { camera: "cam0".into() }]);
    assert!(matches!(m.phase(), Phase::TakenOver { handed_back, .. } if handed_back.contains("cam0")));
    // Gone again: two misses are not yet a failure, the third takes over again.
    assert!(m.handle(7 * S, down()).is_empty());
    assert!(m.handle(9 * S, down()).is_empty());
    let a = m.handle(11 * S, down());
    assert!(matches!(took_over(&a), Some(Reason::NetworkDisconnection { checks: 3, .. })), "{a:?}");
    let Phase::TakenOver { covering, handed_back, .. } = m.phase() else { panic!("not taken over") };
    assert!(handed_back.is_empty());
    assert!(covering.contains("cam1"), "cam1 was never handed back");
    // The engine records cam0 again; the takeover then ends as usual.
    m.handle(11 * S, Event::TookOver { cameras: vec!["cam0".into()] });
    let a = m.handle(13 * S, ok(status(&[true, true])));
    assert_eq!(
        a,
        vec![
            Action::HandBack { camera: "cam0".into() },
            Action::HandBack { camera: "cam1".into() },
            Action::FailbackDone
        ]
    );
}

#[test]
fn a_volume_failing_again_while_partly_handed_back_takes_over_again() {
    let mut m = fast();
    m.handle(0, ok(status(&[true, true])));
    for t in 1..=3 {
        m.handle(t * S, down());
    }
    m.handle(3 * S, Event::TookOver { cameras: vec!["cam0".into(), "cam1".into()] });
    m.handle(5 * S, ok(status(&[true, false])));
    let mut bad = status(&[true, false]);
    bad.storage.writable = false;
    bad.storage.state = DiskState::Failed;
    assert!(matches!(took_over(&m.handle(7 * S, ok(bad))), Some(Reason::HddFailure { .. })));
}

#[test]
fn unanswered_checks_while_nothing_is_handed_back_change_nothing() {
    let mut m = fast();
    m.handle(0, ok(status(&[true])));
    for t in 1..=3 {
        m.handle(t * S, down());
    }
    m.handle(3 * S, Event::TookOver { cameras: vec!["cam0".into()] });
    for t in 0..10 {
        assert!(m.handle((5 + 2 * t) * S, down()).is_empty());
    }
}
