//! Digit entry of an IPv4 address with four keys: the address is shown as
//! `192.168.001.010` with a cursor on one of its 12 digits; Left/Right move
//! the cursor, Up/Down add or take one at that digit's place (the octet wraps
//! within 0–255). Pure.

use std::net::Ipv4Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrEntry {
    pub octets: [u8; 4],
    /// 0..12: which digit.
    pub cursor: usize,
}

impl AddrEntry {
    pub fn new(a: Ipv4Addr) -> AddrEntry {
        AddrEntry { octets: a.octets(), cursor: 0 }
    }

    pub fn addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.octets)
    }

    pub fn left(&mut self) {
        self.cursor = (self.cursor + 11) % 12;
    }

    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1) % 12;
    }

    /// Up (`+1`) or Down (`-1`) at the cursor's place.
    pub fn step(&mut self, up: bool) {
        let place = [100i32, 10, 1][self.cursor % 3];
        let o = &mut self.octets[self.cursor / 3];
        let v = i32::from(*o) + if up { place } else { -place };
        *o = u8::try_from(v.rem_euclid(256)).unwrap_or(0);
    }

    /// `192.168.001.010`.
    pub fn text(&self) -> String {
        let o = self.octets;
        format!("{:03}.{:03}.{:03}.{:03}", o[0], o[1], o[2], o[3])
    }

    /// The cursor's column in [`AddrEntry::text`] (0-based).
    pub fn column(&self) -> usize {
        self.cursor + self.cursor / 3
    }
}

/// A marker line: `^` under column `col`.
pub fn caret(col: usize) -> String {
    format!("{}^", " ".repeat(col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_move_and_wrap() {
        let mut e = AddrEntry::new(Ipv4Addr::new(192, 168, 1, 10));
        assert_eq!(e.text(), "192.168.001.010");
        e.step(true); // 292 wraps to 36
        assert_eq!(e.octets[0], 36);
        e.step(false);
        assert_eq!(e.octets[0], 192);
        e.left();
        assert_eq!((e.cursor, e.column()), (11, 14));
        e.step(true);
        e.step(true);
        assert_eq!(e.addr(), Ipv4Addr::new(192, 168, 1, 12));
        e.right();
        assert_eq!(e.cursor, 0);
        for _ in 0..4 {
            e.right();
        }
        e.step(false); // 168 - 10
        assert_eq!(e.text(), "192.158.001.012");
        assert_eq!(caret(e.column()), "     ^");
    }
}
