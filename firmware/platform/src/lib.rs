//! The hardware- and OS-facing pieces of the box, free of roles and wire
//! types, for the NVR role's storage health and the supervisor to come
//! (watchdog, SMART, RAID, LEDs):
//! - [`volume`]: the write probe of a recording volume;
//! - [`mountinfo`]: which mount holds a path and whether it is read-only;
//! - [`mdstat`]: the parser of Linux `/proc/mdstat` (md RAID state);
//! - [`md_sysfs`]: a snapshot of the md arrays from sysfs and the verdict on each;
//! - [`md_events`]: the events of `mdadm --monitor` as a diff of two snapshots;
//! - [`disk`]: disk serials from sysfs and the disk generation;
//! - [`ioctl`]: the watchdog, SG_IO and NVMe admin ioctls behind safe wrappers (the one
//!   module allowed `unsafe`);
//! - [`smart`]: SMART of SATA and NVMe disks: commands, parsers and verdicts;
//! - [`bays`]: disk bays, new disks (serials never seen in a bay), spare-same-slot;
//! - [`bootstate`], [`bootstate_io`]: the A/B boot-counting state shared with U-Boot's boot
//!   script (two checksummed copies on the FAT boot partition);
//! - [`process`]: supervision of a child process (restart with capped
//!   backoff, SIGTERM then SIGKILL at shutdown);
//! - [`system`]: CPU temperature, memory, load, filesystems and file
//!   descriptors from procfs/sysfs, and their warning/critical verdict;
//! - [`leds`]: the front panel's LEDs (what each shows, the LED-class writes).

pub mod bays;
pub mod bootstate;
pub mod bootstate_io;
pub mod disk;
pub mod ioctl;
pub mod leds;
pub mod md_events;
pub mod md_sysfs;
pub mod mdstat;
pub mod mountinfo;
pub mod process;
pub mod smart;
pub mod system;
pub mod volume;
