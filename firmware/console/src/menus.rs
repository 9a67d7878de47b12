//! What each screen shows, asks, and does with a line typed (the numbered menus, the NVR
//! and account submenus, the licence paste, restore, reboot, factory reset, the network
//! confirmation, the console password). Pure: effects go out through [`Output`].

use hotspare_failover::licence::Licence;
use hotspare_http::Role;
use hotspare_settings::confirm::Event;

use crate::event::{Effect, Output};
use crate::forms::{self, Key, Step};
use crate::machine::{text, Console, Screen, Then, Wait, CHANNEL};
use crate::screens;

/// After a wrong console password, the next one is checked only this much later (µs).
pub const LOGIN_DELAY_US: i64 = 3_000_000;

/// Lines of the status details per page (the page footer and prompt take the rest).
const PAGE: usize = screens::ROWS - 3;

/// The text of the screen (before its question).
pub(crate) fn draw(c: &Console, out: &mut Vec<Output>) {
    let t = match &c.screen {
        Screen::Main => screens::main_menu(&c.settings, c.seq, &c.glance, &licence_summary(&c.settings)),
        Screen::Details { page } => {
            let pages = screens::pages(&c.details, PAGE);
            let body = pages.get(*page).cloned().unwrap_or_default();
            format!("{body}-- page {} of {} --\n", page + 1, pages.len().max(1))
        }
        Screen::Nvrs { page } => format!("=== NVRs ===\n{}", screens::nvr_list(&c.settings, *page)),
        Screen::Accounts => format!(
            "=== Accounts ===\n{}\n 1) Admin password\n 2) Add a viewer\n 3) Remove a viewer\n 4) Console password\n",
            screens::account_list(&c.settings)
        ),
        Screen::Licence { lines } if lines.is_empty() => format!(
            "=== Licence ===\nIn force: {}\nPaste the licence text, then an empty line (Ctrl-C: cancel).\n",
            licence_summary(&c.settings)
        ),
        Screen::Reset => {
            "=== Factory reset ===\nThis erases every setting, account, NVR and the licence of this box.\n".into()
        }
        _ => String::new(),
    };
    if !t.is_empty() {
        text(out, &t);
    }
}

/// The question of a screen: (text, hidden).
pub(crate) fn question(s: &Screen) -> (String, bool) {
    let q = match s {
        Screen::Login => return ("Console password: ".into(), true),
        Screen::Main => "Choice (1-11): ",
        Screen::Details { .. } => "Enter: next page, q: back: ",
        Screen::Nvrs { .. } => "a: add, e N: edit, r N: remove, Enter: back: ",
        Screen::Accounts => "Choice (1-4, Enter: back): ",
        Screen::RemoveViewer => "Viewer to remove (Enter: back): ",
        Screen::Licence { .. } => "",
        Screen::Restore { .. } => "Generation to restore (Enter: back): ",
        Screen::Reboot => "Reboot the box now? Type yes: ",
        Screen::Reset => "Type RESET to erase everything (Enter: back): ",
        Screen::Confirm { .. } => "Keep the new network? y: keep, n: revert now: ",
        Screen::Form(_) => "",
        Screen::Broken => "Enter: try again: ",
    };
    (q.into(), false)
}

/// A line typed on the current screen.
pub(crate) fn line(c: &mut Console, l: &str, out: &mut Vec<Output>) {
    let t = l.trim();
    match std::mem::replace(&mut c.screen, Screen::Main) {
        Screen::Login if c.now_us < c.login_after_us => {
            text(out, "Too soon after a wrong password: wait a few seconds.\n");
            c.show(Screen::Login, out);
        }
        Screen::Login => {
            let ok = c
                .settings
                .console_password_hash
                .as_deref()
                .is_some_and(|h| hotspare_http::password::verify_password(l, h));
            if ok {
                c.logged_in = true;
                c.show(Screen::Main, out);
            } else {
                c.login_after_us = c.now_us + LOGIN_DELAY_US;
                text(out, "Wrong password.\n");
                c.show(Screen::Login, out);
            }
        }
        Screen::Main => main_choice(c, t, out),
        Screen::Broken => c.home(out),
        Screen::Details { page } => {
            let n = screens::pages(&c.details, PAGE).len();
            if t == "q" || page + 1 >= n {
                c.home(out)
            } else {
                c.show(Screen::Details { page: page + 1 }, out)
            }
        }
        Screen::Form(mut f) => {
            let step = f.steps[f.at].clone();
            if matches!(step.key, Key::Nvr(_, "id")) && t.is_empty() && forms::current(&f.draft, &step.key).is_empty() {
                text(out, "No NVR added.\n");
                return c.home(out);
            }
            let applied = forms::apply(&mut f.draft, &mut f.scratch, &step.key, l)
                .and_then(|()| forms::problem(&f.draft, &step.key).map_or(Ok(()), Err));
            if let Err(e) = applied {
                text(out, &format!("{e}\nNothing changed.\n"));
                return c.home(out);
            }
            if step.key == Key::Again && f.at > 0 {
                let before = f.steps[f.at - 1].key.clone();
                forms::set_password(&mut f.draft, &f.scratch, &before);
            }
            f.at += 1;
            c.screen = Screen::Form(f);
            c.advance(out)
        }
        Screen::Nvrs { page } => nvrs(c, t, page, out),
        Screen::Accounts => accounts(c, t, out),
        Screen::RemoveViewer => {
            if t.is_empty() {
                return c.home(out);
            }
            let mut draft = c.settings.clone();
            let before = draft.accounts.len();
            draft.accounts.retain(|a| !(a.user == t && a.role == Role::Viewer));
            if draft.accounts.len() == before {
                text(out, &format!("account: {t:?} is not a viewer account\nNothing changed.\n"));
                return c.home(out);
            }
            c.save(draft, &format!("removed viewer {t}"), Then::Home, out)
        }
        Screen::Licence { mut lines } => {
            if !(t.is_empty() || t == ".") {
                lines.push(l.to_string());
                return c.screen = Screen::Licence { lines };
            }
            licence(c, &lines.join("\n"), out)
        }
        Screen::Restore { list } => match t.parse::<u64>() {
            _ if t.is_empty() => c.home(out),
            Ok(seq) if list.iter().any(|(s, _)| *s == seq) && seq != c.seq => {
                let old = Box::new(c.settings.clone());
                c.wait = Wait::Saved { old, old_seq: c.seq, then: Then::Home, revert: false };
                out.push(Output::Effect(Effect::Restore { seq }));
            }
            _ => {
                text(out, &format!("restore: {t:?} is not an older generation of the list\nNothing changed.\n"));
                c.home(out)
            }
        },
        Screen::Reboot => {
            if t == "yes" {
                text(out, "Rebooting...\n");
                out.push(Output::Effect(Effect::Reboot));
            }
            c.home(out)
        }
        Screen::Reset => {
            if t != "RESET" {
                text(out, "Factory reset not confirmed: nothing changed.\n");
                return c.home(out);
            }
            let old = Box::new(c.settings.clone());
            c.wait = Wait::Saved { old, old_seq: c.seq, then: Then::Home, revert: true };
            // the change waiting for a confirmation goes with the generations it named
            if c.window.pending().is_some() {
                c.window = Default::default();
                out.push(Output::Effect(Effect::PersistPending(None)));
            }
            out.push(Output::Effect(Effect::FactoryReset));
            c.logged_in = false;
        }
        Screen::Confirm { then } => {
            let now = c.now_us;
            match t {
                "y" | "yes" => {
                    let a = c.window.handle(now, Event::Confirm { channel: CHANNEL.into() });
                    let reverted = a.iter().any(|a| matches!(a, hotspare_settings::confirm::Action::Revert { .. }));
                    c.actions(a, out);
                    if !reverted {
                        match then {
                            Then::WizardNvr => wizard_nvr(c, out),
                            Then::Home => c.home(out),
                        }
                    }
                }
                "n" | "no" => {
                    let deadline = c.window.pending().map_or(now, |p| p.deadline_us);
                    let a = c.window.handle(deadline.max(now), Event::Tick);
                    c.actions(a, out)
                }
                _ => c.show(Screen::Confirm { then }, out),
            }
        }
    }
}

fn main_choice(c: &mut Console, t: &str, out: &mut Vec<Output>) {
    match t {
        "1" => c.show(Screen::Details { page: 0 }, out),
        "2" => c.start_form(forms::network(), "network", Then::Home, out),
        "3" => c.show(Screen::Nvrs { page: 0 }, out),
        "4" => c.show(Screen::Accounts, out),
        "5" => {
            text(out, "=== E-mail alerts ===\n");
            c.start_form(forms::email_steps(), "e-mail", Then::Home, out)
        }
        "6" => c.show(Screen::Licence { lines: Vec::new() }, out),
        "7" => c.start_form(forms::time(), "time", Then::Home, out),
        "8" => {
            c.wait = Wait::History;
            out.push(Output::Effect(Effect::History));
        }
        "9" => c.show(Screen::Reboot, out),
        "10" => c.show(Screen::Reset, out),
        "11" => c.start_form(forms::general(), "hostname, monitoring, announcement", Then::Home, out),
        "" => c.home(out),
        _ => {
            text(out, &format!("{t:?}: choose 1 to 11.\n"));
            c.show(Screen::Main, out)
        }
    }
}

fn nvrs(c: &mut Console, t: &str, page: usize, out: &mut Vec<Output>) {
    let (op, arg) = t.split_once(' ').unwrap_or((t, ""));
    let index = arg.trim().parse::<usize>().ok().filter(|&n| n >= 1 && n <= c.settings.nvrs.len()).map(|n| n - 1);
    match (op, index) {
        ("", _) => c.home(out),
        ("n", _) => {
            let pages = c.settings.nvrs.len().div_ceil(screens::NVRS_PER_PAGE).max(1);
            c.show(Screen::Nvrs { page: (page + 1) % pages }, out)
        }
        ("a", _) => {
            let mut draft = c.settings.clone();
            draft.nvrs.push(forms::blank_nvr(&draft));
            let i = draft.nvrs.len() - 1;
            c.start_form_on(draft, forms::nvr(i), "added an NVR", Then::Home, out)
        }
        ("e", Some(i)) => {
            let summary = format!("edited NVR {}", c.settings.nvrs[i].id);
            c.start_form(forms::nvr(i), &summary, Then::Home, out)
        }
        ("r", Some(i)) => {
            let mut draft = c.settings.clone();
            let gone = draft.nvrs.remove(i);
            c.save(draft, &format!("removed NVR {}", gone.id), Then::Home, out)
        }
        _ => {
            text(out, &format!("{t:?}: a, e N or r N with N from the list.\n"));
            c.show(Screen::Nvrs { page }, out)
        }
    }
}

fn accounts(c: &mut Console, t: &str, out: &mut Vec<Output>) {
    match t {
        "1" => c.start_form(forms::password("admin", Role::Admin), "admin password", Then::Home, out),
        "2" => {
            let mut steps = vec![Step::new(Key::NewUser, "New viewer's user name")];
            steps.extend(forms::password("", Role::Viewer));
            c.start_form(steps, "added a viewer", Then::Home, out)
        }
        "3" => c.show(Screen::RemoveViewer, out),
        "4" => {
            let steps = vec![
                Step::new(Key::ConsolePassword, "Console password (empty: none)"),
                Step::new(Key::Again, "The same again"),
            ];
            c.start_form(steps, "console password", Then::Home, out)
        }
        _ => c.home(out),
    }
}

/// The wizard's last part: an NVR to protect (an empty id ends it).
pub(crate) fn wizard_nvr(c: &mut Console, out: &mut Vec<Output>) {
    text(out, "An NVR to protect (empty id: no more for now).\n");
    let mut draft = c.settings.clone();
    draft.nvrs.push(forms::blank_nvr(&draft));
    let i = draft.nvrs.len() - 1;
    c.start_form_on(draft, forms::nvr(i), "first-boot wizard: an NVR", Then::WizardNvr, out)
}

/// A pasted licence: verified (signature, values, this box when known), then saved.
fn licence(c: &mut Console, pasted: &str, out: &mut Vec<Output>) {
    let checked = Licence::parse(pasted, "the pasted licence").and_then(|l| {
        l.check()?;
        if let Some(id) = &c.opts.box_id {
            l.verify(id)?;
        }
        Ok(l)
    });
    match checked {
        Ok(l) => {
            let mut draft = c.settings.clone();
            draft.licence = Some(pasted.trim().to_string() + "\n");
            text(out, &format!("licence {} verified: {} NVRs, {} channels.\n", l.licence_id, l.nvrs, l.channels));
            c.save(draft, &format!("licence {}", l.licence_id), Then::Home, out)
        }
        Err(e) => {
            text(out, &format!("licence: {e}\nNothing changed.\n"));
            c.home(out)
        }
    }
}

/// One line about the licence in force.
pub(crate) fn licence_summary(s: &hotspare_settings::Settings) -> String {
    match &s.licence {
        None => "none (paste one in menu 6)".into(),
        Some(text) => match Licence::parse(text, "the stored licence") {
            Ok(l) => format!("{} for box {}: {} NVRs, {} channels", l.licence_id, l.box_id, l.nvrs, l.channels),
            Err(e) => format!("unreadable: {e}"),
        },
    }
}
