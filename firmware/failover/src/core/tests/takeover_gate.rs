//! The supervisor's "no takeovers" ([`Input::Takeovers`]): new takeovers are refused while it
//! holds, an NVR already covered stays covered (and still fails back), and a refused NVR is
//! taken over at the first failed check once takeovers are allowed again.

use super::sim::{Mode, Sim, S};
use crate::core::{Effect, Input};
use crate::monitor::Timing;

#[test]
fn no_new_takeover_while_the_supervisor_forbids_them() {
    let mut sim = Sim::new(Timing::fast_profile(), 16, &[("a", 1, 2), ("b", 2, 2)]);
    sim.run_for(5 * S);
    sim.set_mode("a", Mode::Down);
    sim.run_for(5 * S);
    assert!(sim.taken_over("a"));

    let why = "rescue mode: 3 resets in 30 min".to_string();
    sim.input(Input::Takeovers { blocked: Some(why.clone()) });
    assert_eq!(sim.core.takeovers_blocked(), Some(why.as_str()));
    let t = sim.now;
    sim.set_mode("b", Mode::Down);
    sim.run_for(10 * S);
    assert!(!sim.taken_over("b"), "a takeover while forbidden");
    assert!(sim.recording("b").is_empty());
    let refused = sim.core.nvr("b").unwrap().refused().map(str::to_string);
    assert!(refused.as_deref().is_some_and(|r| r.starts_with("network disconnection")), "{refused:?}");
    assert!(sim.core.nvr("b").unwrap().monitor().misses() >= 10, "the misses go on counting");
    assert!(sim.core.nvr("b").unwrap().takeovers().is_empty());
    assert!(
        !sim.effects_since(t)
            .iter()
            .any(|e| matches!(e, Effect::Email { nvr, .. } | Effect::StartRecorder { nvr, .. } if nvr == "b")),
        "no email, no recorder for the refused takeover"
    );
    // The NVR already covered stays covered, and fails back when it records again.
    assert!(sim.taken_over("a"));
    assert_eq!(sim.recording("a"), ["cam0", "cam1"]);
    sim.set_mode("a", Mode::Healthy);
    sim.run_for(10 * S);
    assert!(!sim.taken_over("a"), "failback while takeovers are forbidden");

    // Allowed again: b (still down, its misses kept) is taken over at the next check.
    sim.run_for(S / 2);
    let t = sim.now;
    sim.input(Input::Takeovers { blocked: None });
    assert_eq!(sim.core.nvr("b").unwrap().refused(), None);
    sim.run_for(2 * S);
    assert!(sim.taken_over("b"));
    assert_eq!(sim.recording("b"), ["cam0", "cam1"]);
    let at = sim.core.nvr("b").unwrap().takeovers()[0].at_us;
    assert!(at <= t + S, "taken over {} µs after takeovers were allowed", at - t);
}
