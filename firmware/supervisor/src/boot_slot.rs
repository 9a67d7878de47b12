//! Marking the booted root slot good at "ready" (docs/design/boot-counting.md): the `[boot]`
//! table of supervisor.toml, the booted slot from the kernel command line (`rauc.slot=A|B`),
//! the mark itself ([`mark_good`], through `hotspare_platform::bootstate_io`; also what
//! `hotspare boot-state mark-good` runs) and the lines the supervisor logs about it, which
//! the hw-tests wait for. Pure parsing and wording apart from the I/O.

use std::path::{Path, PathBuf};

use hotspare_api::health::{Notice, Severity};
use hotspare_platform::bootstate::{BootState, Slot};
use hotspare_platform::bootstate_io::{load, store, IoError};
use serde::Deserialize;

/// `[boot]`: where the boot-counting state is (absent: no boot counting).
#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BootConfig {
    /// The mounted FAT boot partition holding `bootstate.0` and `bootstate.1`.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// The kernel command line (tests give a file of their own).
    #[serde(default = "default_cmdline")]
    pub cmdline: PathBuf,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/boot")
}

fn default_cmdline() -> PathBuf {
    PathBuf::from("/proc/cmdline")
}

/// The slot of `rauc.slot=` on a kernel command line: `Ok(None)` when there is none (booted
/// without U-Boot's script: no boot counting), `Err` when its value is not `A` or `B`.
pub fn slot_of_cmdline(cmdline: &str) -> Result<Option<Slot>, String> {
    match cmdline.split_whitespace().filter_map(|w| w.strip_prefix("rauc.slot=")).next_back() {
        None => Ok(None),
        Some(v) => Slot::parse(v).map(Some).ok_or_else(|| format!("rauc.slot={v} is neither A nor B")),
    }
}

/// Seconds since boot, the first number of `/proc/uptime`.
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok().filter(|s: &f64| s.is_finite())
}

/// Marks `slot` good in the boot-state directory `dir`: its tries back to 3 (the slot
/// appended to `BOOT_ORDER` if absent), written over the older copy and fsynced. Returns
/// the copy written and the state as written. Blocking.
pub fn mark_good(dir: &Path, slot: Slot) -> Result<(PathBuf, BootState), IoError> {
    let loaded = load(dir)?;
    store(&loaded, &loaded.choice.state.mark_good(slot))
}

/// The booted slot, read once at start; every case without a slot is logged once here.
/// `rescue`: the box runs in rescue mode (it is never marked good then).
pub fn booted(cfg: Option<&BootConfig>, rescue: bool) -> Option<Slot> {
    let cfg = cfg?;
    let found = std::fs::read_to_string(&cfg.cmdline)
        .map_err(|e| format!("{}: {e}", cfg.cmdline.display()))
        .and_then(|t| slot_of_cmdline(&t).map_err(|e| format!("{}: {e}", cfg.cmdline.display())));
    match found {
        Ok(Some(slot)) => {
            if rescue {
                log::warn!("booted slot {slot}: rescue mode, so it will not be marked good (U-Boot falls back)");
            } else {
                log::info!(
                    "booted slot {slot}: to be marked good in {} once the box is ready",
                    cfg.state_dir.display()
                );
            }
            Some(slot)
        }
        Ok(None) => {
            log::info!("no rauc.slot= in {}: no boot counting, no slot to mark good", cfg.cmdline.display());
            None
        }
        Err(e) => {
            log::error!("{e}: no boot counting, no slot to mark good");
            None
        }
    }
}

/// What marking at ready gave: `Ok(seconds since boot)` (`None`: uptime unreadable) or the error.
pub type Marked = Result<Option<f64>, String>;

/// Marks `slot` good in `dir` and reads the uptime after it (blocking; the runner calls it
/// in `spawn_blocking`).
pub fn mark_at_ready(dir: &Path, slot: Slot) -> Marked {
    mark_good(dir, slot).map_err(|e| e.to_string())?;
    Ok(std::fs::read_to_string("/proc/uptime").ok().as_deref().and_then(parse_uptime))
}

/// The line logged at ready: `supervisor: ready` without boot counting, else
/// `supervisor: ready: slot A marked good (12.3 s since boot)` or
/// `supervisor: ready: slot A NOT marked good: <error>`.
pub fn ready_line(slot: Option<(Slot, &Marked)>) -> String {
    match slot {
        None => "supervisor: ready".into(),
        Some((s, Ok(Some(up)))) => format!("supervisor: ready: slot {s} marked good ({up:.1} s since boot)"),
        Some((s, Ok(None))) => format!("supervisor: ready: slot {s} marked good (uptime unknown)"),
        Some((s, Err(e))) => format!("supervisor: ready: slot {s} NOT marked good: {e}"),
    }
}

/// The warning kept in `health.json` (and mailed with the rest) when the mark failed.
pub fn failure_notice(slot: Slot, error: &str, at_us: i64) -> Notice {
    Notice {
        at_us,
        severity: Severity::Warning,
        source: "supervisor".into(),
        kind: "SlotNotMarkedGood".into(),
        text: format!("slot {slot} reached ready but could not be marked good (U-Boot may fall back): {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_comes_from_the_last_rauc_slot_word() {
        let line = "console=ttyAMA0 root=PARTLABEL=root-a ro rauc.slot=A panic=-1\n";
        assert_eq!(slot_of_cmdline(line), Ok(Some(Slot::A)));
        assert_eq!(slot_of_cmdline("rauc.slot=A rauc.slot=B"), Ok(Some(Slot::B)));
        assert_eq!(slot_of_cmdline("console=ttyAMA0 root=/dev/vda2"), Ok(None));
        assert_eq!(slot_of_cmdline("xrauc.slot=A"), Ok(None));
        let e = slot_of_cmdline("rauc.slot=C").unwrap_err();
        assert!(e.contains("rauc.slot=C"), "{e}");
    }

    #[test]
    fn uptime_and_the_logged_lines() {
        assert_eq!(parse_uptime("12.34 40.10\n"), Some(12.34));
        assert_eq!(parse_uptime(""), None);
        assert_eq!(parse_uptime("nan 1"), None);
        assert_eq!(ready_line(None), "supervisor: ready");
        assert_eq!(
            ready_line(Some((Slot::A, &Ok(Some(17.06))))),
            "supervisor: ready: slot A marked good (17.1 s since boot)"
        );
        let e = Err("/boot: No such file or directory (os error 2)".to_string());
        assert_eq!(
            ready_line(Some((Slot::B, &e))),
            "supervisor: ready: slot B NOT marked good: /boot: No such file or directory (os error 2)"
        );
        assert_eq!(failure_notice(Slot::B, "x", 1).severity, Severity::Warning);
    }

    #[test]
    fn mark_good_resets_the_tries_and_names_a_missing_directory() {
        let d = tempfile::tempdir().unwrap();
        let l = load(d.path()).unwrap();
        store(&l, &l.choice.state.boot_attempt().1).unwrap();
        assert_eq!(load(d.path()).unwrap().choice.state.a_left, 2);
        let (path, s) = mark_good(d.path(), Slot::A).unwrap();
        assert_eq!((path.file_name().unwrap().to_str(), s.a_left, s.seq), (Some("bootstate.1"), 3, 2));
        let e = mark_good(&d.path().join("absent"), Slot::A).unwrap_err().to_string();
        assert!(e.contains("absent"), "{e}");
    }
}
