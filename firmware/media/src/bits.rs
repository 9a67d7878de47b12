//! A most-significant-bit-first reader of fixed-width fields, for the few
//! bit-packed headers read without Exp-Golomb codes (AAC
//! `AudioSpecificConfig`, RFC 3640 AU headers). SPS parsing has its own
//! Exp-Golomb reader (`sps::BitReader`).

/// Reads `n`-bit unsigned fields from a byte slice, most significant bit first.
pub(crate) struct Bits<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Bits { b, pos: 0 }
    }

    /// The next `n` (≤ 32) bits; `None` past the end.
    pub(crate) fn read(&mut self, n: u8) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.b.get(self.pos / 8)?;
            v = v << 1 | u32::from(byte >> (7 - self.pos % 8) & 1);
            self.pos += 1;
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_across_byte_boundaries_and_the_end() {
        let mut r = Bits::new(&[0b1010_1100, 0b0101_0000]);
        assert_eq!(r.read(3), Some(0b101));
        assert_eq!(r.read(7), Some(0b011_0001));
        assert_eq!(r.read(6), Some(0b01_0000));
        assert_eq!(r.read(1), None);
    }
}
