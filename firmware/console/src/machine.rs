//! The console's screens and transitions: [`Console::handle`] (time, input) → outputs. A
//! screen waits for a line; an effect with an outcome (save, gather, …) suspends the
//! console until the adapter feeds the outcome back ([`Wait`]). Every change is one
//! [`Effect::Save`] of a whole draft (conflict-checked by the store); a network change that
//! can cut the installer off is applied, then confirmed on this console within the window
//! or reverted (`confirm::ConfirmWindow`). The menus themselves are in [`crate::menus`].

use hotspare_settings::confirm::{Action, ConfirmWindow, Event, Pending};
use hotspare_settings::Settings;

use crate::event::{Effect, Input, Outcome, Output};
use crate::forms::{self, Scratch, Step};
use crate::screens;

/// The channel this console saves and confirms as.
pub const CHANNEL: &str = "console";

/// How the console is set up (by the adapter).
#[derive(Clone, Debug)]
pub struct Options {
    /// How long a network change waits for its confirmation (µs).
    pub confirm_window_us: i64,
    /// A change left pending by an earlier run (it is reverted at [`Input::Start`]).
    pub pending: Option<Pending>,
    /// This box's licence identity, when known (a pasted licence must name it).
    pub box_id: Option<String>,
    /// After this long (µs) without a key the session ends ([`Console::handle`] at a
    /// tick): back to the console password, or without one to the main menu, a half-typed
    /// form dropped. Not while a network change waits for its confirmation (its own
    /// deadline ends that). `None`: never.
    pub idle_logout_us: Option<i64>,
}

/// A form being filled in.
#[derive(Clone, Debug)]
pub(crate) struct Form {
    pub steps: Vec<Step>,
    pub at: usize,
    pub draft: Settings,
    pub scratch: Scratch,
    pub summary: String,
    pub then: Then,
}

/// Where to go once a change is saved (and applied, and confirmed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    Home,
    /// The wizard asks for (another) NVR to protect.
    WizardNvr,
}

#[derive(Clone, Debug)]
pub(crate) enum Screen {
    Login,
    Main,
    Details {
        page: usize,
    },
    Form(Box<Form>),
    Nvrs {
        page: usize,
    },
    Accounts,
    RemoveViewer,
    Licence {
        lines: Vec<String>,
    },
    Restore {
        list: Vec<(u64, String)>,
    },
    Reboot,
    Reset,
    Confirm {
        then: Then,
    },
    /// The settings could not be read: Enter tries again.
    Broken,
}

/// What the console waits for from the adapter.
#[derive(Clone, Debug)]
pub(crate) enum Wait {
    None,
    /// Gather, then the home screen.
    Home,
    History,
    /// A save, restore or reset; `revert`: the restore undoes an unconfirmed change.
    Saved {
        old: Box<Settings>,
        old_seq: u64,
        then: Then,
        revert: bool,
    },
    /// The network command; `cut`: start the confirmation window back to `revert_to`.
    Applied {
        cut: bool,
        revert_to: u64,
        then: Then,
    },
}

pub struct Console {
    pub(crate) opts: Options,
    pub(crate) settings: Settings,
    pub(crate) seq: u64,
    pub(crate) screen: Screen,
    pub(crate) wait: Wait,
    pub(crate) window: ConfirmWindow,
    pub(crate) logged_in: bool,
    pub(crate) glance: Vec<String>,
    pub(crate) details: String,
    pub(crate) now_us: i64,
    /// No console password is checked before this time (after a wrong one).
    pub(crate) login_after_us: i64,
    /// When a key was last typed (for the idle logout).
    pub(crate) last_key_us: i64,
}

impl Console {
    pub fn new(opts: Options) -> Console {
        Console {
            opts,
            settings: Settings::default(),
            seq: 0,
            screen: Screen::Main,
            wait: Wait::None,
            window: ConfirmWindow::default(),
            logged_in: false,
            glance: Vec::new(),
            details: String::new(),
            now_us: 0,
            login_after_us: 0,
            last_key_us: 0,
        }
    }

    /// The change waiting for its confirmation, if any.
    pub fn pending(&self) -> Option<&Pending> {
        self.window.pending()
    }

    pub fn handle(&mut self, now_us: i64, input: Input) -> Vec<Output> {
        self.now_us = now_us;
        if matches!(input, Input::Start | Input::Line(_) | Input::Interrupt | Input::Quit) {
            self.last_key_us = now_us;
        }
        let mut out = Vec::new();
        match input {
            Input::Start => match self.opts.pending.take() {
                Some(p) => {
                    let actions = self.window.handle(now_us, Event::Restarted(p));
                    self.actions(actions, &mut out);
                }
                None => self.home(&mut out),
            },
            Input::Tick => {
                let actions = self.window.handle(now_us, Event::Tick);
                self.actions(actions, &mut out);
                self.idle_logout(&mut out);
            }
            Input::Outcome(o) => self.outcome(o, &mut out),
            _ if !matches!(self.wait, Wait::None) => {} // typed while busy: dropped
            Input::Interrupt | Input::Quit => self.interrupt(&mut out),
            Input::Line(l) => crate::menus::line(self, l.trim_end_matches(['\r', '\n']), &mut out),
        }
        out
    }

    /// Ends an idle session (see [`Options::idle_logout_us`]): only when there is something
    /// to end (a login to close, a screen other than the main menu).
    fn idle_logout(&mut self, out: &mut Vec<Output>) {
        let Some(limit) = self.opts.idle_logout_us else { return };
        let locked = self.settings.console_password_hash.is_some();
        let something = (locked && self.logged_in) || !matches!(self.screen, Screen::Main | Screen::Login);
        if self.now_us - self.last_key_us < limit
            || !something
            || !matches!(self.wait, Wait::None)
            || self.window.pending().is_some()
        {
            return;
        }
        self.last_key_us = self.now_us;
        text(out, &format!("\n*** No key for {} s: session ended, nothing changed. ***\n", limit / 1_000_000));
        if locked {
            self.logged_in = false;
        }
        self.home(out)
    }

    /// Ctrl-C / Ctrl-\: abandon what is being typed.
    fn interrupt(&mut self, out: &mut Vec<Output>) {
        text(out, "^C\n");
        match &self.screen {
            Screen::Login | Screen::Confirm { .. } => self.prompt(out),
            _ => {
                text(out, "Cancelled: nothing changed.\n");
                self.home(out)
            }
        }
    }

    /// The home screen: the wizard on a fresh box, the console password, or the main menu
    /// (after reading the settings and the status again).
    pub(crate) fn home(&mut self, out: &mut Vec<Output>) {
        self.wait = Wait::Home;
        out.push(Output::Effect(Effect::Gather));
    }

    fn outcome(&mut self, o: Outcome, out: &mut Vec<Output>) {
        match (std::mem::replace(&mut self.wait, Wait::None), o) {
            (Wait::Home, Outcome::Status { seq, settings, glance, details }) => {
                (self.seq, self.settings, self.glance, self.details) = (seq, *settings, glance, details);
                // a console password set from this console does not lock its own session out
                self.logged_in |= self.settings.console_password_hash.is_none();
                if self.settings.needs_first_boot() {
                    self.logged_in = true;
                    text(out, "=== First boot: set the admin password, the network and the NVRs ===\n");
                    self.start_form(forms::wizard(), "first-boot wizard", Then::WizardNvr, out);
                } else if self.settings.console_password_hash.is_some() && !self.logged_in {
                    self.show(Screen::Login, out);
                } else {
                    self.show(Screen::Main, out);
                }
            }
            (Wait::History, Outcome::History(list)) => {
                let mut t = String::from("Configurations kept (newest first):\n");
                for (seq, line) in list.iter().take(screens::ROWS - 4) {
                    let cur = if *seq == self.seq { " (current)" } else { "" };
                    t += &screens::fit(&format!("{seq:>4}  {line}{cur}"));
                    t += "\n";
                }
                text(out, &t);
                self.show(Screen::Restore { list }, out);
            }
            (Wait::Saved { old, old_seq, then, revert }, Outcome::Saved { seq, settings }) => {
                (self.seq, self.settings) = (seq, *settings);
                text(out, &format!("Saved as generation {seq}.\n"));
                // a revert applies even the same settings: the system may run the other ones
                if old.network == self.settings.network && !revert {
                    return self.follow(then, out);
                }
                let cut = !revert && old_seq > 0 && old.cuts_off(&self.settings);
                self.wait = Wait::Applied { cut, revert_to: old_seq, then };
                text(out, &format!("Applying the network: {}\n", screens::network_line(&self.settings)));
                out.push(Output::Effect(Effect::ApplyNetwork));
            }
            (Wait::Applied { cut, revert_to, then }, Outcome::Applied(r)) => {
                if let Err(why) = r {
                    text(out, &format!("Applying the network failed: {why}\n"));
                }
                if !cut {
                    return self.follow(then, out);
                }
                let deadline_us = self.now_us + self.opts.confirm_window_us;
                let p = Pending { applied: self.seq, revert_to, channel: CHANNEL.into(), deadline_us };
                let actions = self.window.handle(self.now_us, Event::Applied(p));
                self.actions(actions, out);
                text(
                    out,
                    &format!(
                        "The new network is in force. Confirm it within {} s, or the previous\n\
                         configuration (generation {revert_to}) comes back.\n",
                        self.opts.confirm_window_us / 1_000_000
                    ),
                );
                self.show(Screen::Confirm { then }, out);
            }
            (Wait::Home, Outcome::Failed { why }) => {
                // the settings cannot be read: wait for the installer rather than loop
                text(out, &format!("The settings cannot be read: {why}\n"));
                self.show(Screen::Broken, out);
            }
            (_, Outcome::Failed { why }) => {
                text(out, &format!("Refused, nothing changed: {why}\n"));
                self.home(out)
            }
            (w, _) => self.wait = w, // not what was asked: ignored
        }
    }

    /// The confirm-or-revert window's actions, in order: persist first, then revert.
    pub(crate) fn actions(&mut self, actions: Vec<Action>, out: &mut Vec<Output>) {
        let mut revert = None;
        for a in actions {
            match a {
                Action::Persist(p) => out.push(Output::Effect(Effect::PersistPending(p))),
                Action::Revert { to, why } => revert = Some((to, why)),
                Action::Confirmed { seq } => text(out, &format!("Network change (generation {seq}) confirmed.\n")),
                Action::Refused { why } => text(out, &format!("{why}\n")),
            }
        }
        if let Some((to, why)) = revert {
            text(out, &format!("\n*** Network change reverted: {why}. Restoring generation {to}. ***\n"));
            let old = Box::new(self.settings.clone());
            self.wait = Wait::Saved { old, old_seq: self.seq, then: Then::Home, revert: true };
            self.screen = Screen::Main;
            out.push(Output::Effect(Effect::Restore { seq: to }));
        }
    }

    fn follow(&mut self, then: Then, out: &mut Vec<Output>) {
        match then {
            Then::WizardNvr if !self.settings.needs_first_boot() => crate::menus::wizard_nvr(self, out),
            _ => self.home(out),
        }
    }

    pub(crate) fn start_form(&mut self, steps: Vec<Step>, summary: &str, then: Then, out: &mut Vec<Output>) {
        let draft = self.settings.clone();
        self.start_form_on(draft, steps, summary, then, out)
    }

    pub(crate) fn start_form_on(
        &mut self,
        draft: Settings,
        steps: Vec<Step>,
        summary: &str,
        then: Then,
        out: &mut Vec<Output>,
    ) {
        let f = Form { steps, at: 0, draft, scratch: Scratch::default(), summary: summary.into(), then };
        self.screen = Screen::Form(Box::new(f));
        self.advance(out);
    }

    /// The next question of the form, or its save when none is left.
    pub(crate) fn advance(&mut self, out: &mut Vec<Output>) {
        let Screen::Form(f) = &mut self.screen else { return };
        let statik = f.draft.network.mode == hotspare_settings::model::AddressMode::Static;
        while f.at < f.steps.len() && f.steps[f.at].only_static() && !statik {
            f.at += 1;
        }
        if f.at < f.steps.len() {
            return self.prompt(out);
        }
        let f = match std::mem::replace(&mut self.screen, Screen::Main) {
            Screen::Form(f) => f,
            _ => return,
        };
        self.save(f.draft, &f.summary, f.then, out);
    }

    /// Saves `draft` as one change (nothing when it equals the settings in force).
    pub(crate) fn save(&mut self, draft: Settings, summary: &str, then: Then, out: &mut Vec<Output>) {
        if draft == self.settings {
            text(out, "Nothing changed.\n");
            return self.follow(then, out);
        }
        let old = Box::new(self.settings.clone());
        self.wait = Wait::Saved { old, old_seq: self.seq, then, revert: false };
        out.push(Output::Effect(Effect::Save { settings: Box::new(draft), edited: self.seq, summary: summary.into() }));
    }

    pub(crate) fn show(&mut self, screen: Screen, out: &mut Vec<Output>) {
        self.screen = screen;
        crate::menus::draw(self, out);
        self.prompt(out);
    }

    /// The question of the current screen.
    pub(crate) fn prompt(&mut self, out: &mut Vec<Output>) {
        let (text, hidden) = match &self.screen {
            Screen::Form(f) => {
                let step = &f.steps[f.at];
                let cur = forms::current(&f.draft, &step.key);
                let cur = if cur.is_empty() { String::new() } else { format!(" [{cur}]") };
                (format!("{}{cur}: ", step.label), step.hidden)
            }
            other => crate::menus::question(other),
        };
        out.push(Output::Prompt { text, hidden });
    }
}

pub(crate) fn text(out: &mut Vec<Output>, t: &str) {
    out.push(Output::Text(t.into()));
}

impl Console {
    /// Handles `input` and runs every effect through `perform` (the adapter's I/O), feeding
    /// its outcome back, until the console waits for a line again. `perform` does every
    /// effect and returns the outcome of those that have one. Returns the text and prompts
    /// to show, in order.
    pub fn drive(
        &mut self,
        now_us: i64,
        input: Input,
        perform: &mut dyn FnMut(&Effect) -> Option<Outcome>,
    ) -> Vec<Output> {
        let mut shown = Vec::new();
        let mut queue: std::collections::VecDeque<Output> = self.handle(now_us, input).into();
        while let Some(o) = queue.pop_front() {
            match o {
                Output::Effect(e) => {
                    if let Some(outcome) = perform(&e) {
                        queue.extend(self.handle(now_us, Input::Outcome(outcome)));
                    }
                }
                other => shown.push(other),
            }
        }
        shown
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
