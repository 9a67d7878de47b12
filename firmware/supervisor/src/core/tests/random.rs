//! Seeded random scenarios: services change behaviour at random times (crash, hang, stall,
//! recover, ignore SIGTERM); afterwards the log of inputs and effects is checked against
//! invariants computed independently of the core.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::sim::{boot, limits, recorder, spec, Behaviour, Sim, S};
use crate::core::{Effect, Input};

fn random_behaviour(rng: &mut StdRng) -> Behaviour {
    let every = Duration::from_millis(rng.random_range(500..4000));
    match rng.random_range(0..5) {
        0 => Behaviour::Beats { every },
        1 => Behaviour::Crashes { after: Duration::from_millis(rng.random_range(100..90_000)), every },
        2 => Behaviour::Hangs,
        3 => Behaviour::Records { every, cameras: rng.random_range(0..3), bytes: rng.random_range(0..2) * 4096 },
        _ => Behaviour::Records { every, cameras: 2, bytes: 4096 },
    }
}

/// Runs one scenario; returns the simulation for the checks.
fn scenario(seed: u64, rescue: bool) -> Sim {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut sim = Sim::new(vec![recorder(), spec("failover", true), spec("api", false)], limits(), boot(rescue));
    let mut t = Duration::ZERO;
    while t < 3600 * S {
        t += Duration::from_millis(rng.random_range(1_000..120_000));
        sim.run_until(t);
        let name = ["recorder", "failover", "api"][rng.random_range(0..3)];
        sim.set(name, random_behaviour(&mut rng));
        sim.ignores_term.insert(name.into(), rng.random_bool(0.2));
        if rng.random_bool(0.05) {
            sim.input(Input::Fault { source: "md0".into(), reason: rng.random_bool(0.5).then(|| "degraded".into()) });
        }
    }
    sim
}

/// The instant after which each critical service is overdue, from the inputs alone.
fn check_never_pets_while_a_critical_service_is_overdue(sim: &Sim, seed: u64) {
    let specs: BTreeMap<&str, _> =
        [("recorder", recorder()), ("failover", spec("failover", true))].into_iter().collect();
    let mut alive_until: BTreeMap<&str, Duration> = specs.iter().map(|(n, s)| (*n, s.start_deadline)).collect();
    let mut pid: BTreeMap<&str, u32> = BTreeMap::new();
    let pets = sim.pets();
    let mut inputs = sim.inputs.iter().peekable();
    for &p in &pets {
        while let Some((t, i)) = inputs.next_if(|(t, _)| *t <= p) {
            match i {
                Input::Started { service, pid: id } if specs.contains_key(service.as_str()) => {
                    let n = specs.get_key_value(service.as_str()).map(|(n, _)| *n).unwrap_or_default();
                    pid.insert(n, *id);
                    alive_until.insert(n, *t + specs[n].start_deadline);
                }
                Input::Heartbeat { service, pid: id, .. } if pid.get(service.as_str()) == Some(id) => {
                    let n = specs.get_key_value(service.as_str()).map(|(n, _)| *n).unwrap_or_default();
                    alive_until.insert(n, *t + specs[n].heartbeat_deadline.unwrap_or_default());
                }
                _ => {}
            }
        }
        if p < limits().boot_grace || sim.core.in_rescue() {
            continue;
        }
        for (n, until) in &alive_until {
            assert!(p <= *until, "seed {seed}: petted at {p:?}, {n} overdue since {until:?}");
        }
    }
}

fn check_start_rate(sim: &Sim, seed: u64) {
    let l = limits();
    for name in ["recorder", "failover", "api"] {
        let starts = sim.starts(name);
        for &t in &starts {
            let n = starts.iter().filter(|&&u| u <= t && u + l.start_limit_interval > t).count();
            assert!(n <= l.start_limit_burst as usize, "seed {seed}: {name}: {n} starts in the window ending {t:?}");
        }
    }
}

#[test]
fn random_scenarios_keep_the_invariants() {
    let mut resets = 0;
    for seed in 0..40 {
        let sim = scenario(seed, false);
        check_never_pets_while_a_critical_service_is_overdue(&sim, seed);
        check_start_rate(&sim, seed);
        let reset = sim.effects(|e| matches!(e, Effect::Reset { .. }));
        assert!(reset.len() <= 1, "seed {seed}: one reset");
        if let Some(&r) = reset.first() {
            resets += 1;
            assert!(sim.pets().iter().all(|&t| t <= r), "seed {seed}: petted after the reset");
            assert!(sim.effects(|e| matches!(e, Effect::Start { .. })).iter().all(|&t| t < r));
        }
    }
    assert!(resets > 0, "some scenario crash-loops a critical service into the reset path");
}

#[test]
fn random_scenarios_in_rescue_mode_never_reset_and_always_pet() {
    for seed in 100..120 {
        let sim = scenario(seed, true);
        check_start_rate(&sim, seed);
        assert!(sim.effects(|e| matches!(e, Effect::Reset { .. })).is_empty(), "seed {seed}");
        let pets = sim.pets();
        assert!(pets.windows(2).all(|w| w[1] - w[0] <= limits().pet_interval), "seed {seed}");
        assert!(sim.core.status(sim.now).takeovers_allowed.eq(&false), "seed {seed}");
    }
}
