//! One test per situation of the vendor behaviour, at the level of the whole core.

use super::sim::{Mode, Sim, S};
use crate::core::{Effect, Input, StopReason};
use crate::monitor::Timing;

fn one_nvr(cameras: usize) -> Sim {
    let mut sim = Sim::new(Timing::fast_profile(), 16, &[("a", 1, cameras)]);
    sim.run_for(5 * S);
    sim
}

fn emails_to(effects: &[&Effect]) -> Vec<(String, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Email { settings, subject, .. } => Some((settings.to[0].clone(), subject.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_healthy_nvr_is_checked_each_interval_and_its_settings_kept_once() {
    let mut sim = one_nvr(2);
    let checks = sim.nvrs["a"].checks;
    assert_eq!(checks, 6, "a check at start and one per second for 5 s");
    let saved = sim.log.iter().filter(|(_, e)| matches!(e, Effect::SaveSnapshot { .. })).count();
    assert_eq!(saved, 1, "the settings are written when they change only");
    assert_eq!(sim.core.poll_at(), Some(sim.now + S));
    sim.run_for(10 * S);
    assert!(!sim.taken_over("a"));
}

#[test]
fn takeover_for_each_trigger() {
    for mode in [Mode::Down, Mode::NotRecording, Mode::HddFailed, Mode::RecycleFailing] {
        let mut sim = one_nvr(3);
        let t = sim.now;
        sim.set_mode("a", mode);
        sim.run_for(5 * S);
        assert!(sim.taken_over("a"), "{mode:?}");
        let n = sim.core.nvr("a").unwrap();
        let reason = &n.takeovers()[0].reason;
        assert!(reason.starts_with(mode.trigger().unwrap()), "{mode:?}: {reason}");
        assert_eq!(sim.recording("a"), ["cam0", "cam1", "cam2"], "{mode:?}");
        let fx = sim.effects_since(t);
        assert!(fx.iter().any(|e| matches!(e, Effect::ReopenStore { .. })), "{mode:?}");
        assert!(fx.iter().any(|e| matches!(e, Effect::Announce { name, .. } if name == "NVR a")), "{mode:?}");
        // The NVR's event rules ask for email: its own settings are used.
        let mails = emails_to(&fx);
        assert_eq!(mails.len(), 1, "{mode:?}");
        assert_eq!(mails[0].0, "nvr-admin@site");
        assert!(mails[0].1.starts_with("[Hotspare] Takeover of NVR a"), "{}", mails[0].1);
        // Persisted at once, with the cameras it covers.
        assert!(sim.disk.state["a"].phase != crate::monitor::Phase::Watching, "{mode:?}");
        let expect_at = if mode == Mode::Down { t + 3 * S } else { t + S };
        assert_eq!(n.takeovers()[0].at_us, expect_at, "{mode:?}");
    }
}

#[test]
fn without_email_rules_the_spare_uses_its_own_email_settings() {
    let mut sim = one_nvr(1);
    sim.nvrs.get_mut("a").unwrap().email_rules = false;
    sim.run_for(2 * S);
    let t = sim.now;
    sim.set_mode("a", Mode::HddFailed);
    sim.run_for(3 * S);
    let mails = emails_to(&sim.effects_since(t));
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, "spare-admin@site");
}

#[test]
fn partial_capacity_goes_to_the_higher_priority_nvr() {
    // Four channels; "high" (priority 1) and "low" (priority 5), three cameras each.
    let mut sim = Sim::new(Timing::fast_profile(), 4, &[("high", 1, 3), ("low", 5, 3)]);
    sim.run_for(5 * S);
    sim.set_mode("low", Mode::Down);
    sim.run_for(5 * S);
    assert_eq!(sim.recording("low"), ["cam0", "cam1", "cam2"]);
    let t = sim.now;
    sim.set_mode("high", Mode::HddFailed);
    sim.run_for(3 * S);
    assert_eq!(sim.recording("high"), ["cam0", "cam1", "cam2"]);
    assert_eq!(sim.recording("low"), ["cam0"]);
    assert_eq!(sim.core.nvr("low").unwrap().uncovered(), ["cam1", "cam2"]);
    assert_eq!(sim.core.channels_used(), 4);
    // The channels were freed before they were used again.
    let fx = sim.effects_since(t);
    let first_start = fx.iter().position(|e| matches!(e, Effect::StartRecorder { .. })).unwrap();
    let stops: Vec<usize> = fx
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Effect::StopRecorder { why: StopReason::Reallocated, .. }))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(stops.len(), 2);
    assert!(stops.iter().all(|&i| i < first_start));
    // "high" comes back: its channels go back to "low".
    sim.set_mode("high", Mode::Healthy);
    sim.run_for(5 * S);
    assert!(!sim.taken_over("high"));
    assert_eq!(sim.recording("low"), ["cam0", "cam1", "cam2"]);
    assert!(sim.core.nvr("low").unwrap().uncovered().is_empty());
}

#[test]
fn failback_camera_by_camera_then_reinsertion() {
    let mut sim = one_nvr(2);
    sim.set_mode("a", Mode::Down);
    sim.run_for(10 * S);
    assert!(sim.taken_over("a"));
    // Back; cam0 records at once, cam1 only 5 s later.
    sim.nvrs.get_mut("a").unwrap().recording_delay_s = vec![0, 5];
    sim.set_mode("a", Mode::Healthy);
    let back = sim.now;
    sim.run_for(3 * S);
    assert_eq!(sim.recording("a"), ["cam1"], "cam0 handed back, cam1 still recorded here");
    assert!(sim.taken_over("a"));
    assert!(sim.core.nvr("a").unwrap().handed_back().contains("cam0"));
    sim.run_for(5 * S);
    assert!(!sim.taken_over("a"));
    assert!(sim.recording("a").is_empty());
    let fx = sim.effects_since(back);
    assert!(fx.iter().any(|e| matches!(e, Effect::Withdraw { name, .. } if name == "NVR a")));
    let mails = emails_to(&fx);
    assert_eq!(mails.len(), 1);
    assert!(mails[0].1.starts_with("[Hotspare] Failback of NVR a"), "{}", mails[0].1);
    assert!(fx.iter().any(|e| matches!(e, Effect::StartReinsert { nvr } if nvr == "a")));
    let n = sim.core.nvr("a").unwrap();
    assert!(n.takeovers()[0].failback_us.is_some());
    assert!(n.reinserting());
    sim.run_for(10 * S);
    assert!(!sim.core.nvr("a").unwrap().reinserting());
    assert_eq!(sim.held["a"], 0, "the held video was re-inserted");
}

#[test]
fn failback_is_evaluated_once_per_failback_interval_with_the_vendor_timing() {
    // Checks every 30 s, failback evaluated every 60 s.
    let mut sim = Sim::new(Timing::default_profile(), 16, &[("a", 1, 1)]);
    sim.run_for(60 * S);
    sim.set_mode("a", Mode::Down);
    sim.run_for(120 * S);
    assert!(sim.taken_over("a"));
    // The first check after the takeover evaluated failback (still down); the NVR is back
    // right after it: the next check (30 s later) is ignored, the one after hands back.
    let taken = sim.core.nvr("a").unwrap().takeovers()[0].at_us;
    sim.run_until(taken + 31 * S);
    sim.set_mode("a", Mode::Healthy);
    sim.run_until(taken + 61 * S);
    assert!(sim.taken_over("a"), "evaluated only 60 s after the last evaluation");
    sim.run_until(taken + 91 * S);
    assert!(!sim.taken_over("a"));
}

#[test]
fn a_flapping_nvr_is_never_taken_over() {
    let mut sim = one_nvr(2);
    sim.set_mode("a", Mode::Flapping);
    sim.run_for(300 * S);
    assert!(!sim.taken_over("a"));
    assert!(sim.recorders.is_empty());
    assert!(emails_to(&sim.effects_since(0)).is_empty());
}

#[test]
fn a_taken_over_nvr_that_flaps_is_not_failed_back_while_it_records_nothing() {
    let mut sim = one_nvr(2);
    sim.set_mode("a", Mode::Down);
    sim.run_for(10 * S);
    sim.nvrs.get_mut("a").unwrap().recording_delay_s = vec![1000, 1000];
    sim.set_mode("a", Mode::Flapping);
    sim.run_for(8 * S);
    assert!(sim.taken_over("a"));
    assert_eq!(sim.recording("a"), ["cam0", "cam1"]);
}

#[test]
fn a_check_in_flight_is_not_asked_twice() {
    let mut sim = one_nvr(1);
    // Ask for a check and do not answer it.
    let fx = sim.core.handle(sim.now + S, Input::Tick);
    assert_eq!(fx, vec![Effect::Check { nvr: "a".into() }]);
    assert_eq!(sim.core.poll_at(), None, "nothing is due while the check runs");
    assert!(sim.core.handle(sim.now + 5 * S, Input::Tick).is_empty());
}

#[test]
fn an_nvr_failing_again_mid_failback_gets_its_handed_back_cameras_recorded_again() {
    let mut sim = one_nvr(2);
    sim.set_mode("a", Mode::Down);
    sim.run_for(10 * S);
    assert!(sim.taken_over("a"));
    // Back, but only cam0 records: cam0 is handed back, cam1 stays here.
    sim.nvrs.get_mut("a").unwrap().recording_delay_s = vec![0, 1000];
    sim.set_mode("a", Mode::Healthy);
    sim.run_for(3 * S);
    assert_eq!(sim.recording("a"), ["cam1"]);
    assert!(sim.core.nvr("a").unwrap().handed_back().contains("cam0"));
    // Down again before cam1 is back: cam0 must not be left to nobody.
    let again = sim.now;
    sim.set_mode("a", Mode::Down);
    sim.run_for(10 * S);
    assert!(sim.taken_over("a"));
    assert_eq!(sim.recording("a"), ["cam0", "cam1"]);
    assert!(sim.core.nvr("a").unwrap().handed_back().is_empty());
    let mails = emails_to(&sim.effects_since(again));
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].1.contains("Takeover"), "{}", mails[0].1);
    // A spare restarted now resumes the takeover with both cameras its own.
    sim.restart_spare();
    sim.run_for(5 * S);
    assert_eq!(sim.recording("a"), ["cam0", "cam1"]);
    // And the takeover ends as usual once the NVR records both.
    sim.nvrs.get_mut("a").unwrap().recording_delay_s = vec![0, 0];
    sim.set_mode("a", Mode::Healthy);
    sim.run_for(10 * S);
    assert!(!sim.taken_over("a"));
    assert!(sim.recording("a").is_empty());
}
