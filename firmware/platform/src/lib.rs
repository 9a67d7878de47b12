//! The hardware- and OS-facing pieces of the box, free of roles and wire
//! types, for the NVR role's storage health and the supervisor to come
//! (watchdog, SMART, RAID, LEDs):
//! - [`volume`]: the write probe of a recording volume;
//! - [`mdstat`]: the parser of Linux `/proc/mdstat` (md RAID state);
//! - [`disk`]: disk serials from sysfs and the disk generation;
//! - [`ioctl`]: the watchdog, SG_IO and NVMe admin ioctls behind safe wrappers (the one
//!   module allowed `unsafe`);
//! - [`smart`]: SMART of SATA and NVMe disks: commands, parsers and verdicts;
//! - [`process`]: supervision of a child process (restart with capped
//!   backoff, SIGTERM then SIGKILL at shutdown).

pub mod disk;
pub mod ioctl;
pub mod mdstat;
pub mod process;
pub mod smart;
pub mod volume;
