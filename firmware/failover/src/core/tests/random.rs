//! Seeded random scenarios: NVRs failing in every way, coming back camera by camera,
//! flapping, the spare restarting, channels short; the invariants of [`super::sim`] after every
//! step, and at the end every takeover either failed back (NVR healthy) or still held (NVR down).

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::sim::{Mode, Sim, S};
use crate::monitor::Timing;

const MODES: [Mode; 6] =
    [Mode::Healthy, Mode::Down, Mode::NotRecording, Mode::HddFailed, Mode::RecycleFailing, Mode::Flapping];
const IDS: [&str; 4] = ["a", "b", "c", "d"];

fn scenario(rng: &mut StdRng) {
    let count = rng.random_range(1..=4);
    let nvrs: Vec<(&str, u32, usize)> =
        IDS[..count].iter().map(|id| (*id, rng.random_range(1..=3), rng.random_range(1..=4))).collect();
    let channels = rng.random_range(1..=10);
    let mut sim = Sim::new(Timing::fast_profile(), channels, &nvrs);
    sim.run_for(3 * S);
    for _ in 0..rng.random_range(3..12) {
        let id = IDS[rng.random_range(0..count)];
        let mode = MODES[rng.random_range(0..MODES.len())];
        let cams = sim.nvrs[id].cameras;
        sim.nvrs.get_mut(id).unwrap().recording_delay_s = (0..cams).map(|_| rng.random_range(0..8)).collect();
        sim.set_mode(id, mode);
        if rng.random_bool(0.1) {
            sim.restart_spare();
        }
        sim.run_for(rng.random_range(1..20) * S);
    }
    // The end: some NVRs stay down (held), the others are healthy again.
    let held: Vec<&str> = IDS[..count].iter().copied().filter(|_| rng.random_bool(0.3)).collect();
    for id in &IDS[..count] {
        sim.set_mode(id, if held.contains(id) { Mode::Down } else { Mode::Healthy });
    }
    sim.run_for(40 * S);
    for id in &IDS[..count] {
        let n = sim.core.nvr(id).unwrap();
        if held.contains(id) {
            assert!(n.is_taken_over(), "{id}: down, not held");
        } else {
            assert!(!n.is_taken_over(), "{id}: healthy, not failed back");
            assert!(sim.recording(id).is_empty());
            assert!(n.takeovers().iter().all(|t| t.failback_us.is_some()), "{id}: {:?}", n.takeovers());
            assert!(!n.reinserting(), "{id}: re-insertion never ended");
            assert_eq!(sim.held.get(*id).copied().unwrap_or(0), 0, "{id}: video left on the spare");
        }
    }
}

#[test]
fn hundreds_of_random_scenarios_keep_the_invariants() {
    let mut rng = StdRng::seed_from_u64(0x407_5a4e);
    let started = Instant::now();
    let runs = 500;
    for i in 0..runs {
        let seed: u64 = rng.random();
        let result = std::panic::catch_unwind(|| scenario(&mut StdRng::seed_from_u64(seed)));
        assert!(result.is_ok(), "scenario {i} (seed {seed:#x}) failed");
    }
    eprintln!("{runs} scenarios in {:?}", started.elapsed());
}
