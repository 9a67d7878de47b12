//! `supervisor.toml`: the services to run and how to judge them, the watchdog, the restart
//! and rescue limits and the state directory (docs/ref/supervisor-toml.md). Errors name the
//! file, line and key ([`hotspare_base::config_error`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use hotspare_base::config_error::{read, ConfigError, ConfigText};
use serde::Deserialize;

use crate::core::{Limits, ServiceSpec};
use crate::leds::{LedsConfig, RawLeds};
use crate::system::{RawSystem, SystemConfig};

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Raw {
    state_dir: PathBuf,
    socket: Option<PathBuf>,
    reset_command: Vec<String>,
    #[serde(default = "default_boot_grace")]
    boot_grace_s: u64,
    #[serde(default = "default_stop_grace")]
    stop_grace_s: u64,
    watchdog: Option<RawWatchdog>,
    #[serde(default)]
    restart: RawRestart,
    #[serde(default)]
    rescue: RawRescue,
    #[serde(default)]
    service: Vec<RawService>,
    smart: Option<crate::smart::RawSmart>,
    email: Option<hotspare_api::EmailSettings>,
    raid: Option<crate::raid::RawRaid>,
    volumes: Option<crate::volumes::RawVolumes>,
    #[serde(default)]
    system: RawSystem,
    leds: Option<RawLeds>,
    boot: Option<crate::boot_slot::BootConfig>,
}

fn default_boot_grace() -> u64 {
    300
}
fn default_stop_grace() -> u64 {
    10
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawWatchdog {
    device: PathBuf,
    bootstatus: Option<PathBuf>,
    timeout_s: u64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
struct RawRestart {
    backoff_min_ms: u64,
    backoff_max_s: u64,
    stable_after_s: u64,
    start_limit_burst: u32,
    start_limit_interval_s: u64,
    crash_loops_before_reset: u32,
}

impl Default for RawRestart {
    fn default() -> Self {
        RawRestart {
            backoff_min_ms: 500,
            backoff_max_s: 60,
            stable_after_s: 300,
            start_limit_burst: 5,
            start_limit_interval_s: 60,
            crash_loops_before_reset: 3,
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
struct RawRescue {
    resets: u32,
    window_min: u64,
}

impl Default for RawRescue {
    fn default() -> Self {
        RawRescue { resets: 3, window_min: 30 }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    program: Option<PathBuf>,
    args: Vec<String>,
    critical: bool,
    heartbeat_deadline_ms: Option<u64>,
    #[serde(default = "default_start_deadline")]
    start_deadline_s: u64,
    progress_deadline_s: Option<u64>,
}

fn default_start_deadline() -> u64 {
    60
}

/// The hardware watchdog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchdogConfig {
    pub device: PathBuf,
    /// The driver's `bootstatus` in sysfs (`WDIOF_CARDRESET` = the watchdog reset the box).
    pub bootstatus: Option<PathBuf>,
    /// The device's timeout (set by the board: driver parameter); petted every quarter of it.
    pub timeout: Duration,
}

/// One service: its process and how the core judges it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    pub spec: ServiceSpec,
    /// `None`: the hotspare binary itself (services are its roles).
    pub program: Option<PathBuf>,
    pub args: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SupervisorConfig {
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub reset_command: Vec<String>,
    pub watchdog: Option<WatchdogConfig>,
    pub limits: Limits,
    pub rescue_resets: u32,
    pub rescue_window: Duration,
    pub services: Vec<ServiceConfig>,
    /// `[smart]`: the SMART monitor runs only with it.
    pub smart: Option<crate::smart::SmartConfig>,
    /// Where critical events are mailed (`[email]`); `None`: not mailed.
    pub email: Option<hotspare_api::EmailSettings>,
    /// `[raid]`: the md RAID monitor (absent: not started).
    pub raid: Option<crate::raid::RaidConfig>,
    /// `[volumes]`: the recording-volume monitor (absent: not started).
    pub volumes: Option<crate::volumes::VolumesConfig>,
    /// `[system]`: the system-health monitor (`None`: `enabled = false`).
    pub system: Option<SystemConfig>,
    /// `[leds]`: the front-panel LEDs (`None`: no table, no LEDs).
    pub leds: Option<LedsConfig>,
    /// `[boot]`: the A/B boot-counting state to mark good at ready (`None`: no boot counting).
    pub boot: Option<crate::boot_slot::BootConfig>,
}

/// Pet interval when no watchdog is configured (the core still decides; nothing is written).
const NO_WATCHDOG_PET: Duration = Duration::from_secs(5);

impl SupervisorConfig {
    pub fn load(path: &Path) -> Result<SupervisorConfig, ConfigError> {
        let text = read(path)?;
        SupervisorConfig::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<SupervisorConfig, ConfigError> {
        let ct = ConfigText::new(path, text);
        let raw: Raw = ct.deserialize()?;
        let bad = |key: &str, problem: &str| ct.error_for_key(key, problem.to_owned());
        if raw.reset_command.is_empty() {
            return Err(bad("reset_command", "needs the program to run (e.g. [\"/sbin/reboot\"])"));
        }
        let watchdog = match raw.watchdog {
            Some(w) if w.timeout_s < 2 => return Err(bad("watchdog.timeout_s", "must be at least 2")),
            Some(w) => Some(WatchdogConfig {
                device: w.device,
                bootstatus: w.bootstatus,
                timeout: Duration::from_secs(w.timeout_s),
            }),
            None => None,
        };
        let r = &raw.restart;
        if r.start_limit_burst == 0 {
            return Err(bad("restart.start_limit_burst", "must be at least 1"));
        }
        if r.start_limit_interval_s == 0 {
            return Err(bad("restart.start_limit_interval_s", "must be at least 1"));
        }
        if r.crash_loops_before_reset == 0 {
            return Err(bad("restart.crash_loops_before_reset", "must be at least 1"));
        }
        if raw.rescue.window_min == 0 {
            return Err(bad("rescue.window_min", "must be at least 1"));
        }
        let limits = Limits {
            backoff_min: Duration::from_millis(r.backoff_min_ms.max(1)),
            backoff_max: Duration::from_secs(r.backoff_max_s),
            stable_after: Duration::from_secs(r.stable_after_s),
            start_limit_burst: r.start_limit_burst,
            start_limit_interval: Duration::from_secs(r.start_limit_interval_s),
            crash_loops_before_reset: r.crash_loops_before_reset,
            stop_grace: Duration::from_secs(raw.stop_grace_s),
            boot_grace: Duration::from_secs(raw.boot_grace_s),
            pet_interval: watchdog.as_ref().map_or(NO_WATCHDOG_PET, |w| w.timeout / 4),
        };
        if let Some(e) = &raw.email {
            hotspare_email::check_settings(e).map_err(|(k, problem)| bad(&format!("email.{k}"), &problem))?;
        }
        let mut services: Vec<ServiceConfig> = Vec::new();
        for (i, s) in raw.service.into_iter().enumerate() {
            let key = |k: &str| format!("service[{i}].{k}");
            let name_ok = !s.name.is_empty()
                && s.name.len() <= hotspare_ipc::MAX_NAME
                && s.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !name_ok {
                return Err(bad(&key("name"), "must be 1-64 of [A-Za-z0-9._-]"));
            }
            if services.iter().any(|o| o.spec.name == s.name) {
                return Err(bad(&key("name"), &format!("a second service named {}", s.name)));
            }
            if s.heartbeat_deadline_ms == Some(0) {
                return Err(bad(&key("heartbeat_deadline_ms"), "must be at least 1"));
            }
            if s.progress_deadline_s == Some(0) {
                return Err(bad(&key("progress_deadline_s"), "must be at least 1"));
            }
            if s.progress_deadline_s.is_some() && s.heartbeat_deadline_ms.is_none() {
                return Err(bad(
                    &key("progress_deadline_s"),
                    "progress comes in heartbeats: set heartbeat_deadline_ms",
                ));
            }
            services.push(ServiceConfig {
                spec: ServiceSpec {
                    name: s.name,
                    critical: s.critical,
                    heartbeat_deadline: s.heartbeat_deadline_ms.map(Duration::from_millis),
                    start_deadline: Duration::from_secs(s.start_deadline_s),
                    progress_deadline: s.progress_deadline_s.map(Duration::from_secs),
                },
                program: s.program,
                args: s.args,
            });
        }
        let smart = match raw.smart.map(crate::smart::SmartConfig::from_raw).transpose() {
            Ok(s) => s,
            Err((key, problem)) => return Err(bad(key, problem)),
        };
        let raid = raw.raid.map(|r| r.into_config()).transpose().map_err(|(k, p)| bad(&k, &p))?;
        let volumes = raw.volumes.map(|v| v.into_config()).transpose().map_err(|(k, p)| bad(&k, &p))?;
        let system = raw.system.check(&raw.state_dir, &bad)?;
        Ok(SupervisorConfig {
            system,
            leds: raw.leds.map(Into::into),
            boot: raw.boot,
            raid,
            volumes,
            socket: raw.socket.unwrap_or_else(|| raw.state_dir.join("supervisor.sock")),
            state_dir: raw.state_dir,
            reset_command: raw.reset_command,
            watchdog,
            limits,
            rescue_resets: raw.rescue.resets,
            rescue_window: Duration::from_secs(raw.rescue.window_min * 60),
            services,
            smart,
            email: raw.email,
        })
    }
}

/// A monitor table's `interval_s`, or `interval_ms` when given (tests); `Err((key, problem))`
/// for zero.
pub(crate) fn interval(table: &str, interval_s: u64, interval_ms: Option<u64>) -> Result<Duration, (String, String)> {
    match interval_ms {
        Some(0) => Err((format!("{table}.interval_ms"), "must be at least 1".into())),
        Some(ms) => Ok(Duration::from_millis(ms)),
        None if interval_s == 0 => Err((format!("{table}.interval_s"), "must be at least 1".into())),
        None => Ok(Duration::from_secs(interval_s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
state_dir = "/var/lib/hotspare/supervisor"
reset_command = ["/sbin/reboot"]

[watchdog]
device = "/dev/watchdog"
timeout_s = 60

[[service]]
name = "recorder"
args = ["recorder"]
critical = true
heartbeat_deadline_ms = 10000
progress_deadline_s = 120

[[service]]
name = "api"
args = ["api"]
critical = false
"#;

    fn parse(t: &str) -> Result<SupervisorConfig, ConfigError> {
        SupervisorConfig::parse(t, Path::new("supervisor.toml"))
    }

    #[test]
    fn a_full_config_parses_with_defaults() {
        let c = parse(OK).unwrap();
        assert_eq!(c.socket, Path::new("/var/lib/hotspare/supervisor/supervisor.sock"));
        assert_eq!(c.limits.pet_interval, Duration::from_secs(15));
        assert_eq!(c.limits.boot_grace, Duration::from_secs(300));
        assert_eq!((c.rescue_resets, c.rescue_window), (3, Duration::from_secs(1800)));
        assert_eq!(c.services[0].spec.progress_deadline, Some(Duration::from_secs(120)));
        assert_eq!(c.services[1].spec.heartbeat_deadline, None);
        let sys = c.system.unwrap();
        assert_eq!(sys.interval, Duration::from_secs(10));
        assert_eq!(sys.sources.filesystems, vec![PathBuf::from("/var/lib/hotspare/supervisor")]);
        assert_eq!(c.leds, None);
        assert_eq!(c.boot, None);
        let b = parse(&format!("{OK}\n[boot]\n")).unwrap().boot.unwrap();
        assert_eq!((b.state_dir.as_path(), b.cmdline.as_path()), (Path::new("/boot"), Path::new("/proc/cmdline")));
        let b = parse(&format!("{OK}\n[boot]\nstate_dir = \"/mnt/b\"\ncmdline = \"/tmp/c\"\n")).unwrap().boot.unwrap();
        assert_eq!((b.state_dir.as_path(), b.cmdline.as_path()), (Path::new("/mnt/b"), Path::new("/tmp/c")));
        assert!(parse(&format!("{OK}\n[boot]\ndir = \"/boot\"\n")).unwrap_err().to_string().contains("dir"));
    }

    #[test]
    fn system_and_leds_tables() {
        let c = parse(&format!(
            "{OK}\n[system]\ninterval_s = 2\nproc = \"/tmp/p\"\nfilesystems = [\"/data\"]\nmemory_pct = [80, 85]\n\
             [leds]\nboard = \"/etc/hotspare/board/leds.toml\"\n"
        ))
        .unwrap();
        let sys = c.system.unwrap();
        assert_eq!((sys.interval, sys.sources.proc.as_path()), (Duration::from_secs(2), Path::new("/tmp/p")));
        assert_eq!((sys.thresholds.memory_pct.warning, sys.thresholds.temperature_c.critical), (80.0, 90.0));
        assert_eq!(c.leds.unwrap().class_root, Path::new("/sys/class/leds"));
        assert!(parse(&format!("{OK}\n[system]\nenabled = false\n")).unwrap().system.is_none());
        let e = parse(&format!("{OK}\n[system]\nload_per_core = [2, 1]\n")).unwrap_err().to_string();
        assert!(e.contains("system.load_per_core: must be [warning, critical]"), "{e}");
    }

    #[test]
    fn the_qemu_boards_file_loads_with_boot_counting() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../board/qemu-virt/supervisor.toml");
        let c = SupervisorConfig::load(&path).unwrap();
        let b = c.boot.unwrap();
        assert_eq!((b.state_dir.as_path(), b.cmdline.as_path()), (Path::new("/boot"), Path::new("/proc/cmdline")));
        // the serial console: a service the supervisor restarts, not one the box resets for
        let console = c.services.iter().find(|s| s.spec.name == "console").expect("the console service");
        assert!(
            !console.spec.critical
                && console.spec.heartbeat_deadline.is_none()
                && console.args[..3] == ["console", "--tty", "/dev/ttyAMA0"]
        );
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let e = parse(&OK.replace("name = \"api\"", "name = \"recorder\"")).unwrap_err().to_string();
        assert!(
            e.starts_with("supervisor.toml:17:") && e.contains("service[1].name: a second service named recorder"),
            "{e}"
        );
        let e = parse(&OK.replace("timeout_s = 60", "timeout_s = 1")).unwrap_err().to_string();
        assert!(e.contains(":7:") && e.contains("watchdog.timeout_s: must be at least 2"), "{e}");
        let e = parse(&OK.replace("heartbeat_deadline_ms = 10000\n", "")).unwrap_err().to_string();
        assert!(e.contains("service[0].progress_deadline_s"), "{e}");
        let e = parse(&OK.replace("critical = false", "critical = \"no\"")).unwrap_err().to_string();
        assert!(e.contains("service[1].critical") || e.contains("critical"), "{e}");
        let e = parse(&OK.replace("reset_command = [\"/sbin/reboot\"]", "reset_command = []")).unwrap_err().to_string();
        assert!(e.contains("reset_command: needs the program"), "{e}");
        let e = parse(&format!("{OK}\nsurprise = 1\n")).unwrap_err().to_string();
        assert!(e.contains("surprise"), "{e}");
    }

    #[test]
    fn the_email_table_is_checked_at_load() {
        assert_eq!(parse(OK).unwrap().email, None);
        let email =
            "\n[email]\nsmtp_host = \"mail.site\"\nsmtp_port = 587\nfrom = \"box@site\"\nto = [\"admin@site\"]\n";
        let c = parse(&format!("{OK}{email}")).unwrap();
        assert_eq!(c.email.map(|e| (e.smtp_host, e.to)), Some(("mail.site".into(), vec!["admin@site".into()])));
        let e = parse(&format!("{OK}{}", email.replace("[\"admin@site\"]", "[\"not an address\"]")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("email.to") && e.contains("not an address"), "{e}");
        let e = parse(&format!("{OK}{email}smtp_pot = 25\n")).unwrap_err().to_string();
        assert!(e.contains("smtp_pot"), "{e}");
    }
}
