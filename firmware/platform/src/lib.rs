//! The hardware- and OS-facing pieces of the box, free of roles and wire
//! types, for the NVR role's storage health and the supervisor to come
//! (watchdog, SMART, RAID, LEDs):
//! - [`volume`]: the write probe of a recording volume;
//! - [`mdstat`]: the parser of Linux `/proc/mdstat` (md RAID state);
//! - [`disk`]: disk serials from sysfs and the disk generation;
//! - [`process`]: supervision of a child process (restart with capped
//!   backoff, SIGTERM then SIGKILL at shutdown);
//! - [`system`]: CPU temperature, memory, load, filesystems and file
//!   descriptors from procfs/sysfs, and their warning/critical verdict;
//! - [`leds`]: the front panel's LEDs (what each shows, the LED-class writes).

pub mod disk;
pub mod leds;
pub mod mdstat;
pub mod process;
pub mod system;
pub mod volume;
