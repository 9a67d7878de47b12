//! `hotspare supervisor` as a real process driving a temp LED-class tree (the files the
//! kernel's LED class has: `brightness`, `max_brightness`, `trigger` listing `[none] timer`,
//! `delay_on`, `delay_off`) from a board `leds.toml`, and its system-health monitor reading
//! a temp procfs/sysfs tree: the failover LED follows the role state of a `dev-heartbeat`
//! child (armed: steady, covering: blinking, idle: off), and the status LED and
//! `health.json` follow a memory reading crossing its critical threshold and going back.

#[path = "supervisor_common/mod.rs"]
mod supervisor_common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

const LEDS: [&str; 5] = ["t:green:power", "t:green:status", "t:blue:failover", "t:amber:bay1", "t:amber:bay2"];

struct Sup {
    child: Child,
}

impl Drop for Sup {
    /// SIGTERM first: the supervisor stops its child (a SIGKILL would orphan it).
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn meminfo(available_kib: u64) -> String {
    format!("MemTotal:        1000000 kB\nMemFree:          10000 kB\nMemAvailable:    {available_kib} kB\n")
}

fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn leds_follow_the_role_state_and_the_system_health() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let class = d.join("leds");
    for led in LEDS {
        for (f, v) in [("brightness", "0"), ("max_brightness", "1"), ("trigger", "[none] timer heartbeat")] {
            write(&class.join(led).join(f), v);
        }
        write(&class.join(led).join("delay_on"), "500");
        write(&class.join(led).join("delay_off"), "500");
    }
    write(
        &d.join("leds.toml"),
        "power = \"t:green:power\"\nstatus = \"t:green:status\"\nfailover = \"t:blue:failover\"\n\
         [bays]\nbay1 = \"t:amber:bay1\"\nbay2 = \"t:amber:bay2\"\n",
    );
    let (proc, sys) = (d.join("proc"), d.join("sys"));
    write(&proc.join("meminfo"), &meminfo(500_000));
    write(&proc.join("loadavg"), "0.10 0.10 0.10 1/100 1\n");
    write(&proc.join("sys/fs/file-nr"), "1000 0 100000\n");
    write(&sys.join("devices/system/cpu/online"), "0-1\n");
    write(&sys.join("class/thermal/thermal_zone0/temp"), "45000\n");
    write(&sys.join("class/thermal/thermal_zone0/type"), "cpu-thermal\n");
    let role = d.join("role");
    write(&role, "spare-armed\n");
    let config = format!(
        "state_dir = \"{state}\"\nreset_command = [\"true\"]\nboot_grace_s = 0\nstop_grace_s = 2\n\n\
         [system]\ninterval_s = 1\nproc = \"{proc}\"\nsys = \"{sys}\"\nfilesystems = [\"{d}\"]\n\n\
         [leds]\nboard = \"{board}\"\nclass_root = \"{class}\"\n\n\
         [[service]]\nname = \"failover\"\ncritical = false\nheartbeat_deadline_ms = 5000\n\
         args = [\"dev-heartbeat\", \"--role-file\", \"{role}\"]\n",
        state = d.join("state").display(),
        proc = proc.display(),
        sys = sys.display(),
        d = d.display(),
        board = d.join("leds.toml").display(),
        class = class.display(),
        role = role.display(),
    );
    let _sup = Sup { child: supervisor_common::start(d, &config) };
    let file = |led: &str, f: &str| std::fs::read_to_string(class.join(led).join(f)).unwrap_or_default();
    let shows = |led: &str, trigger: &str, brightness: Option<&str>, delay_on: Option<&str>| {
        file(led, "trigger") == trigger
            && brightness.is_none_or(|b| file(led, "brightness") == b)
            && delay_on.is_none_or(|o| file(led, "delay_on") == o)
    };
    let health = || std::fs::read_to_string(d.join("state/health.json")).unwrap_or_default();

    until("power on", || shows(LEDS[0], "none", Some("1"), None));
    until("status steady (healthy, hardware ok)", || {
        shows(LEDS[1], "none", Some("1"), None) && std::fs::read_to_string(d.join("state/status.json")).is_ok()
    });
    until("failover steady: spare armed", || shows(LEDS[2], "none", Some("1"), None));
    assert!(shows(LEDS[3], "none", Some("0"), None), "bay1 off: no fault reported");

    write(&role, "spare-covering\n");
    until("failover blinking: covering an NVR", || shows(LEDS[2], "timer", None, Some("500")));
    write(&role, "spare-idle\n");
    until("failover off: not armed", || shows(LEDS[2], "none", Some("0"), None));

    until("health.json has the system readings", || health().contains("\"memory_used_pct\": 50.0"));
    write(&proc.join("meminfo"), &meminfo(20_000));
    until("status fast blink: memory critical", || shows(LEDS[1], "timer", None, Some("100")));
    let h = health();
    assert!(h.contains("\"reading\": \"memory\"") && h.contains("\"severity\": \"critical\""), "{h}");
    assert!(h.contains("ThresholdCritical"), "a notice of the change: {h}");
    until("status.json says hardware Critical", || {
        std::fs::read_to_string(d.join("state/status.json")).unwrap_or_default().contains("\"hardware\": \"Critical\"")
    });
    write(&proc.join("meminfo"), &meminfo(600_000));
    until("status steady again: memory back to normal", || shows(LEDS[1], "none", Some("1"), None));
    assert!(health().contains("memory back to normal"), "{}", health());
}
