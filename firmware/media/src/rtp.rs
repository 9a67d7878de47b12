//! RTP (RFC 3550) packet view and RTCP sender reports, as zero-copy
//! accessors over a borrowed buffer.

/// Why an RTP/RTCP packet was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("RTP packet of {0} bytes is shorter than its header")]
    Truncated(usize),
    #[error("RTP version {0} is not 2")]
    BadVersion(u8),
    #[error("RTP padding length {0} exceeds the payload")]
    BadPadding(u8),
}

/// A validated RTP packet borrowing its bytes.
#[derive(Clone, Copy, Debug)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    payload_start: usize,
    payload_end: usize,
}

impl<'a> RtpPacket<'a> {
    /// Checks the fixed header, CSRCs, extension and padding.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        if buf.len() < 12 {
            return Err(RtpError::Truncated(buf.len()));
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let csrc = (buf[0] & 0x0f) as usize;
        let mut start = 12 + 4 * csrc;
        if buf[0] & 0x10 != 0 {
            if buf.len() < start + 4 {
                return Err(RtpError::Truncated(buf.len()));
            }
            let words = u16::from_be_bytes([buf[start + 2], buf[start + 3]]) as usize;
            start += 4 + 4 * words;
        }
        if buf.len() < start {
            return Err(RtpError::Truncated(buf.len()));
        }
        let mut end = buf.len();
        if buf[0] & 0x20 != 0 {
            let pad = buf[end - 1];
            if pad == 0 || pad as usize > end - start {
                return Err(RtpError::BadPadding(pad));
            }
            end -= pad as usize;
        }
        Ok(RtpPacket { buf, payload_start: start, payload_end: end })
    }

    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }
    pub fn payload_type(&self) -> u8 {
        self.buf[1] & 0x7f
    }
    pub fn sequence(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
    }
    pub fn ssrc(&self) -> u32 {
        u32::from_be_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]])
    }
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.payload_start..self.payload_end]
    }
    /// Offset of the payload within the buffer given to [`RtpPacket::parse`].
    pub fn payload_offset(&self) -> usize {
        self.payload_start
    }
}

/// NTP time and RTP timestamp pair from an RTCP sender report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderReport {
    pub ssrc: u32,
    /// NTP timestamp: seconds since 1900 in the upper 32 bits, fraction below.
    pub ntp: u64,
    pub rtp_ts: u32,
}

impl SenderReport {
    /// Wall clock of the report in µs since the Unix epoch.
    pub fn wall_us(&self) -> i64 {
        const NTP_UNIX_OFFSET: i64 = 2_208_988_800;
        let secs = (self.ntp >> 32) as i64 - NTP_UNIX_OFFSET;
        let frac = ((self.ntp & 0xffff_ffff) * 1_000_000) >> 32;
        secs * 1_000_000 + frac as i64
    }
}

/// Finds the sender report in a compound RTCP packet, if any. Malformed
/// compound packets yield `None` (RTCP is advisory; the recorder falls back
/// to arrival time).
pub fn find_sender_report(mut buf: &[u8]) -> Option<SenderReport> {
    while buf.len() >= 4 {
        if buf[0] >> 6 != 2 {
            return None;
        }
        let len = (u16::from_be_bytes([buf[2], buf[3]]) as usize + 1) * 4;
        if len > buf.len() {
            return None;
        }
        if buf[1] == 200 && len >= 28 {
            let b = &buf[..len];
            return Some(SenderReport {
                ssrc: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                ntp: u64::from_be_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
                rtp_ts: u32::from_be_bytes([b[16], b[17], b[18], b[19]]),
            });
        }
        buf = &buf[len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_with_csrc_extension_and_padding() {
        let mut p = vec![0xb1, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0, 1, 2, 3, 4];
        p.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 7, 7, 7, 7]); // extension, one word
        p.extend_from_slice(&[0x65, 0xaa]);
        p.extend_from_slice(&[0, 2]); // padding of 2
        let r = RtpPacket::parse(&p).unwrap();
        assert!(r.marker());
        assert_eq!(r.payload_type(), 96);
        assert_eq!(r.sequence(), 0x1234);
        assert_eq!(r.timestamp(), 0x1000);
        assert_eq!(r.ssrc(), 0x01020304);
        assert_eq!(r.payload(), &[0x65, 0xaa]);
    }

    #[test]
    fn rejects_bad_packets() {
        assert_eq!(RtpPacket::parse(&[0x80; 5]).unwrap_err(), RtpError::Truncated(5));
        assert_eq!(RtpPacket::parse(&[0x40; 12]).unwrap_err(), RtpError::BadVersion(1));
        let mut p = vec![0xa0, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        p.push(9);
        assert_eq!(RtpPacket::parse(&p).unwrap_err(), RtpError::BadPadding(9));
        let ext = [0x90, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        assert!(RtpPacket::parse(&ext).is_err());
    }

    #[test]
    fn sender_report_in_compound_packet() {
        let mut c = vec![0x81, 201, 0, 1, 0, 0, 0, 1]; // RR, one word after header
        let ntp: u64 = (2_208_988_800u64 + 1_700_000_000) << 32 | 0x8000_0000;
        let mut sr = vec![0x80, 200, 0, 6, 0, 0, 0, 7];
        sr.extend_from_slice(&ntp.to_be_bytes());
        sr.extend_from_slice(&90_000u32.to_be_bytes());
        sr.extend_from_slice(&[0; 8]);
        c.extend_from_slice(&sr);
        let r = find_sender_report(&c).unwrap();
        assert_eq!(r.ssrc, 7);
        assert_eq!(r.rtp_ts, 90_000);
        assert_eq!(r.wall_us(), 1_700_000_000_500_000);
        assert_eq!(find_sender_report(&[0x80, 200, 0, 60]), None);
    }
}
