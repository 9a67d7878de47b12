//! The supervisor running the real services (not `dev-heartbeat`): `hotspare record` against
//! the simulator camera, whose heartbeats carry its fsynced bytes (frozen with SIGSTOP, its
//! heartbeats stop: killed, restarted, no petting in between); `hotspare nvr` relaying its
//! recorder child's progress (the child frozen: no petting); critical events mailed in one
//! batch; and `hotspare failover` protecting a real `hotspare nvr`, which takes over a
//! stopped NVR except when the supervisor boots into rescue mode (no takeovers: the spare's
//! status says why).

#[path = "common/mod.rs"]
mod common;
#[path = "failover_common/mod.rs"]
mod failover_common;
#[path = "nvr_common/mod.rs"]
mod nvr_common;
#[path = "supervisor_common/mod.rs"]
mod supervisor_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{bin, children, free_port, Sim, Smtp};
use failover_common::{Group, Site};
use rustix::process::Signal;

/// A supervisor's directory: its config (a file standing in for the watchdog, petted every
/// 0.5 s) and state.
struct SupDir {
    dir: tempfile::TempDir,
}

impl SupDir {
    fn new() -> SupDir {
        SupDir { dir: tempfile::tempdir().unwrap() }
    }

    /// Puts two watchdog resets of the last minutes in the state directory, and a boot status
    /// saying the watchdog fired again: the supervisor boots into rescue mode.
    fn after_repeated_resets(self) -> SupDir {
        let state = self.path("state");
        std::fs::create_dir_all(&state).unwrap();
        let now_us = common::now_us();
        let earlier = format!("{} watchdog\n{} watchdog\n", now_us - 120_000_000, now_us - 60_000_000);
        std::fs::write(state.join("boot-history"), earlier).unwrap();
        std::fs::write(state.join("shutdown-marker"), "running\n").unwrap();
        std::fs::write(self.path("bootstatus"), "32\n").unwrap();
        self
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The supervisor's command running `services` (and other tables after them).
    fn command(&self, services: &str) -> Command {
        self.command_with(DEFAULT_RESTART, services)
    }

    /// As [`SupDir::command`] with this `[restart]` table.
    fn command_with(&self, restart: &str, services: &str) -> Command {
        std::fs::write(self.path("watchdog"), b"").unwrap();
        let bootstatus = self.path("bootstatus");
        let bootstatus =
            if bootstatus.exists() { format!("bootstatus = \"{}\"\n", bootstatus.display()) } else { String::new() };
        let config = format!(
            "state_dir = \"{state}\"\nreset_command = [\"sh\", \"-c\", \"echo reset > '{reset}'\"]\nboot_grace_s = 0\nstop_grace_s = 2\n\
             {restart}\n\
             {no_system}[watchdog]\ndevice = \"{wd}\"\ntimeout_s = 2\n{bootstatus}\n{services}",
            state = self.path("state").display(),
            reset = self.path("reset").display(),
            wd = self.path("watchdog").display(),
            no_system = supervisor_common::NO_SYSTEM,
        );
        std::fs::write(self.path("supervisor.toml"), config).unwrap();
        let mut cmd = Command::new(bin());
        cmd.args(["supervisor", "--config"]).arg(self.path("supervisor.toml")).env("RUST_LOG", "info");
        cmd
    }

    fn pets(&self) -> usize {
        std::fs::read(self.path("watchdog")).unwrap_or_default().iter().filter(|&&b| b == b'k').count()
    }

    fn status(&self) -> String {
        std::fs::read_to_string(self.path("state/status.json")).unwrap_or_default()
    }
}

const DEFAULT_RESTART: &str = "[restart]\nbackoff_min_ms = 100\nbackoff_max_s = 1\n";

fn service(name: &str, critical: bool, args: &[&str], extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("\"{a}\"")).collect();
    format!("[[service]]\nname = \"{name}\"\ncritical = {critical}\nargs = [{}]\n{extra}\n", args.join(", "))
}

fn until(what: &str, limit: Duration, log: impl Fn() -> String, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}\n{}", log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

#[test]
fn a_frozen_recorder_stops_the_petting_and_is_killed_and_restarted() {
    let sim = Sim::start("h264", free_port(), &[]);
    let sup = SupDir::new();
    let store = sup.path("store");
    let svc = service(
        "recorder",
        true,
        &["record", &sim.url(), "--store", &store.display().to_string(), "--camera", "cam", "--segment", "2s"],
        "heartbeat_deadline_ms = 1500\nstart_deadline_s = 10\nprogress_deadline_s = 3",
    );
    // Restarts 5 s after an exit: the time the box goes without a live recorder.
    let restart = "[restart]\nbackoff_min_ms = 5000\nbackoff_max_s = 10\n";
    let group = Group::spawn("supervisor", sup.command_with(restart, &svc));
    let log = || format!("--- status.json\n{}\n--- supervisor log\n{}", sup.status(), group.log());
    let recorder = || children(group.pid()).first().copied();
    until("the recorder started", Duration::from_secs(20), log, || recorder().is_some());
    let pid = recorder().unwrap();
    // Recording: the bytes grow, the watchdog is petted (well past the progress deadline).
    std::thread::sleep(Duration::from_secs(5));
    let pets = sup.pets();
    std::thread::sleep(Duration::from_secs(2));
    assert!(sup.pets() >= pets + 3, "petted {} times in 2 s while recording\n{}", sup.pets() - pets, log());
    assert!(sup.status().contains("\"healthy\": true"), "{}", log());

    // Frozen: no heartbeat from its runtime; past the heartbeat deadline it is hung: SIGTERM
    // (with SIGCONT, so it stops cleanly), and no petting until a new recorder records.
    failover_common::signal_pid(pid, Signal::STOP);
    let stopped = Instant::now();
    until("the frozen recorder stopped", Duration::from_secs(20), log, || !alive(pid));
    let gone_after = stopped.elapsed();
    // SIGCONT lets it send one last heartbeat before it handles SIGTERM: it counts as alive
    // for one more heartbeat deadline (1.5 s), then not (and its bytes no longer grow).
    std::thread::sleep(Duration::from_millis(2100));
    let after_exit = sup.pets();
    until("a new recorder", Duration::from_secs(20), log, || recorder().is_some_and(|p| p != pid));
    let restarted_after = stopped.elapsed();
    assert_eq!(sup.pets(), after_exit, "petted without a live recorder\n{}", log());
    let resumed = sup.pets();
    until("petting again", Duration::from_secs(30), log, || sup.pets() >= resumed + 3);
    let text = group.log();
    assert!(text.contains(&format!("recorder (pid {pid}) sent no heartbeat in time")), "{text}");
    eprintln!(
        "frozen recorder: stopped {gone_after:?} after SIGSTOP (heartbeat deadline 1.5 s), restarted after \
         {restarted_after:?}, no petting in between; petting resumed {:?} after SIGSTOP",
        stopped.elapsed()
    );
}

/// `hotspare failover` under a supervisor (in rescue mode or not) protecting one real NVR,
/// which is then killed.
fn spare_under_supervisor(rescue: bool) {
    let mut site = Site::prepare(1, 1);
    site.start_nvrs();
    let sup = if rescue { SupDir::new().after_repeated_resets() } else { SupDir::new() };
    let config = site.spare_config.display().to_string();
    let svc = service(
        "failover",
        true,
        &["failover", "--config", &config, "--ssdp", "off"],
        "heartbeat_deadline_ms = 3000\nstart_deadline_s = 20",
    );
    if let Some(fp) = nvr_common::box_fingerprint("failover", &site.spare_config) {
        nvr_common::pin(site.spare_port, fp);
    }
    site.adopt_spare(Group::spawn("supervisor", sup.command(&svc)));
    if rescue {
        assert!(sup.status().contains("\"Rescue\""), "{}", sup.status());
        let s = site.spare_status().unwrap();
        let why = s.takeovers_blocked.unwrap_or_else(|| panic!("no takeovers_blocked\n{}", site.dump()));
        assert!(why.contains("rescue"), "{why}");
    } else {
        assert_eq!(site.spare_status().unwrap().takeovers_blocked, None, "{}", site.dump());
    }
    let killed = site.kill_nvr(0);
    if rescue {
        // Well past the fast profile's 3 missed checks: still watching, and the spare says why.
        std::thread::sleep(Duration::from_secs(8));
        let v = site.view(0).unwrap();
        assert_eq!(v.phase, "watching", "{}", site.dump());
        assert!(v.takeovers.is_empty() && v.misses >= 3, "{v:#?}");
        assert!(site.spare_status().unwrap().takeovers_blocked.is_some_and(|w| w.contains("rescue")));
        let log = site.spare_log();
        assert_eq!(log.matches("takeovers are not allowed").count(), 1, "logged once\n{log}");
        assert!(!log.contains("TAKEOVER"), "{log}");
        eprintln!("rescue mode: NVR down 8 s, {} missed checks, no takeover", v.misses);
    } else {
        let v = site.wait_takeover(0, Duration::from_secs(30));
        let at = v.takeovers[0].at_us;
        eprintln!("normal mode: taken over {:.1} s after the NVR was killed", (at - killed) as f64 / 1e6);
    }
}

#[test]
fn in_rescue_mode_the_spare_does_not_take_over_and_says_why() {
    spare_under_supervisor(true);
}

#[test]
fn without_rescue_the_supervised_spare_takes_over() {
    spare_under_supervisor(false);
}

/// A box that boots into rescue mode while a critical service crash-loops: one mail (the
/// events gathered and batched) names both, sent by the supervisor as a real process.
#[test]
fn critical_events_are_mailed_in_one_batch() {
    let sup = SupDir::new().after_repeated_resets();
    let smtp = Smtp::start(sup.dir.path());
    let svc = service("failover", true, &["dev-heartbeat", "--exit-after", "0s"], "heartbeat_deadline_ms = 2000");
    let email = format!(
        "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nfrom = \"box@site.example\"\nto = [\"admin@site.example\"]\ntls = \"none\"\n",
        smtp.port
    );
    let restart =
        "[restart]\nbackoff_min_ms = 10\nbackoff_max_s = 1\nstart_limit_burst = 3\nstart_limit_interval_s = 1\ncrash_loops_before_reset = 1\n";
    let group = Group::spawn("supervisor", sup.command_with(restart, &format!("{svc}\n{email}")));
    let log = || format!("--- mails {:?}\n--- supervisor log\n{}", smtp.messages(), group.log());
    until("a mail", Duration::from_secs(30), log, || !smtp.messages().is_empty());
    std::thread::sleep(Duration::from_secs(4));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "one mail per 30 s at most\n{}", log());
    let mail = &mails[0];
    assert!(mail.contains("admin@site.example") && mail.contains("Subject: [Hotspare]"), "{mail}");
    assert!(mail.contains("RescueMode") && mail.contains("RESCUE MODE"), "{mail}");
    assert!(mail.contains("CrashLoop") && mail.contains("failover"), "{mail}");
    assert!(!sup.path("reset").exists(), "no reset in rescue mode");
    let first_line = mail.lines().find(|l| l.starts_with("Subject:")).unwrap_or_default().to_string();
    eprintln!("one mail for the rescue boot and the crash loops: {first_line}");
}

/// `hotspare nvr` under the supervisor: its API process heartbeats and relays the recorder
/// child's fsynced bytes. Freezing the child (not the API process) stalls the relayed
/// progress: the watchdog is no longer petted, although the NVR's heartbeats go on; thawed,
/// it records and the petting resumes.
#[test]
fn a_supervised_nvr_relays_its_recorder_progress() {
    let sim = Sim::start("h264", free_port(), &[]);
    let sup = SupDir::new();
    let port = free_port();
    let cams = [("cam1", sim.url())];
    let text = nvr_common::config_text(port, &sup.path("store"), &cams, "", "");
    let config = sup.path("nvr.toml");
    std::fs::write(&config, text).unwrap();
    let svc = service(
        "nvr",
        true,
        &["nvr", "--config", &config.display().to_string()],
        "heartbeat_deadline_ms = 1500\nstart_deadline_s = 20\nprogress_deadline_s = 3",
    );
    let group = Group::spawn("supervisor", sup.command(&svc));
    let log = || format!("--- status.json\n{}\n--- supervisor log\n{}", sup.status(), group.log());
    let nvr = || children(group.pid()).first().copied();
    until("the NVR started", Duration::from_secs(20), log, || nvr().is_some());
    let api = nvr().unwrap();
    until("its recorder child", Duration::from_secs(20), log, || !children(api).is_empty());
    let recorder = children(api)[0];
    std::thread::sleep(Duration::from_secs(6));
    let pets = sup.pets();
    std::thread::sleep(Duration::from_secs(2));
    assert!(sup.pets() >= pets + 3, "petted {} times in 2 s while recording\n{}", sup.pets() - pets, log());

    failover_common::signal_pid(recorder, Signal::STOP);
    let stopped = Instant::now();
    until("recording progress stalled", Duration::from_secs(20), log, || sup.status().contains("nvr records nothing"));
    let stalled_after = stopped.elapsed();
    std::thread::sleep(Duration::from_millis(600));
    let at_stall = sup.pets();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sup.pets(), at_stall, "petted while the NVR's recorder is frozen\n{}", log());
    assert!(alive(api) && nvr() == Some(api), "the NVR's API process goes on (its heartbeats are fine)");
    failover_common::signal_pid(recorder, Signal::CONT);
    until("petting again", Duration::from_secs(30), log, || sup.pets() >= at_stall + 3);
    eprintln!("supervised NVR: recorder frozen, progress stalled after {stalled_after:?} (deadline 3 s), no petting");
}

/// A critical crash loop takes the reset path: the mail of it leaves before the reset
/// command runs (the reset path waits up to 5 s for it), naming the crash loop and the reset.
#[test]
fn the_reset_path_is_mailed_before_the_reset() {
    let sup = SupDir::new();
    let smtp = Smtp::start(sup.dir.path());
    let svc = service("failover", true, &["dev-heartbeat", "--exit-after", "0s"], "heartbeat_deadline_ms = 2000");
    let email = format!(
        "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nfrom = \"box@site.example\"\nto = [\"admin@site.example\"]\ntls = \"none\"\n",
        smtp.port
    );
    let restart = "[restart]\nbackoff_min_ms = 10\nbackoff_max_s = 1\nstart_limit_burst = 3\nstart_limit_interval_s = 60\ncrash_loops_before_reset = 1\n";
    let cmd = sup.command_with(restart, &format!("{svc}\n{email}"));
    let st = common::Proc::spawn("supervisor", cmd).finish(Duration::from_secs(30));
    assert!(st.success(), "{}", st.dump());
    assert_eq!(std::fs::read_to_string(sup.path("reset")).unwrap_or_default(), "reset\n", "the reset command ran");
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}\n{}", st.dump());
    let mail = &mails[0];
    assert!(mail.contains("ResetPath") && mail.contains("failover crash-looped"), "{mail}");
    assert!(mail.contains("CrashLoop"), "{mail}");
}
