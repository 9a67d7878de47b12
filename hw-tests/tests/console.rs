//! The serial console of the image (`hotspare console` on ttyAMA0, a supervisor service):
//! a fresh box shows the first-boot wizard on the serial port and stores its answers; then
//! the menu answers (status at a glance: firmware version, slot, last reset), Ctrl-C cancels
//! a form without ending the console, and a console killed with SIGKILL is restarted by the
//! supervisor and answers again. The power-safe settings store under QMP `quit` while
//! `hotspare settings set` writes in a loop: after each power-on the settings load and are
//! one of those written. Commands run on the maintenance port's shell (hvc0).
//! Needs the image (`scripts/build-image`; `scripts/test` builds it).

use std::time::Duration;

use hotspare_hw_tests::appliance::{skip_reason, Appliance, Options};

/// Power-on to ready, with room for a loaded 2-core machine; × HW_TIMEOUT_FACTOR.
const BOOT: Duration = Duration::from_secs(180);
const CMD: Duration = Duration::from_secs(60);
/// One screen or answer of the console (PBKDF2 of a password under TCG included).
const SCREEN: Duration = Duration::from_secs(60);
const MENU: &str = "Choice (1-11): ";
const PASSWORD: &str = "rack admin 2026";

fn skip() -> bool {
    match skip_reason() {
        Some(r) => {
            eprintln!("SKIPPED: {r}");
            true
        }
        None => false,
    }
}

/// Waits for the prompt `label` and types `answer` (Enter: a terminal sends CR).
fn answer(vm: &mut Appliance, label: &str, answer: &str) -> String {
    let seen = vm.console_expect(label, SCREEN);
    vm.console_send(&format!("{answer}\r"));
    seen
}

/// The pid of the `hotspare <role>` process (`None`: not running).
#[test]
fn a_fresh_image_shows_the_wizard_then_a_menu_that_survives_ctrl_c_and_kill_9() {
    if skip() {
        return;
    }
    let mut vm = Appliance::boot(&Options { fresh: true, ..Options::default() });
    // the wizard comes first (a new system disk: no settings, no admin account)
    vm.console_expect("=== First boot: set the admin password, the network and the NVRs ===", BOOT);
    let (_, took) = vm.wait_ready(BOOT);
    eprintln!("ready {:.1} s after power-on, the console in the supervisor's services", took.as_secs_f64());
    let console = vm.pid_of("console").expect("the console runs");

    answer(&mut vm, "New password for admin", PASSWORD);
    answer(&mut vm, "The same password again", PASSWORD);
    answer(&mut vm, "Address mode (dhcp/static)", "dhcp");
    answer(&mut vm, "DNS servers", "10.0.2.3");
    let nvr = answer(&mut vm, "NVR id", "nvr-1");
    assert!(nvr.contains("An NVR to protect"), "{nvr}");
    answer(&mut vm, "NVR API URL", "https://10.0.2.50:8443");
    answer(&mut vm, "NVR admin user", "");
    answer(&mut vm, "NVR admin password", "nvr secret");
    answer(&mut vm, "Priority", "");
    let saved = answer(&mut vm, "NVR id", "");
    assert!(saved.contains("Saved as generation"), "{saved}");
    let menu = vm.console_expect(MENU, SCREEN);
    assert!(!menu.contains(PASSWORD), "a password was echoed: {menu}");

    // the settings stored, as the settings command reads them
    let show = vm.shell_ok("hotspare settings --dir /data/settings show", CMD).join("\n");
    assert!(show.contains("mode = \"dhcp\"") && show.contains("10.0.2.3"), "{show}");
    assert!(show.contains("id = \"nvr-1\"") && show.contains("https://10.0.2.50:8443"), "{show}");
    // the account is there, its secret never shown (hotspare_settings::secrets)
    assert!(show.contains("user = \"admin\"") && !show.contains("password_hash") && !show.contains(PASSWORD), "{show}");

    // status at a glance: firmware version and slot, last reset; the NVR; 80x24
    let screen = &menu[menu.rfind("=== Hotspare console").unwrap_or_else(|| panic!("no main menu: {menu}"))..];
    let version = env!("CARGO_PKG_VERSION");
    assert!(screen.contains(&format!("firmware {version}, slot A, last reset ")), "{screen}");
    assert!(screen.contains("NVRs protected: nvr-1") && screen.contains("10) Factory reset"), "{screen}");
    // (the supervisor's and the kernel's log lines share the port: not the menu's)
    let own: Vec<&str> = screen.lines().filter(|l| !l.contains('\x1b') && !l.starts_with("[ ")).collect();
    assert!(own.len() <= 24 && own.iter().all(|l| l.chars().count() < 80), "{screen}");

    // a menu path: the status details, back
    vm.console_send("1\r");
    vm.console_expect("Enter: next page, q: back: ", SCREEN);
    vm.console_send("q\r");
    vm.console_expect(MENU, SCREEN);
    // Ctrl-C in a form: cancelled, back to the menu, the same console process
    vm.console_send("2\r");
    vm.console_expect("Address mode (dhcp/static)", SCREEN);
    vm.console_send("\x03");
    let out = vm.console_expect(MENU, SCREEN);
    assert!(out.contains("Cancelled: nothing changed"), "{out}");
    vm.console_send("\x03");
    vm.console_expect(MENU, SCREEN);
    assert_eq!(vm.pid_of("console"), Some(console), "Ctrl-C ended the console");

    // SIGKILL: the supervisor starts it again and the menu answers
    vm.console_skip();
    vm.shell_ok(&format!("kill -9 {console}"), CMD);
    let again = vm.console_expect(MENU, SCREEN);
    assert!(again.contains("=== Hotspare console"), "{again}");
    let restarted = vm.pid_of("console").expect("the console runs again");
    assert_ne!(restarted, console);
    vm.console_send("1\r");
    vm.console_expect("Enter: next page, q: back: ", SCREEN);
    let lines = vm.qemu.lines_with("console").join("\n");
    eprintln!("the supervisor on the console service:\n{lines}");
}

/// xorshift64: the cut moments, the same on every run.
struct Seeded(u64);

impl Seeded {
    fn next_ms(&mut self, from: u64, to: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        from + self.0 % (to - from)
    }
}

/// The highest N of the lines `<tag>N` (the typed command's echo has `$i`, not a number).
fn done(lines: &[String], tag: &str) -> u64 {
    let numbers = lines.iter().flat_map(|l| l.split(tag).skip(1));
    numbers.filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()).max().unwrap_or(0)
}

/// The generation and host name `hotspare settings show` reports (it must load).
fn stored(vm: &mut Appliance) -> (u64, String) {
    let show = vm.shell_ok("hotspare settings --dir /data/settings show", CMD);
    let seq =
        show.iter().find_map(|l| l.strip_prefix("# generation ")?.split_whitespace().next()?.parse().ok()).unwrap_or(0);
    let host = show
        .iter()
        .find_map(|l| l.strip_prefix("hostname = \"")?.strip_suffix('"').map(String::from))
        .unwrap_or_else(|| panic!("no hostname in {show:#?}"));
    (seq, host)
}

#[test]
fn power_cuts_while_saving_leave_the_old_or_the_new_settings() {
    if skip() {
        return;
    }
    let mut vm = Appliance::boot(&Options::default());
    let mut seed = Seeded(0x5eed_c0de_2026_1207);
    // what the box holds for sure: (the last generation seen written, its host name)
    let mut last: Option<(u64, String)> = None;
    for cut in 1..=3 {
        // the writer: each `set` a new generation, said once it returned (stored, fsynced)
        let writer = format!(
            "(i=0; while i=$((i+1)); hotspare settings --dir /data/settings set hostname=cut{cut}-$i >/dev/null; do \
             echo \"wrote cut{cut}-$i\"; done) &"
        );
        vm.shell_ok(&writer, CMD);
        vm.maint.expect(&format!("wrote cut{cut}-1"), CMD).unwrap_or_else(|e| panic!("{e}"));
        let wait = seed.next_ms(300, 6000);
        std::thread::sleep(Duration::from_millis(wait));
        vm.maint.drain();
        let n = done(&vm.maint.transcript, &format!("wrote cut{cut}-"));
        vm.power_cut();
        eprintln!("cut {cut}: after {wait} ms, {n} sets seen done");
        vm.power_on();
        let (seq, host) = stored(&mut vm);
        eprintln!("cut {cut}: generation {seq}, hostname {host}");
        // one of those written, no older than the last one seen done
        let i: u64 = host
            .strip_prefix(&format!("cut{cut}-"))
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("cut {cut}: hostname {host:?} is none of those written"));
        assert!(i >= n, "cut {cut}: {host} is older than cut{cut}-{n}, seen done");
        if let Some((last_seq, _)) = &last {
            assert!(seq > *last_seq, "cut {cut}: generation {seq} after {last_seq}");
        }
        last = Some((seq, host));
    }
    // the store is still usable: a change and its history
    vm.shell_ok("hotspare settings --dir /data/settings set hostname=after-the-cuts", CMD);
    assert_eq!(stored(&mut vm).1, "after-the-cuts");
    let history = vm.shell_ok("hotspare settings --dir /data/settings history", CMD).join("\n");
    eprintln!("history after the cuts:\n{history}");
}
