//! The events of `mdadm --monitor` as a pure diff of two [`Snapshot`]s: what changed in the
//! md arrays between two looks, named as mdadm names it (Fail, FailSpare, DegradedArray,
//! DeviceDisappeared, RebuildStarted, Rebuild20/40/60/80, RebuildFinished, SparesMissing,
//! SpareActive, NewArray) with mdadm's severities.

use crate::md_sysfs::{Array, Snapshot};

/// How bad an event is (mdadm: Fail, FailSpare, DegradedArray and DeviceDisappeared are
/// critical, SparesMissing a warning, the rest information).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MdSeverity {
    Info,
    Warning,
    Critical,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MdKind {
    /// A working member became faulty (or vanished without being marked faulty).
    Fail { member: String },
    /// A member being rebuilt (a spare) became faulty.
    FailSpare { member: String },
    /// The array has fewer working members than before (or than wanted when first seen).
    DegradedArray,
    /// The array is gone.
    DeviceDisappeared,
    /// A sync action (`recover`, `resync`, `check`, ...) started.
    RebuildStarted { action: String },
    /// The running sync action passed `percent` (20, 40, 60 or 80).
    Rebuild { percent: u32 },
    /// The sync action ended.
    RebuildFinished { action: String },
    /// Fewer spares than the configuration wants.
    SparesMissing { have: u32, want: u32 },
    /// A rebuilt member is now in sync.
    SpareActive { member: String },
    /// An array appeared.
    NewArray,
}

/// One event of one array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdEvent {
    pub array: String,
    pub kind: MdKind,
}

impl MdEvent {
    /// mdadm's name: `Fail`, `Rebuild40`, ...
    pub fn name(&self) -> String {
        match &self.kind {
            MdKind::Fail { .. } => "Fail".into(),
            MdKind::FailSpare { .. } => "FailSpare".into(),
            MdKind::DegradedArray => "DegradedArray".into(),
            MdKind::DeviceDisappeared => "DeviceDisappeared".into(),
            MdKind::RebuildStarted { .. } => "RebuildStarted".into(),
            MdKind::Rebuild { percent } => format!("Rebuild{percent}"),
            MdKind::RebuildFinished { .. } => "RebuildFinished".into(),
            MdKind::SparesMissing { .. } => "SparesMissing".into(),
            MdKind::SpareActive { .. } => "SpareActive".into(),
            MdKind::NewArray => "NewArray".into(),
        }
    }

    pub fn severity(&self) -> MdSeverity {
        match self.kind {
            MdKind::Fail { .. } | MdKind::FailSpare { .. } | MdKind::DegradedArray | MdKind::DeviceDisappeared => {
                MdSeverity::Critical
            }
            MdKind::SparesMissing { .. } => MdSeverity::Warning,
            _ => MdSeverity::Info,
        }
    }

    /// For people.
    pub fn text(&self) -> String {
        let a = &self.array;
        match &self.kind {
            MdKind::Fail { member } => format!("{a}: member {member} failed"),
            MdKind::FailSpare { member } => format!("{a}: member {member} failed while being rebuilt"),
            MdKind::DegradedArray => format!("{a}: array degraded (no redundancy left or less than configured)"),
            MdKind::DeviceDisappeared => format!("{a}: array disappeared"),
            MdKind::RebuildStarted { action } => format!("{a}: {action} started"),
            MdKind::Rebuild { percent } => format!("{a}: rebuild at {percent}%"),
            MdKind::RebuildFinished { action } => format!("{a}: {action} finished"),
            MdKind::SparesMissing { have, want } => format!("{a}: {have} spare(s), {want} wanted"),
            MdKind::SpareActive { member } => format!("{a}: {member} rebuilt and active"),
            MdKind::NewArray => format!("{a}: new array"),
        }
    }
}

/// Progress step of the RebuildNN events (mdadm's default `--increment`).
const STEP: u32 = 20;

fn step_of(a: &Array) -> u32 {
    a.sync_percent().map_or(0, |p| (p as u32 / STEP).min(4))
}

/// What changed from `prev` to `cur`. A `prev` never scanned reports only the state found
/// (DegradedArray, SparesMissing, a running rebuild), as mdadm does when it starts.
pub fn events(prev: &Snapshot, cur: &Snapshot) -> Vec<MdEvent> {
    let mut out = Vec::new();
    if prev.scanned {
        for name in prev.arrays.keys().filter(|n| !cur.arrays.contains_key(*n)) {
            out.push(MdEvent { array: name.clone(), kind: MdKind::DeviceDisappeared });
        }
    }
    for (name, c) in &cur.arrays {
        let mut push = |kind| out.push(MdEvent { array: name.clone(), kind });
        let Some(p) = prev.arrays.get(name) else {
            if prev.scanned {
                push(MdKind::NewArray);
            }
            if c.degraded > 0 {
                push(MdKind::DegradedArray);
            }
            if c.syncing() {
                push(MdKind::RebuildStarted { action: c.sync_action.clone() });
            }
            if let Some(want) = c.spares_wanted.filter(|&w| c.spares() < w) {
                push(MdKind::SparesMissing { have: c.spares(), want });
            }
            continue;
        };
        for pm in p.members.iter().filter(|m| !m.faulty()) {
            let failed = match c.members.iter().find(|m| m.name == pm.name) {
                Some(cm) => cm.faulty(),
                None => pm.in_sync(), // removed without being marked faulty
            };
            if failed {
                let member = pm.name.clone();
                push(if pm.in_sync() { MdKind::Fail { member } } else { MdKind::FailSpare { member } });
            }
        }
        if c.degraded > p.degraded {
            push(MdKind::DegradedArray);
        }
        match (p.syncing(), c.syncing()) {
            (false, true) => push(MdKind::RebuildStarted { action: c.sync_action.clone() }),
            (true, false) => push(MdKind::RebuildFinished { action: p.sync_action.clone() }),
            _ => {}
        }
        if c.syncing() {
            let from = if p.syncing() { step_of(p) } else { 0 };
            for s in (from + 1)..=step_of(c) {
                push(MdKind::Rebuild { percent: s * STEP });
            }
        }
        for cm in c.members.iter().filter(|m| m.in_sync() && !m.faulty()) {
            if p.members.iter().any(|pm| pm.name == cm.name && !pm.in_sync() && !pm.faulty()) {
                push(MdKind::SpareActive { member: cm.name.clone() });
            }
        }
        if let Some(want) = c.spares_wanted.filter(|&w| c.spares() < w && p.spares() > c.spares()) {
            push(MdKind::SparesMissing { have: c.spares(), want });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::md_sysfs::{read, Member};
    use std::path::Path;

    fn snap(state: &str) -> Snapshot {
        read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/md").join(state).join("sys/block"))
    }

    fn names(ev: &[MdEvent]) -> Vec<String> {
        ev.iter().map(MdEvent::name).collect()
    }

    #[test]
    fn first_look_reports_state_not_new_arrays() {
        assert!(events(&Snapshot::default(), &snap("clean")).is_empty());
        assert_eq!(names(&events(&Snapshot::default(), &snap("degraded"))), ["DegradedArray"]);
        let mut empty = Snapshot { scanned: true, ..Snapshot::default() };
        assert_eq!(names(&events(&empty, &snap("clean"))), ["NewArray"]);
        empty.arrays.clear();
        assert_eq!(names(&events(&snap("clean"), &empty)), ["DeviceDisappeared"]);
        assert_eq!(events(&snap("clean"), &empty)[0].severity(), MdSeverity::Critical);
    }

    #[test]
    fn fail_then_rebuild_then_active() {
        let (clean, degraded, recovering) = (snap("clean"), snap("degraded"), snap("recovering"));
        let ev = events(&clean, &degraded);
        assert_eq!(names(&ev), ["Fail", "DegradedArray"]);
        assert_eq!(ev[0].kind, MdKind::Fail { member: "sdb".into() });
        assert!(ev.iter().all(|e| e.severity() == MdSeverity::Critical));
        // sdb removed, sdc added and recovering at 42 %.
        let ev = events(&degraded, &recovering);
        assert_eq!(names(&ev), ["RebuildStarted", "Rebuild20", "Rebuild40"]);
        assert!(ev.iter().all(|e| e.severity() == MdSeverity::Info));
        // 42 % → 85 %: 60 and 80.
        let mut later = recovering.clone();
        let md0 = later.arrays.get_mut("md0").unwrap();
        md0.sync_completed = Some((1_780_000, 2_093_056));
        assert_eq!(names(&events(&recovering, &later)), ["Rebuild60", "Rebuild80"]);
        assert!(events(&later, &later).is_empty(), "no change, no event");
        // Finished: sdc in sync, array clean.
        let mut done = clean.clone();
        let md0 = done.arrays.get_mut("md0").unwrap();
        md0.members[1] = Member { name: "sdc".into(), slot: Some(1), state: "in_sync".into() };
        let ev = events(&later, &done);
        assert_eq!(names(&ev), ["RebuildFinished", "SpareActive"]);
        assert_eq!(ev[1].text(), "md0: sdc rebuilt and active");
    }

    #[test]
    fn fail_spare_and_array_failure() {
        let recovering = snap("recovering");
        let mut bad = recovering.clone();
        let md0 = bad.arrays.get_mut("md0").unwrap();
        md0.members[1].state = "faulty".into();
        md0.sync_action = "idle".into();
        let ev = events(&recovering, &bad);
        assert_eq!(names(&ev), ["FailSpare", "RebuildFinished"]);
        assert_eq!(ev[0].severity(), MdSeverity::Critical);
        let failed = snap("failed");
        let mut before = failed.clone();
        let md0 = before.arrays.get_mut("md0").unwrap();
        md0.degraded = 1;
        md0.members[2].state = "in_sync".into();
        assert_eq!(names(&events(&before, &failed)), ["Fail", "DegradedArray"]);
    }

    #[test]
    fn spares_missing() {
        let mut a = snap("clean");
        a.arrays.get_mut("md0").unwrap().spares_wanted = Some(1);
        let ev = events(&Snapshot::default(), &a);
        assert_eq!(names(&ev), ["SparesMissing"]);
        assert_eq!(
            (ev[0].severity(), ev[0].kind.clone()),
            (MdSeverity::Warning, MdKind::SparesMissing { have: 0, want: 1 })
        );
        let mut with_spare = a.clone();
        with_spare.arrays.get_mut("md0").unwrap().members.push(Member {
            name: "sdd".into(),
            slot: None,
            state: "spare".into(),
        });
        assert!(events(&Snapshot::default(), &with_spare).is_empty());
        assert_eq!(names(&events(&with_spare, &a)), ["SparesMissing"]);
        assert!(events(&a, &a).is_empty(), "said once, not every minute");
    }
}
