//! The core in simulated time ([`sim`]): hand-written situations ([`scenarios`], [`restarts`]) and
//! seeded random ones ([`random`]), every step checked against the invariants.

mod random;
mod restarts;
mod scenarios;
mod sim;
