//! The core in simulated time ([`sim`], with NVRs from [`nvr_model`]): hand-written situations ([`scenarios`], [`restarts`]) and
//! seeded random ones ([`random`]), every step checked against the invariants.

mod nvr_model;
mod random;
mod restarts;
mod scenarios;
mod sim;
mod takeover_gate;
