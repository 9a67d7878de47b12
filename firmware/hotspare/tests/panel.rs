//! `hotspare panel` against a real LCDd (Debian's lcdproc, `curses` driver inside a detached
//! tmux session of the display's size: `capture-pane` reads the display, `send-keys` presses
//! its keys), with a real `hotspare supervisor` writing status.json: its one service is
//! `hotspare dev-heartbeat --role-file`, whose heartbeats carry the spare's role state (armed,
//! covering) exactly as the failover role's do, switched by the test through a file — the
//! full failover site would add minutes and nothing the panel reads. The settings are checked
//! with `hotspare settings`. Needs `LCDd` and `tmux` (scripts/test installs them).

#[path = "supervisor_common/mod.rs"]
mod supervisor_common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hotspare");

struct Rig {
    dir: tempfile::TempDir,
    tmux: String,
    sup: Child,
    panel: Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tmux(sock: &str, args: &[&str]) -> String {
    let out = Command::new("tmux").arg("-L").arg(sock).args(args).output().expect("tmux (apt-get install tmux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Rig {
    fn start(wid: u32, hgt: u32, extra_panel_args: &[&str]) -> Rig {
        assert!(Path::new("/usr/sbin/LCDd").exists(), "LCDd missing: apt-get install lcdproc (scripts/test does)");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        std::fs::write(
            d.join("LCDd.conf"),
            format!(
                "[server]\nDriverPath=/usr/lib/x86_64-linux-gnu/lcdproc/\nDriver=curses\nBind=127.0.0.1\nPort={port}\n\
                 ReportLevel=3\nReportToSyslog=no\nWaitTime=5\nServerScreen=off\nForeground=yes\n\
                 ToggleRotateKey=\nPrevScreenKey=\nNextScreenKey=\n\
                 [menu]\nMenuKey=Menu\n\
                 [curses]\nSize={wid}x{hgt}\nTopLeftX=0\nTopLeftY=0\nUseACS=no\nDrawBorder=no\n"
            ),
        )
        .unwrap();
        let tmux_sock = format!("hotspare-panel-test-{}-{port}", std::process::id());
        let lcdd = format!("LCDd -c {} -f 2>{}", d.join("LCDd.conf").display(), d.join("lcdd.log").display());
        tmux(&tmux_sock, &["new-session", "-d", "-s", "lcd", "-x", "30", "-y", "8", &lcdd]);
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
        let log = std::fs::File::create(d.join("panel.log")).unwrap();
        let panel = Command::new(BIN)
            .arg("panel")
            .args(["--lcdd", &format!("127.0.0.1:{port}")])
            .arg("--settings")
            .arg(d.join("settings"))
            .arg("--supervisor-config")
            .arg(d.join("supervisor.toml"))
            .args(["--apply-network", &format!("echo applied >> {}", d.join("applied").display())])
            .args(["--reboot", &format!("echo reboot >> {}", d.join("rebooted").display())])
            .args(extra_panel_args)
            .stderr(log)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Rig { dir, tmux: tmux_sock, sup, panel }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The display's lines (the curses window at the top left of the pane).
    fn screen(&self, hgt: usize) -> Vec<String> {
        tmux(&self.tmux, &["capture-pane", "-p", "-t", "lcd"])
            .lines()
            .take(hgt)
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    fn wait_for(&self, hgt: usize, want: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen(hgt);
            if want.iter().all(|w| s.iter().any(|l| l == w)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "screen {s:?} never showed {want:?}\npanel log:\n{}\nLCDd log:\n{}",
                std::fs::read_to_string(self.path("panel.log")).unwrap_or_default(),
                std::fs::read_to_string(self.path("lcdd.log")).unwrap_or_default(),
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            tmux(&self.tmux, &["send-keys", "-t", "lcd", k]);
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn set_role(&self, role: &str) {
        std::fs::write(self.path("role.tmp"), role).unwrap();
        std::fs::rename(self.path("role.tmp"), self.path("role")).unwrap();
    }

    fn setting(&self, field: &str) -> String {
        let out = Command::new(BIN)
            .arg("settings")
            .arg("--dir")
            .arg(self.path("settings"))
            .args(["get", field])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn lines_of(&self, file: &str) -> usize {
        std::fs::read_to_string(self.path(file)).map_or(0, |t| t.lines().count())
    }

    fn until(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(
                Instant::now() < deadline,
                "{what}: never\n{}",
                std::fs::read_to_string(self.path("panel.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for c in [&mut self.panel, &mut self.sup] {
            let pid = rustix::process::Pid::from_raw(c.id() as i32).unwrap();
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let _ = c.wait();
        }
        tmux(&self.tmux, &["kill-server"]);
    }
}

#[test]
fn a_2x16_panel_follows_the_spare_and_its_keys_set_a_static_address_confirmed_on_the_panel() {
    let rig = Rig::start(16, 2, &[]);
    rig.wait_for(2, &["ARMED", "watching NVRs"]);
    // the spare takes over: the status screen comes to the front with it
    rig.set_role("spare-covering\n");
    rig.wait_for(2, &["COVERING 1 NVR", "recording for it"]);
    // and fails back
    rig.set_role("spare-armed\n");
    rig.wait_for(2, &["ARMED"]);
    assert_eq!(rig.setting("network.mode"), "dhcp");
    rig.keys(&["Enter"]);
    rig.wait_for(2, &["Menu", ">Network"]);
    rig.keys(&["Enter"]);
    rig.wait_for(2, &["Network", ">DHCP"]);
    rig.keys(&["Down", "Enter"]);
    rig.wait_for(2, &["192.168.001.100", "^"]);
    // the last digit: 100 -> 102; prefix /24 -> /25; the gateway proposed: .1
    rig.keys(&["Left", "Up", "Up"]);
    rig.wait_for(2, &["192.168.001.102", "              ^"]);
    rig.keys(&["Enter", "Up"]);
    rig.wait_for(2, &["prefix /25"]);
    rig.keys(&["Enter"]);
    rig.wait_for(2, &["192.168.001.001"]);
    rig.keys(&["Enter"]);
    rig.wait_for(2, &["Keep new IP?", "Enter=yes Esc=no"]);
    rig.until("the network applied", || rig.lines_of("applied") == 1);
    assert_eq!(rig.setting("network.address"), "192.168.1.102");
    assert!(rig.path("settings/panel-pending.json").exists());
    rig.keys(&["Enter"]);
    rig.wait_for(2, &["Kept", "the new network"]);
    rig.until("the pending change forgotten", || !rig.path("settings/panel-pending.json").exists());
    assert_eq!(
        (rig.setting("network.mode"), rig.setting("network.prefix"), rig.setting("network.gateway")),
        ("static".into(), "25".into(), "192.168.1.1".into())
    );
    // browsing: a key closes the message, Right brings the IP screen to the front
    rig.keys(&["Down", "Right"]);
    rig.wait_for(2, &["IP (static)"]);
}

#[test]
fn a_4x20_panel_reverts_an_unconfirmed_change_reboots_and_factory_resets_after_a_long_press() {
    let rig = Rig::start(20, 4, &["--confirm-within", "3s"]);
    rig.wait_for(4, &["Hotspare hotspare", "ARMED", "watching NVRs"]);
    rig.set_role("spare-covering\n");
    rig.wait_for(4, &["Hotspare hotspare", "COVERING 1 NVR"]);
    // a static address, not confirmed: back to DHCP after 3 s
    rig.keys(&["Enter", "Enter", "Down", "Enter"]);
    rig.wait_for(4, &["IP address", "192.168.001.100"]);
    rig.keys(&["Enter", "Enter", "Enter"]);
    rig.wait_for(4, &["Keep new IP?"]);
    assert_eq!(rig.setting("network.mode"), "static");
    rig.wait_for(4, &["Reverted"]);
    assert_eq!(rig.setting("network.mode"), "dhcp");
    rig.until("applied, then reverted", || rig.lines_of("applied") == 2);
    // reboot asks first
    rig.keys(&["Enter"]); // closes the message
    rig.keys(&["Enter", "Up", "Up", "Up", "Enter"]);
    rig.wait_for(4, &["Reboot?"]);
    rig.keys(&["Enter"]);
    rig.until("reboot run", || rig.lines_of("rebooted") == 1);
    // factory reset: short presses do nothing; Enter held (events every 100 ms) for 3.5 s
    rig.keys(&["Enter"]);
    rig.keys(&["Enter", "Up", "Up", "Enter"]);
    rig.wait_for(4, &["Factory reset", "Hold Enter 3s"]);
    for _ in 0..3 {
        rig.keys(&["Enter"]);
        std::thread::sleep(Duration::from_millis(700));
    }
    rig.wait_for(4, &["Hold Enter 3s"]);
    let held = Instant::now();
    while held.elapsed() < Duration::from_millis(3500) {
        tmux(&rig.tmux, &["send-keys", "-t", "lcd", "Enter"]);
        std::thread::sleep(Duration::from_millis(100));
    }
    rig.wait_for(4, &["ERASE ALL?", "Enter again=yes"]);
    let before = rig.setting("hostname");
    assert_eq!(before, "hotspare");
    std::thread::sleep(Duration::from_secs(1));
    rig.keys(&["Enter"]);
    rig.until("reset and reboot", || rig.lines_of("rebooted") == 2);
    let out = Command::new(BIN).arg("settings").arg("--dir").arg(rig.path("settings")).arg("history").output().unwrap();
    let history = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(history.lines().filter(|l| l.contains("factory reset")).count(), 1, "{history}");
    assert_eq!(
        std::fs::read_dir(rig.path("settings"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("settings."))
            .count(),
        1
    );
}
