//! The console's menu paths in simulated time, over a real settings store in a temporary
//! directory (the effects performed as `hotspare console` does, the network "applied" by
//! recording it).

use hotspare_settings::confirm::Pending;
use hotspare_settings::model::{AddressMode, Network};
use hotspare_settings::{Settings, SettingsStore};

use super::*;

const S: i64 = 1_000_000;
const WINDOW: i64 = 30 * S;

struct BoxSide {
    store: SettingsStore,
    applied: Vec<Network>,
    pending: Option<Pending>,
    reboots: u32,
}

impl BoxSide {
    fn perform(&mut self, e: &Effect) -> Option<Outcome> {
        let saved = |r: Result<u64, hotspare_settings::store::SaveError>, st: &SettingsStore| match r {
            Ok(seq) => Outcome::Saved { seq, settings: Box::new(st.current().unwrap().settings) },
            Err(e) => Outcome::Failed { why: e.to_string() },
        };
        Some(match e {
            Effect::Save { settings, edited, summary } => {
                saved(self.store.save(settings, *edited, CHANNEL, summary), &self.store)
            }
            Effect::Restore { seq } => saved(self.store.restore(*seq, CHANNEL), &self.store),
            Effect::FactoryReset => saved(self.store.factory_reset(CHANNEL), &self.store),
            Effect::ApplyNetwork => {
                self.applied.push(self.store.current().unwrap().settings.network);
                Outcome::Applied(Ok(()))
            }
            Effect::PersistPending(p) => {
                self.pending = p.clone();
                return None;
            }
            Effect::Gather => {
                let c = self.store.current().unwrap();
                let details: String = (1..=30).map(|i| format!("detail line {i}\n")).collect();
                Outcome::Status {
                    seq: c.seq(),
                    settings: Box::new(c.settings),
                    glance: vec!["status: healthy".into()],
                    details,
                }
            }
            Effect::History => Outcome::History(
                self.store
                    .history()
                    .unwrap()
                    .into_iter()
                    .map(|g| (g.seq, g.meta.map(|m| m.summary).unwrap_or_default()))
                    .collect(),
            ),
            Effect::Reboot => {
                self.reboots += 1;
                return None;
            }
        })
    }
}

struct Sim {
    _dir: tempfile::TempDir,
    side: BoxSide,
    c: Console,
    now: i64,
    /// The last prompt and whether it hides the answer.
    prompt: (String, bool),
}

impl Sim {
    fn new(setup: impl FnOnce(&SettingsStore)) -> (Sim, String) {
        Sim::with(setup, Options { confirm_window_us: WINDOW, pending: None, box_id: None, idle_logout_us: None })
    }

    fn with(setup: impl FnOnce(&SettingsStore), opts: Options) -> (Sim, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::open(dir.path()).unwrap();
        setup(&store);
        let side = BoxSide { store, applied: Vec::new(), pending: None, reboots: 0 };
        let mut sim = Sim { _dir: dir, side, c: Console::new(opts), now: 1_000 * S, prompt: Default::default() };
        let t = sim.send(Input::Start);
        (sim, t)
    }

    fn send(&mut self, input: Input) -> String {
        let side = &mut self.side;
        let outs = self.c.drive(self.now, input, &mut |e| side.perform(e));
        let mut t = String::new();
        for o in outs {
            match o {
                Output::Text(x) => t += &x,
                Output::Prompt { text, hidden } => {
                    t += &text;
                    self.prompt = (text, hidden);
                }
                Output::Effect(_) => {}
            }
        }
        t
    }

    fn line(&mut self, l: &str) -> String {
        self.send(Input::Line(l.into()))
    }

    fn lines(&mut self, ls: &[&str]) -> String {
        ls.iter().map(|l| self.line(l)).collect()
    }

    fn current(&self) -> (u64, Settings) {
        let c = self.side.store.current().unwrap();
        (c.seq(), c.settings)
    }
}

fn set_up(store: &SettingsStore) {
    let mut s = Settings::default();
    s.set_account("admin", hotspare_http::Role::Admin, "a long password");
    store.save(&s, 0, "cli", "set up").unwrap();
}

#[test]
fn the_first_boot_wizard_sets_the_password_network_and_nvrs_then_the_menu() {
    let (mut sim, t) = Sim::new(|_| {});
    assert!(t.contains("First boot"), "{t}");
    assert!(sim.prompt.1, "the password prompt hides the answer");
    let t = sim.line("short");
    assert!(t.contains("password: at least 8 characters") && t.contains("First boot"), "{t}");
    assert_eq!(sim.current().0, 0, "nothing saved");
    let t = sim.lines(&["a long password", "a long password", "static", "10.0.0.2", "24", "10.0.0.1", "10.0.0.1"]);
    assert!(t.contains("Saved as generation 1") && t.contains("An NVR to protect"), "{t}");
    // a fresh box has nothing to revert to: applied without a confirmation
    assert_eq!(sim.side.applied.len(), 1);
    assert_eq!(sim.side.pending, None);
    let t = sim.lines(&["nvr-1", "https://10.0.0.5:8443", "", "nvr secret", ""]);
    assert!(t.contains("Saved as generation 2") && t.contains("An NVR to protect"), "{t}");
    let t = sim.line("");
    assert!(t.contains("No NVR added") && t.contains("NVRs protected: nvr-1") && t.contains("Choice (1-11)"), "{t}");
    let (seq, s) = sim.current();
    assert_eq!(seq, 2);
    assert!(!s.needs_first_boot());
    assert_eq!(s.network.address, Some([10, 0, 0, 2].into()));
    assert_eq!((s.nvrs[0].admin_user.as_str(), s.nvrs[0].priority), ("admin", 1));
}

#[test]
fn an_unconfirmed_network_change_is_reverted_and_applied_again() {
    let (mut sim, _) = Sim::new(set_up);
    let t = sim.lines(&["2", "static", "192.168.7.20", "24", "192.168.7.1", "192.168.7.1"]);
    assert!(t.contains("Saved as generation 2") && t.contains("Confirm it within 30 s"), "{t}");
    assert_eq!(sim.side.pending.as_ref().map(|p| (p.applied, p.revert_to)), Some((2, 1)));
    sim.now += WINDOW - 1;
    assert_eq!(sim.send(Input::Tick), "");
    sim.now += 1;
    let t = sim.send(Input::Tick);
    assert!(t.contains("reverted") && t.contains("Saved as generation 3") && t.contains("Choice"), "{t}");
    let (seq, s) = sim.current();
    assert_eq!((seq, s.network.mode), (3, AddressMode::Dhcp));
    assert_eq!(sim.side.applied.iter().map(|n| n.mode).collect::<Vec<_>>(), [AddressMode::Static, AddressMode::Dhcp]);
    assert_eq!(sim.side.pending, None);
}

#[test]
fn a_confirmed_network_change_stays_and_ctrl_c_does_not_skip_the_question() {
    let (mut sim, _) = Sim::new(set_up);
    sim.lines(&["2", "static", "192.168.7.20", "24", "", ""]);
    let t = sim.send(Input::Interrupt);
    assert!(t.contains("Keep the new network?"), "{t}");
    let t = sim.line("y");
    assert!(t.contains("confirmed") && t.contains("Choice"), "{t}");
    sim.now += 10 * WINDOW;
    assert_eq!(sim.send(Input::Tick), "");
    assert_eq!(sim.current().1.network.mode, AddressMode::Static);
    assert_eq!(sim.side.pending, None);
}

#[test]
fn a_change_pending_at_start_is_reverted() {
    let dir = tempfile::tempdir().unwrap();
    let store = SettingsStore::open(dir.path()).unwrap();
    set_up(&store);
    let mut s = store.current().unwrap().settings;
    hotspare_settings::fields::set(&mut s, "network.mode", "static").unwrap();
    hotspare_settings::fields::set(&mut s, "network.address", "10.9.0.2").unwrap();
    hotspare_settings::fields::set(&mut s, "network.prefix", "16").unwrap();
    store.save(&s, 1, CHANNEL, "network").unwrap();
    let pending = Pending { applied: 2, revert_to: 1, channel: CHANNEL.into(), deadline_us: 5 * S };
    let side = BoxSide { store, applied: Vec::new(), pending: Some(pending.clone()), reboots: 0 };
    let opts = Options { confirm_window_us: WINDOW, pending: Some(pending), box_id: None, idle_logout_us: None };
    let mut sim = Sim { _dir: dir, side, c: Console::new(opts), now: S, prompt: Default::default() };
    let t = sim.send(Input::Start);
    assert!(t.contains("restarted before the change was confirmed") && t.contains("Choice"), "{t}");
    assert_eq!(sim.current().1.network.mode, AddressMode::Dhcp);
    assert_eq!(sim.side.applied.len(), 1);
    assert_eq!(sim.side.pending, None);
}

#[test]
fn bad_input_names_the_field_and_changes_nothing() {
    let (mut sim, _) = Sim::new(set_up);
    let before = sim.current();
    let t = sim.lines(&["2", "static", "10.0.0.300"]);
    assert!(t.contains("network.address: \"10.0.0.300\": not an IPv4 address") && t.contains("Nothing changed"), "{t}");
    let t = sim.lines(&["2", "static", "10.0.0.2", "24", "10.1.0.1"]);
    assert!(t.contains("network.gateway: 10.1.0.1: must be another address") && t.contains("Nothing changed"), "{t}");
    let t = sim.lines(&["7", "", "Europe/../Paris"]);
    assert!(t.contains("time.timezone"), "{t}");
    let t = sim.lines(&["3", "a", "nvr 1"]);
    assert!(t.contains("nvr[0].id") && t.contains("Nothing changed"), "{t}");
    let t = sim.line("42");
    assert!(t.contains("choose 1 to 11"), "{t}");
    assert_eq!(sim.current(), before);
    assert!(sim.side.applied.is_empty());
}

#[test]
fn nvrs_are_added_edited_and_removed() {
    let (mut sim, _) = Sim::new(set_up);
    sim.lines(&["3", "a", "nvr-1", "https://10.0.0.5:8443", "", "secret-1", "5"]);
    sim.lines(&["3", "a", "nvr-2", "https://10.0.0.6:8443", "root", "secret-2", ""]);
    let t = sim.line("3");
    assert!(t.contains("nvr-1") && t.contains("nvr-2") && t.contains("prio 6"), "{t}");
    sim.lines(&["e 1", "", "https://10.0.0.7:8443", "", "", "9"]);
    let s = sim.current().1;
    assert_eq!(
        (s.nvrs[0].url.as_str(), s.nvrs[0].priority, s.nvrs[0].admin_password.as_str()),
        ("https://10.0.0.7:8443", 9, "secret-1")
    );
    let t = sim.lines(&["3", "r 2"]);
    assert!(t.contains("Saved"), "{t}");
    let s = sim.current().1;
    assert_eq!(s.nvrs.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), ["nvr-1"]);
    let t = sim.lines(&["3", "r 7"]);
    assert!(t.contains("a, e N or r N"), "{t}");
}

#[test]
fn accounts_and_the_console_password() {
    let (mut sim, _) = Sim::new(set_up);
    sim.lines(&["4", "1", "another password", "another password"]);
    sim.lines(&["4", "2", "guard", "viewer password", "viewer password"]);
    let t = sim.lines(&["4", "2", "guard2", "viewer password", "viewer passwort"]);
    assert!(t.contains("the two passwords differ"), "{t}");
    let s = sim.current().1;
    assert_eq!(s.accounts.len(), 2);
    assert!(hotspare_http::password::verify_password("another password", &s.accounts[0].password_hash));
    sim.lines(&["4", "3", "guard"]);
    assert_eq!(sim.current().1.accounts.len(), 1);
    sim.lines(&["4", "4", "console secret", "console secret"]);
    // a new console (the service restarted) asks for it
    let mut c = Console::new(Options { confirm_window_us: WINDOW, pending: None, box_id: None, idle_logout_us: None });
    let side = &mut sim.side;
    let text = |o: Vec<Output>| {
        o.into_iter()
            .map(|o| match o {
                Output::Text(t) | Output::Prompt { text: t, .. } => t,
                Output::Effect(_) => String::new(),
            })
            .collect::<String>()
    };
    let t = text(c.drive(0, Input::Start, &mut |e| side.perform(e)));
    assert!(t.ends_with("Console password: ") && !t.contains("Choice"), "{t}");
    let t = text(c.drive(0, Input::Line("wrong one".into()), &mut |e| side.perform(e)));
    assert!(t.contains("Wrong password") && !t.contains("Choice"), "{t}");
    // not the right one either: too soon after a wrong one
    let t = text(c.drive(2 * S, Input::Line("console secret".into()), &mut |e| side.perform(e)));
    assert!(t.contains("Too soon") && !t.contains("Choice"), "{t}");
    let t = text(c.drive(3 * S, Input::Line("console secret".into()), &mut |e| side.perform(e)));
    assert!(t.contains("Choice"), "{t}");
}

#[test]
fn a_bad_licence_is_refused_and_email_time_are_saved() {
    let (mut sim, _) = Sim::new(set_up);
    let t = sim.lines(&["6", "box_id = \"x\"", "nvrs = 4", ""]);
    assert!(t.contains("licence:") && t.contains("Nothing changed"), "{t}");
    assert_eq!(sim.current().0, 1);
    sim.lines(&["5", "smtp.example.com", "", "spare@example.com", "ops@example.com", "-", "-"]);
    let e = sim.current().1.email.unwrap();
    assert_eq!((e.smtp_host.as_str(), e.smtp_port, e.to.len()), ("smtp.example.com", 587, 1));
    sim.lines(&["7", "ntp.example.com,10.0.0.1", "Europe/Paris"]);
    let t = sim.lines(&["11", "spare-7", "", "200"]);
    assert!(t.contains("monitoring.interval_s: 200: allowed 30") && t.contains("Nothing changed"), "{t}");
    sim.lines(&["11", "spare-7", "", "60", "5", "Spare seven", "off"]);
    let s = sim.current().1;
    assert_eq!((s.hostname.as_str(), s.monitoring.interval_s, s.monitoring.failures), ("spare-7", 60, 5));
    assert_eq!((s.announcement.server_name.as_str(), s.announcement.ssdp), ("Spare seven", false));
    assert!(sim.line("").contains("=== Hotspare console: spare-7 ==="));
    let s = sim.current().1;
    assert_eq!((s.time.ntp.len(), s.time.timezone.as_str()), (2, "Europe/Paris"));
}

#[test]
fn restore_reboot_factory_reset_and_status_pages() {
    let (mut sim, _) = Sim::new(set_up);
    sim.lines(&["7", "", "Europe/Paris"]);
    let t = sim.line("8");
    assert!(t.contains("   2  time (current)") && t.contains("   1  set up"), "{t}");
    let t = sim.line("1");
    assert!(t.contains("Saved as generation 3"), "{t}");
    assert_eq!(sim.current().1.time.timezone, "UTC");
    let t = sim.lines(&["8", "3"]);
    assert!(t.contains("not an older generation"), "{t}");
    let t = sim.lines(&["9", "no"]);
    assert!(!t.contains("Rebooting") && sim.side.reboots == 0, "{t}");
    sim.lines(&["9", "yes"]);
    assert_eq!(sim.side.reboots, 1);
    let t = sim.line("1");
    assert!(t.contains("detail line 21\n-- page 1 of 2"), "{t}");
    assert!(t.lines().count() < screens::ROWS);
    let t = sim.line("");
    assert!(t.contains("detail line 30\n-- page 2 of 2"), "{t}");
    let t = sim.line("");
    assert!(t.contains("Choice"), "{t}");
    let t = sim.lines(&["10", "reset"]);
    assert!(t.contains("not confirmed") && !sim.current().1.needs_first_boot(), "{t}");
    let t = sim.lines(&["10", "RESET"]);
    assert!(t.contains("First boot"), "{t}");
    assert!(sim.current().1.needs_first_boot());
    assert_eq!(sim.side.store.history().unwrap().len(), 1);
}

#[test]
fn ctrl_c_and_ctrl_backslash_cancel_a_form_and_never_end_the_console() {
    let (mut sim, _) = Sim::new(set_up);
    let before = sim.current();
    sim.lines(&["2", "static"]);
    let t = sim.send(Input::Interrupt);
    assert!(t.contains("Cancelled: nothing changed") && t.contains("Choice"), "{t}");
    sim.lines(&["3", "a", "nvr-9"]);
    let t = sim.send(Input::Quit);
    assert!(t.contains("Cancelled") && t.contains("Choice"), "{t}");
    let t = sim.send(Input::Interrupt);
    assert!(t.contains("Choice"), "{t}");
    assert_eq!(sim.current(), before);
}

#[test]
fn unreadable_settings_wait_for_enter_instead_of_looping() {
    let (mut sim, _) = Sim::new(set_up);
    let dir = sim.side.store.dir().to_owned();
    let mut c = Console::new(Options { confirm_window_us: WINDOW, pending: None, box_id: None, idle_logout_us: None });
    let mut calls = 0;
    let mut broken = |e: &Effect| {
        calls += 1;
        match e {
            Effect::Gather => Some(Outcome::Failed { why: format!("{}: permission denied", dir.display()) }),
            _ => None,
        }
    };
    let outs = c.drive(0, Input::Start, &mut broken);
    assert!(matches!(outs.last(), Some(Output::Prompt { text, .. }) if text == "Enter: try again: "), "{outs:?}");
    let outs = c.drive(0, Input::Line(String::new()), &mut broken);
    assert!(matches!(&outs[0], Output::Text(t) if t.contains("permission denied")), "{outs:?}");
    assert_eq!(calls, 2);
    // readable again: the menu
    let t = sim.send(Input::Interrupt);
    assert!(t.contains("Choice"), "{t}");
}

#[test]
fn a_save_from_another_channel_meanwhile_is_not_undone() {
    let (mut sim, _) = Sim::new(set_up);
    sim.lines(&["7", "ntp.example.com"]);
    let mut other = sim.current().1;
    other.hostname = "from-the-panel".into();
    sim.side.store.save(&other, 1, "panel", "hostname").unwrap();
    let t = sim.line("Europe/Paris");
    assert!(t.contains("Refused, nothing changed: the settings changed meanwhile") && t.contains("by panel"), "{t}");
    let (seq, s) = sim.current();
    assert_eq!((seq, s.hostname.as_str(), s.time.timezone.as_str()), (2, "from-the-panel", "UTC"));
    // the menu shows the settings in force again, and the next change is based on them
    assert!(t.contains("=== Hotspare console: from-the-panel ==="), "{t}");
    sim.lines(&["7", "", "Europe/Paris"]);
    let (seq, s) = sim.current();
    assert_eq!((seq, s.hostname.as_str(), s.time.timezone.as_str()), (3, "from-the-panel", "Europe/Paris"));
}

#[test]
fn an_idle_session_ends_a_half_typed_form_is_dropped_and_the_password_asked_again() {
    const IDLE: i64 = 600 * S;
    let opts = Options { confirm_window_us: WINDOW, pending: None, box_id: None, idle_logout_us: Some(IDLE) };
    let (mut sim, _) = Sim::with(set_up, opts.clone());
    let before = sim.current();
    sim.lines(&["7", "ntp.example.com"]);
    sim.now += IDLE - S;
    assert_eq!(sim.send(Input::Tick), "", "not idle long enough yet");
    sim.now += S;
    let t = sim.send(Input::Tick);
    assert!(t.contains("No key for 600 s: session ended") && t.contains("Choice"), "{t}");
    assert_eq!(sim.current(), before, "the half-typed change is dropped");
    sim.now += 2 * IDLE;
    assert_eq!(sim.send(Input::Tick), "", "at the main menu with no password: nothing to end");

    let with_password = |st: &SettingsStore| {
        let mut s = Settings::default();
        s.set_account("admin", hotspare_http::Role::Admin, "a long password");
        s.console_password_hash = Some(hotspare_http::password::hash_password("console pw"));
        st.save(&s, 0, "cli", "set up").unwrap();
    };
    let (mut sim, t) = Sim::with(with_password, opts);
    assert!(sim.prompt.1, "{t}");
    let t = sim.line("console pw");
    assert!(t.contains("Choice"), "{t}");
    sim.now += IDLE;
    let t = sim.send(Input::Tick);
    assert!(t.contains("session ended") && sim.prompt.1, "the console password again: {t}");
    sim.now += 5 * S;
    let t = sim.line("console pw");
    assert!(t.contains("Choice"), "{t}");
}
