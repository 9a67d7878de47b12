//! The panel's screens on LCDd: the menu screen's lines for the current mode, and the
//! requests that bring LCDd's screens (made once per connection) to what they should show,
//! sending only what changed.

use super::{Mode, Output, Panel, MENU, ROTATE_EIGHTHS};
use crate::entry::caret;
use crate::lcdproc::wire::{Priority, Request, WidgetKind};
use crate::screens::{self, fit};

impl Panel {
    /// The menu screen's lines (`None`: hidden).
    pub(super) fn menu_lines(&self, hgt: usize) -> Option<Vec<String>> {
        let two = |a: String, b: String| Some(vec![a, b]);
        let titled = |t: &str, mut l: Vec<String>| {
            if hgt > 2 {
                l.insert(0, t.to_string());
            }
            Some(l)
        };
        let list = |title: &str, items: &[String], i: usize| {
            let mut l = vec![title.to_string()];
            let first = if hgt > 2 { i.saturating_sub(hgt - 2) } else { i };
            for (j, it) in items.iter().enumerate().skip(first).take(hgt - 1) {
                l.push(format!("{}{it}", if j == i { ">" } else { " " }));
            }
            Some(l)
        };
        match self.mode() {
            Mode::Browse => None,
            Mode::Menu(i) => list("Menu", &MENU.map(String::from), *i),
            Mode::Net(i) => list("Network", &["DHCP".to_string(), "Static IP".into()], *i),
            // 2 lines: the address and the cursor (a 4-line display adds a title)
            Mode::Addr(e) => titled("IP address", vec![e.text(), caret(e.column())]),
            Mode::Prefix(e, p) => titled("IP address", vec![e.text(), format!("prefix /{p}")]),
            Mode::Gateway(_, _, g) => titled("Gateway", vec![g.text(), caret(g.column())]),
            Mode::Saving => two("Saving...".into(), String::new()),
            Mode::Confirm => two("Keep new IP?".into(), "Enter=yes Esc=no".into()),
            Mode::Nvrs(i) => {
                let ids: Vec<String> = self.settings.nvrs.iter().map(|n| n.id.clone()).collect();
                if ids.is_empty() {
                    two("Test NVR".into(), "no NVR set".into())
                } else {
                    list("Test NVR", &ids, *i)
                }
            }
            Mode::Probing(n) => two(format!("Testing {n}"), "...".into()),
            Mode::Reboot => two("Reboot?".into(), "Enter=yes Esc=no".into()),
            Mode::ResetHold { .. } => two("Factory reset".into(), "Hold Enter 3s".into()),
            Mode::ResetConfirm => two("ERASE ALL?".into(), "Enter again=yes".into()),
            Mode::Message(a, b) => two(a.clone(), b.clone()),
        }
    }

    /// Sends what changed on the screens.
    pub(super) fn refresh(&mut self, out: &mut Vec<Output>) {
        let Some((wid, hgt)) = self.size else { return };
        let mut want: Vec<(String, Vec<String>, Priority)> = Vec::new();
        if let Some(v) = &self.view {
            for (i, (id, lines)) in screens::render(v, wid, hgt).into_iter().enumerate() {
                let p = if self.raised.is_some_and(|r| r.0 == i) { Priority::Foreground } else { Priority::Info };
                want.push((id.into(), lines, p));
            }
        }
        let menu = self.menu_lines(hgt);
        let p = if menu.is_some() { Priority::Input } else { Priority::Hidden };
        let lines = menu.unwrap_or_default().iter().take(hgt).map(|l| fit(l, wid)).collect();
        want.push(("menu".into(), lines, p));
        for (id, lines, prio) in want {
            let old = self.sent.iter().position(|s| s.0 == id);
            if old.is_none() {
                out.push(Output::Send(Request::ScreenAdd { id: id.clone() }));
                let duration = (id != "menu").then_some(ROTATE_EIGHTHS);
                out.push(Output::Send(Request::ScreenSet {
                    id: id.clone(),
                    name: id.clone(),
                    priority: prio,
                    duration,
                }));
                for y in 1..=hgt {
                    let w = format!("l{y}");
                    out.push(Output::Send(Request::WidgetAdd { screen: id.clone(), id: w, kind: WidgetKind::String }));
                }
                self.sent.push((id.clone(), vec![String::new(); hgt], prio));
            }
            let Some(s) = self.sent.iter_mut().find(|s| s.0 == id) else { continue };
            for y in 0..hgt {
                let line = lines.get(y).cloned().unwrap_or_default();
                if s.1[y] != line {
                    let w = format!("l{}", y + 1);
                    out.push(Output::Send(Request::StringAt {
                        screen: id.clone(),
                        id: w,
                        x: 1,
                        y: y as u32 + 1,
                        text: line.clone(),
                    }));
                    s.1[y] = line;
                }
            }
            if s.2 != prio {
                out.push(Output::Send(Request::ScreenPriority { id: id.clone(), priority: prio }));
                s.2 = prio;
            }
        }
    }
}
