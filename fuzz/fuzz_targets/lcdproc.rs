//! LCDd's replies (`hotspare_panel::lcdproc::wire::parse`): lines from the LCDd the panel
//! connects to (TCP, by default on the box itself). The input is cut into lines; each also
//! goes through the request renderer as text to show (`quote`). The same bytes are also read as
//! a Linux input device's records (`hotspare_panel::evdev`: the panel's keys from gpio-keys or
//! a keyboard), fed in pieces, each decoded event through the key map and the long press (made-up
//! presses in time order, never later than asked for, bounded in number).
#![no_main]

use hotspare_panel::evdev::{Decoder, KeyMap, Repeater, MAX_DUE, RECORD};
use hotspare_panel::lcdproc::wire::{parse, quote, Reply, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // input events: as many as whole records, whatever the cut of the reads
    let (map, mut rep, mut d) = (KeyMap::default(), Repeater::default(), Decoder::default());
    let cut = data.first().map_or(1, |&b| usize::from(b).max(1));
    let mut events = 0;
    for (i, piece) in data.chunks(cut).enumerate() {
        for e in d.feed(piece) {
            events += 1;
            let now = i64::try_from(i).unwrap_or(i64::MAX) * 100_000;
            // presses come in time order, never after the event that brought them
            let got = rep.event(now, &map, e);
            assert!(got.len() <= MAX_DUE as usize && got.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(got.iter().all(|&(at, _)| at <= now), "{got:?} at {now}");
            // a loop that wakes late (events far apart) gets the presses due meanwhile, on
            // their schedule; then the next one is in the future
            let late = rep.tick(now);
            assert!(late.len() <= MAX_DUE as usize && late.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(late.iter().all(|&(at, _)| at <= now), "{late:?} at {now}");
            if let Some(t) = rep.poll_at() {
                assert!(t > now);
                let due = rep.tick(t);
                assert!(!due.is_empty() && due.len() <= MAX_DUE as usize && due.iter().all(|&(at, _)| at <= t));
            }
        }
    }
    assert_eq!(events, data.len() / RECORD);
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n') {
        match parse(line) {
            Ok(Reply::Connect { wid, hgt }) => assert!((1..=256).contains(&wid) && (1..=256).contains(&hgt)),
            Ok(Reply::Key(k) | Reply::Listen(k) | Reply::Ignore(k) | Reply::Huh(k)) => assert!(k.len() <= line.len()),
            Ok(_) | Err(_) => {}
        }
        // whatever the text, a request is one line, one quoted argument, only ASCII
        let q = quote(line);
        assert!(q.starts_with('"') && q.ends_with('"') && q.len() >= 2, "{q:?}");
        assert!(q.is_ascii() && !q.contains('\n') && !q.contains('\r'), "{q:?}");
        let inner = &q[1..q.len() - 1];
        let mut escaped = false;
        for c in inner.chars() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => panic!("an unescaped quote in {q:?}"),
                _ => {}
            }
        }
        assert!(!escaped, "a trailing backslash in {q:?}");
        let r = Request::StringAt { screen: "s".into(), id: "w".into(), x: 1, y: 1, text: line.into() };
        assert!(!r.to_string().contains('\n'));
    }
});
