//! `hotspare panel` against a real LCDd (curses driver in tmux, see panel_common), with a
//! real `hotspare supervisor` writing status.json: its one service is `hotspare dev-heartbeat
//! --role-file`, whose heartbeats carry the spare's role state (armed, covering) as the
//! failover role's do, switched by the test through a file (panel_site.rs runs the real
//! spare and NVR). The settings are checked with `hotspare settings`. Needs `LCDd` and
//! `tmux` (scripts/test installs them).

#[path = "panel_common/mod.rs"]
mod panel_common;
#[path = "supervisor_common/mod.rs"]
mod supervisor_common;

use std::process::Child;
use std::time::{Duration, Instant};

use panel_common::Lcd;

struct Rig {
    // dropped first: the panel and LCDd, then the supervisor, then the directory
    lcd: Lcd,
    extra: Vec<String>,
    sup: Child,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn start(wid: u32, hgt: u32, extra: &[&str]) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut lcd = Lcd::start(d, wid, hgt);
        std::fs::write(d.join("role"), "spare-armed\n").unwrap();
        let config = format!(
            "state_dir = \"{state}\"\nreset_command = [\"true\"]\nboot_grace_s = 0\nstop_grace_s = 2\n\n{no_system}\
             [[service]]\nname = \"failover\"\ncritical = true\n\
             args = [\"dev-heartbeat\", \"--role-file\", \"{role}\"]\nheartbeat_deadline_ms = 2000\n",
            state = d.join("state").display(),
            role = d.join("role").display(),
            no_system = supervisor_common::NO_SYSTEM,
        );
        let sup = supervisor_common::start_logged(d, &config);
        lcd.start_panel(&d.join("supervisor.toml"), extra);
        Rig { lcd, extra: extra.iter().map(|s| s.to_string()).collect(), sup, _dir: dir }
    }

    fn set_role(&self, role: &str) {
        std::fs::write(self.lcd.path("role.tmp"), role).unwrap();
        std::fs::rename(self.lcd.path("role.tmp"), self.lcd.path("role")).unwrap();
    }

    /// SIGKILL to the panel, then started again.
    fn crash_panel(&mut self) {
        self.lcd.kill_panel();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let config = self.lcd.path("supervisor.toml");
        self.lcd.start_panel(&config, &extra);
    }

    fn setting(&self, field: &str) -> String {
        self.lcd.settings(&["get", field])
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_raw(self.sup.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let _ = self.sup.wait();
    }
}

#[test]
fn a_2x16_panel_follows_the_spare_and_its_keys_set_a_static_address_confirmed_on_the_panel() {
    let rig = Rig::start(16, 2, &[]);
    let lcd = &rig.lcd;
    lcd.wait_for(&["ARMED", "watching NVRs"]);
    // the spare takes over: the status screen comes to the front with it
    rig.set_role("spare-covering\n");
    lcd.wait_for(&["COVERING 1 NVR", "recording for it"]);
    // and fails back
    rig.set_role("spare-armed\n");
    lcd.wait_for(&["ARMED"]);
    assert_eq!(rig.setting("network.mode"), "dhcp");
    lcd.keys(&["Enter"]);
    lcd.wait_for(&["Menu", ">Network"]);
    lcd.keys(&["Enter"]);
    lcd.wait_for(&["Network", ">DHCP"]);
    lcd.keys(&["Down", "Enter"]);
    lcd.wait_for(&["192.168.001.100", "^"]);
    // the last digit: 100 -> 102; prefix /24 -> /25; the gateway proposed: .1
    lcd.keys(&["Left", "Up", "Up"]);
    lcd.wait_for(&["192.168.001.102", "              ^"]);
    lcd.keys(&["Enter", "Up"]);
    lcd.wait_for(&["prefix /25"]);
    lcd.keys(&["Enter"]);
    lcd.wait_for(&["192.168.001.001"]);
    lcd.keys(&["Enter"]);
    lcd.wait_for(&["Keep new IP?", "Enter=yes Esc=no"]);
    lcd.until("the network applied", || lcd.lines_of("applied") == 1);
    assert_eq!(rig.setting("network.address"), "192.168.1.102");
    assert!(lcd.path("settings/pending-panel.toml").exists());
    lcd.keys(&["Enter"]);
    lcd.wait_for(&["Kept", "the new network"]);
    lcd.until("the pending change forgotten", || !lcd.path("settings/pending-panel.toml").exists());
    assert_eq!(
        (rig.setting("network.mode"), rig.setting("network.prefix"), rig.setting("network.gateway")),
        ("static".into(), "25".into(), "192.168.1.1".into())
    );
    // browsing: a key closes the message, Right brings the IP screen to the front
    lcd.keys(&["Down", "Right"]);
    lcd.wait_for(&["IP (static)"]);
}

#[test]
fn a_panel_killed_before_the_confirmation_reverts_the_change_when_it_starts_again() {
    let mut rig = Rig::start(16, 2, &[]);
    rig.lcd.settings(&["set", "hostname=rack-7"]);
    assert_eq!(rig.setting("hostname"), "rack-7");
    rig.lcd.wait_for(&["ARMED"]);
    // the panel reads the settings every second
    std::thread::sleep(Duration::from_millis(1500));
    // DHCP -> static 192.168.1.100/24 via .1, not confirmed
    rig.lcd.keys(&["Enter", "Enter", "Down", "Enter", "Enter", "Enter", "Enter"]);
    rig.lcd.wait_for(&["Keep new IP?"]);
    assert_eq!(rig.setting("network.mode"), "static");
    assert!(rig.lcd.path("settings/pending-panel.toml").exists());
    rig.crash_panel();
    let lcd = &rig.lcd;
    lcd.until("the change reverted", || rig.setting("network.mode") == "dhcp");
    lcd.until("the pending change forgotten", || !lcd.path("settings/pending-panel.toml").exists());
    lcd.wait_for(&["Reverted"]);
    let history = lcd.settings(&["history"]);
    assert!(history.contains("restored generation 1"), "{history}");
    assert_eq!(rig.setting("hostname"), "rack-7");
    lcd.until("applied, then reverted", || lcd.lines_of("applied") == 2);
}

#[test]
fn a_4x20_panel_reverts_an_unconfirmed_change_reboots_and_factory_resets_after_a_long_press() {
    let rig = Rig::start(20, 4, &["--confirm-within", "3s"]);
    let lcd = &rig.lcd;
    lcd.wait_for(&["Hotspare hotspare", "ARMED", "watching NVRs"]);
    rig.set_role("spare-covering\n");
    lcd.wait_for(&["Hotspare hotspare", "COVERING 1 NVR"]);
    // a static address, not confirmed: back to DHCP after 3 s
    lcd.keys(&["Enter", "Enter", "Down", "Enter"]);
    lcd.wait_for(&["IP address", "192.168.001.100"]);
    lcd.keys(&["Enter", "Enter", "Enter"]);
    lcd.wait_for(&["Keep new IP?"]);
    assert_eq!(rig.setting("network.mode"), "static");
    lcd.wait_for(&["Reverted"]);
    assert_eq!(rig.setting("network.mode"), "dhcp");
    lcd.until("applied, then reverted", || lcd.lines_of("applied") == 2);
    // reboot asks first
    lcd.keys(&["Enter"]); // closes the message
    lcd.keys(&["Enter", "Up", "Up", "Up", "Enter"]);
    lcd.wait_for(&["Reboot?"]);
    lcd.keys(&["Enter"]);
    lcd.until("reboot run", || lcd.lines_of("rebooted") == 1);
    // factory reset: short presses do nothing; Enter held (events every 100 ms) for 3.5 s
    lcd.keys(&["Enter"]);
    lcd.keys(&["Enter", "Up", "Up", "Enter"]);
    lcd.wait_for(&["Factory reset", "Hold Enter 3s"]);
    for _ in 0..3 {
        lcd.key("Enter");
        std::thread::sleep(Duration::from_millis(700));
    }
    lcd.wait_for(&["Hold Enter 3s"]);
    let held = Instant::now();
    while held.elapsed() < Duration::from_millis(3500) {
        lcd.key("Enter");
        std::thread::sleep(Duration::from_millis(100));
    }
    lcd.wait_for(&["ERASE ALL?", "Enter again=yes"]);
    assert_eq!(lcd.lines_of("rebooted"), 1);
    std::thread::sleep(Duration::from_secs(1));
    lcd.keys(&["Enter"]);
    lcd.until("reset and reboot", || lcd.lines_of("rebooted") == 2);
    let history = lcd.settings(&["history"]);
    assert_eq!(history.lines().filter(|l| l.contains("factory reset")).count(), 1, "{history}");
    let generations = std::fs::read_dir(lcd.path("settings"))
        .unwrap()
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().starts_with("settings.")))
        .count();
    assert_eq!(generations, 1, "{history}");
}

#[test]
fn the_panel_comes_back_on_a_restarted_lcdd() {
    let rig = Rig::start(16, 2, &[]);
    let lcd = &rig.lcd;
    lcd.wait_for(&["ARMED"]);
    lcd.restart_lcdd();
    lcd.until("the connection lost", || {
        std::fs::read_to_string(lcd.path("panel.log")).unwrap_or_default().contains("reconnecting")
    });
    rig.set_role("spare-covering\n");
    lcd.wait_for(&["COVERING 1 NVR"]);
    let log = std::fs::read_to_string(lcd.path("panel.log")).unwrap_or_default();
    assert_eq!(log.matches("display 16x2").count(), 2, "{log}");
    // the keys are reserved again
    lcd.keys(&["Enter"]);
    lcd.wait_for(&["Menu", ">Network"]);
}
