//! The front-panel LEDs, driven from the runner ([`Leds`]): on each published status (mode,
//! healthy, hardware level), each heartbeat's role state (the spare armed or covering) and
//! each bay, array and SMART report, it works out what the panel should show
//! ([`hotspare_platform::leds::Panel`]) and writes the changes to the Linux LED class
//! (`<class_root>/<name>/{brightness,trigger,delay_on,delay_off}`). Which LED does what is
//! the board profile's `leds.toml` (board/<board>/leds.toml). Also the `[leds]` table of
//! supervisor.toml. A missing LED or a failed write is logged, never fatal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hotspare_api::health::{ArrayHealth, BayHealth, Severity, SmartHealth};
use hotspare_base::config_error::{read, ConfigError, ConfigText};
use hotspare_ipc::{Level, Mode, RoleState, Status};
use hotspare_platform::leds::{Health, LedMap, Panel, PanelState};
use serde::Deserialize;

use crate::core::Input;
use crate::monitor::Report;

/// `[leds]` as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLeds {
    board: PathBuf,
    #[serde(default = "default_class_root")]
    class_root: PathBuf,
}

fn default_class_root() -> PathBuf {
    PathBuf::from("/sys/class/leds")
}

/// Where the LEDs are and which does what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedsConfig {
    /// The board profile's `leds.toml`.
    pub board: PathBuf,
    /// The LED class directory (tests: a temp tree).
    pub class_root: PathBuf,
}

impl From<RawLeds> for LedsConfig {
    fn from(r: RawLeds) -> Self {
        LedsConfig { board: r.board, class_root: r.class_root }
    }
}

/// A board profile's `leds.toml`: the LED class name of each function.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawBoard {
    power: Option<String>,
    status: Option<String>,
    fault: Option<String>,
    failover: Option<String>,
    #[serde(default)]
    bays: BTreeMap<String, String>,
}

/// Reads a board profile's `leds.toml`.
pub fn load_board(path: &Path) -> Result<LedMap, ConfigError> {
    let text = read(path)?;
    let r: RawBoard = ConfigText::new(path, &text).deserialize()?;
    Ok(LedMap { power: r.power, status: r.status, fault: r.fault, failover: r.failover, bays: r.bays })
}

/// The panel as the runner drives it; does nothing without `[leds]`.
#[derive(Debug, Default)]
pub struct Leds {
    inner: Option<Inner>,
}

#[derive(Debug)]
struct Inner {
    panel: Panel,
    root: PathBuf,
    max: BTreeMap<String, u32>,
    state: PanelState,
    /// The latest reports a bay's LED depends on.
    bays: Vec<BayHealth>,
    arrays: Vec<ArrayHealth>,
    smart: Vec<SmartHealth>,
}

impl Leds {
    /// Loads the board map; LEDs the class directory lacks are left out (logged once).
    pub fn new(cfg: Option<&LedsConfig>) -> Leds {
        let Some(cfg) = cfg else { return Leds::default() };
        let mut map = match load_board(&cfg.board) {
            Ok(m) => m,
            Err(e) => {
                log::error!("front-panel LEDs off: {e}");
                return Leds::default();
            }
        };
        let present = |name: &String| {
            let ok = cfg.class_root.join(name).is_dir();
            if !ok {
                log::warn!("LED {name}: not in {}", cfg.class_root.display());
            }
            ok
        };
        for led in [&mut map.power, &mut map.status, &mut map.fault, &mut map.failover] {
            if led.as_ref().is_some_and(|n| !present(n)) {
                *led = None;
            }
        }
        map.bays.retain(|_, n| present(n));
        let max = map
            .names()
            .map(|n| {
                let text = std::fs::read_to_string(cfg.class_root.join(n).join("max_brightness")).unwrap_or_default();
                (n.clone(), text.trim().parse().unwrap_or(1))
            })
            .collect();
        let mut leds = Leds {
            inner: Some(Inner {
                panel: Panel::new(map),
                root: cfg.class_root.clone(),
                max,
                state: PanelState::default(),
                bays: Vec::new(),
                arrays: Vec::new(),
                smart: Vec::new(),
            }),
        };
        leds.apply();
        leds
    }

    /// A published status: the status LED (and fault LED).
    pub fn status(&mut self, s: &Status) {
        let Some(i) = self.inner.as_mut() else { return };
        i.state.rescue = s.mode == Mode::Rescue;
        i.state.status = if !s.healthy || s.hardware == Level::Critical {
            Health::Fault
        } else if s.hardware == Level::Warning || s.mode == Mode::BootGrace {
            Health::Warning
        } else {
            Health::Ok
        };
        self.apply();
    }

    /// An input of the core: a heartbeat's role state drives the failover LED.
    pub fn input(&mut self, input: &Input) {
        let Some(i) = self.inner.as_mut() else { return };
        let Input::Heartbeat { role: Some(role), .. } = input else { return };
        let spare = match *role {
            RoleState::Spare { armed, covering } => Some((armed, covering)),
            RoleState::Nvr => None,
        };
        if i.state.spare != spare {
            i.state.spare = spare;
            self.apply();
        }
    }

    /// A monitor's report: the bay LEDs show the worst of the bay's own state (a member
    /// missing), its disk failed in an md array, and its disk's SMART verdict.
    pub fn report(&mut self, r: &Report) {
        let Some(i) = self.inner.as_mut() else { return };
        match r {
            Report::Bays(b) => i.bays = b.clone(),
            Report::Arrays(a) => i.arrays = a.clone(),
            Report::Smart(s) => i.smart = s.clone(),
            _ => return,
        }
        let levels = bay_levels(&i.bays, &i.arrays, &i.smart);
        if levels != i.state.bays {
            i.state.bays = levels;
            self.apply();
        }
    }

    fn apply(&mut self) {
        let Some(i) = self.inner.as_mut() else { return };
        let max = &i.max;
        let writes = i.panel.update(&i.state, |n| max.get(n).copied().unwrap_or(1));
        let mut failed: Option<String> = None;
        for (led, w) in writes {
            if failed.as_ref() == Some(&led) {
                continue;
            }
            let path = i.root.join(&led).join(w.file);
            if let Err(e) = std::fs::write(&path, &w.value) {
                log::warn!("LED {}: writing {:?}: {e}", path.display(), w.value);
                i.panel.failed(&led);
                failed = Some(led);
            }
        }
    }
}

fn bay_levels(bays: &[BayHealth], arrays: &[ArrayHealth], smart: &[SmartHealth]) -> BTreeMap<String, Health> {
    bays.iter()
        .filter_map(|b| {
            let disk = b.device.as_str();
            let faulty_member = !disk.is_empty()
                && arrays.iter().flat_map(|a| &a.members).any(|m| {
                    same_disk(disk, &m.device) && m.state.split(',').any(|f| f == "faulty" || f == "write_error")
                });
            let smart = smart.iter().filter(|s| !disk.is_empty() && same_disk(disk, &s.device)).map(|s| s.severity);
            let worst =
                [b.severity, faulty_member.then_some(Severity::Critical)].into_iter().chain(smart).flatten().max()?;
            let h = match worst {
                Severity::Info => return None,
                Severity::Warning => Health::Warning,
                Severity::Critical => Health::Fault,
            };
            Some((b.bay.clone(), h))
        })
        .collect()
}

/// Whether `name` (an md member `sdb1`, a SMART device `sdb` or NVMe controller `nvme0`)
/// is on the bay's disk `disk` (`sdb`, `nvme0n1`).
fn same_disk(disk: &str, name: &str) -> bool {
    // `sdb1` of `sdb`, `nvme0n1p2` of `nvme0n1` (a `p` when the disk's name ends in a digit).
    let partition = name.strip_prefix(disk).and_then(|rest| {
        if disk.ends_with(|c: char| c.is_ascii_digit()) {
            rest.strip_prefix('p')
        } else {
            Some(rest)
        }
    });
    let partition = partition.is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    // The controller `nvme0` of the namespace `nvme0n1`.
    let controller = name.starts_with("nvme")
        && disk.strip_prefix(name).is_some_and(|rest| rest.starts_with('n'))
        && name[4..].chars().all(|c| c.is_ascii_digit());
    !disk.is_empty() && (name == disk || partition || controller)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn led_tree(root: &Path, names: &[&str]) {
        for n in names {
            let d = root.join(n);
            std::fs::create_dir_all(&d).unwrap();
            for (f, v) in [("brightness", "0"), ("max_brightness", "255"), ("trigger", "[none] timer")] {
                std::fs::write(d.join(f), v).unwrap();
            }
        }
    }

    #[test]
    fn statuses_roles_and_bays_reach_the_files() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("leds");
        led_tree(&root, &["pwr", "st", "fo", "b1"]);
        let board = d.path().join("leds.toml");
        std::fs::write(
            &board,
            "power = \"pwr\"\nstatus = \"st\"\nfailover = \"fo\"\n[bays]\nbay1 = \"b1\"\nbay2 = \"b2\"\n",
        )
        .unwrap();
        let mut leds = Leds::new(Some(&LedsConfig { board, class_root: root.clone() }));
        let file = |led: &str, f: &str| std::fs::read_to_string(root.join(led).join(f)).unwrap();
        assert_eq!((file("pwr", "brightness"), file("st", "brightness")), ("255".into(), "255".into()));
        assert!(!root.join("b2").exists(), "an LED the board lacks is not created");
        let mut st = Status {
            mode: Mode::Normal,
            healthy: true,
            takeovers_allowed: true,
            last_reset: hotspare_ipc::ResetCause::FirstBoot,
            hardware: Level::Warning,
            reason: String::new(),
        };
        leds.status(&st);
        assert_eq!((file("st", "trigger"), file("st", "delay_on")), ("timer".into(), "500".into()));
        st.hardware = Level::Ok;
        leds.status(&st);
        assert_eq!((file("st", "trigger"), file("st", "brightness")), ("none".into(), "255".into()));
        let hb = |role| Input::Heartbeat { service: "failover".into(), pid: 1, progress: None, role: Some(role) };
        leds.input(&hb(RoleState::Spare { armed: true, covering: 0 }));
        assert_eq!(file("fo", "brightness"), "255");
        leds.input(&hb(RoleState::Spare { armed: true, covering: 1 }));
        assert_eq!(file("fo", "trigger"), "timer");
        let bay = BayHealth { bay: "bay1".into(), severity: Some(Severity::Critical), ..Default::default() };
        leds.report(&Report::Bays(vec![bay]));
        assert_eq!(file("b1", "brightness"), "255");
        leds.report(&Report::Bays(vec![]));
        assert_eq!(file("b1", "brightness"), "0");
        // A disk failed in its array, or failing SMART, lights its bay.
        let bay = BayHealth { bay: "bay1".into(), device: "sdb".into(), present: true, ..Default::default() };
        leds.report(&Report::Bays(vec![bay]));
        assert_eq!(file("b1", "brightness"), "0");
        let member = |state: &str| hotspare_api::health::MemberHealth {
            device: "sdb1".into(),
            slot: Some(1),
            state: state.into(),
        };
        let md0 = |state| ArrayHealth { device: "md0".into(), members: vec![member(state)], ..Default::default() };
        leds.report(&Report::Arrays(vec![md0("faulty")]));
        assert_eq!(file("b1", "brightness"), "255");
        leds.report(&Report::Arrays(vec![md0("in_sync")]));
        assert_eq!(file("b1", "brightness"), "0");
        let sdb = SmartHealth { device: "sdb".into(), severity: Some(Severity::Warning), ..Default::default() };
        leds.report(&Report::Smart(vec![sdb]));
        assert_eq!((file("b1", "trigger"), file("b1", "delay_on")), ("timer".into(), "500".into()));
    }

    #[test]
    fn members_and_smart_devices_on_a_bay_disk() {
        for (disk, name) in [("sdb", "sdb"), ("sdb", "sdb1"), ("nvme0n1", "nvme0n1p2"), ("nvme0n1", "nvme0")] {
            assert!(same_disk(disk, name), "{disk} {name}");
        }
        for (disk, name) in [("sdb", "sdc1"), ("sdb", "sdbb"), ("sda", "sdaa1"), ("nvme1n1", "nvme0"), ("", "sda")] {
            assert!(!same_disk(disk, name), "{disk} {name}");
        }
    }

    #[test]
    fn the_board_profiles_parse() {
        let boards = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../board");
        let virt = load_board(&boards.join("qemu-virt/leds.toml")).unwrap();
        assert_eq!((virt.fault, virt.bays.len()), (None, 2));
        let rk = load_board(&boards.join("rk3568-box/leds.toml")).unwrap();
        assert_eq!((rk.fault.as_deref(), rk.bays.len()), (Some("rk3568-box:red:fault"), 4));
    }

    #[test]
    fn a_bad_board_file_leaves_the_leds_alone() {
        let d = tempfile::tempdir().unwrap();
        let board = d.path().join("leds.toml");
        std::fs::write(&board, "powr = \"x\"\n").unwrap();
        let leds = Leds::new(Some(&LedsConfig { board, class_root: d.path().into() }));
        assert!(leds.inner.is_none());
    }
}
