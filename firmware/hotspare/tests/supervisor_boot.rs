//! `hotspare supervisor` marking the booted slot good at "ready" and `hotspare status` on its
//! state, as real processes: a temp directory stands in for the mounted FAT boot partition
//! (its bootstate files made by `hotspare boot-state` and one boot attempt of the boot
//! script's rule) and a file for `/proc/cmdline`. A slot with 2 tries left is back to 3 once
//! the box is ready; without `rauc.slot=` and in rescue mode the files are left alone; the
//! status command says healthy (exit 0), not healthy once the supervisor is gone (exit 1),
//! and names the file it cannot read (exit 2).

#[path = "supervisor_common/mod.rs"]
mod supervisor_common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use hotspare_platform::bootstate_io::{load, store};

const BIN: &str = env!("CARGO_BIN_EXE_hotspare");
const CMDLINE_A: &str = "console=ttyAMA0 panic=-1 root=PARTLABEL=root-a ro rauc.slot=A\n";

struct Sup {
    dir: tempfile::TempDir,
    child: Child,
}

impl Sup {
    /// Starts the supervisor with one heartbeating service, `[boot]` on `<dir>/boot` and
    /// `<dir>/cmdline`, and `extra` settings.
    fn start(dir: tempfile::TempDir, extra: &str) -> Sup {
        let d = dir.path();
        let config = format!(
            "{head}[boot]\nstate_dir = \"{boot}\"\ncmdline = \"{cmdline}\"\n\n{extra}\n\n\
             [[service]]\nname = \"failover\"\ncritical = true\nargs = [\"dev-heartbeat\"]\nheartbeat_deadline_ms = 2000\n",
            head = supervisor_common::config_head(d),
            boot = d.join("boot").display(),
            cmdline = d.join("cmdline").display(),
        );
        let child = supervisor_common::start_logged(d, &config);
        Sup { dir, child }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("supervisor.log")).unwrap_or_default()
    }

    fn status_json(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.path("state/status.json")).unwrap()).unwrap()
    }

    /// SIGTERM and wait: a deliberate shutdown.
    fn stop(&mut self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while matches!(self.child.try_wait(), Ok(None)) {
            assert!(Instant::now() < deadline, "the supervisor did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

fn until(what: &str, done: impl Fn() -> bool, log: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}\n--- log\n{}", log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the hotspare binary; (exit code, stdout, stderr).
fn hotspare(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (o.status.code().unwrap_or(-1), text(&o.stdout), text(&o.stderr))
}

/// A boot directory as U-Boot leaves it after booting slot A once: made by
/// `hotspare boot-state set-primary A` (3 tries), then the boot script's decrement.
fn boot_dir_after_one_try(d: &Path) {
    std::fs::create_dir_all(d.join("boot")).unwrap();
    let boot = d.join("boot").display().to_string();
    let (code, out, err) = hotspare(&["boot-state", "--dir", &boot, "set-primary", "A"]);
    assert_eq!(code, 0, "{out}{err}");
    let l = load(&d.join("boot")).unwrap();
    let (chosen, next) = l.choice.state.boot_attempt();
    assert_eq!(chosen, Some(hotspare_platform::bootstate::Slot::A));
    store(&l, &next).unwrap();
    assert!(show(d).contains("state: seq 2, BOOT_ORDER=A B, BOOT_A_LEFT=2"), "{}", show(d));
}

fn show(d: &Path) -> String {
    hotspare(&["boot-state", "--dir", &d.join("boot").display().to_string(), "show"]).1
}

/// Both copies' bytes.
fn boot_files(d: &Path) -> Vec<Vec<u8>> {
    ["bootstate.0", "bootstate.1"].iter().map(|f| std::fs::read(d.join("boot").join(f)).unwrap_or_default()).collect()
}

#[test]
fn a_ready_box_marks_its_slot_good_and_status_says_healthy_until_the_supervisor_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    boot_dir_after_one_try(dir.path());
    std::fs::write(dir.path().join("cmdline"), CMDLINE_A).unwrap();
    std::fs::write(dir.path().join("version"), "v1.2-3-gabcdef\n").unwrap();
    let mut sup = Sup::start(dir, "");
    until("the ready line", || sup.log().contains("supervisor: ready: slot A marked good ("), || sup.log());
    let log = sup.log();
    let line = log.lines().find(|l| l.contains("supervisor: ready")).unwrap();
    assert!(line.ends_with(" s since boot)"), "{line}");
    assert!(show(sup.dir.path()).contains("state: seq 3, BOOT_ORDER=A B, BOOT_A_LEFT=3"), "{}", show(sup.dir.path()));
    until("status.json with the mark", || sup.status_json()["slot_marked_good"] == true, || sup.log());
    let s = sup.status_json();
    assert_eq!((&s["slot"], &s["ready"], &s["services"][0]["state"]), (&"A".into(), &true.into(), &"up".into()), "{s}");
    let health: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sup.path("state/health.json")).unwrap()).unwrap();
    assert_eq!(health["supervisor"]["slot_marked_good"], true, "{health}");
    assert_eq!(log.matches("supervisor: ready").count(), 1, "once: {log}");

    let config = sup.path("supervisor.toml").display().to_string();
    let (code, out, err) = hotspare(&["status", "--config", &config]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    for want in ["(image v1.2-3-gabcdef)", "slot A, marked good", "BOOT_A_LEFT=3", "next boot: slot A", "FirstBoot"] {
        assert!(out.contains(want), "{want}: {out}");
    }
    assert!(out.contains("failover") && out.contains("takeovers  allowed"), "{out}");
    assert_eq!(out.lines().last(), Some("status: healthy"), "{out}");
    let (code, json, _) = hotspare(&["status", "--config", &config, "--json"]);
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!((code, &j["healthy"], &j["boot"]["slot"]), (0, &true.into(), &"A".into()), "{json}");

    sup.stop();
    let (code, out, _) = hotspare(&["status", "--config", &config]);
    assert_eq!(code, 1, "{out}");
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("status: NOT healthy: the supervisor (pid ") && last.contains("is not running"), "{out}");
}

#[test]
fn without_rauc_slot_the_boot_files_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    boot_dir_after_one_try(dir.path());
    std::fs::write(dir.path().join("cmdline"), "console=ttyAMA0 root=/dev/vda2\n").unwrap();
    let before = boot_files(dir.path());
    let sup = Sup::start(dir, "");
    until("ready", || sup.log().lines().any(|l| l.ends_with("supervisor: ready")), || sup.log());
    until("status.json says ready", || sup.status_json()["ready"] == true, || sup.log());
    assert!(sup.log().contains("no rauc.slot="), "{}", sup.log());
    assert_eq!(boot_files(sup.dir.path()), before, "untouched");
    assert_eq!(sup.status_json()["slot"], serde_json::Value::Null);
}

#[test]
fn rescue_mode_never_marks_the_slot_good() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    boot_dir_after_one_try(d);
    std::fs::write(d.join("cmdline"), CMDLINE_A).unwrap();
    // Two watchdog resets lately, the supervisor was running when the box went down and the
    // watchdog says it fired: the third reset within 30 min, so rescue mode.
    std::fs::create_dir(d.join("state")).unwrap();
    let now_us = hotspare_base::clock::now_us();
    let history = format!("{} watchdog\n{} watchdog\n", now_us - 120_000_000, now_us - 60_000_000);
    std::fs::write(d.join("state/boot-history"), history).unwrap();
    std::fs::write(d.join("state/shutdown-marker"), "running\n").unwrap();
    std::fs::write(d.join("bootstatus"), "32\n").unwrap();
    std::fs::write(d.join("watchdog"), b"").unwrap();
    let before = boot_files(d);
    let watchdog = format!(
        "[watchdog]\ndevice = \"{}\"\nbootstatus = \"{}\"\ntimeout_s = 2\n",
        d.join("watchdog").display(),
        d.join("bootstatus").display()
    );
    let sup = Sup::start(dir, &watchdog);
    until(
        "rescue mode with the service up",
        || {
            std::fs::read_to_string(sup.path("state/status.json"))
                .is_ok_and(|s| s.contains("\"Rescue\"") && s.contains("\"state\": \"up\""))
        },
        || sup.log(),
    );
    // Ready would be said within milliseconds of the service being up; give it a second.
    std::thread::sleep(Duration::from_secs(1));
    let log = sup.log();
    assert!(log.contains("booted slot A: rescue mode, so it will not be marked good"), "{log}");
    assert!(!log.contains("supervisor: ready"), "{log}");
    assert_eq!(boot_files(sup.path("").as_path()), before, "untouched");
    let s = sup.status_json();
    assert_eq!((&s["slot"], &s["ready"], &s["slot_marked_good"]), (&"A".into(), &false.into(), &false.into()), "{s}");
    let config = sup.path("supervisor.toml").display().to_string();
    let (code, out, _) = hotspare(&["status", "--config", &config]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("RESCUE") && out.contains("not marked good yet (not ready)"), "{out}");
    assert!(out.lines().last().unwrap().starts_with("status: NOT healthy: rescue mode: 3 resets"), "{out}");
}

#[test]
fn status_names_the_file_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("no-such-state");
    let config = dir.path().join("supervisor.toml");
    std::fs::write(&config, format!("state_dir = \"{}\"\nreset_command = [\"true\"]\n", state.display())).unwrap();
    let (code, out, err) = hotspare(&["status", "--config", &config.display().to_string()]);
    assert_eq!(code, 2, "{out}{err}");
    let file = state.join("status.json").display().to_string();
    assert!(err.contains(&file) && err.contains("No such file"), "{err}");
    assert!(out.lines().last().unwrap().starts_with("status: NOT healthy: cannot read the state: "), "{out}");
    let (code, json, _) = hotspare(&["status", "--config", &config.display().to_string(), "--json"]);
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(code == 2 && j["healthy"] == false && j["error"].as_str().unwrap().contains(&file), "{json}");
    let (code, _, err) = hotspare(&["status", "--config", &dir.path().join("absent.toml").display().to_string()]);
    assert!(code == 2 && err.contains("absent.toml"), "{err}");
}

#[test]
fn a_mark_that_fails_is_logged_kept_as_a_warning_and_makes_status_not_healthy() {
    let dir = tempfile::tempdir().unwrap();
    // No boot directory: the boot partition is not there.
    std::fs::write(dir.path().join("cmdline"), CMDLINE_A).unwrap();
    let sup = Sup::start(dir, "");
    until("the ready line", || sup.log().contains("supervisor: ready: slot A NOT marked good: "), || sup.log());
    assert!(sup.log().contains(&format!("{}: No such file", sup.path("boot").display())), "{}", sup.log());
    until("status.json says ready", || sup.status_json()["ready"] == true, || sup.log());
    assert_eq!(sup.status_json()["slot_marked_good"], false);
    let health = std::fs::read_to_string(sup.path("state/health.json")).unwrap();
    assert!(health.contains("\"kind\": \"SlotNotMarkedGood\"") && health.contains("\"warning\""), "{health}");
    let (code, out, _) = hotspare(&["status", "--config", &sup.path("supervisor.toml").display().to_string()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT marked good: the mark failed") && out.contains("cannot read: "), "{out}");
    assert!(out.lines().last().unwrap().starts_with("status: NOT healthy: slot A could not be marked good"), "{out}");
}
