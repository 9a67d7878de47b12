//! The supervisor (`hotspare supervisor --config supervisor.toml`, issue 9): the appliance's
//! root service. Owns the decisions of service supervision and of the health-gated hardware
//! watchdog ([`core`], pure, tested in simulated time), the boot history and last-reset
//! verdict ([`boot`]), the watchdog device ([`watchdog`]), its configuration ([`config`]) and
//! the runtime that performs the core's effects ([`runner`]), and the hardware monitors'
//! reports and the `health.json` they fill ([`monitor`]): system resources ([`system`]);
//! and the front-panel LEDs ([`leds`]).

pub mod boot;
pub mod config;
pub mod core;
pub mod leds;
pub mod monitor;
pub mod runner;
pub mod system;
pub mod watchdog;
