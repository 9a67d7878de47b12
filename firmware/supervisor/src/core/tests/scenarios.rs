//! Each rule of the core, one scenario each, in simulated time.

use std::time::Duration;

use super::sim::{boot, limits, recorder, spec, Behaviour, Sim, S};
use crate::core::{Effect, Event, Input};
use hotspare_ipc::Mode;

fn reports(sim: &Sim, pred: impl Fn(&Event) -> bool) -> Vec<Duration> {
    sim.effects(|e| matches!(e, Effect::Report(ev) if pred(ev)))
}

#[test]
fn healthy_services_start_once_and_the_watchdog_is_petted_every_interval() {
    let mut sim = Sim::new(vec![recorder(), spec("failover", true), spec("api", false)], limits(), boot(false));
    sim.set("recorder", Behaviour::Records { every: 2 * S, cameras: 4, bytes: 1000 });
    sim.run_until(600 * S);
    for s in ["recorder", "failover", "api"] {
        assert_eq!(sim.starts(s), [Duration::ZERO], "{s}");
    }
    let pets = sim.pets();
    assert_eq!(pets.len(), 121, "{pets:?}");
    assert!(pets.windows(2).all(|w| w[1] - w[0] == 5 * S));
    let st = sim.core.status(sim.now);
    assert!(st.healthy && st.takeovers_allowed && st.mode == Mode::Normal, "{st:?}");
}

#[test]
fn a_crashed_service_is_restarted_with_doubling_backoff() {
    let mut sim = Sim::new(vec![spec("api", false)], limits(), boot(false));
    sim.set("api", Behaviour::Crashes { after: 10 * S, every: 2 * S });
    sim.run_until(40 * S);
    let gaps: Vec<Duration> = sim.starts("api").windows(2).map(|w| w[1] - w[0]).collect();
    // Runs of 10 s, then 1, 2, 4 s of backoff.
    assert_eq!(gaps[..3], [11 * S, 12 * S, 14 * S], "{gaps:?}");
}

#[test]
fn a_crash_loop_is_held_back_by_the_start_limit_and_reported() {
    let mut sim = Sim::new(vec![spec("api", false)], limits(), boot(false));
    sim.set("api", Behaviour::Crashes { after: S / 2, every: 2 * S });
    sim.run_until(300 * S);
    let starts = sim.starts("api");
    for &t in &starts {
        let in_window = starts.iter().filter(|&&u| u <= t && u + 60 * S > t).count();
        assert!(in_window <= 5, "{in_window} starts in the minute before {t:?}: {starts:?}");
    }
    assert!(starts.len() >= 20, "a non-critical service keeps being restarted: {starts:?}");
    assert!(!reports(&sim, |e| matches!(e, Event::CrashLoop { .. })).is_empty());
    assert!(sim.effects(|e| matches!(e, Effect::Reset { .. })).is_empty(), "non-critical: no reset");
    // The api is not critical: the watchdog is still petted.
    assert!(sim.pets_between(250 * S, 300 * S) >= 9);
}

#[test]
fn a_critical_service_crash_looping_takes_the_reset_path_and_petting_stops() {
    let mut sim = Sim::new(vec![spec("failover", true)], limits(), boot(false));
    sim.set("failover", Behaviour::Crashes { after: S / 2, every: 2 * S });
    sim.run_until(600 * S);
    let resets = sim.effects(|e| matches!(e, Effect::Reset { .. }));
    assert_eq!(resets.len(), 1, "{:?}", sim.log);
    let loops = reports(&sim, |e| matches!(e, Event::CrashLoop { .. }));
    assert_eq!(loops.len(), 2, "the second crash loop resets");
    assert_eq!(resets[0], loops[1]);
    assert!(sim.pets().iter().all(|&t| t <= resets[0]), "no petting after the reset was asked");
    assert!(sim.starts("failover").iter().all(|&t| t < resets[0]), "no start after the reset was asked");
}

#[test]
fn in_rescue_mode_a_crash_loop_never_resets_the_watchdog_is_petted_and_takeovers_stop() {
    let mut sim = Sim::new(vec![spec("failover", true)], limits(), boot(true));
    sim.set("failover", Behaviour::Crashes { after: S / 2, every: 2 * S });
    sim.run_until(1200 * S);
    assert!(sim.effects(|e| matches!(e, Effect::Reset { .. })).is_empty());
    let pets = sim.pets();
    assert!(pets.windows(2).all(|w| w[1] - w[0] <= 5 * S), "petted throughout");
    assert!(*pets.last().unwrap() > 1190 * S);
    let st = sim.core.status(sim.now);
    assert_eq!(st.mode, Mode::Rescue);
    assert!(!st.takeovers_allowed && st.reason.contains("rescue mode"), "{st:?}");
    assert_eq!(reports(&sim, |e| matches!(e, Event::Rescue { .. })), [Duration::ZERO], "reported at boot");
}

#[test]
fn a_hung_service_is_terminated_and_restarted() {
    let mut sim = Sim::new(vec![spec("api", false)], limits(), boot(false));
    sim.run_until(10 * S);
    sim.set("api", Behaviour::Hangs);
    sim.run_until(60 * S);
    let hung = reports(&sim, |e| matches!(e, Event::Hung { .. }));
    // Last heartbeat at 8.5 s (every 2 s from 0.5 s), deadline 10 s.
    assert_eq!(hung.first().copied(), Some(Duration::from_millis(18_501)), "{:?}", sim.log);
    assert!(sim.effects(|e| matches!(e, Effect::Terminate { .. })).contains(&hung[0]));
    let starts = sim.starts("api");
    assert!(starts.len() >= 2 && starts[1] > hung[0], "{starts:?}");
    assert!(sim.effects(|e| matches!(e, Effect::Kill { .. })).is_empty(), "it stopped on SIGTERM");
}

#[test]
fn a_hung_service_ignoring_sigterm_is_killed_after_the_stop_grace() {
    let mut sim = Sim::new(vec![spec("api", false)], limits(), boot(false));
    sim.ignores_term.insert("api".into(), true);
    sim.set("api", Behaviour::Hangs);
    sim.run_until(60 * S);
    let term = sim.effects(|e| matches!(e, Effect::Terminate { .. }));
    let kill = sim.effects(|e| matches!(e, Effect::Kill { .. }));
    assert_eq!(term[0], Duration::from_millis(20_001), "start deadline 20 s");
    assert_eq!(kill[0], term[0] + 5 * S);
    assert!(sim.starts("api").len() >= 2);
}

#[test]
fn petting_stops_while_a_critical_service_is_overdue_but_not_during_the_boot_grace() {
    let mut sim = Sim::new(vec![spec("failover", true), spec("api", false)], limits(), boot(false));
    sim.set("failover", Behaviour::Hangs);
    sim.set("api", Behaviour::Hangs);
    sim.ignores_term.insert("failover".into(), true);
    sim.run_until(30 * S);
    // Overdue from 20 s (its start deadline) until its restart after the kill at 25 s, but
    // within the 30 s boot grace: petted.
    assert!(sim.core.unhealthy(20 * S + S / 2).is_some() || sim.starts("failover").len() > 1);
    assert_eq!(sim.pets_between(Duration::ZERO, 30 * S), 6);
    sim.run_until(120 * S);
    let stopped = reports(&sim, |e| matches!(e, Event::PettingStopped { .. }));
    // The restart at 26.001 s has 20 s to heartbeat.
    assert_eq!(stopped.first().copied(), Some(Duration::from_millis(46_002)), "{:?}", sim.log);
    // Killed and restarted, but it never heartbeats: overdue again after each start deadline.
    // No pet between a "petting stopped" and the next "petting resumed" (a restart).
    let resumed = reports(&sim, |e| matches!(e, Event::PettingResumed));
    assert!(stopped.len() >= 2, "{stopped:?}");
    for &from in &stopped {
        let to = resumed.iter().copied().find(|&r| r > from).unwrap_or(120 * S);
        assert_eq!(sim.pets_between(from, to), 0, "petted between {from:?} and {to:?}");
    }
    // Healthy again once it heartbeats.
    sim.set("failover", Behaviour::Beats { every: 2 * S });
    sim.ignores_term.insert("failover".into(), false);
    sim.run_until(240 * S);
    assert!(!reports(&sim, |e| matches!(e, Event::PettingResumed)).is_empty());
    assert!(sim.pets_between(200 * S, 240 * S) >= 7);
}

#[test]
fn a_non_critical_hung_service_does_not_stop_the_petting() {
    let mut sim = Sim::new(vec![spec("failover", true), spec("api", false)], limits(), boot(false));
    sim.set("api", Behaviour::Hangs);
    sim.run_until(300 * S);
    assert!(sim.pets().windows(2).all(|w| w[1] - w[0] == 5 * S));
    assert!(sim.starts("api").len() >= 3, "but it is restarted");
}

#[test]
fn recording_that_stops_advancing_stops_the_petting_and_resumes_with_progress() {
    let mut sim = Sim::new(vec![recorder()], limits(), boot(false));
    sim.set("recorder", Behaviour::Records { every: 2 * S, cameras: 2, bytes: 4096 });
    sim.run_until(100 * S);
    assert!(sim.pets_between(60 * S, 100 * S) >= 7);
    sim.set("recorder", Behaviour::Records { every: 2 * S, cameras: 2, bytes: 0 });
    sim.run_until(200 * S);
    let stalled = reports(&sim, |e| matches!(e, Event::ProgressStalled { .. }));
    assert_eq!(stalled.len(), 1, "{:?}", sim.log);
    // Last growth at the heartbeat of 98.5 s (every 2 s from 0.5 s), deadline 30 s.
    assert_eq!(stalled[0], Duration::from_millis(128_501));
    assert_eq!(sim.pets_between(stalled[0], 200 * S), 0);
    assert!(!sim.core.status(sim.now).healthy);
    // Heartbeats kept coming: the recorder is not restarted for that.
    assert_eq!(sim.starts("recorder").len(), 1);
    sim.set("recorder", Behaviour::Records { every: 2 * S, cameras: 2, bytes: 1 });
    sim.run_until(220 * S);
    assert!(sim.pets_between(200 * S, 220 * S) >= 3);
}

#[test]
fn no_cameras_expected_means_no_progress_needed() {
    let mut sim = Sim::new(vec![recorder()], limits(), boot(false));
    sim.set("recorder", Behaviour::Records { every: 2 * S, cameras: 0, bytes: 0 });
    sim.run_until(300 * S);
    assert!(sim.pets().windows(2).all(|w| w[1] - w[0] == 5 * S));
    // Cameras become expected: the deadline counts from then.
    sim.set("recorder", Behaviour::Records { every: 2 * S, cameras: 1, bytes: 0 });
    sim.run_until(320 * S);
    assert!(sim.pets_between(300 * S, 320 * S) >= 3);
    sim.run_until(400 * S);
    assert_eq!(sim.pets_between(340 * S, 400 * S), 0);
}

#[test]
fn a_fault_stops_takeovers_but_not_the_petting() {
    let mut sim = Sim::new(vec![spec("failover", true)], limits(), boot(false));
    sim.run_until(60 * S);
    sim.input(Input::Fault { source: "md0".into(), reason: Some("array failed".into()) });
    sim.run_until(120 * S);
    let st = sim.core.status(sim.now);
    assert!(!st.takeovers_allowed && st.healthy && st.reason.contains("md0: array failed"), "{st:?}");
    assert!(sim.pets_between(60 * S, 120 * S) >= 11);
    sim.input(Input::Fault { source: "md0".into(), reason: None });
    assert!(sim.core.status(sim.now).takeovers_allowed);
}

#[test]
fn shutdown_terminates_every_service_and_says_when_all_stopped() {
    let mut sim = Sim::new(vec![spec("failover", true), spec("api", false)], limits(), boot(false));
    sim.ignores_term.insert("api".into(), true);
    sim.run_until(60 * S);
    sim.input(Input::Shutdown);
    sim.run_until(120 * S);
    assert_eq!(sim.effects(|e| matches!(e, Effect::Terminate { .. })), [60 * S, 60 * S]);
    assert_eq!(sim.effects(|e| matches!(e, Effect::Kill { .. })), [65 * S], "the api ignored SIGTERM");
    assert_eq!(sim.effects(|e| matches!(e, Effect::AllStopped)), [65 * S]);
    assert_eq!(sim.pets_between(60 * S + S / 1000, 120 * S), 0);
    assert!(sim.starts("failover").iter().all(|&t| t < 60 * S));
}

#[test]
fn heartbeats_of_another_pid_do_not_count() {
    let mut sim = Sim::new(vec![spec("api", false)], limits(), boot(false));
    sim.set("api", Behaviour::Hangs);
    for t in 1..20 {
        sim.run_until(t * S);
        sim.input(Input::Heartbeat { service: "api".into(), pid: 1, progress: None, role: None });
    }
    sim.run_until(21 * S);
    assert_eq!(reports(&sim, |e| matches!(e, Event::Hung { .. })).len(), 1);
}

#[test]
fn a_heartbeat_after_sigterm_does_not_make_a_hung_service_alive() {
    // A frozen process thawed by the SIGCONT that follows SIGTERM may send one queued
    // heartbeat before it handles the SIGTERM: it must not count as a sign of life.
    let mut sim = Sim::new(vec![spec("failover", true)], limits(), boot(false));
    sim.ignores_term.insert("failover".into(), true);
    sim.run_until(40 * S);
    sim.set("failover", Behaviour::Hangs);
    let mut injected = None;
    for t in 41..70 {
        sim.run_until(t * S);
        let hung = reports(&sim, |e| matches!(e, Event::Hung { .. }));
        if let (Some(&at), None) = (hung.first(), injected) {
            let pid = sim.core.services()[0].pid().expect("running until killed");
            sim.input(Input::Heartbeat { service: "failover".into(), pid, progress: None, role: None });
            injected = Some(at);
        }
    }
    let hung = injected.expect("the hung service was reported");
    let kill = sim.effects(|e| matches!(e, Effect::Kill { .. }))[0];
    assert_eq!(kill, hung + 5 * S, "SIGKILL after the stop grace");
    let resumed = reports(&sim, |e| matches!(e, Event::PettingResumed));
    assert!(resumed.iter().all(|&r| r > kill), "petting resumed before the kill: {resumed:?}");
    assert_eq!(sim.pets_between(hung + S / 1000, kill), 0);
}

#[test]
fn ready_is_said_once_when_every_service_is_up_and_never_in_rescue_mode() {
    let mut sim = Sim::new(vec![spec("failover", true), spec("api", false)], limits(), boot(false));
    // The api runs but sends its first heartbeat only at 5 s (its start deadline is 20 s).
    sim.set("api", Behaviour::Hangs);
    sim.run_until(5 * S);
    assert!(sim.effects(|e| matches!(e, Effect::Ready)).is_empty(), "api not heard from yet");
    assert!(sim.core.status(sim.now).healthy, "healthy is not ready");
    sim.set("api", Behaviour::Beats { every: 2 * S });
    sim.run_until(600 * S);
    let ready = sim.effects(|e| matches!(e, Effect::Ready));
    assert_eq!(ready.len(), 1, "{ready:?}");
    assert_eq!(ready, [5 * S]);
    assert!(sim.core.was_ready());

    let mut rescue = Sim::new(vec![spec("failover", true)], limits(), boot(true));
    rescue.run_until(600 * S);
    assert!(rescue.effects(|e| matches!(e, Effect::Ready)).is_empty(), "rescue mode is never ready");
    assert!(!rescue.core.ready(rescue.now));
}
