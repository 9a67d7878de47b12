//! The spare restarts: the core is rebuilt from what it persisted.

use super::sim::{Mode, Sim, S};
use crate::core::Effect;
use crate::monitor::Timing;

#[test]
fn a_restart_mid_takeover_resumes_it_without_a_new_takeover() {
    let mut sim = Sim::new(Timing::fast_profile(), 16, &[("a", 1, 2), ("b", 2, 1)]);
    sim.run_for(5 * S);
    sim.set_mode("a", Mode::HddFailed);
    sim.run_for(5 * S);
    let since = sim.core.nvr("a").unwrap().takeovers()[0].at_us;
    let t = sim.now;
    sim.restart_spare();
    // Resumed at once from the disk: recorders, SSDP; no email, no new takeover, the store
    // (still holding the takeover's video) is not reopened.
    assert_eq!(sim.recording("a"), ["cam0", "cam1"]);
    assert!(sim.recording("b").is_empty());
    assert!(sim.announced.contains("NVR a"));
    let fx = sim.effects_since(t);
    assert!(!fx.iter().any(|e| matches!(e, Effect::Email { .. } | Effect::ReopenStore { .. })), "{fx:?}");
    let n = sim.core.nvr("a").unwrap();
    assert_eq!(n.takeovers().len(), 1);
    assert_eq!(n.takeovers()[0].at_us, since);
    // Still failed: still taken over; then back: failback with the email that names the takeover.
    sim.run_for(10 * S);
    assert!(sim.taken_over("a"));
    let t = sim.now;
    sim.set_mode("a", Mode::Healthy);
    sim.run_for(5 * S);
    assert!(!sim.taken_over("a"));
    assert!(sim.recorders.is_empty());
    let fx = sim.effects_since(t);
    assert!(fx.iter().any(|e| matches!(e, Effect::Email { subject, .. } if subject.contains("Failback"))));
    assert!(sim.core.nvr("a").unwrap().takeovers()[0].failback_us.is_some());
}

#[test]
fn a_restart_while_down_keeps_covering_and_does_not_take_over_twice() {
    let mut sim = Sim::new(Timing::fast_profile(), 16, &[("a", 1, 3)]);
    sim.run_for(5 * S);
    sim.set_mode("a", Mode::Down);
    sim.run_for(10 * S);
    for _ in 0..3 {
        sim.restart_spare();
        assert_eq!(sim.recording("a"), ["cam0", "cam1", "cam2"]);
        sim.run_for(7 * S);
    }
    let takeovers = sim.log.iter().filter(|(_, e)| matches!(e, Effect::ReopenStore { .. })).count();
    assert_eq!(takeovers, 1);
}

#[test]
fn reinsertion_resumes_after_a_restart_and_runs_once_at_a_time() {
    let mut sim = Sim::new(Timing::fast_profile(), 16, &[("a", 1, 1)]);
    sim.run_for(5 * S);
    sim.set_mode("a", Mode::Down);
    sim.run_for(20 * S);
    sim.set_mode("a", Mode::Healthy);
    sim.run_for(3 * S);
    assert!(!sim.taken_over("a"));
    assert!(sim.core.nvr("a").unwrap().reinserting());
    assert!(sim.held["a"] > 0);
    // Interrupted by a restart of the spare before it ends: the new run starts it again.
    sim.run_for(2 * S);
    let t = sim.now;
    sim.restart_spare();
    let starts =
        |sim: &Sim, from| sim.effects_since(from).iter().filter(|e| matches!(e, Effect::StartReinsert { .. })).count();
    assert_eq!(starts(&sim, t), 1);
    assert!(sim.core.nvr("a").unwrap().reinserting());
    // A takeover and failback while it runs does not start a second one (the sim asserts it),
    // nor reopen the store it reads.
    sim.set_mode("a", Mode::HddFailed);
    sim.run_for(2 * S);
    assert!(sim.taken_over("a"));
    sim.set_mode("a", Mode::Healthy);
    sim.run_for(20 * S);
    assert!(!sim.taken_over("a"));
    assert!(!sim.core.nvr("a").unwrap().reinserting());
    assert_eq!(sim.held["a"], 0);
    // Nothing left: a restart starts none (the runtime reports at once that there is nothing).
    let t = sim.now;
    sim.restart_spare();
    assert_eq!(starts(&sim, t), 1);
    assert!(!sim.core.nvr("a").unwrap().reinserting());
}
