//! Input events from bytes (as a device file returns them), the board profile's key map,
//! and a held key as the menu's long press.

use super::*;
use crate::menu::{Input, Output, Panel, LONG_PRESS_US};
use crate::view::{State, View};

/// One `struct input_event` as the kernel writes it on a 64-bit little-endian machine.
fn record(sec: i64, usec: i64, ty: u16, code: u16, value: i32) -> Vec<u8> {
    let mut r = Vec::with_capacity(RECORD);
    r.extend_from_slice(&sec.to_le_bytes());
    r.extend_from_slice(&usec.to_le_bytes());
    r.extend_from_slice(&ty.to_le_bytes());
    r.extend_from_slice(&code.to_le_bytes());
    r.extend_from_slice(&value.to_le_bytes());
    r
}

/// A press of Enter as a keyboard reports it: the scan code (EV_MSC), the key, SYN_REPORT.
fn enter_press() -> Vec<u8> {
    [record(1765000000, 5, 4, 4, 0x70028), record(1765000000, 5, EV_KEY, 28, 1), record(1765000000, 5, EV_SYN, 0, 0)]
        .concat()
}

#[test]
fn records_decode_from_bytes_even_split_across_reads() {
    let bytes =
        [enter_press(), record(1, 2, EV_KEY, 28, 2), record(1, 3, EV_KEY, 28, 0), record(1, 4, EV_SYN, 3, 0)].concat();
    let want = vec![
        Event::Other,
        Event::Key { code: 28, value: 1 },
        Event::Other,
        Event::Key { code: 28, value: 2 },
        Event::Key { code: 28, value: 0 },
        Event::Dropped,
    ];
    assert_eq!(Decoder::default().feed(&bytes), want);
    // the same bytes in odd pieces: nothing lost, nothing misread
    let mut d = Decoder::default();
    let mut got = Vec::new();
    for piece in bytes.chunks(7) {
        got.extend(d.feed(piece));
    }
    assert_eq!(got, want);
    // a trailing part of a record waits for its rest
    assert_eq!(Decoder::default().feed(&bytes[..RECORD + 5]), vec![Event::Other]);
}

#[test]
fn the_board_profiles_keys_name_the_device_and_the_codes() {
    let (inputs, map) = KeyMap::from_board(include_str!("../../../../board/qemu-virt/board.toml")).unwrap();
    assert_eq!(inputs, ["hotspare front panel"]);
    assert_eq!(
        (map.key(28), map.key(1), map.key(103), map.key(30)),
        (Some(Key::Enter), Some(Key::Escape), Some(Key::Up), None)
    );
    let (inputs, map) = KeyMap::from_board(include_str!("../../../../board/rk3568-box/board.toml")).unwrap();
    assert_eq!(inputs, ["hotspare front panel"]);
    assert_eq!(map.key(108), Some(Key::Down));
    let (inputs, map) =
        KeyMap::from_board("keys = { input = [\"a\", \"b\"], enter = \"KEY_OK\", escape = \"KEY_BACK\" }").unwrap();
    assert_eq!((inputs.len(), map.key(0x160), map.key(158)), (2, Some(Key::Enter), Some(Key::Escape)));
    assert_eq!(KeyMap::from_board("name = \"x\"").unwrap(), (vec![], KeyMap::default()));
    // bad profiles name what is wrong
    let e = KeyMap::from_board("keys = { enter = \"KEY_RETURN\" }").unwrap_err();
    assert!(e.to_string().contains("keys.enter") && e.to_string().contains("KEY_RETURN"), "{e}");
    assert_eq!(KeyMap::from_board("keys = { power = \"KEY_ESC\" }"), Err(KeysError::UnknownKey("power".into())));
    assert_eq!(KeyMap::from_board("keys = { input = 3 }"), Err(KeysError::Input));
    assert!(matches!(KeyMap::from_board("keys = "), Err(KeysError::Toml(_))));
}

#[test]
fn a_short_press_is_one_key_and_a_held_one_repeats_until_released() {
    let map = KeyMap::default();
    let mut r = Repeater::default();
    let down = Event::Key { code: 108, value: 1 };
    let up = Event::Key { code: 108, value: 0 };
    assert_eq!(r.event(0, &map, down), vec![(0, Key::Down)]);
    assert_eq!(r.tick(FIRST_REPEAT_US - 1), vec![]);
    assert_eq!(r.event(300_000, &map, up), vec![]);
    assert_eq!((r.poll_at(), r.tick(10_000_000)), (None, vec![]));
    // held: made-up presses; the kernel's autorepeat and unmapped keys are not presses
    assert_eq!(r.event(0, &map, down), vec![(0, Key::Down)]);
    assert_eq!(r.event(250_000, &map, Event::Key { code: 108, value: 2 }), vec![]);
    assert_eq!(r.event(260_000, &map, Event::Key { code: 30, value: 1 }), vec![]);
    assert_eq!(r.poll_at(), Some(FIRST_REPEAT_US));
    assert_eq!(r.tick(FIRST_REPEAT_US), vec![(FIRST_REPEAT_US, Key::Down)]);
    assert_eq!(r.poll_at(), Some(FIRST_REPEAT_US + REPEAT_US));
    // a lost release (SYN_DROPPED, a device gone) ends the hold
    r.event(0, &map, Event::Dropped);
    assert_eq!(r.poll_at(), None);
    r.event(0, &map, down);
    r.release_all();
    assert_eq!(r.poll_at(), None);
}

/// The presses of a hold keep their schedule however late they are asked for: a tick that
/// comes 1 s late brings the presses it missed, each with the time it was due, and a release
/// read before any tick brings those due before it; a clock that jumps forward makes up at
/// most [`MAX_DUE`] presses, and times at the ends of `i64` neither overflow nor loop.
#[test]
fn a_late_reader_gets_the_missed_presses_with_their_times() {
    let map = KeyMap::default();
    let mut r = Repeater::default();
    let (enter, release) = (Event::Key { code: 28, value: 1 }, Event::Key { code: 28, value: 0 });
    r.event(0, &map, enter);
    let at = |v: &[(i64, Key)]| v.iter().map(|&(t, _)| t).collect::<Vec<_>>();
    assert_eq!(at(&r.tick(1_000_000)), [400_000, 600_000, 800_000, 1_000_000]);
    assert_eq!(r.poll_at(), Some(1_200_000));
    // released at 1.7 s, read before the loop ticked again
    assert_eq!(at(&r.event(1_700_000, &map, release)), [1_200_000, 1_400_000, 1_600_000]);
    assert_eq!(r.poll_at(), None);
    // released exactly when a press was due: that press is not made up
    r.event(0, &map, enter);
    assert_eq!(at(&r.event(FIRST_REPEAT_US, &map, release)), Vec::<i64>::new());
    // a clock jump of a day: the latest MAX_DUE presses only, still on the schedule
    r.event(0, &map, enter);
    let day = 86_400_000_000;
    let got = at(&r.tick(day));
    assert_eq!(got.len(), MAX_DUE as usize);
    assert_eq!(*got.last().unwrap(), day);
    assert!(got.windows(2).all(|w| w[1] - w[0] == REPEAT_US));
    assert_eq!(r.poll_at(), Some(day + REPEAT_US));
    // the ends of i64
    r.event(i64::MAX - 1, &map, enter);
    assert_eq!(r.tick(i64::MAX).len(), 1);
    assert_eq!(r.tick(i64::MAX), vec![]);
    r.event(i64::MIN, &map, enter);
    assert_eq!(r.tick(i64::MAX).len(), MAX_DUE as usize);
}

/// The menu sees the long press of factory reset from a device's events, held for 3.5 s, both
/// when its loop ticks on time and when it only gets round to the keys every 1.5 s (a busy box:
/// the case that failed in the image, where the hold broke into short presses).
#[test]
fn enter_held_on_a_device_is_the_long_press_of_factory_reset() {
    for tick_every in [None, Some(1_500_000)] {
        let map = KeyMap::default();
        let mut r = Repeater::default();
        let mut p = Panel::new();
        p.handle(0, Input::Connected { wid: 16, hgt: 2 });
        let v = View {
            state: State::Armed,
            hostname: "spare1".into(),
            address: None,
            dhcp: true,
            disks: vec![],
            alarms: vec![],
        };
        p.handle(0, Input::View(v));
        let mut now = 0;
        let press = |p: &mut Panel, r: &mut Repeater, now: &mut i64, code: u16, hold: i64| {
            let mut out = Vec::new();
            let mut feed = |p: &mut Panel, keys: Vec<(i64, Key)>| {
                for (at, k) in keys {
                    out.extend(p.handle(at, Input::Key(k)));
                }
            };
            feed(p, r.event(*now, &map, Event::Key { code, value: 1 }));
            let until = *now + hold;
            loop {
                let wake = match tick_every {
                    None => r.poll_at(),
                    Some(every) => Some(*now + every),
                };
                match wake.filter(|&t| t <= until) {
                    Some(t) => {
                        *now = t;
                        feed(p, r.tick(t));
                    }
                    None => break,
                }
            }
            *now = until;
            feed(p, r.event(*now, &map, Event::Key { code, value: 0 }));
            *now += 1_000_000;
            out
        };
        // Enter (menu), Down ×3 (Factory reset), Enter: short presses
        for code in [28, 108, 108, 108, 28] {
            press(&mut p, &mut r, &mut now, code, 100_000);
        }
        // a short Enter does not reset, nor does a held one alone
        assert!(!press(&mut p, &mut r, &mut now, 28, 100_000).contains(&Output::FactoryReset));
        let held = press(&mut p, &mut r, &mut now, 28, LONG_PRESS_US + 500_000);
        assert!(!held.contains(&Output::FactoryReset), "{tick_every:?}");
        // then a fresh Enter does
        assert!(press(&mut p, &mut r, &mut now, 28, 100_000).contains(&Output::FactoryReset), "{tick_every:?}");
    }
}
