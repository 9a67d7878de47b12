//! `hotspare supervisor` with real child processes (`hotspare dev-heartbeat`, speaking the
//! heartbeat IPC) and a regular file standing in for the watchdog device: a crashing child is
//! restarted, a hung one killed and restarted, a critical crash loop takes the reset path (a
//! recorded command, not a reboot), and a recorder whose bytes stop advancing stops the
//! petting. Each waits for the behaviour with a generous limit, not for a timing.

#[path = "supervisor_common/mod.rs"]
mod supervisor_common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

struct Box_ {
    dir: tempfile::TempDir,
    child: Child,
}

impl Box_ {
    /// Starts the supervisor with `services` (TOML `[[service]]` tables) and `extra` settings.
    fn start(services: &str, extra: &str) -> Box_ {
        Box_::start_in(tempfile::tempdir().unwrap(), services, extra, "")
    }

    /// Starts it in `dir` (which may hold a state directory from "earlier boots").
    fn start_in(dir: tempfile::TempDir, services: &str, extra: &str, watchdog_extra: &str) -> Box_ {
        let d = dir.path();
        std::fs::write(d.join("watchdog"), b"").unwrap();
        let config = format!(
            "state_dir = \"{state}\"\nreset_command = [\"sh\", \"-c\", \"echo reset > '{reset}'\"]\nboot_grace_s = 0\nstop_grace_s = 2\n{extra}\n\
             {no_system}[watchdog]\ndevice = \"{wd}\"\ntimeout_s = 2\n{watchdog_extra}\n\n{services}",
            state = d.join("state").display(),
            reset = d.join("reset").display(),
            wd = d.join("watchdog").display(),
            no_system = supervisor_common::NO_SYSTEM,
        );
        let child = supervisor_common::start(d, &config);
        Box_ { dir, child }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn pets(&self) -> usize {
        std::fs::read(self.path("watchdog")).unwrap().iter().filter(|&&b| b == b'k').count()
    }

    /// SIGTERM: a deliberate shutdown.
    fn stop(mut self) -> (std::process::ExitStatus, Self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let st = wait_exit(&mut self.child);
        (st, self)
    }
}

impl Drop for Box_ {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_exit(c: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            return st;
        }
        assert!(Instant::now() < deadline, "supervisor did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

fn service(name: &str, critical: bool, args: &[&str], extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("\"{a}\"")).collect();
    format!("[[service]]\nname = \"{name}\"\ncritical = {critical}\nargs = [{}]\n{extra}\n", args.join(", "))
}

#[test]
fn a_crashing_child_is_restarted_and_a_deliberate_shutdown_disarms_the_watchdog() {
    let runs = tempfile::tempdir().unwrap();
    let runs_file = runs.path().join("runs");
    let rf = runs_file.display().to_string();
    let svc = service(
        "api",
        false,
        &["dev-heartbeat", "--exit-after", "200ms", "--runs-file", &rf],
        "heartbeat_deadline_ms = 2000",
    );
    let b = Box_::start(&svc, "[restart]\nbackoff_min_ms = 10\nbackoff_max_s = 1\n");
    until("three runs of the crashing child", || {
        std::fs::read_to_string(&runs_file).unwrap_or_default().lines().count() >= 3
    });
    until("the watchdog petted", || b.pets() >= 2);
    // SIGUSR1 ("check the disks now") without a [smart] table is logged, never the default
    // action that would end the supervisor and every service with it.
    let pid = rustix::process::Pid::from_raw(b.child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::USR1).unwrap();
    let pets = b.pets();
    until("petting after SIGUSR1", || b.pets() > pets);
    let (st, b) = b.stop();
    assert!(st.success(), "{st}");
    assert_eq!(std::fs::read(b.path("watchdog")).unwrap().last(), Some(&b'V'), "magic close");
    assert_eq!(std::fs::read_to_string(b.path("state/shutdown-marker")).unwrap(), "deliberate\n");
    let status = std::fs::read_to_string(b.path("state/status.json")).unwrap();
    assert!(status.contains("\"last_reset\": \"FirstBoot\""), "{status}");
}

#[test]
fn a_hung_child_is_killed_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let hang = dir.path().join("hang");
    let runs = dir.path().join("runs");
    let svc = service(
        "failover",
        true,
        &["dev-heartbeat", "--hang-file", &hang.display().to_string(), "--runs-file", &runs.display().to_string()],
        "heartbeat_deadline_ms = 600\nstart_deadline_s = 5",
    );
    let b = Box_::start(&svc, "");
    let first =
        || std::fs::read_to_string(&runs).unwrap_or_default().lines().next().and_then(|l| l.parse::<u32>().ok());
    until("the child started", || first().is_some());
    let pid = first().unwrap();
    until("heartbeats petting the watchdog", || b.pets() >= 3);
    std::fs::write(&hang, b"").unwrap();
    until("the hung child killed", || !alive(pid));
    std::fs::remove_file(&hang).unwrap();
    until("a second run", || std::fs::read_to_string(&runs).unwrap_or_default().lines().count() >= 2);
    let (st, _b) = b.stop();
    assert!(st.success());
}

#[test]
fn services_end_when_the_supervisor_is_killed() {
    // A supervisor that dies (SIGKILL, a crash) takes its services with it: the next
    // supervisor must not meet an orphaned recorder still holding the store.
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let svc = service("api", false, &["dev-heartbeat", "--runs-file", &runs.display().to_string()], "");
    let mut b = Box_::start(&svc, "");
    let first =
        || std::fs::read_to_string(&runs).unwrap_or_default().lines().next().and_then(|l| l.parse::<u32>().ok());
    until("the child started", || first().is_some());
    let pid = first().unwrap();
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    until("the orphaned child gone", || !alive(pid));
}

#[test]
fn a_critical_crash_loop_takes_the_reset_path() {
    let svc = service("failover", true, &["dev-heartbeat", "--exit-after", "0s"], "heartbeat_deadline_ms = 2000");
    let mut b = Box_::start(
        &svc,
        "[restart]\nbackoff_min_ms = 10\nbackoff_max_s = 1\nstart_limit_burst = 3\nstart_limit_interval_s = 60\ncrash_loops_before_reset = 1\n",
    );
    let st = wait_exit(&mut b.child);
    assert!(st.success(), "{st}");
    assert_eq!(std::fs::read_to_string(b.path("reset")).unwrap(), "reset\n", "the reset command ran");
    let marker = std::fs::read_to_string(b.path("state/shutdown-marker")).unwrap();
    assert!(marker.starts_with("reset failover crash-looped"), "{marker}");
    assert!(!std::fs::read(b.path("watchdog")).unwrap().contains(&b'V'), "the watchdog stays armed");
}

#[test]
fn a_recorder_whose_bytes_stop_advancing_stops_the_petting() {
    let dir = tempfile::tempdir().unwrap();
    let progress = dir.path().join("bytes");
    std::fs::write(&progress, "0").unwrap();
    let svc = service(
        "recorder",
        true,
        &["dev-heartbeat", "--progress-file", &progress.display().to_string(), "--cameras", "2"],
        "heartbeat_deadline_ms = 1000\nprogress_deadline_s = 1",
    );
    let b = Box_::start(&svc, "");
    let mut bytes = 0u64;
    let mut advance_for = |d: Duration| {
        let end = Instant::now() + d;
        while Instant::now() < end {
            bytes += 4096;
            std::fs::write(&progress, bytes.to_string()).unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    advance_for(Duration::from_secs(2));
    until("petting while recording advances", || b.pets() >= 3);
    // Bytes stop: within the progress deadline (1 s) plus a pet interval the petting stops.
    let stalled_at = b.pets();
    until("the petting to stop", || {
        let before = b.pets();
        std::thread::sleep(Duration::from_millis(1500));
        b.pets() == before
    });
    assert!(b.pets() <= stalled_at + 4, "petted {} times after the bytes stopped", b.pets() - stalled_at);
    let status = std::fs::read_to_string(b.path("state/status.json")).unwrap();
    assert!(status.contains("recorder records nothing"), "{status}");
    // Recording again: petted again.
    let stopped = b.pets();
    advance_for(Duration::from_secs(2));
    until("petting again", || b.pets() > stopped);
    let (st, _b) = b.stop();
    assert!(st.success());
}

#[test]
fn after_repeated_resets_the_box_boots_into_rescue_mode_and_never_resets() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    // Two watchdog resets a minute ago; the supervisor was running when the box went down,
    // and the watchdog's boot status says it fired again: the third reset in 30 min.
    let now_us = hotspare_base::clock::now_us();
    let earlier = format!("{} watchdog\n{} watchdog\n", now_us - 120_000_000, now_us - 60_000_000);
    std::fs::write(state.join("boot-history"), earlier).unwrap();
    std::fs::write(state.join("shutdown-marker"), "running\n").unwrap();
    std::fs::write(dir.path().join("bootstatus"), "32\n").unwrap();
    let bootstatus = format!("bootstatus = \"{}\"", dir.path().join("bootstatus").display());
    let runs = dir.path().join("runs");
    let svc = service(
        "failover",
        true,
        &["dev-heartbeat", "--exit-after", "0s", "--runs-file", &runs.display().to_string()],
        "heartbeat_deadline_ms = 2000",
    );
    let restart = "[restart]\nbackoff_min_ms = 10\nbackoff_max_s = 1\nstart_limit_burst = 3\nstart_limit_interval_s = 1\ncrash_loops_before_reset = 1\n";
    let b = Box_::start_in(dir, &svc, restart, &bootstatus);
    until("rescue mode in the status file", || {
        std::fs::read_to_string(b.path("state/status.json")).is_ok_and(|s| s.contains("\"Rescue\""))
    });
    let status = std::fs::read_to_string(b.path("state/status.json")).unwrap();
    assert!(
        status.contains("\"last_reset\": \"Watchdog\"") && status.contains("\"takeovers_allowed\": false"),
        "{status}"
    );
    // The critical service crash-loops (more than one start-limit window) and the box keeps
    // being petted, with no reset.
    until("seven starts", || std::fs::read_to_string(&runs).unwrap_or_default().lines().count() >= 7);
    let pets = b.pets();
    until("petting goes on", || b.pets() >= pets + 2);
    assert!(!b.path("reset").exists(), "no reset in rescue mode");
    let (st, b) = b.stop();
    assert!(st.success());
    let history = std::fs::read_to_string(b.path("state/boot-history")).unwrap();
    assert_eq!(history.lines().count(), 3, "{history}");
}
