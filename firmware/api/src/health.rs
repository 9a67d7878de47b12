//! `GET /api/v1/health`: the box's own health as the supervisor sees it — its verdict,
//! RAID arrays, disk bays, SMART, recording volumes, system resources and the recent
//! notices. The supervisor writes it as `health.json` in its state directory; the HTTP
//! servers of the roles serve it (authenticated) and the console shows it. Plain types.

use serde::{Deserialize, Serialize};

/// How bad a notice or a reading is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// One thing that happened (a RAID event, a SMART verdict, a threshold crossed, a service
/// restarted), newest last in [`HealthReport::notices`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub at_us: i64,
    pub severity: Severity,
    /// Who raised it: `raid`, `smart`, `hotplug`, `volume`, `system`, `supervisor`.
    pub source: String,
    /// Machine-readable kind, e.g. `DegradedArray`, `RebuildFinished`, `SmartFailing`.
    pub kind: String,
    /// For people: names the device and what happened.
    pub text: String,
}

/// The supervisor's verdict (mirror of the IPC `Status`, as strings for the API).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisorHealth {
    /// `BootGrace`, `Normal` or `Rescue`.
    pub mode: String,
    pub healthy: bool,
    pub takeovers_allowed: bool,
    /// `FirstBoot`, `Deliberate`, `Watchdog`, `SupervisorReset` or `Unclean`.
    pub last_reset: String,
    /// Why the box is not healthy or not taking over; empty when all is well.
    pub reason: String,
    #[serde(flatten)]
    pub readiness: Readiness,
}

/// Whether the box has been ready during this boot and what became of its slot: the same
/// fields in the supervisor's `status.json` and in `health.json` (flattened into both).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// The box has been ready during this boot (healthy, every service up, not in rescue)
    /// and, with boot counting, the booted slot's mark was tried (see `slot_marked_good`).
    #[serde(default)]
    pub ready: bool,
    /// The booted root slot (`A`/`B`, from `rauc.slot=` on the kernel command line); `None`:
    /// no boot counting (no `[boot]` table, or no `rauc.slot=`).
    #[serde(default)]
    pub slot: Option<String>,
    /// The supervisor marked the booted slot good during this boot (its tries back to 3).
    #[serde(default)]
    pub slot_marked_good: bool,
}

/// One md array.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArrayHealth {
    /// e.g. `md0`.
    pub device: String,
    pub severity: Option<Severity>,
    /// e.g. `raid1`.
    #[serde(default)]
    pub level: String,
    /// The verdict: `ok`, `degraded` or `failed`.
    #[serde(default)]
    pub state: String,
    /// The kernel's `array_state` (`clean`, `active`, `inactive`, `read-auto`, ...).
    #[serde(default)]
    pub array_state: String,
    #[serde(default)]
    pub members: Vec<MemberHealth>,
    /// Members missing from the wanted count (sysfs `degraded`).
    #[serde(default)]
    pub degraded: u32,
    /// `idle`, `resync`, `recover`, `check`, `repair`, `reshape`, `frozen`.
    #[serde(default)]
    pub sync_action: String,
    /// Progress of the running sync action in percent.
    #[serde(default)]
    pub sync_percent: Option<f32>,
}

/// One member device of an md array.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberHealth {
    /// e.g. `sdb` or `sdb1`.
    pub device: String,
    /// Its role in the array; `None` for a spare.
    pub slot: Option<u32>,
    /// The kernel's flags, e.g. `in_sync`, `faulty`, `spare`, `write_error`.
    pub state: String,
}

/// One disk bay of the board and the disk in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BayHealth {
    /// The board profile's bay name, e.g. `bay1`.
    pub bay: String,
    pub severity: Option<Severity>,
    /// The block device in the bay (`sda`); empty when the bay is empty.
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub serial: String,
    #[serde(default)]
    pub present: bool,
    /// The disk's serial was never seen in this bay before (a replaced disk).
    #[serde(default)]
    pub new: bool,
}

/// The SMART verdict of one disk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmartHealth {
    /// e.g. `sda`, `nvme0`.
    pub device: String,
    /// The worst finding (`None`: none).
    pub severity: Option<Severity>,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub serial: String,
    /// `ata` (SATA) or `nvme`; empty if the disk was never read.
    #[serde(default)]
    pub kind: String,
    /// SMART overall health (ATA RETURN STATUS; NVMe: no critical warning); `None`: unread.
    #[serde(default)]
    pub passed: Option<bool>,
    #[serde(default)]
    pub temperature_c: Option<i32>,
    #[serde(default)]
    pub power_on_hours: Option<u64>,
    /// What smartd would say, one line each (e.g. `sda: 197 Current_Pending_Sector
    /// increased from 0 to 8`).
    #[serde(default)]
    pub findings: Vec<String>,
}

/// A recording volume: can it be written?
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeHealth {
    pub path: String,
    pub severity: Option<Severity>,
    /// The write probe succeeded.
    #[serde(default)]
    pub writable: bool,
    /// The filesystem holding it is mounted read-only (`ro` in mountinfo).
    #[serde(default)]
    pub read_only: bool,
    /// Why it cannot record; empty when it can.
    #[serde(default)]
    pub detail: String,
}

/// CPU temperature, memory, load, filesystems, file descriptors: the last readings (`None`
/// where the source could not be read) and the thresholds they cross.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemHealth {
    /// The worst of [`SystemHealth::crossed`] (`None`: every reading below its warning).
    pub severity: Option<Severity>,
    /// The hottest thermal zone, °C.
    pub temperature_c: Option<f64>,
    /// Memory not available to new work (MemTotal − MemAvailable), % of MemTotal.
    pub memory_used_pct: Option<f64>,
    /// The 5-minute load average divided by the CPUs online.
    pub load_per_core: Option<f64>,
    /// Open file handles, % of `file-max`.
    pub file_handles_used_pct: Option<f64>,
    /// The watched filesystems (recordings volume, state directory).
    #[serde(default)]
    pub filesystems: Vec<FilesystemHealth>,
    /// The supervisor's child processes (the services) against their open-files limits.
    #[serde(default)]
    pub processes: Vec<ProcessFilesHealth>,
    /// The readings at or above a threshold.
    #[serde(default)]
    pub crossed: Vec<ThresholdCrossed>,
    /// Sources that could not be read (file and error).
    #[serde(default)]
    pub errors: Vec<String>,
}

/// Usage of one watched filesystem.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilesystemHealth {
    pub path: String,
    /// As `df` counts it: used / (used + available), %.
    pub used_pct: f64,
}

/// Open files of one service process.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessFilesHealth {
    pub pid: u32,
    /// Program and role, e.g. `hotspare failover`.
    pub name: String,
    pub open: u64,
    /// Its soft open-files limit (RLIMIT_NOFILE).
    pub limit: u64,
}

/// A reading at or above its warning or critical threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdCrossed {
    /// `temperature <sensor>`, `memory`, `load`, `file-handles` or `filesystem <path>`.
    pub reading: String,
    pub value: f64,
    /// The threshold crossed.
    pub limit: f64,
    pub severity: Severity,
}

/// `health.json` / `GET /api/v1/health`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// When the supervisor last wrote it (µs since the Unix epoch).
    pub updated_us: i64,
    pub firmware_version: String,
    pub supervisor: Option<SupervisorHealth>,
    pub arrays: Vec<ArrayHealth>,
    pub bays: Vec<BayHealth>,
    pub smart: Vec<SmartHealth>,
    pub volumes: Vec<VolumeHealth>,
    pub system: Option<SystemHealth>,
    /// The most recent notices, oldest first (at most [`MAX_NOTICES`]).
    pub notices: Vec<Notice>,
}

/// Notices kept in [`HealthReport::notices`].
pub const MAX_NOTICES: usize = 100;

impl HealthReport {
    /// The worst severity of everything in the report (`None`: nothing to say).
    pub fn worst(&self) -> Option<Severity> {
        let parts = self.arrays.iter().map(|a| a.severity);
        let parts = parts.chain(self.bays.iter().map(|b| b.severity));
        let parts = parts.chain(self.smart.iter().map(|s| s.severity));
        let parts = parts.chain(self.volumes.iter().map(|v| v.severity));
        let parts = parts.chain(self.system.iter().map(|s| s.severity));
        parts.flatten().max()
    }

    /// Appends a notice, dropping the oldest beyond [`MAX_NOTICES`].
    pub fn push_notice(&mut self, n: Notice) {
        self.notices.push(n);
        if self.notices.len() > MAX_NOTICES {
            let extra = self.notices.len() - MAX_NOTICES;
            self.notices.drain(..extra);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_and_bounded_notices() {
        let mut r = HealthReport::default();
        assert_eq!(r.worst(), None);
        r.arrays.push(ArrayHealth { device: "md0".into(), severity: Some(Severity::Warning), ..Default::default() });
        r.smart.push(SmartHealth {
            device: "sda".into(),
            severity: Some(Severity::Critical),
            ..SmartHealth::default()
        });
        assert_eq!(r.worst(), Some(Severity::Critical));
        for i in 0..(MAX_NOTICES as i64 + 5) {
            let n =
                Notice { at_us: i, severity: Severity::Info, source: "t".into(), kind: "k".into(), text: "x".into() };
            r.push_notice(n);
        }
        assert_eq!(r.notices.len(), MAX_NOTICES);
        assert_eq!(r.notices[0].at_us, 5, "the oldest are dropped");
    }
}
