//! The core in simulated time: a small world of processes that start, heartbeat, crash,
//! hang or stop recording as each test says ([`sim`]), the rules one by one
//! ([`scenarios`]) and seeded random runs checked against invariants ([`random`]).

mod random;
mod scenarios;
mod sim;
