//! `hotspare console` through a real pseudo-terminal: the test opens a pty pair, runs the
//! console on the slave and types on the master like an installer at a serial terminal
//! (an expect-style helper), then checks the settings store on disk. Covers the first-boot
//! wizard, every menu path, bad input, Ctrl-C and Ctrl-\, SIGTERM, the revert of an
//! unconfirmed network change (short window) and the confirm of another, a restart with a
//! change pending, the console password, a hang-up, factory reset back to the wizard, restore.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hotspare_settings::model::AddressMode;
use hotspare_settings::{Settings, SettingsStore};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};

const BIN: &str = env!("CARGO_BIN_EXE_hotspare");
const PASSWORD: &str = "a long password";
const TIMEOUT: Duration = Duration::from_secs(30);

/// A console whose terminal hung up keeps reopening its pty's path; no other test may be
/// given that pty number meanwhile: a hang-up holds this for writing, `Term::start` for
/// reading while it allocates a pty.
static PTYS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// A console running on a pty slave, driven from the master.
struct Term {
    master: std::fs::File,
    child: Child,
    /// Everything read from the master.
    seen: String,
    /// Where the next `expect` starts looking.
    at: usize,
    log: PathBuf,
    /// Held from a hang-up until the console has ended.
    hung: Option<std::sync::RwLockWriteGuard<'static, ()>>,
}

impl Term {
    fn start(dir: &Path, window: &str) -> Term {
        Term::start_with(dir, window, &[])
    }

    fn start_with(dir: &Path, window: &str, extra: &[&str]) -> Term {
        let allocating = PTYS.read().unwrap_or_else(|e| e.into_inner());
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let slave = ptsname(&master, Vec::new()).unwrap().into_string().unwrap();
        let log = dir.join("console.log");
        let child = Command::new(BIN)
            .args(["console", "--tty", &slave, "--settings"])
            .arg(dir.join("settings"))
            .arg("--supervisor-config")
            .arg(dir.join("no-supervisor.toml"))
            .arg("--apply-network")
            .arg(dir.join("apply-network"))
            .arg("--reboot")
            .arg(dir.join("reboot"))
            .args(["--confirm-window", window, "--box-id", "TEST-BOX"])
            .args(extra)
            .env("HOTSPARE", BIN)
            .env("RECORD", dir.join("record"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        drop(allocating);
        Term { master: master.into(), child, seen: String::new(), at: 0, log, hung: None }
    }

    /// Waits for `pattern` after what the last expect matched; returns the text up to it.
    fn expect(&mut self, pattern: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(i) = self.seen[self.at..].find(pattern) {
                let end = self.at + i + pattern.len();
                let text = self.seen[self.at..end].to_string();
                self.at = end;
                return text;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timeout waiting for {pattern:?}; screen since the last match:\n{}\nlog:\n{}",
                &self.seen[self.at..],
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            let _ = self.read(left.min(Duration::from_millis(200)));
        }
    }

    /// Waits for the console to sit at a question: the screen ends with `: ` and nothing
    /// more comes for a moment. Returns the text since the last match.
    fn prompt(&mut self) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let got = self.read(Duration::from_millis(150));
            if !got && self.seen.len() > self.at && self.seen.ends_with(": ") {
                let text = self.seen[self.at..].to_string();
                self.at = self.seen.len();
                return text;
            }
            assert!(Instant::now() < deadline, "no question on the screen:\n{}", &self.seen[self.at..]);
        }
    }

    /// Reads what is there within `wait`; false: nothing came.
    fn read(&mut self, wait: Duration) -> bool {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let ts = Timespec { tv_sec: 0, tv_nsec: wait.as_nanos().min(999_999_999) as i64 };
        let mut fds = [PollFd::new(&self.master, PollFlags::IN)];
        if poll(&mut fds, Some(&ts)).unwrap_or(0) == 0 {
            return false;
        }
        let mut b = [0u8; 4096];
        match self.master.read(&mut b) {
            Ok(n) if n > 0 => {
                self.seen.push_str(&String::from_utf8_lossy(&b[..n]).replace('\r', ""));
                true
            }
            _ => false,
        }
    }

    /// Types a line and Enter (a terminal sends CR).
    fn line(&mut self, l: &str) {
        self.master.write_all(format!("{l}\r").as_bytes()).unwrap();
    }

    /// Types lines, each after the previous prompt (`: `) showed.
    fn lines(&mut self, ls: &[&str]) -> String {
        let mut t = String::new();
        for l in ls {
            self.line(l);
            t += &self.prompt();
        }
        t
    }

    fn key(&mut self, b: u8) {
        self.master.write_all(&[b]).unwrap();
    }

    /// The terminal goes away (the master closed: a hang-up for the console).
    fn hang_up(&mut self) {
        self.hung = Some(PTYS.write().unwrap_or_else(|e| e.into_inner()));
        self.master = std::fs::File::open("/dev/null").unwrap();
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGTERM: the only way it ends (exit 0).
    fn stop(mut self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let status = self.child.wait().unwrap();
        self.hung = None;
        assert!(status.success(), "{status}");
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary box: settings dir, the network and reboot programs (they record).
fn site() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let script = |name: &str, body: &str| {
        let p = d.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script(
        "apply-network",
        "echo \"applied $(\"$HOTSPARE\" settings --dir \"$1\" get network.mode) \
         $(\"$HOTSPARE\" settings --dir \"$1\" get network.address)\" >> \"$RECORD\"",
    );
    script("reboot", "echo reboot >> \"$RECORD\"");
    d
}

fn store(d: &Path) -> SettingsStore {
    SettingsStore::open(&d.join("settings")).unwrap()
}

fn current(d: &Path) -> (u64, Settings) {
    let c = store(d).current().unwrap();
    (c.seq(), c.settings)
}

fn record(d: &Path) -> Vec<String> {
    std::fs::read_to_string(d.join("record")).unwrap_or_default().lines().map(String::from).collect()
}

/// A box past its first boot (an admin account).
fn set_up(d: &Path) {
    let mut s = Settings::default();
    s.set_account("admin", hotspare_http::Role::Admin, PASSWORD);
    store(d).save(&s, 0, "cli", "set up").unwrap();
}

const MENU: &str = "Choice (1-11): ";

#[test]
fn wizard_every_menu_and_factory_reset_back_to_the_wizard() {
    let d = site();
    let mut t = Term::start(d.path(), "120s");
    let out = t.prompt();
    assert!(out.contains("First boot") && out.ends_with("New password for admin: "), "{out}");
    let out = t.lines(&["short"]);
    assert!(out.contains("password: at least 8 characters") && out.ends_with("New password for admin: "), "{out}");
    let out = t.lines(&[PASSWORD, PASSWORD, "dhcp", "10.0.0.53"]);
    assert!(!out.contains(PASSWORD), "a password is echoed: {out}");
    assert!(out.contains("An NVR to protect"), "{out}");
    let out = t.lines(&["nvr-1", "https://10.0.0.5:8443", "", "nvr secret", ""]);
    assert!(out.contains("Saved as generation 2") && out.contains("An NVR to protect"), "{out}");
    let menu = t.lines(&[""]);
    assert!(menu.ends_with(MENU), "{menu}");
    assert!(menu.contains("NVRs protected: nvr-1") && menu.contains("network: DHCP, DNS 10.0.0.53"), "{menu}");
    assert!(menu.contains("status cannot be read") && menu.contains("10) Factory reset"), "{menu}");
    let screen = &menu[menu.find("=== Hotspare console").unwrap()..];
    assert!(screen.lines().count() <= 24 && screen.lines().all(|l| l.chars().count() < 80), "{screen}");
    let (seq, s) = current(d.path());
    assert_eq!((seq, s.nvrs.len(), s.needs_first_boot()), (2, 1, false));

    // Ctrl-C and Ctrl-\ are keys: back to the menu, never the end of the console
    t.lines(&["2", "static"]);
    t.key(0x03);
    let out = t.prompt();
    assert!(out.contains("Cancelled: nothing changed") && out.ends_with(MENU), "{out}");
    t.lines(&["3"]);
    t.key(0x1c);
    assert!(t.prompt().ends_with(MENU));
    // nor do the signals a terminal or a careless `kill` sends
    let pid = rustix::process::Pid::from_raw(t.child.id() as i32).unwrap();
    for sig in [rustix::process::Signal::INT, rustix::process::Signal::QUIT, rustix::process::Signal::HUP] {
        rustix::process::kill_process(pid, sig).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(t.running());
    assert!(t.lines(&[""]).ends_with(MENU));
    assert_eq!(current(d.path()).0, 2);

    // status details
    let out = t.lines(&["1"]);
    assert!(out.contains("status cannot be read") && out.contains("-- page 1 of 1"), "{out}");
    assert!(t.lines(&["q"]).ends_with(MENU));
    // NVRs: add, edit, remove
    t.lines(&["3", "a", "nvr-2", "https://10.0.0.6:8443", "root", "secret 2", "7"]);
    t.lines(&["3", "e 1", "", "", "", "", "9"]);
    assert!(t.lines(&["3", "r 2"]).ends_with(MENU));
    let s = current(d.path()).1;
    assert_eq!(s.nvrs.iter().map(|n| (n.id.as_str(), n.priority)).collect::<Vec<_>>(), [("nvr-1", 9)]);
    // accounts: a viewer; e-mail; time
    t.lines(&["4", "2", "guard", "viewer password", "viewer password"]);
    t.lines(&["5", "smtp.example.com", "", "spare@example.com", "ops@example.com", "-", "-"]);
    assert!(t.lines(&["7", "", "Europe/Paris"]).ends_with(MENU));
    let out = t.lines(&["11", "spare-7", "fast", "", "2", "", ""]);
    assert!(out.contains("=== Hotspare console: spare-7 ===") && out.ends_with(MENU), "{out}");
    let s = current(d.path()).1;
    assert_eq!(s.accounts.len(), 2);
    assert_eq!(s.email.map(|e| e.smtp_host), Some("smtp.example.com".into()));
    assert_eq!(s.time.timezone, "Europe/Paris");
    assert_eq!((s.hostname.as_str(), s.monitoring.failures), ("spare-7", 2));
    // licence: a bad one refused, one signed with the development key for this box stored
    t.line("6");
    t.expect("empty line");
    t.line("not = \"a licence\"");
    let out = t.lines(&[""]);
    assert!(out.contains("licence:") && out.contains("Nothing changed") && out.ends_with(MENU), "{out}");
    let lic = d.path().join("licence.toml");
    let st = Command::new(BIN)
        .args(["licence", "issue", "--key"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../failover/fixtures/licence/dev.key"))
        .args(["--box-id", "TEST-BOX", "--nvrs", "4", "--channels", "16", "--licence-id", "L-TEST-1", "-o"])
        .arg(&lic)
        .output()
        .unwrap();
    assert!(st.status.success(), "{st:?}");
    t.line("6");
    t.expect("empty line");
    for l in std::fs::read_to_string(&lic).unwrap().lines() {
        t.line(l);
    }
    let out = t.lines(&[""]);
    assert!(out.contains("licence L-TEST-1 verified") && out.contains("licence: L-TEST-1 for box TEST-BOX"), "{out}");
    assert!(current(d.path()).1.licence.is_some());
    // restore the generation before the licence
    let seq = current(d.path()).0;
    let list = t.lines(&["8"]);
    assert!(list.contains(&format!("{seq:>4}  ")) && list.contains("licence L-TEST-1 (current)"), "{list}");
    assert!(t.lines(&[&(seq - 1).to_string()]).ends_with(MENU));
    let (now, s) = current(d.path());
    assert_eq!((now, s.licence.is_none()), (seq + 1, true));
    // reboot: asked, then the board's program
    // (the wizard applied its network: DNS)
    assert_eq!(record(d.path()), ["applied dhcp "]);
    t.lines(&["9", "no"]);
    assert_eq!(record(d.path()).len(), 1);
    assert!(t.lines(&["9", "yes"]).contains("Rebooting"));
    assert_eq!(record(d.path()), ["applied dhcp ", "reboot"]);
    // factory reset: typed confirmation, then the wizard again
    let out = t.lines(&["10", "reset"]);
    assert!(out.contains("not confirmed") && !current(d.path()).1.needs_first_boot(), "{out}");
    let out = t.lines(&["10", "RESET"]);
    assert!(out.contains("First boot") && out.ends_with("New password for admin: "), "{out}");
    assert!(current(d.path()).1.needs_first_boot());
    assert_eq!(store(d.path()).history().unwrap().len(), 1);
    t.stop();
}

#[test]
fn an_unconfirmed_network_change_is_reverted_and_a_confirmed_one_stays() {
    let d = site();
    set_up(d.path());
    let mut t = Term::start(d.path(), "3s");
    assert!(t.prompt().ends_with(MENU));
    let out = t.lines(&["2", "static", "192.168.7.20", "24", "192.168.7.1", ""]);
    assert!(out.contains("Confirm it within 3 s") && out.ends_with("y: keep, n: revert now: "), "{out}");
    assert!(d.path().join("settings/pending-console.toml").exists());
    t.expect("not confirmed in time");
    let out = t.prompt();
    assert!(out.contains("Restoring generation 1") && out.ends_with(MENU), "{out}");
    let (seq, s) = current(d.path());
    assert_eq!((seq, s.network.mode), (3, AddressMode::Dhcp));
    assert_eq!(record(d.path()), ["applied static 192.168.7.20", "applied dhcp "]);
    assert!(!d.path().join("settings/pending-console.toml").exists());

    let out = t.lines(&["2", "static", "192.168.7.21", "24", "", ""]);
    assert!(out.ends_with("y: keep, n: revert now: "), "{out}");
    let out = t.lines(&["y"]);
    assert!(out.contains("confirmed") && out.ends_with(MENU), "{out}");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(current(d.path()).1.network.address, Some([192, 168, 7, 21].into()));
    assert_eq!(record(d.path()).len(), 3);
    assert!(!d.path().join("settings/pending-console.toml").exists());
    t.stop();
}

#[test]
fn bad_input_a_restart_with_a_pending_change_and_the_console_password() {
    let d = site();
    set_up(d.path());
    let mut t = Term::start(d.path(), "600s");
    assert!(t.prompt().ends_with(MENU));
    let out = t.lines(&["2", "static", "10.0.0.300"]);
    assert!(out.contains("network.address: \"10.0.0.300\": not an IPv4 address") && out.contains("Nothing changed"));
    let out = t.lines(&["2", "static", "10.0.0.2", "24", "10.9.0.1"]);
    assert!(out.contains("network.gateway: 10.9.0.1: must be another address"), "{out}");
    let out = t.lines(&["3", "a", "bad id!"]);
    assert!(out.contains("nvr[0].id") && out.contains("Nothing changed"), "{out}");
    let out = t.lines(&["4", "2", "guard", "viewer password", "viewer passwort"]);
    assert!(out.contains("the two passwords differ") && out.ends_with(MENU), "{out}");
    assert_eq!(current(d.path()).0, 1, "nothing saved");
    assert!(record(d.path()).is_empty(), "nothing applied");
    // a console password, and a network change left unconfirmed when the console stops
    t.lines(&["4", "4", "console secret", "console secret"]);
    let out = t.lines(&["2", "static", "10.0.0.2", "24", "", ""]);
    assert!(out.ends_with("y: keep, n: revert now: "), "{out}");
    assert_eq!(current(d.path()).1.network.mode, AddressMode::Static);
    t.stop();
    let mut t = Term::start(d.path(), "600s");
    let out = t.prompt();
    assert!(out.contains("restarted before the change was confirmed") && out.ends_with("Console password: "), "{out}");
    assert_eq!(current(d.path()).1.network.mode, AddressMode::Dhcp);
    assert!(current(d.path()).1.console_password_hash.is_some());
    let out = t.lines(&["wrong password"]);
    assert!(out.contains("Wrong password") && !out.contains("Choice"), "{out}");
    std::thread::sleep(Duration::from_secs(3));
    assert!(t.lines(&["console secret"]).ends_with(MENU));
    // a hang-up does not end it (it waits for its tty again); SIGTERM does, with exit 0
    t.hang_up();
    std::thread::sleep(Duration::from_secs(2));
    assert!(t.running());
    t.stop();
    // an installer who walks away is logged out
    let mut t = Term::start_with(d.path(), "600s", &["--idle-logout", "3s"]);
    assert!(t.prompt().ends_with("Console password: "));
    assert!(t.lines(&["console secret"]).ends_with(MENU));
    let out = t.expect("Console password: ");
    assert!(out.contains("No key for 3 s: session ended"), "{out}");
    t.stop();
}
