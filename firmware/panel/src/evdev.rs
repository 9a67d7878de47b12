//! The panel's keys from Linux input events (pure): the `struct input_event` records an evdev
//! device (`/dev/input/eventN`) returns, decoded from bytes ([`Decoder`]); which key codes are
//! which panel key ([`KeyMap`], the defaults plus the board profile's `keys` table); and the
//! long press ([`Repeater`]): evdev reports presses *and releases*, the menu knows presses
//! that repeat while a key is held (as LCDd reports them), so a held key is turned into
//! presses every [`REPEAT_US`] after [`FIRST_REPEAT_US`] until its release, each stamped with
//! the time it was due (a late reader still sees an unbroken hold). The kernel's own
//! autorepeat (value 2) is ignored: gpio-keys without `autorepeat` has none, a keyboard has
//! its own rate, and one rate for every device keeps the long press the same on all of them.
//! The reading (sysfs names, the device files, hot-plug) is `hotspare panel`'s.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::menu::Key;

/// `sizeof(struct input_event)` on 64-bit Linux: `struct timeval` (2 × 8 bytes), `__u16
/// type`, `__u16 code`, `__s32 value`, native (little) endian.
pub const RECORD: usize = 24;
pub const EV_SYN: u16 = 0x00;
pub const EV_KEY: u16 = 0x01;
pub const SYN_DROPPED: u16 = 3;
/// The first made-up repeat of a held key (a press shorter than this is one press).
pub const FIRST_REPEAT_US: i64 = 400_000;
/// Made-up repeats of a held key follow each other this often (within the menu's
/// `REPEAT_GAP_US`, so the hold counts as one long press).
pub const REPEAT_US: i64 = 200_000;
/// At most this many made-up presses at once (5 s of a hold, more than the long press).
pub const MAX_DUE: i64 = 25;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `EV_KEY`: code, and 0 released, 1 pressed, 2 autorepeat.
    Key { code: u16, value: i32 },
    /// `SYN_DROPPED`: the kernel's buffer overran; releases may be lost.
    Dropped,
    /// Anything else (`SYN_REPORT`, `EV_MSC` scan codes, …).
    Other,
}

/// Cuts a byte stream into records (a read returns whole records, but a short one is kept
/// for the next call rather than misread).
#[derive(Default)]
pub struct Decoder {
    partial: Vec<u8>,
}

impl Decoder {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.partial.extend_from_slice(bytes);
        let whole = self.partial.len() / RECORD * RECORD;
        let out = self.partial[..whole].chunks_exact(RECORD).map(decode).collect();
        self.partial.drain(..whole);
        out
    }
}

/// One record (exactly [`RECORD`] bytes).
pub fn decode(r: &[u8]) -> Event {
    let u16_at = |i: usize| u16::from_le_bytes([r[i], r[i + 1]]);
    let (ty, code) = (u16_at(16), u16_at(18));
    let value = i32::from_le_bytes([r[20], r[21], r[22], r[23]]);
    match ty {
        EV_KEY => Event::Key { code, value },
        EV_SYN if code == SYN_DROPPED => Event::Dropped,
        _ => Event::Other,
    }
}

/// The `KEY_*` names a board profile may give its keys (linux/input-event-codes.h).
const NAMES: [(&str, u16); 16] = [
    ("KEY_ESC", 1),
    ("KEY_BACKSPACE", 14),
    ("KEY_ENTER", 28),
    ("KEY_SPACE", 57),
    ("KEY_KPENTER", 96),
    ("KEY_UP", 103),
    ("KEY_LEFT", 105),
    ("KEY_RIGHT", 106),
    ("KEY_DOWN", 108),
    ("KEY_MENU", 139),
    ("KEY_BACK", 158),
    ("KEY_OK", 0x160),
    ("KEY_SELECT", 0x161),
    ("KEY_EXIT", 0xae),
    ("KEY_PREVIOUS", 0x19c),
    ("KEY_NEXT", 0x197),
];

pub fn code_of(name: &str) -> Option<u16> {
    NAMES.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)
}

#[derive(Debug, Error, PartialEq)]
pub enum KeysError {
    #[error("board profile: {0}")]
    Toml(String),
    #[error("board profile: keys.{key} = {name:?}: not a key name this panel knows (KEY_ENTER, KEY_ESC, KEY_UP, …)")]
    UnknownName { key: String, name: String },
    #[error("board profile: keys.{0}: not a panel key (enter, escape, up, down, left, right)")]
    UnknownKey(String),
    #[error("board profile: keys.input: the name of the input device (a string or a list of strings)")]
    Input,
}

/// Which key codes are which panel key.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyMap {
    codes: BTreeMap<u16, Key>,
}

impl Default for KeyMap {
    /// A keyboard's Enter (and keypad Enter), Esc and arrows.
    fn default() -> KeyMap {
        let codes = [(28, Key::Enter), (96, Key::Enter), (1, Key::Escape), (103, Key::Up), (108, Key::Down)];
        let codes = codes.into_iter().chain([(105, Key::Left), (106, Key::Right)]).collect();
        KeyMap { codes }
    }
}

impl KeyMap {
    pub fn key(&self, code: u16) -> Option<Key> {
        self.codes.get(&code).copied()
    }

    /// The board profile's `keys = { input = "…", enter = "KEY_ENTER", … }` (board.toml):
    /// the input device names and the defaults plus the board's codes.
    pub fn from_board(text: &str) -> Result<(Vec<String>, KeyMap), KeysError> {
        let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| KeysError::Toml(e.message().to_string()))?;
        let mut map = KeyMap::default();
        let Some(keys) = doc.get("keys") else { return Ok((Vec::new(), map)) };
        let keys = keys.as_table().ok_or_else(|| KeysError::Toml("keys: not a table".into()))?;
        let mut inputs = Vec::new();
        for (k, v) in keys {
            if k == "input" {
                inputs = match v {
                    toml::Value::String(s) => vec![s.clone()],
                    toml::Value::Array(a) => a
                        .iter()
                        .map(|s| s.as_str().map(str::to_string).ok_or(KeysError::Input))
                        .collect::<Result<_, _>>()?,
                    _ => return Err(KeysError::Input),
                };
                continue;
            }
            let key = match k.as_str() {
                "enter" => Key::Enter,
                "escape" => Key::Escape,
                "up" => Key::Up,
                "down" => Key::Down,
                "left" => Key::Left,
                "right" => Key::Right,
                _ => return Err(KeysError::UnknownKey(k.clone())),
            };
            let name = v.as_str().unwrap_or_default();
            let code = code_of(name).ok_or_else(|| KeysError::UnknownName { key: k.clone(), name: v.to_string() })?;
            map.codes.insert(code, key);
        }
        Ok((inputs, map))
    }
}

/// Presses of held keys, made up on a fixed schedule (µs): the press, [`FIRST_REPEAT_US`]
/// after it, then every [`REPEAT_US`] until the release. Each made-up press comes with the
/// time it was due, not the time it was asked for, and the presses due before a release come
/// with that release: a panel loop that wakes late (a busy box) sees the same steady hold as
/// one that wakes on time, so a long press never breaks into short ones. Event times are when
/// the device's events were read, not when the loop got round to them.
#[derive(Debug, Default)]
pub struct Repeater {
    /// The key held now and when its next made-up press is due.
    held: Option<(Key, i64)>,
}

impl Repeater {
    /// An event of a device read at `at`: the panel key presses it brings, with their times
    /// (a press; or, for a release, the made-up presses of the hold still due before it).
    pub fn event(&mut self, at: i64, map: &KeyMap, e: Event) -> Vec<(i64, Key)> {
        match e {
            Event::Key { code, value } => {
                let Some(key) = map.key(code) else { return Vec::new() };
                match value {
                    1 => {
                        self.held = Some((key, at.saturating_add(FIRST_REPEAT_US)));
                        vec![(at, key)]
                    }
                    0 if self.held.is_some_and(|(k, _)| k == key) => {
                        let due = self.due(at.saturating_sub(1));
                        self.held = None;
                        due
                    }
                    _ => Vec::new(),
                }
            }
            // a lost release must not hold a key for ever
            Event::Dropped => {
                self.held = None;
                Vec::new()
            }
            Event::Other => Vec::new(),
        }
    }

    /// The device went away: nothing it held is held any more.
    pub fn release_all(&mut self) {
        self.held = None;
    }

    pub fn poll_at(&self) -> Option<i64> {
        self.held.map(|(_, at)| at)
    }

    /// The made-up presses due by `now`, each with the time it was due.
    pub fn tick(&mut self, now: i64) -> Vec<(i64, Key)> {
        self.due(now)
    }

    /// The made-up presses due by `until` (at most [`MAX_DUE`], the latest: a clock that
    /// jumped forward must not make up hours of presses).
    fn due(&mut self, until: i64) -> Vec<(i64, Key)> {
        let Some((key, mut at)) = self.held else { return Vec::new() };
        let behind = until.saturating_sub(at) / REPEAT_US + 1;
        if behind > MAX_DUE {
            at = at.saturating_add((behind - MAX_DUE).saturating_mul(REPEAT_US));
        }
        let mut out = Vec::new();
        while at <= until && out.len() < MAX_DUE as usize {
            out.push((at, key));
            let next = at.saturating_add(REPEAT_US);
            if next == at {
                self.held = None;
                return out;
            }
            at = next;
        }
        self.held = Some((key, at));
        out
    }
}

#[cfg(test)]
mod tests;
