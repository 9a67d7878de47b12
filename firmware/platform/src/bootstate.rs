//! The A/B boot-counting state shared by the U-Boot boot script
//! (`board/qemu-virt/boot.cmd`) and Linux (`hotspare boot-state`), as pure
//! functions: parse, serialize, verify, choose between the two copies and the
//! next states (`mark_good`, `set_primary`, the script's decrement rule).
//! File I/O is in [`crate::bootstate_io`]; the format and contract are in
//! docs/design/boot-counting.md.
//!
//! One copy (`bootstate.0` / `bootstate.1` on the FAT boot partition) is
//! `BS_CRC=<8 hex>\n` (exactly [`HEADER_LEN`] bytes) followed by the body,
//! `KEY=value\n` lines as `env export -t` writes them:
//! `BOOT_A_LEFT`, `BOOT_B_LEFT`, `BOOT_ORDER` (`A B`), `BS_SEQ`. Numbers are
//! hexadecimal (U-Boot's `setexpr` writes hex); the CRC is the IEEE CRC-32 of
//! the body (U-Boot's `crc32`).

use std::fmt;

use thiserror::Error;

/// Tries a slot gets when it is made primary, marked good, or all are reset.
pub const DEFAULT_TRIES: u8 = 3;
/// `BS_CRC=` + 8 hex digits + `\n`.
pub const HEADER_LEN: usize = 16;
/// A copy longer than this is not ours.
pub const MAX_LEN: usize = 4096;
/// The two copies, in the order the boot script reads them.
pub const FILE_NAMES: [&str; 2] = ["bootstate.0", "bootstate.1"];

/// A root slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub const ALL: [Slot; 2] = [Slot::A, Slot::B];

    pub fn parse(s: &str) -> Option<Slot> {
        match s {
            "A" => Some(Slot::A),
            "B" => Some(Slot::B),
            _ => None,
        }
    }

    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Slot::A => "A",
            Slot::B => "B",
        })
    }
}

/// What is wrong with one copy.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormatError {
    #[error("{0} bytes, shorter than the BS_CRC header")]
    TooShort(usize),
    #[error("{0} bytes, more than {MAX_LEN}")]
    TooLong(usize),
    #[error("first line is not `BS_CRC=<8 hex digits>`")]
    BadHeader,
    #[error("checksum mismatch: header says {stored:08x}, body has {computed:08x} (torn or corrupt write)")]
    BadCrc { stored: u32, computed: u32 },
    #[error("body is not UTF-8 text")]
    NotText,
    #[error("line {0} is not KEY=value")]
    BadLine(usize),
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{key}={value} is not valid")]
    BadValue { key: &'static str, value: String },
}

/// One copy's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootState {
    /// `BOOT_ORDER`: slots to try, first one first; no duplicates, not empty.
    pub order: Vec<Slot>,
    pub a_left: u8,
    pub b_left: u8,
    /// `BS_SEQ`: the copy with the higher sequence number wins.
    pub seq: u64,
}

impl Default for BootState {
    /// What both sides use when neither copy is valid: `A B`, 3 tries each, seq 0.
    fn default() -> Self {
        BootState { order: vec![Slot::A, Slot::B], a_left: DEFAULT_TRIES, b_left: DEFAULT_TRIES, seq: 0 }
    }
}

/// The IEEE CRC-32 (U-Boot's `crc32` command).
pub fn crc32(body: &[u8]) -> u32 {
    crc32fast::hash(body)
}

impl BootState {
    /// One line: seq, order and tries (`hotspare boot-state`, `hotspare status`).
    pub fn summary(&self) -> String {
        let order: Vec<String> = self.order.iter().map(Slot::to_string).collect();
        format!(
            "seq {}, BOOT_ORDER={}, BOOT_A_LEFT={}, BOOT_B_LEFT={}",
            self.seq,
            order.join(" "),
            self.a_left,
            self.b_left
        )
    }

    pub fn left(&self, slot: Slot) -> u8 {
        match slot {
            Slot::A => self.a_left,
            Slot::B => self.b_left,
        }
    }

    fn left_mut(&mut self, slot: Slot) -> &mut u8 {
        match slot {
            Slot::A => &mut self.a_left,
            Slot::B => &mut self.b_left,
        }
    }

    /// RAUC's get-primary: the first slot of `BOOT_ORDER` with tries left
    /// (the one the boot script will try next), if any.
    pub fn primary(&self) -> Option<Slot> {
        self.order.iter().copied().find(|&s| self.left(s) > 0)
    }

    /// RAUC's get-state: good while the slot is in `BOOT_ORDER` with tries left.
    pub fn is_good(&self, slot: Slot) -> bool {
        self.order.contains(&slot) && self.left(slot) > 0
    }

    /// The slot booted fine: its tries back to [`DEFAULT_TRIES`] (set-state good).
    pub fn mark_good(&self, slot: Slot) -> BootState {
        let mut s = self.clone();
        *s.left_mut(slot) = DEFAULT_TRIES;
        if !s.order.contains(&slot) {
            s.order.push(slot);
        }
        s
    }

    /// set-state bad: no tries left, so the script skips it.
    pub fn mark_bad(&self, slot: Slot) -> BootState {
        let mut s = self.clone();
        *s.left_mut(slot) = 0;
        s
    }

    /// set-primary: the slot first in `BOOT_ORDER`, with [`DEFAULT_TRIES`].
    pub fn set_primary(&self, slot: Slot) -> BootState {
        let mut s = self.clone();
        s.order = vec![slot, slot.other()];
        *s.left_mut(slot) = DEFAULT_TRIES;
        s
    }

    /// The boot script's rule, mirrored: the first slot of `BOOT_ORDER` with
    /// tries left is chosen and decremented; if none has any, both go back to
    /// [`DEFAULT_TRIES`] and nothing is booted (the script resets the board).
    /// The returned state still has this state's `seq` (the writer adds 1).
    pub fn boot_attempt(&self) -> (Option<Slot>, BootState) {
        let mut s = self.clone();
        match self.primary() {
            Some(slot) => {
                *s.left_mut(slot) -= 1;
                (Some(slot), s)
            }
            None => {
                s.a_left = DEFAULT_TRIES;
                s.b_left = DEFAULT_TRIES;
                (None, s)
            }
        }
    }

    /// The body, in `env export -t` order (keys sorted).
    fn body(&self) -> String {
        let order: Vec<String> = self.order.iter().map(Slot::to_string).collect();
        format!(
            "BOOT_A_LEFT={:x}\nBOOT_B_LEFT={:x}\nBOOT_ORDER={}\nBS_SEQ={:x}\n",
            self.a_left,
            self.b_left,
            order.join(" "),
            self.seq
        )
    }

    /// The bytes of one copy, header included.
    pub fn serialize(&self) -> Vec<u8> {
        let body = self.body();
        let mut out = format!("BS_CRC={:08x}\n", crc32(body.as_bytes())).into_bytes();
        out.extend_from_slice(body.as_bytes());
        out
    }

    /// Parses and verifies one copy. Unknown keys are ignored (as `env import` would
    /// take them); the four keys are required.
    pub fn parse(bytes: &[u8]) -> Result<BootState, FormatError> {
        if bytes.len() > MAX_LEN {
            return Err(FormatError::TooLong(bytes.len()));
        }
        if bytes.len() < HEADER_LEN {
            return Err(FormatError::TooShort(bytes.len()));
        }
        let (header, body) = bytes.split_at(HEADER_LEN);
        let stored = header
            .strip_prefix(b"BS_CRC=")
            .and_then(|h| h.strip_suffix(b"\n"))
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or(FormatError::BadHeader)?;
        let computed = crc32(body);
        if stored != computed {
            return Err(FormatError::BadCrc { stored, computed });
        }
        let text = std::str::from_utf8(body).map_err(|_| FormatError::NotText)?;
        let (mut order, mut a, mut b, mut seq) = (None, None, None, None);
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or(FormatError::BadLine(i + 2))?;
            match key {
                "BOOT_ORDER" => order = Some(parse_order(value)?),
                "BOOT_A_LEFT" => a = Some(parse_hex::<u8>("BOOT_A_LEFT", value)?),
                "BOOT_B_LEFT" => b = Some(parse_hex::<u8>("BOOT_B_LEFT", value)?),
                "BS_SEQ" => seq = Some(parse_hex::<u64>("BS_SEQ", value)?),
                _ => {}
            }
        }
        Ok(BootState {
            order: order.ok_or(FormatError::Missing("BOOT_ORDER"))?,
            a_left: a.ok_or(FormatError::Missing("BOOT_A_LEFT"))?,
            b_left: b.ok_or(FormatError::Missing("BOOT_B_LEFT"))?,
            seq: seq.ok_or(FormatError::Missing("BS_SEQ"))?,
        })
    }
}

/// A hexadecimal number as U-Boot's `setexpr` writes it (an optional `0x` accepted).
fn parse_hex<T: TryFrom<u64>>(key: &'static str, value: &str) -> Result<T, FormatError> {
    let bad = || FormatError::BadValue { key, value: value.to_string() };
    let digits = value.strip_prefix("0x").unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let n = u64::from_str_radix(digits, 16).map_err(|_| bad())?;
    T::try_from(n).map_err(|_| bad())
}

fn parse_order(value: &str) -> Result<Vec<Slot>, FormatError> {
    let bad = || FormatError::BadValue { key: "BOOT_ORDER", value: value.to_string() };
    let mut order = Vec::new();
    for word in value.split_whitespace() {
        let slot = Slot::parse(word).ok_or_else(bad)?;
        if order.contains(&slot) {
            return Err(bad());
        }
        order.push(slot);
    }
    if order.is_empty() {
        return Err(bad());
    }
    Ok(order)
}

/// One copy as read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copy {
    Valid(BootState),
    Missing,
    Invalid(String),
}

/// Which copy wins and which one the next write overwrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The current state: the valid copy with the highest seq, or the defaults.
    pub state: BootState,
    /// Index into [`FILE_NAMES`] of the copy `state` came from; `None` = defaults.
    pub from: Option<usize>,
    /// Index of the copy the next write goes to (never `from`).
    pub write_to: usize,
}

/// The reader's rule (the same in the boot script): the valid copy with the
/// highest seq (a tie goes to copy 0); none valid → defaults, next write to copy 0.
pub fn choose(copies: &[Copy; 2]) -> Choice {
    let mut best: Option<(usize, &BootState)> = None;
    for (i, c) in copies.iter().enumerate() {
        if let Copy::Valid(s) = c {
            if best.is_none_or(|(_, b)| s.seq > b.seq) {
                best = Some((i, s));
            }
        }
    }
    match best {
        Some((i, s)) => Choice { state: s.clone(), from: Some(i), write_to: 1 - i },
        None => Choice { state: BootState::default(), from: None, write_to: 0 },
    }
}

impl Choice {
    /// `next` as it goes to disk: seq one above the current one.
    pub fn successor(&self, next: &BootState) -> BootState {
        BootState { seq: self.state.seq.wrapping_add(1), ..next.clone() }
    }
}

#[cfg(test)]
#[path = "bootstate_tests.rs"]
mod tests;
