//! Confirm or roll back: a change that can cut the installer off (the
//! network: [`crate::Settings::cuts_off`]) is applied with a deadline; unless
//! the same channel confirms it in time, the previous generation comes back,
//! like a network switch's "confirm or roll back". A plain state machine in
//! simulated time: [`ConfirmWindow::handle`] takes the time and an event and
//! returns what to do; [`ConfirmWindow::poll_at`] says when to call it again.
//! The pending change is also stored ([`Pending`] is serde) so that a box
//! restarted before the confirmation reverts ([`Event::Restarted`]).

use serde::{Deserialize, Serialize};

/// How long the installer has to confirm by default.
pub const DEFAULT_WINDOW_US: i64 = 120_000_000;

/// An applied change waiting for its confirmation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The generation applied.
    pub applied: u64,
    /// The generation to go back to.
    pub revert_to: u64,
    /// The channel that must confirm (`console`, `panel`, `api:<user>`).
    pub channel: String,
    /// Wall clock µs after which the change is reverted.
    pub deadline_us: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A change that needs confirming was applied.
    Applied(Pending),
    /// `channel` confirms the pending change.
    Confirm { channel: String },
    /// The box (or the service holding the window) started with this pending change on disk.
    Restarted(Pending),
    /// Time passed (at [`ConfirmWindow::poll_at`]).
    Tick,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Make generation `to` current again (a restore) and apply it; `why` for the log.
    Revert { to: u64, why: String },
    /// The change stays; forget the stored pending change.
    Confirmed { seq: u64 },
    /// Nothing to confirm, or the wrong channel: say why to whoever asked.
    Refused { why: String },
    /// Store this pending change (to survive a restart), or clear it (`None`).
    Persist(Option<Pending>),
}

#[derive(Debug, Default)]
pub struct ConfirmWindow {
    pending: Option<Pending>,
}

impl ConfirmWindow {
    pub fn pending(&self) -> Option<&Pending> {
        self.pending.as_ref()
    }

    /// When [`Event::Tick`] is due.
    pub fn poll_at(&self) -> Option<i64> {
        self.pending.as_ref().map(|p| p.deadline_us)
    }

    pub fn handle(&mut self, now_us: i64, event: Event) -> Vec<Action> {
        match event {
            Event::Applied(p) => {
                let mut out = Vec::new();
                // a second change before the first was confirmed: if it is not confirmed,
                // go back to before both
                let p = match self.pending.take() {
                    Some(old) => Pending { revert_to: old.revert_to, ..p },
                    None => p,
                };
                out.push(Action::Persist(Some(p.clone())));
                self.pending = Some(p);
                out
            }
            Event::Confirm { channel } => match &self.pending {
                None => vec![Action::Refused { why: "no change is waiting for a confirmation".into() }],
                Some(p) if p.channel != channel => vec![Action::Refused {
                    why: format!("the change must be confirmed from {} (where it was made)", p.channel),
                }],
                Some(p) if now_us >= p.deadline_us => self.revert(now_us, "confirmed too late"),
                Some(p) => {
                    let seq = p.applied;
                    self.pending = None;
                    vec![Action::Confirmed { seq }, Action::Persist(None)]
                }
            },
            Event::Restarted(p) => {
                self.pending = Some(p);
                self.revert(now_us, "the box restarted before the change was confirmed")
            }
            Event::Tick => match &self.pending {
                Some(p) if now_us >= p.deadline_us => self.revert(now_us, "not confirmed in time"),
                _ => Vec::new(),
            },
        }
    }

    fn revert(&mut self, _now_us: i64, why: &str) -> Vec<Action> {
        match self.pending.take() {
            Some(p) => vec![
                Action::Revert { to: p.revert_to, why: format!("generation {} {why}", p.applied) },
                Action::Persist(None),
            ],
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    fn applied(applied: u64, revert_to: u64, channel: &str, deadline_us: i64) -> Event {
        Event::Applied(Pending { applied, revert_to, channel: channel.into(), deadline_us })
    }

    #[test]
    fn an_unconfirmed_change_is_reverted_at_the_deadline() {
        let mut w = ConfirmWindow::default();
        let a = w.handle(0, applied(5, 4, "console", 120 * S));
        assert!(matches!(&a[..], [Action::Persist(Some(p))] if p.applied == 5));
        assert_eq!(w.poll_at(), Some(120 * S));
        assert!(w.handle(119 * S, Event::Tick).is_empty());
        let a = w.handle(120 * S, Event::Tick);
        assert!(
            matches!(&a[..], [Action::Revert { to: 4, why }, Action::Persist(None)] if why.contains("not confirmed"))
        );
        assert_eq!(w.poll_at(), None);
    }

    #[test]
    fn only_the_same_channel_confirms_and_only_in_time() {
        let mut w = ConfirmWindow::default();
        w.handle(0, applied(5, 4, "console", 120 * S));
        let a = w.handle(10 * S, Event::Confirm { channel: "api:admin".into() });
        assert!(matches!(&a[..], [Action::Refused { why }] if why.contains("from console")));
        let a = w.handle(11 * S, Event::Confirm { channel: "console".into() });
        assert_eq!(a, vec![Action::Confirmed { seq: 5 }, Action::Persist(None)]);
        assert!(w.handle(500 * S, Event::Tick).is_empty());
        let a = w.handle(501 * S, Event::Confirm { channel: "console".into() });
        assert!(matches!(&a[..], [Action::Refused { .. }]));
        w.handle(600 * S, applied(7, 6, "panel", 720 * S));
        let a = w.handle(720 * S, Event::Confirm { channel: "panel".into() });
        assert!(matches!(&a[..], [Action::Revert { to: 6, .. }, Action::Persist(None)]));
    }

    #[test]
    fn two_unconfirmed_changes_revert_to_before_both_and_a_restart_reverts() {
        let mut w = ConfirmWindow::default();
        w.handle(0, applied(5, 4, "console", 120 * S));
        w.handle(30 * S, applied(6, 5, "console", 150 * S));
        let a = w.handle(150 * S, Event::Tick);
        assert!(matches!(&a[..], [Action::Revert { to: 4, .. }, Action::Persist(None)]));
        let mut w = ConfirmWindow::default();
        let p = Pending { applied: 9, revert_to: 8, channel: "panel".into(), deadline_us: 999 * S };
        let a = w.handle(S, Event::Restarted(p));
        assert!(matches!(&a[..], [Action::Revert { to: 8, why }, _] if why.contains("restarted")));
    }
}
