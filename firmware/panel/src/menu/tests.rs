//! The panel's state machine in simulated time: screens sent once and updated
//! by difference, the status screen to the front on a change, the static-IP
//! entry with confirm-or-revert, the long press of factory reset.

use super::*;
use crate::view::State;
use std::net::Ipv4Addr;

fn view(state: State) -> View {
    View {
        state,
        hostname: "spare1".into(),
        address: Some("10.0.0.5".into()),
        dhcp: true,
        disks: vec![],
        alarms: vec![],
    }
}

fn sends(out: &[Output]) -> Vec<String> {
    out.iter().filter_map(|o| if let Output::Send(r) = o { Some(r.to_string()) } else { None }).collect()
}

fn connected() -> Panel {
    let mut p = Panel::new();
    p.handle(0, Input::Connected { wid: 16, hgt: 2 });
    p.handle(0, Input::View(view(State::Armed)));
    p
}

fn keys(p: &mut Panel, now: &mut i64, ks: &[Key]) -> Vec<Output> {
    let mut all = Vec::new();
    for k in ks {
        *now += 200_000;
        all.extend(p.handle(*now, Input::Key(*k)));
    }
    all
}

#[test]
fn screens_are_made_once_and_updated_by_difference_and_status_comes_to_the_front() {
    let mut p = Panel::new();
    let out = sends(&p.handle(0, Input::Connected { wid: 16, hgt: 2 }));
    assert!(out.contains(&"client_add_key -exclusively Enter".to_string()), "{out:?}");
    let out = sends(&p.handle(0, Input::View(view(State::Armed))));
    assert!(out.contains(&"screen_set status -name \"status\" -priority info -heartbeat off -duration 40".into()));
    assert!(out.contains(&"widget_set status l1 1 1 \"ARMED\"".into()), "{out:?}");
    assert!(sends(&p.handle(S, Input::View(view(State::Armed)))).is_empty());
    let out = sends(&p.handle(2 * S, Input::View(view(State::Covering { n: 1, names: vec![] }))));
    assert_eq!(
        out,
        vec![
            "widget_set status l1 1 1 \"COVERING 1 NVR\"",
            "widget_set status l2 1 2 \"recording for it\"",
            "screen_set status -priority foreground",
        ]
    );
    assert_eq!(p.poll_at(), Some(2 * S + FRONT_US));
    let out = sends(&p.handle(2 * S + FRONT_US, Input::Tick));
    assert_eq!(out, vec!["screen_set status -priority info"]);
    // a reconnection (LCDd restarted) makes everything again
    p.handle(30 * S, Input::Disconnected);
    let out = sends(&p.handle(31 * S, Input::Connected { wid: 20, hgt: 4 }));
    assert!(out.iter().any(|l| l == "widget_add status l4 string"), "{out:?}");
}

#[test]
fn a_static_address_is_entered_digit_by_digit_saved_and_confirmed_or_reverted() {
    let mut p = connected();
    let mut now = 0;
    p.handle(0, Input::Settings { settings: Box::default(), seq: 3 });
    // Enter: menu; Enter: Network; Down: Static IP; Enter: address 192.168.1.100
    let out = sends(&keys(&mut p, &mut now, &[Key::Enter]));
    assert!(
        out.contains(&"widget_set menu l2 1 2 \">Network\"".into())
            && out.contains(&"screen_set menu -priority input".into())
    );
    keys(&mut p, &mut now, &[Key::Enter, Key::Down, Key::Enter]);
    // last digit: 100 -> 102; then prefix 24 -> 23; gateway 192.168.1.1 as proposed
    let out = keys(&mut p, &mut now, &[Key::Left, Key::Up, Key::Up, Key::Enter, Key::Down, Key::Enter]);
    assert!(sends(&out).contains(&"widget_set menu l1 1 1 \"192.168.001.001\"".into()), "{:?}", sends(&out));
    let out = keys(&mut p, &mut now, &[Key::Enter]);
    let want = Network {
        mode: AddressMode::Static,
        address: Some(Ipv4Addr::new(192, 168, 1, 102)),
        prefix: Some(23),
        gateway: Some(Ipv4Addr::new(192, 168, 1, 1)),
        dns: vec![],
    };
    assert!(out.contains(&Output::SaveNetwork { network: want, edited: 3 }), "{out:?}");
    let out = p.handle(now, Input::Saved { seq: 4, revert_to: Some(3) });
    assert!(matches!(&out[0], Output::Persist(Some(pd)) if pd.applied == 4 && pd.channel == "panel"));
    assert!(sends(&out).contains(&"widget_set menu l1 1 1 \"Keep new IP?\"".into()));
    // confirmed on the panel
    let out = keys(&mut p, &mut now, &[Key::Enter]);
    assert_eq!(out[..2], [Output::Confirmed { seq: 4 }, Output::Persist(None)]);
    // another change, not confirmed: reverted at the deadline
    p.handle(now, Input::Saved { seq: 5, revert_to: Some(4) });
    let deadline = p.poll_at().unwrap();
    assert_eq!(deadline, now + DEFAULT_WINDOW_US);
    assert!(p.handle(deadline - 1, Input::Tick).iter().all(|o| matches!(o, Output::Send(_))));
    let out = p.handle(deadline, Input::Tick);
    assert!(matches!(&out[0], Output::Revert { to: 4, why } if why.contains("not confirmed")), "{out:?}");
    // DHCP from the menu: saved, Escape on the confirmation reverts at once
    now = deadline;
    let network = Network {
        mode: AddressMode::Static,
        address: Some(Ipv4Addr::new(10, 1, 1, 2)),
        prefix: Some(8),
        gateway: None,
        dns: vec![],
    };
    let st = Settings { network, ..Settings::default() };
    p.handle(now, Input::Settings { settings: Box::new(st), seq: 6 });
    // Escape closes the "Reverted" message; Enter: menu, Enter: Network (on Static IP), Up: DHCP
    let out = keys(&mut p, &mut now, &[Key::Escape, Key::Enter, Key::Enter, Key::Up, Key::Enter]);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::SaveNetwork { network, edited: 6 } if network.mode == AddressMode::Dhcp)),
        "{out:?}"
    );
    p.handle(now, Input::Saved { seq: 7, revert_to: Some(6) });
    let out = keys(&mut p, &mut now, &[Key::Escape]);
    assert!(matches!(&out[0], Output::Revert { to: 6, why } if why.contains("cancelled")), "{out:?}");
}

#[test]
fn factory_reset_needs_a_long_press_then_a_fresh_enter_and_reboot_a_confirmation() {
    let mut p = connected();
    let mut now = 0;
    keys(&mut p, &mut now, &[Key::Enter, Key::Down, Key::Down, Key::Down, Key::Enter]);
    // short presses, or a gap of more than REPEAT_GAP_US, do not count
    for _ in 0..10 {
        now += 2 * REPEAT_GAP_US;
        assert!(p.handle(now, Input::Key(Key::Enter)).iter().all(|o| matches!(o, Output::Send(_))));
    }
    // held: events every 100 ms for 3 s
    let start = now + S;
    let mut out = Vec::new();
    now = start;
    while now <= start + LONG_PRESS_US + 200_000 {
        out.extend(p.handle(now, Input::Key(Key::Enter)));
        now += 100_000;
    }
    assert!(!out.contains(&Output::FactoryReset));
    assert!(sends(&out).contains(&"widget_set menu l1 1 1 \"ERASE ALL?\"".into()));
    now += S;
    assert!(p.handle(now, Input::Key(Key::Enter)).contains(&Output::FactoryReset));
    // a hold that begins 300 ms after the Enter that opened the screen (within the repeat gap:
    // the case that failed in the image, where the hold never counted)
    let mut p = connected();
    let mut now = 0;
    keys(&mut p, &mut now, &[Key::Enter, Key::Down, Key::Down, Key::Down]);
    p.handle(now, Input::Key(Key::Enter));
    let start = now + 300_000;
    let mut out = Vec::new();
    now = start;
    while now <= start + LONG_PRESS_US {
        out.extend(p.handle(now, Input::Key(Key::Enter)));
        now += 200_000;
    }
    assert!(sends(&out).contains(&"widget_set menu l1 1 1 \"ERASE ALL?\"".into()), "{:?}", sends(&out));
    now += S;
    assert!(p.handle(now, Input::Key(Key::Enter)).contains(&Output::FactoryReset));
    // reboot asks first; Escape goes back
    let mut p = connected();
    let mut now = 0;
    let out = keys(&mut p, &mut now, &[Key::Enter, Key::Up, Key::Up, Key::Up, Key::Enter, Key::Escape]);
    assert!(!out.contains(&Output::Reboot));
    assert!(keys(&mut p, &mut now, &[Key::Enter, Key::Enter]).contains(&Output::Reboot));
    // an idle menu closes
    let mut p = connected();
    p.handle(0, Input::Key(Key::Enter));
    let t = p.poll_at().unwrap();
    assert!(sends(&p.handle(t, Input::Tick)).contains(&"screen_set menu -priority hidden".into()));
}

#[test]
fn nvr_reachability_is_asked_and_shown() {
    let mut p = connected();
    let mut s = Settings::default();
    s.nvrs.push(hotspare_settings::model::Nvr {
        id: "nvr-a".into(),
        url: "http://127.0.0.1:1".into(),
        admin_user: "admin".into(),
        admin_password: "x".into(),
        priority: 1,
        fingerprint: None,
    });
    p.handle(0, Input::Settings { settings: Box::new(s), seq: 1 });
    let mut now = 0;
    let out = keys(&mut p, &mut now, &[Key::Enter, Key::Down, Key::Enter, Key::Enter]);
    assert!(out.contains(&Output::Probe { nvr: "nvr-a".into(), url: "http://127.0.0.1:1".into() }));
    let out = sends(&p.handle(now, Input::Probed(Err("refused".into()))));
    assert!(out.contains(&"widget_set menu l1 1 1 \"nvr-a: FAILED\"".into()), "{out:?}");
}
