//! The verdict on [`Readings`]: which warning and critical thresholds they cross
//! ([`verdict`]), and which of those changed level since the last look ([`Tracker`]: a
//! notice per change, not per reading).

use std::collections::BTreeMap;

use super::Readings;

/// How a reading stands against its thresholds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    #[default]
    Normal,
    Warning,
    Critical,
}

/// Warning and critical thresholds of one reading (crossed at or above).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub warning: f64,
    pub critical: f64,
}

impl Limit {
    pub const fn new(warning: f64, critical: f64) -> Limit {
        Limit { warning, critical }
    }

    pub fn level(&self, value: f64) -> Level {
        if value >= self.critical {
            Level::Critical
        } else if value >= self.warning {
            Level::Warning
        } else {
            Level::Normal
        }
    }
}

/// The thresholds of every reading. Defaults as troglobit's watchdogd: load 0.9/0.95 per
/// core, memory, file descriptors and filesystems 90/95 %, temperature 80/90 °C.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// The 5-minute load average divided by the CPUs online (a one-minute spike is no alarm).
    pub load_per_core: Limit,
    pub memory_pct: Limit,
    pub file_handles_pct: Limit,
    pub filesystem_pct: Limit,
    pub temperature_c: Limit,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            load_per_core: Limit::new(0.9, 0.95),
            memory_pct: Limit::new(90.0, 95.0),
            file_handles_pct: Limit::new(90.0, 95.0),
            filesystem_pct: Limit::new(90.0, 95.0),
            temperature_c: Limit::new(80.0, 90.0),
        }
    }
}

/// One reading judged: `key` names it (`load`, `memory`, `file-handles`,
/// `temperature <sensor>`, `filesystem <path>`, `open files of <name> (<pid>)`).
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub key: String,
    pub value: f64,
    pub level: Level,
    /// The threshold crossed (`None` at [`Level::Normal`]).
    pub limit: Option<f64>,
}

/// Every reading against its thresholds, in a stable order.
pub fn verdict(r: &Readings, t: &Thresholds) -> Vec<Judged> {
    let mut out = Vec::new();
    let mut judge = |key: String, value: f64, limit: &Limit| {
        let level = limit.level(value);
        let crossed = match level {
            Level::Normal => None,
            Level::Warning => Some(limit.warning),
            Level::Critical => Some(limit.critical),
        };
        out.push(Judged { key, value, level, limit: crossed });
    };
    for s in &r.temperatures {
        judge(format!("temperature {}", s.sensor), s.celsius, &t.temperature_c);
    }
    if let Some(m) = r.memory {
        judge("memory".into(), m.used_pct(), &t.memory_pct);
    }
    if let Some(([_, five, _], cpus)) = r.load {
        judge("load".into(), five / f64::from(cpus.max(1)), &t.load_per_core);
    }
    for f in &r.filesystems {
        judge(format!("filesystem {}", f.path.display()), f.used_pct, &t.filesystem_pct);
    }
    if let Some(h) = r.file_handles {
        judge("file-handles".into(), h.used_pct(), &t.file_handles_pct);
    }
    for p in &r.processes {
        judge(format!("open files of {} ({})", p.name, p.pid), p.used_pct(), &t.file_handles_pct);
    }
    out
}

/// The worst level of a verdict.
pub fn worst(v: &[Judged]) -> Level {
    v.iter().map(|j| j.level).max().unwrap_or_default()
}

/// A reading that changed level.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub key: String,
    pub from: Level,
    pub to: Level,
    pub value: f64,
    /// For people, e.g. `memory 96.2 % crossed critical (95)` / `memory back to normal (40.1)`.
    pub text: String,
}

/// The last level of each reading; a reading that disappears keeps its level (an unreadable
/// file is reported apart, not taken as "back to normal").
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    levels: BTreeMap<String, Level>,
}

impl Tracker {
    /// The changes since the last call; a first reading at [`Level::Normal`] is no change.
    pub fn update(&mut self, v: &[Judged]) -> Vec<Change> {
        let mut out = Vec::new();
        for j in v {
            let from = self.levels.insert(j.key.clone(), j.level).unwrap_or_default();
            if from == j.level {
                continue;
            }
            let text = match (j.level, j.limit) {
                (Level::Normal, _) | (_, None) => format!("{} back to normal ({:.1})", j.key, j.value),
                (l, Some(limit)) => {
                    format!("{} {:.1} crossed {} ({limit})", j.key, j.value, format!("{l:?}").to_lowercase())
                }
            };
            out.push(Change { key: j.key.clone(), from, to: j.level, value: j.value, text });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FileHandles, FsUsage, Memory, ProcessFiles, Temperature};
    use super::*;

    fn readings(mem_avail: u64, load5: f64) -> Readings {
        Readings {
            temperatures: vec![Temperature { sensor: "cpu-thermal".into(), celsius: 85.0 }],
            memory: Some(Memory { total_kib: 1000, available_kib: mem_avail }),
            load: Some(([9.0, load5, 1.0], 4)),
            filesystems: vec![FsUsage { path: "/var/lib/hotspare".into(), used_pct: 50.0 }],
            file_handles: Some(FileHandles { used: 950, max: 1000 }),
            processes: vec![ProcessFiles { pid: 7, name: "hotspare nvr".into(), open: 10, limit: 1024 }],
            errors: vec![],
        }
    }

    #[test]
    fn the_verdict_against_the_defaults() {
        let v = verdict(&readings(80, 1.0), &Thresholds::default());
        let level = |k: &str| v.iter().find(|j| j.key == k).map(|j| (j.level, j.limit));
        assert_eq!(level("temperature cpu-thermal"), Some((Level::Warning, Some(80.0))));
        assert_eq!(level("memory"), Some((Level::Warning, Some(90.0))), "92 % used");
        assert_eq!(level("load"), Some((Level::Normal, None)), "the 5-minute average per core: 0.25");
        assert_eq!(level("filesystem /var/lib/hotspare"), Some((Level::Normal, None)));
        assert_eq!(level("open files of hotspare nvr (7)"), Some((Level::Normal, None)));
        assert_eq!(level("file-handles"), Some((Level::Critical, Some(95.0))), "95 % is critical (at or above)");
        assert_eq!(worst(&v), Level::Critical);
        assert_eq!(worst(&verdict(&Readings::default(), &Thresholds::default())), Level::Normal);
        assert_eq!(Limit::new(0.9, 0.95).level(0.949), Level::Warning);
    }

    #[test]
    fn notices_only_on_changes() {
        let t = Thresholds::default();
        let mut tr = Tracker::default();
        let first = tr.update(&verdict(&readings(500, 3.0), &t));
        let keys: Vec<_> = first.iter().map(|c| (c.key.as_str(), c.to)).collect();
        assert_eq!(keys, vec![("temperature cpu-thermal", Level::Warning), ("file-handles", Level::Critical)]);
        assert_eq!(first[1].text, "file-handles 95.0 crossed critical (95)");
        assert!(tr.update(&verdict(&readings(500, 3.0), &t)).is_empty(), "same levels: nothing to say");
        let mut r = readings(20, 3.9);
        r.file_handles = Some(FileHandles { used: 10, max: 1000 });
        let c = tr.update(&verdict(&r, &t));
        let keys: Vec<_> = c.iter().map(|c| (c.key.as_str(), c.from, c.to)).collect();
        assert_eq!(
            keys,
            vec![
                ("memory", Level::Normal, Level::Critical),
                ("load", Level::Normal, Level::Critical),
                ("file-handles", Level::Critical, Level::Normal)
            ]
        );
        assert_eq!(c[2].text, "file-handles back to normal (1.0)");
        r.file_handles = None;
        assert!(tr.update(&verdict(&r, &t)).is_empty(), "an unreadable source is not back to normal");
    }
}
