//! Why the box last went down, and whether this boot runs in rescue mode.
//!
//! Two files in the state directory, each replaced atomically: the shutdown marker
//! (`shutdown-marker`: `running` while the supervisor runs, `deliberate` after a clean
//! shutdown, `reset <reason>` before the supervisor's own reset) and the boot history
//! (`boot-history`: one `<wall µs> <cause>` line per boot, the last [`HISTORY_LEN`]). With the
//! watchdog's boot status they give the [`ResetCause`]; `rescue_after` resets (any cause but
//! a deliberate shutdown or the first boot: watchdog, supervisor reset, unclean) within
//! `rescue_window` put this boot into rescue mode. A history entry stamped later than now
//! (the clock was set back, or is not set yet) counts as recent: the safe side.

use std::path::PathBuf;
use std::time::Duration;

use hotspare_base::fs::{write_atomic, FsError};
use hotspare_ipc::ResetCause;

use crate::core::BootVerdict;

/// Boots kept in the history.
pub const HISTORY_LEN: usize = 32;

/// What the supervisor left behind the last time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    Running,
    Deliberate,
    Reset(String),
}

impl Marker {
    /// The marker of the file's first line.
    pub fn parse(text: &str) -> Option<Marker> {
        let t = text.lines().next()?.trim();
        match t {
            "running" => Some(Marker::Running),
            "deliberate" => Some(Marker::Deliberate),
            _ => t.strip_prefix("reset ").map(|r| Marker::Reset(r.to_owned())),
        }
    }

    pub fn text(&self) -> String {
        match self {
            Marker::Running => "running\n".into(),
            Marker::Deliberate => "deliberate\n".into(),
            Marker::Reset(r) => format!("reset {}\n", r.replace('\n', " ")),
        }
    }
}

/// The cause of the last reset: `marker` is `None` when there is none (or it is unreadable),
/// `watchdog_fired` the watchdog's boot status (`None`: the device does not say).
pub fn classify(marker: Option<&Marker>, watchdog_fired: Option<bool>) -> ResetCause {
    match (marker, watchdog_fired) {
        (Some(Marker::Reset(_)), _) => ResetCause::SupervisorReset,
        (_, Some(true)) => ResetCause::Watchdog,
        (None, _) => ResetCause::FirstBoot,
        (Some(Marker::Deliberate), _) => ResetCause::Deliberate,
        (Some(Marker::Running), _) => ResetCause::Unclean,
    }
}

fn cause_name(c: ResetCause) -> &'static str {
    match c {
        ResetCause::FirstBoot => "first-boot",
        ResetCause::Deliberate => "deliberate",
        ResetCause::Watchdog => "watchdog",
        ResetCause::SupervisorReset => "supervisor-reset",
        ResetCause::Unclean => "unclean",
    }
}

fn cause_of(name: &str) -> Option<ResetCause> {
    [
        ResetCause::FirstBoot,
        ResetCause::Deliberate,
        ResetCause::Watchdog,
        ResetCause::SupervisorReset,
        ResetCause::Unclean,
    ]
    .into_iter()
    .find(|&c| cause_name(c) == name)
}

/// The boot history's lines that parse (a torn or foreign line is skipped).
pub fn parse_history(text: &str) -> Vec<(i64, ResetCause)> {
    text.lines()
        .filter_map(|l| {
            let (t, c) = l.trim().split_once(' ')?;
            Some((t.parse().ok()?, cause_of(c.trim())?))
        })
        .collect()
}

pub fn history_text(h: &[(i64, ResetCause)]) -> String {
    h.iter().map(|(t, c)| format!("{t} {}\n", cause_name(*c))).collect()
}

/// Whether `history` (this boot included) calls for rescue mode, and why.
pub fn rescue_reason(history: &[(i64, ResetCause)], now_us: i64, limit: u32, window: Duration) -> Option<String> {
    let window_us = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
    let resets = history
        .iter()
        .filter(|(t, c)| {
            !matches!(c, ResetCause::Deliberate | ResetCause::FirstBoot) && *t >= now_us.saturating_sub(window_us)
        })
        .count();
    (limit > 0 && resets >= limit as usize)
        .then(|| format!("{resets} resets within {} min (limit {limit})", window.as_secs() / 60))
}

/// The state files.
#[derive(Clone, Debug)]
pub struct BootFiles {
    pub dir: PathBuf,
}

impl BootFiles {
    pub fn marker_path(&self) -> PathBuf {
        self.dir.join("shutdown-marker")
    }

    pub fn history_path(&self) -> PathBuf {
        self.dir.join("boot-history")
    }

    /// At start: classifies the last reset, records this boot, marks the supervisor running,
    /// and says whether to run in rescue mode. The verdict stands even if the files cannot be
    /// written (a failing state disk must not keep the services from starting); the error is
    /// returned beside it.
    pub fn boot(
        &self,
        now_us: i64,
        watchdog_fired: Option<bool>,
        rescue_after: u32,
        rescue_window: Duration,
    ) -> (BootVerdict, Result<(), FsError>) {
        let marker = std::fs::read_to_string(self.marker_path()).ok().and_then(|t| Marker::parse(&t));
        let last_reset = classify(marker.as_ref(), watchdog_fired);
        let mut history = std::fs::read_to_string(self.history_path()).map(|t| parse_history(&t)).unwrap_or_default();
        history.push((now_us, last_reset));
        let drop = history.len().saturating_sub(HISTORY_LEN);
        history.drain(..drop);
        let written = write_atomic(&self.history_path(), history_text(&history).as_bytes(), 0o644)
            .and_then(|()| self.mark(&Marker::Running));
        let verdict = BootVerdict { last_reset, rescue: rescue_reason(&history, now_us, rescue_after, rescue_window) };
        (verdict, written)
    }

    pub fn mark(&self, m: &Marker) -> Result<(), FsError> {
        write_atomic(&self.marker_path(), m.text().as_bytes(), 0o644)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const MIN: i64 = 60_000_000;

    #[test]
    fn the_cause_comes_from_the_marker_and_the_boot_status() {
        use ResetCause::*;
        let reset = Marker::Reset("failover crash-looped".into());
        assert_eq!(classify(None, None), FirstBoot);
        assert_eq!(classify(Some(&Marker::Deliberate), Some(false)), Deliberate);
        assert_eq!(classify(Some(&Marker::Running), Some(true)), Watchdog);
        assert_eq!(classify(Some(&Marker::Running), Some(false)), Unclean);
        assert_eq!(classify(Some(&Marker::Running), None), Unclean);
        assert_eq!(classify(Some(&reset), Some(true)), SupervisorReset);
        assert_eq!(Marker::parse(&reset.text()), Some(reset));
        assert_eq!(Marker::parse("garbage"), None);
    }

    #[test]
    fn rescue_after_n_resets_within_the_window_deliberate_ones_do_not_count() {
        use ResetCause::*;
        let w = Duration::from_secs(30 * 60);
        let h = [(0, Watchdog), (10 * MIN, Deliberate), (20 * MIN, Unclean), (25 * MIN, SupervisorReset)];
        assert_eq!(rescue_reason(&h, 26 * MIN, 3, w).as_deref(), Some("3 resets within 30 min (limit 3)"));
        assert_eq!(rescue_reason(&h, 31 * MIN, 3, w), None, "the first left the window");
        assert_eq!(rescue_reason(&h[..3], 26 * MIN, 3, w), None);
        // A clock set back: entries "in the future" count.
        assert!(rescue_reason(&h, -MIN, 3, w).is_some());
        assert_eq!(rescue_reason(&h, 26 * MIN, 0, w), None, "0 turns rescue mode off");
    }

    #[test]
    fn boots_are_recorded_and_a_reset_loop_leads_to_rescue() {
        let d = tempfile::tempdir().unwrap();
        let f = BootFiles { dir: d.path().to_owned() };
        let w = Duration::from_secs(30 * 60);
        let v = f.boot(0, None, 3, w).0;
        assert_eq!((v.last_reset, v.rescue.is_some()), (ResetCause::FirstBoot, false));
        // The supervisor ran and the watchdog fired, twice; the third time is a rescue.
        assert_eq!(f.boot(MIN, Some(true), 3, w).0.last_reset, ResetCause::Watchdog);
        assert!(f.boot(2 * MIN, Some(true), 3, w).0.rescue.is_none());
        f.mark(&Marker::Reset("failover crash-looped".into())).unwrap();
        let v = f.boot(3 * MIN, Some(false), 3, w).0;
        assert_eq!(v.last_reset, ResetCause::SupervisorReset);
        assert!(v.rescue.is_some(), "{v:?}");
        // A deliberate shutdown is not a reset, and the history is bounded.
        f.mark(&Marker::Deliberate).unwrap();
        assert_eq!(f.boot(4 * MIN, Some(false), 3, w).0.last_reset, ResetCause::Deliberate);
        for i in 0..40 {
            f.boot(100 * MIN + i, None, 3, w).1.unwrap();
        }
        let h = parse_history(&std::fs::read_to_string(f.history_path()).unwrap());
        assert_eq!(h.len(), HISTORY_LEN);
        // An unwritable state directory still gives the verdict.
        let gone = BootFiles { dir: d.path().join("missing/dir") };
        let (v, written) = gone.boot(0, Some(true), 3, w);
        assert_eq!(v.last_reset, ResetCause::Watchdog);
        assert!(written.is_err());
        assert_eq!(std::fs::read_to_string(f.marker_path()).unwrap(), "running\n");
    }

    /// The properties the `supervisor_state` fuzz target checks, on its seeds and on inputs
    /// that broke them once (a marker of several lines).
    #[test]
    fn what_parses_writes_back_the_same() {
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/supervisor_state");
        let mut inputs: Vec<String> =
            std::fs::read_dir(seeds).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
        inputs.extend(["reset a\nb".into(), "running\nreset x".into(), "reset  x \r\n".into()]);
        for text in inputs {
            let h = parse_history(&text);
            assert_eq!(parse_history(&history_text(&h)), h, "{text:?}");
            if let Some(m) = Marker::parse(&text) {
                assert_eq!(Marker::parse(&m.text()), Some(m), "{text:?}");
            }
        }
        assert_eq!(Marker::parse("reset a\nb"), Some(Marker::Reset("a".into())));
        assert_eq!(
            parse_history(
                &std::fs::read_to_string(
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/supervisor_state/history")
                )
                .unwrap()
            )
            .len(),
            5
        );
    }

    #[test]
    fn torn_history_lines_are_skipped() {
        let h = parse_history("12 watchdog\nxx unclean\n13 nonsense\n14 deliberate\n15");
        assert_eq!(h, [(12, ResetCause::Watchdog), (14, ResetCause::Deliberate)]);
    }
}
