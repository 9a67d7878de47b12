//! The panel as a pure state machine in simulated time (µs):
//! [`Panel::handle`]`(now, Input) -> Vec<Output>`; [`Panel::poll_at`] says
//! when to send [`Input::Tick`]. It keeps LCDd's screens up to date (only
//! what changed is sent), rotates the status/ip/disks/alarms screens (LCDd's
//! `-duration`), brings the status screen to the front for a while when the
//! state changes, and runs the menu: DHCP or a static address (digit entry,
//! then confirm-or-revert on the panel itself), NVR reachability, reboot
//! (confirmed), factory reset (a long press of Enter, then a fresh Enter).
//!
//! Long press: LCDd reports presses, not releases; a held key arrives as
//! repeated `key` events (the keypad's or terminal's auto-repeat). A key is
//! *held for d* when its events follow each other with gaps of at most
//! [`REPEAT_GAP_US`] over d; factory reset needs [`LONG_PRESS_US`].

use hotspare_settings::confirm::{Action, ConfirmWindow, Event, Pending, DEFAULT_WINDOW_US};
use hotspare_settings::model::{AddressMode, Network};
use hotspare_settings::Settings;

use crate::entry::AddrEntry;
use crate::lcdproc::wire::{Priority, Request};
use crate::screens::ROTATING;
use crate::view::View;

mod render;

const S: i64 = 1_000_000;
/// The rotating screens' duration in LCDd's eighths of a second (5 s).
pub const ROTATE_EIGHTHS: u32 = 40;
/// How long the status screen stays in front after a change of state.
pub const FRONT_US: i64 = 15 * S;
/// How long a screen chosen with Left/Right stays in front.
pub const BROWSE_US: i64 = 30 * S;
/// The menu closes after this long without a key (not while a change waits for confirmation).
pub const IDLE_US: i64 = 60 * S;
pub const MESSAGE_US: i64 = 8 * S;
pub const REPEAT_GAP_US: i64 = 500_000;
pub const LONG_PRESS_US: i64 = 3 * S;
/// The channel the panel's changes are saved and confirmed as.
pub const CHANNEL: &str = "panel";
pub const KEYS: [&str; 6] = ["Enter", "Escape", "Up", "Down", "Left", "Right"];
const MENU: [&str; 5] = ["Network", "Test NVR", "Reboot", "Factory reset", "Back"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Enter,
    Escape,
    Up,
    Down,
    Left,
    Right,
}

impl Key {
    pub fn from_lcdd(name: &str) -> Option<Key> {
        Some(match name {
            "Enter" => Key::Enter,
            "Escape" => Key::Escape,
            "Up" => Key::Up,
            "Down" => Key::Down,
            "Left" => Key::Left,
            "Right" => Key::Right,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// LCDd answered `hello`: (re)create the screens for this size.
    Connected {
        wid: u32,
        hgt: u32,
    },
    Disconnected,
    Key(Key),
    View(View),
    /// The current settings and their generation.
    Settings {
        settings: Box<Settings>,
        seq: u64,
    },
    /// A network change was saved as `seq`; `revert_to`: it can cut off, confirm it or go back there.
    Saved {
        seq: u64,
        revert_to: Option<u64>,
    },
    SaveFailed(String),
    /// The panel started with this unconfirmed change on disk.
    Restarted(Pending),
    /// An NVR reachability test: the connect time in ms, or why it failed.
    Probed(Result<u64, String>),
    Tick,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Send(Request),
    /// Save this network (based on generation `edited`) as the panel.
    SaveNetwork {
        network: Network,
        edited: u64,
    },
    /// Make generation `to` current again and apply it.
    Revert {
        to: u64,
        why: String,
    },
    Confirmed {
        seq: u64,
    },
    /// Store (or clear) the unconfirmed change.
    Persist(Option<Pending>),
    /// Test a TCP connection to this NVR's URL.
    Probe {
        nvr: String,
        url: String,
    },
    Reboot,
    FactoryReset,
}

#[derive(Clone, Debug, PartialEq)]
enum Mode {
    Browse,
    Menu(usize),
    Net(usize),
    Addr(AddrEntry),
    Prefix(AddrEntry, u8),
    Gateway(AddrEntry, u8, AddrEntry),
    Saving,
    Confirm,
    Nvrs(usize),
    Probing(String),
    Reboot,
    /// Factory reset asks for Enter held: since when (`None`: no hold begun yet).
    ResetHold {
        since: Option<i64>,
    },
    ResetConfirm,
    Message(String, String),
}

#[derive(Default)]
pub struct Panel {
    size: Option<(usize, usize)>,
    view: Option<View>,
    settings: Settings,
    seq: u64,
    mode: Option<Mode>,
    window: ConfirmWindow,
    /// A rotating screen in front, until when.
    raised: Option<(usize, i64)>,
    /// When the menu mode last changed by a key, or a message appeared.
    since: i64,
    /// The last key event and when (long presses).
    last_key: Option<(Key, i64)>,
    /// What LCDd shows now: lines and priority per screen.
    sent: Vec<(String, Vec<String>, Priority)>,
    /// How long a network change waits for its confirmation (0: the default).
    window_us: i64,
}

impl Panel {
    pub fn new() -> Panel {
        Panel { window_us: DEFAULT_WINDOW_US, ..Panel::default() }
    }

    /// A panel whose network changes wait `us` for their confirmation.
    pub fn with_window(us: i64) -> Panel {
        Panel { window_us: us, ..Panel::default() }
    }

    fn mode(&self) -> &Mode {
        self.mode.as_ref().unwrap_or(&Mode::Browse)
    }

    /// When [`Input::Tick`] is due.
    pub fn poll_at(&self) -> Option<i64> {
        let idle = match self.mode() {
            Mode::Browse | Mode::Confirm | Mode::Saving | Mode::Probing(_) => None,
            Mode::Message(..) => Some(self.since + MESSAGE_US),
            _ => Some(self.since + IDLE_US),
        };
        [self.raised.map(|r| r.1), self.window.poll_at(), idle].into_iter().flatten().min()
    }

    pub fn handle(&mut self, now: i64, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Connected { wid, hgt } => {
                self.size = Some((wid as usize, hgt as usize));
                self.sent.clear();
                out.push(Output::Send(Request::ClientSet { name: "hotspare".into() }));
                for k in KEYS {
                    out.push(Output::Send(Request::AddKey { key: k.into() }));
                }
            }
            Input::Disconnected => {
                self.size = None;
                self.sent.clear();
            }
            Input::Key(k) => self.key(now, k, &mut out),
            Input::View(v) => {
                let changed = self.view.as_ref().is_some_and(|old| old.state != v.state);
                if changed {
                    self.raised = Some((0, now + FRONT_US));
                }
                self.view = Some(v);
            }
            Input::Settings { settings, seq } => (self.settings, self.seq) = (*settings, seq),
            Input::Saved { seq, revert_to } => match revert_to {
                Some(to) => {
                    let p = Pending {
                        applied: seq,
                        revert_to: to,
                        channel: CHANNEL.into(),
                        deadline_us: now + if self.window_us > 0 { self.window_us } else { DEFAULT_WINDOW_US },
                    };
                    let acts = self.window.handle(now, Event::Applied(p));
                    self.actions(now, acts, &mut out);
                    self.set(now, Mode::Confirm);
                }
                None => self.message(now, "Saved", &format!("generation {seq}")),
            },
            Input::SaveFailed(why) => self.message(now, "NOT saved", &why),
            Input::Restarted(p) => {
                let acts = self.window.handle(now, Event::Restarted(p));
                self.actions(now, acts, &mut out);
            }
            Input::Probed(r) => {
                if let Mode::Probing(nvr) = self.mode().clone() {
                    match r {
                        Ok(ms) => self.message(now, &format!("{nvr}: ok"), &format!("connect {ms} ms")),
                        Err(e) => self.message(now, &format!("{nvr}: FAILED"), &e),
                    }
                }
            }
            Input::Tick => {
                if self.raised.is_some_and(|r| now >= r.1) {
                    self.raised = None;
                }
                let acts = self.window.handle(now, Event::Tick);
                self.actions(now, acts, &mut out);
                if self.poll_at().is_some_and(|t| now >= t) && !matches!(self.mode(), Mode::Browse) {
                    self.set(now, Mode::Browse);
                }
            }
        }
        self.refresh(&mut out);
        out
    }

    fn set(&mut self, now: i64, m: Mode) {
        self.mode = Some(m);
        self.since = now;
    }

    fn message(&mut self, now: i64, a: &str, b: &str) {
        self.set(now, Mode::Message(a.into(), b.into()));
    }

    fn actions(&mut self, now: i64, acts: Vec<Action>, out: &mut Vec<Output>) {
        for a in acts {
            match a {
                Action::Revert { to, why } => {
                    self.message(now, "Reverted", &why);
                    out.push(Output::Revert { to, why });
                }
                Action::Confirmed { seq } => {
                    self.message(now, "Kept", "the new network");
                    out.push(Output::Confirmed { seq });
                }
                Action::Refused { why } => self.message(now, "Refused", &why),
                Action::Persist(p) => out.push(Output::Persist(p)),
            }
        }
    }

    fn key(&mut self, now: i64, k: Key, out: &mut Vec<Output>) {
        use Key::*;
        let repeat = matches!(self.last_key, Some((l, at)) if l == k && now - at <= REPEAT_GAP_US);
        let mode = self.mode().clone();
        match (mode, k) {
            (Mode::Browse, Left | Right | Up | Down) => {
                let i = self.raised.map_or(0, |r| r.0);
                let n = ROTATING.len();
                let j = if matches!(k, Left | Up) { (i + n - 1) % n } else { (i + 1) % n };
                self.raised = Some((j, now + BROWSE_US));
            }
            (Mode::Browse, Enter) => self.set(now, Mode::Menu(0)),
            (Mode::Browse, Escape) => self.raised = None,
            (Mode::Menu(i), Up) => self.set(now, Mode::Menu((i + MENU.len() - 1) % MENU.len())),
            (Mode::Menu(i), Down) => self.set(now, Mode::Menu((i + 1) % MENU.len())),
            (Mode::Menu(_), Escape) => self.set(now, Mode::Browse),
            (Mode::Menu(i), Enter | Right) => match i {
                0 => self.set(now, Mode::Net(usize::from(self.settings.network.mode == AddressMode::Static))),
                1 => self.set(now, Mode::Nvrs(0)),
                2 => self.set(now, Mode::Reboot),
                3 => self.set(now, Mode::ResetHold { since: None }),
                _ => self.set(now, Mode::Browse),
            },
            (Mode::Net(i), Up | Down) => self.set(now, Mode::Net(1 - i)),
            (Mode::Net(_), Escape) => self.set(now, Mode::Menu(0)),
            (Mode::Net(0), Enter) => {
                let network = Network {
                    mode: AddressMode::Dhcp,
                    address: None,
                    prefix: None,
                    gateway: None,
                    ..self.settings.network.clone()
                };
                self.save(now, network, out);
            }
            (Mode::Net(_), Enter) => {
                let a = self.settings.network.address.unwrap_or(std::net::Ipv4Addr::new(192, 168, 1, 100));
                self.set(now, Mode::Addr(AddrEntry::new(a)));
            }
            (Mode::Addr(mut e), Left | Right | Up | Down) => {
                edit(&mut e, k);
                self.set(now, Mode::Addr(e));
            }
            (Mode::Addr(_), Escape) => self.set(now, Mode::Net(1)),
            (Mode::Addr(e), Enter) => self.set(now, Mode::Prefix(e, self.settings.network.prefix.unwrap_or(24))),
            (Mode::Prefix(e, p), Up | Right) => self.set(now, Mode::Prefix(e, if p >= 32 { 1 } else { p + 1 })),
            (Mode::Prefix(e, p), Down | Left) => self.set(now, Mode::Prefix(e, if p <= 1 { 32 } else { p - 1 })),
            (Mode::Prefix(e, _), Escape) => self.set(now, Mode::Addr(e)),
            (Mode::Prefix(e, p), Enter) => {
                let mut o = e.octets;
                o[3] = 1;
                let g = self.settings.network.gateway.map_or(AddrEntry::new(o.into()), AddrEntry::new);
                self.set(now, Mode::Gateway(e, p, g));
            }
            (Mode::Gateway(a, p, mut g), Left | Right | Up | Down) => {
                edit(&mut g, k);
                self.set(now, Mode::Gateway(a, p, g));
            }
            (Mode::Gateway(a, p, _), Escape) => self.set(now, Mode::Prefix(a, p)),
            (Mode::Gateway(a, p, g), Enter) => {
                let network = Network {
                    mode: AddressMode::Static,
                    address: Some(a.addr()),
                    prefix: Some(p),
                    gateway: Some(g.addr()),
                    ..self.settings.network.clone()
                };
                self.save(now, network, out);
            }
            (Mode::Confirm, Enter) => {
                let acts = self.window.handle(now, Event::Confirm { channel: CHANNEL.into() });
                self.actions(now, acts, out);
            }
            (Mode::Confirm, Escape) => {
                if let Some(p) = self.window.pending().cloned() {
                    self.window = ConfirmWindow::default();
                    let why = format!("generation {} cancelled on the panel", p.applied);
                    self.actions(now, vec![Action::Revert { to: p.revert_to, why }, Action::Persist(None)], out);
                }
            }
            (Mode::Nvrs(i), Up | Down) if !self.settings.nvrs.is_empty() => {
                let n = self.settings.nvrs.len();
                self.set(now, Mode::Nvrs(if k == Up { (i + n - 1) % n } else { (i + 1) % n }));
            }
            (Mode::Nvrs(i), Enter) => match self.settings.nvrs.get(i) {
                Some(n) => {
                    out.push(Output::Probe { nvr: n.id.clone(), url: n.url.clone() });
                    self.set(now, Mode::Probing(n.id.clone()));
                }
                None => self.set(now, Mode::Menu(1)),
            },
            (Mode::Nvrs(_), Escape) => self.set(now, Mode::Menu(1)),
            (Mode::Reboot, Enter) => {
                out.push(Output::Reboot);
                self.message(now, "Rebooting", "");
            }
            (Mode::Reboot, Escape) => self.set(now, Mode::Menu(2)),
            // The hold begins at its first Enter, even one right after the Enter that opened
            // this screen (within the repeat gap: that is not yet a hold), and goes on while
            // the presses repeat.
            (Mode::ResetHold { since }, Enter) => {
                let since = since.filter(|_| repeat).unwrap_or(now);
                if now - since >= LONG_PRESS_US {
                    self.set(now, Mode::ResetConfirm);
                } else {
                    self.mode = Some(Mode::ResetHold { since: Some(since) });
                }
            }
            (Mode::ResetHold { .. }, _) => self.set(now, Mode::Menu(3)),
            // the Enter events of the hold itself do not confirm: a fresh press does
            (Mode::ResetConfirm, Enter) if repeat => {}
            (Mode::ResetConfirm, Enter) => {
                out.push(Output::FactoryReset);
                self.message(now, "Factory reset", "rebooting");
            }
            (Mode::ResetConfirm, _) => self.set(now, Mode::Menu(3)),
            (Mode::Message(..), _) => self.set(now, Mode::Browse),
            _ => {}
        }
        self.last_key = Some((k, now));
    }

    fn save(&mut self, now: i64, network: Network, out: &mut Vec<Output>) {
        if network == self.settings.network {
            return self.message(now, "No change", "");
        }
        out.push(Output::SaveNetwork { network, edited: self.seq });
        self.set(now, Mode::Saving);
    }
}

fn edit(e: &mut AddrEntry, k: Key) {
    match k {
        Key::Left => e.left(),
        Key::Right => e.right(),
        Key::Up => e.step(true),
        Key::Down => e.step(false),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
