//! RTSP interleaved binary framing (RFC 2326 §10.12): `$`, channel, 16-bit
//! length, then the RTP/RTCP packet.

use std::ops::Range;

/// One interleaved frame found at the start of a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterleavedFrame {
    pub channel: u8,
    /// Where the packet lies within the buffer given to [`parse`].
    pub packet: Range<usize>,
    /// Bytes the frame occupies including its 4-byte header.
    pub total: usize,
}

/// Parses an interleaved frame at the start of `buf`. Returns `None` when
/// more bytes are needed; the caller checks `buf[0] == b'$'` first.
pub fn parse(buf: &[u8]) -> Option<InterleavedFrame> {
    if buf.len() < 4 {
        return None;
    }
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    if buf.len() < 4 + len {
        return None;
    }
    Some(InterleavedFrame { channel: buf[1], packet: 4..4 + len, total: 4 + len })
}

/// Writes the 4-byte header of an interleaved frame.
pub fn header(channel: u8, len: u16) -> [u8; 4] {
    let l = len.to_be_bytes();
    [b'$', channel, l[0], l[1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_whole_frame() {
        let mut b = header(2, 3).to_vec();
        assert_eq!(parse(&b), None);
        b.extend_from_slice(&[1, 2, 3, 9]);
        assert_eq!(parse(&b), Some(InterleavedFrame { channel: 2, packet: 4..7, total: 7 }));
        assert_eq!(parse(&b[..2]), None);
    }
}
