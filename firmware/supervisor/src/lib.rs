//! The supervisor (`hotspare supervisor --config supervisor.toml`, issue 9): the appliance's
//! root service. Owns the decisions of service supervision and of the health-gated hardware
//! watchdog ([`core`], pure, tested in simulated time), the boot history and last-reset
//! verdict ([`boot`]), the watchdog device ([`watchdog`]), its configuration ([`config`]) and
//! the runtime that performs the core's effects ([`runner`]), and the hardware monitors'
//! reports and the `health.json` they fill ([`monitor`]), the SMART monitor ([`smart`]), the md
//! RAID monitor ([`raid`]), the bays and hot-plug monitor ([`hotplug`]), the recording-volume
//! monitor ([`volumes`]), system resources ([`system`]), the front-panel LEDs ([`leds`]) and
//! the e-mail of critical events ([`email`]); `status.json` ([`status_file`]) and marking the
//! booted A/B slot good once the box is ready ([`boot_slot`]).

pub mod boot;
pub mod boot_slot;
pub mod config;
pub mod core;
pub mod email;
pub mod hotplug;
pub mod leds;
pub mod monitor;
pub mod raid;
pub mod runner;
pub mod smart;
pub mod status_file;
pub mod status_view;
pub mod system;
pub mod volumes;
pub mod watchdog;
