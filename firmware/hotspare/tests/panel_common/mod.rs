//! Shared by the front panel's tests: a real LCDd (Debian's lcdproc, `curses` driver) in a
//! detached tmux session of its own server (`tmux -L`), sized by the test: `capture-pane`
//! reads the display, `send-keys` presses its keys; and `hotspare panel` connected to it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hotspare");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tmux(sock: &str, args: &[&str]) -> String {
    let out = Command::new("tmux").arg("-L").arg(sock).args(args).output().expect("tmux (apt-get install tmux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// LCDd with a `wid × hgt` curses display, and the panel once [`Lcd::start_panel`] ran.
pub struct Lcd {
    pub dir: PathBuf,
    pub port: u16,
    pub hgt: usize,
    tmux: String,
    lcdd: String,
    panel: Option<Child>,
}

impl Lcd {
    /// LCDd on a free port, its files in `dir`.
    pub fn start(dir: &Path, wid: u32, hgt: u32) -> Lcd {
        assert!(Path::new("/usr/sbin/LCDd").exists(), "LCDd missing: apt-get install lcdproc (scripts/test does)");
        let port = free_port();
        // No server screen, no server menu keys (Menu is not a key of the curses driver).
        std::fs::write(
            dir.join("LCDd.conf"),
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
        let lcdd = format!("LCDd -c {} -f 2>{}", dir.join("LCDd.conf").display(), dir.join("lcdd.log").display());
        tmux(&tmux_sock, &["new-session", "-d", "-s", "lcd", "-x", "30", "-y", "8", &lcdd]);
        Lcd { dir: dir.to_owned(), port, hgt: hgt as usize, tmux: tmux_sock, lcdd, panel: None }
    }

    /// `hotspare panel` on this LCDd, the settings in `<dir>/settings`; `--apply-network`
    /// and `--reboot` append a line to `<dir>/applied` and `<dir>/rebooted`.
    pub fn start_panel(&mut self, supervisor_config: &Path, extra: &[&str]) {
        let d = &self.dir;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(d.join("panel.log")).unwrap();
        let panel = Command::new(BIN)
            .arg("panel")
            .args(["--lcdd", &format!("127.0.0.1:{}", self.port)])
            .arg("--settings")
            .arg(d.join("settings"))
            .arg("--supervisor-config")
            .arg(supervisor_config)
            .args(["--apply-network", &format!("echo applied >> {}", d.join("applied").display())])
            .args(["--reboot", &format!("echo reboot >> {}", d.join("rebooted").display())])
            .args(extra)
            .stderr(log)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.panel = Some(panel);
    }

    /// LCDd killed and started again (the pane respawned); returns once it is gone.
    pub fn restart_lcdd(&self) {
        tmux(&self.tmux, &["respawn-pane", "-k", "-t", "lcd", &self.lcdd]);
    }

    /// SIGKILL to the panel (a crash or a power cut of its process).
    pub fn kill_panel(&mut self) {
        if let Some(mut c) = self.panel.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The display's lines (the curses window at the top left of the pane).
    pub fn screen(&self) -> Vec<String> {
        tmux(&self.tmux, &["capture-pane", "-p", "-t", "lcd"])
            .lines()
            .take(self.hgt)
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    pub fn logs(&self) -> String {
        format!(
            "panel log:\n{}\nLCDd log:\n{}",
            std::fs::read_to_string(self.path("panel.log")).unwrap_or_default(),
            std::fs::read_to_string(self.path("lcdd.log")).unwrap_or_default(),
        )
    }

    /// Waits (up to `limit`) until every line of `want` is on the display.
    pub fn wait_for_within(&self, limit: Duration, want: &[&str], more: impl Fn() -> String) {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.screen();
            if want.iter().all(|w| s.iter().any(|l| l == w)) {
                return;
            }
            assert!(Instant::now() < deadline, "screen {s:?} never showed {want:?}\n{}\n{}", self.logs(), more());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_for(&self, want: &[&str]) {
        self.wait_for_within(Duration::from_secs(20), want, String::new)
    }

    /// Presses keys (tmux key names: Enter, Escape, Up, Down, Left, Right), 150 ms apart.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.key(k);
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    pub fn key(&self, k: &str) {
        tmux(&self.tmux, &["send-keys", "-t", "lcd", k]);
    }

    pub fn lines_of(&self, file: &str) -> usize {
        std::fs::read_to_string(self.path(file)).map_or(0, |t| t.lines().count())
    }

    pub fn until(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "{what}: never\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `hotspare settings --dir <dir>/settings ARGS…`'s output.
    pub fn settings(&self, args: &[&str]) -> String {
        let out =
            Command::new(BIN).arg("settings").arg("--dir").arg(self.path("settings")).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Lcd {
    fn drop(&mut self) {
        if let Some(c) = self.panel.as_mut() {
            let pid = rustix::process::Pid::from_raw(c.id() as i32).unwrap();
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let _ = c.wait();
        }
        tmux(&self.tmux, &["kill-server"]);
    }
}
