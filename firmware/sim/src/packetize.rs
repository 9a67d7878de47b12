//! RTP packetization: splits access units into RTP payloads (RFC 6184 for
//! H.264: single NAL, STAP-A, FU-A; RFC 7798 for H.265: single NAL, AP, FU)
//! once per clip, and writes RTP headers and RTSP interleaved framing around
//! them per connection.

use hotspare_media::Codec;

use crate::clip::{AccessUnit, Clip};

/// Largest RTP payload we produce (RTP header not included).
pub const MTU: usize = 1400;
/// Fixed RTP header length (no CSRC, no extension).
pub const RTP_HEADER_LEN: usize = 12;
/// Dynamic payload type used for video.
pub const VIDEO_PT: u8 = 96;
/// Static payload type of G.711 µ-law.
pub const PCMU_PT: u8 = 0;

/// RTP payloads of one access unit; the last one carries the marker bit.
#[derive(Clone, Debug, Default)]
pub struct PacketizedFrame {
    pub payloads: Vec<Vec<u8>>,
    pub keyframe: bool,
    /// Sum of payload lengths, for the RTCP octet count.
    pub bytes: usize,
}

/// Packetizes every access unit of `clip` with payloads of at most `mtu` bytes.
pub fn packetize_clip(clip: &Clip, mtu: usize) -> Vec<PacketizedFrame> {
    clip.frames.iter().map(|au| packetize_au(clip.codec, au, mtu)).collect()
}

/// Packetizes one access unit: consecutive small non-VCL NAL units (parameter
/// sets, SEI, AUD) are aggregated, slices go as single NAL units or, when
/// larger than `mtu`, as fragmentation units. NAL units shorter than their
/// header are skipped; `mtu` is clamped to a workable 20..=65000.
pub fn packetize_au(codec: Codec, au: &AccessUnit, mtu: usize) -> PacketizedFrame {
    let hlen = codec.nal_header_len();
    // Room for a fragmentation header and at least a little payload.
    let mtu = mtu.clamp(hlen + 2 + 16, 65_000);
    let mut out = Vec::new();
    let mut group: Vec<&[u8]> = Vec::new();
    let mut group_len = hlen; // aggregation packet header
    for nal in &au.nals {
        let nal = nal.as_slice();
        if nal.len() < hlen {
            continue;
        }
        let ty = codec.nal_type(nal[0]);
        let aggregatable = !codec.is_vcl_nal(ty) && hlen + 2 + nal.len() <= mtu;
        if aggregatable && group_len + 2 + nal.len() <= mtu {
            group.push(nal);
            group_len += 2 + nal.len();
            continue;
        }
        flush_group(codec, &mut group, &mut out);
        group_len = hlen;
        if aggregatable {
            group.push(nal);
            group_len += 2 + nal.len();
        } else if nal.len() <= mtu {
            out.push(nal.to_vec());
        } else {
            fragment(codec, nal, mtu, &mut out);
        }
    }
    flush_group(codec, &mut group, &mut out);
    let bytes = out.iter().map(Vec::len).sum();
    PacketizedFrame { payloads: out, keyframe: au.keyframe, bytes }
}

/// Emits the pending aggregation group: one NAL alone as a single NAL unit
/// packet, several as STAP-A (H.264) or AP (H.265).
fn flush_group(codec: Codec, group: &mut Vec<&[u8]>, out: &mut Vec<Vec<u8>>) {
    match group.len() {
        0 => return,
        1 => out.push(group[0].to_vec()),
        _ => {
            let mut p = Vec::with_capacity(2 + group.iter().map(|n| n.len() + 2).sum::<usize>());
            match codec {
                Codec::H264 => {
                    let f = group.iter().fold(0, |a, n| a | (n[0] & 0x80));
                    let nri = group.iter().map(|n| n[0] & 0x60).max().unwrap_or(0);
                    p.push(f | nri | 24);
                }
                Codec::H265 => {
                    let f = group.iter().fold(0, |a, n| a | (n[0] & 0x80));
                    let layer = group.iter().map(|n| ((n[0] & 1) << 5) | (n[1] >> 3)).min().unwrap_or(0);
                    let tid = group.iter().map(|n| n[1] & 7).min().unwrap_or(1);
                    p.push(f | (48 << 1) | (layer >> 5));
                    p.push(((layer & 0x1f) << 3) | tid);
                }
            }
            for n in group.iter() {
                p.extend_from_slice(&(n.len() as u16).to_be_bytes());
                p.extend_from_slice(n);
            }
            out.push(p);
        }
    }
    group.clear();
}

/// Splits one NAL unit larger than `mtu` into FU-A (H.264) / FU (H.265) packets.
fn fragment(codec: Codec, nal: &[u8], mtu: usize, out: &mut Vec<Vec<u8>>) {
    let (prefix, body): (Vec<u8>, &[u8]) = match codec {
        Codec::H264 => (vec![(nal[0] & 0xe0) | 28, nal[0] & 0x1f], &nal[1..]),
        Codec::H265 => (vec![(nal[0] & 0x81) | (49 << 1), nal[1], (nal[0] >> 1) & 0x3f], &nal[2..]),
    };
    let chunk = mtu - prefix.len();
    let n = body.len().div_ceil(chunk);
    for (i, part) in body.chunks(chunk).enumerate() {
        let mut p = Vec::with_capacity(prefix.len() + part.len());
        p.extend_from_slice(&prefix);
        let fu = p.len() - 1;
        if i == 0 {
            p[fu] |= 0x80;
        }
        if i + 1 == n {
            p[fu] |= 0x40;
        }
        p.extend_from_slice(part);
        out.push(p);
    }
}

/// Per-stream RTP sender state: SSRC, next sequence number, payload type,
/// and the counters an RTCP sender report needs.
#[derive(Clone, Debug)]
pub struct RtpStream {
    pub ssrc: u32,
    pub seq: u16,
    pub pt: u8,
    pub channel: u8,
    pub packets: u32,
    pub octets: u32,
}

impl RtpStream {
    /// New stream with random SSRC and initial sequence number.
    pub fn new(pt: u8, channel: u8) -> Self {
        RtpStream { ssrc: rand::random(), seq: rand::random(), pt, channel, packets: 0, octets: 0 }
    }

    /// Appends `$ channel len` + RTP header + `payload` to `buf`.
    pub fn write_packet(&mut self, buf: &mut Vec<u8>, payload: &[u8], ts: u32, marker: bool) {
        let len = RTP_HEADER_LEN + payload.len();
        debug_assert!(len <= u16::MAX as usize, "RTP packet of {len} bytes does not fit interleaved framing");
        buf.push(b'$');
        buf.push(self.channel);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
        buf.push(0x80);
        buf.push(if marker { 0x80 } else { 0 } | self.pt);
        buf.extend_from_slice(&self.seq.to_be_bytes());
        buf.extend_from_slice(&ts.to_be_bytes());
        buf.extend_from_slice(&self.ssrc.to_be_bytes());
        buf.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload.len() as u32);
    }

    /// Appends all packets of one access unit, marker on the last.
    pub fn write_frame(&mut self, buf: &mut Vec<u8>, frame: &PacketizedFrame, ts: u32) {
        let n = frame.payloads.len();
        for (i, p) in frame.payloads.iter().enumerate() {
            self.write_packet(buf, p, ts, i + 1 == n);
        }
    }

    /// Appends an interleaved RTCP compound packet (sender report + SDES
    /// CNAME) on channel `self.channel + 1`. `ntp` is the 64-bit NTP time
    /// (seconds since 1900 in the high 32 bits) matching RTP time `ts`.
    pub fn write_sender_report(&self, buf: &mut Vec<u8>, ntp: u64, ts: u32, cname: &str) {
        let cname = &cname.as_bytes()[..cname.len().min(255)];
        // SDES: header 4 + SSRC 4 + item (2 + len) + end 1, padded to 32 bits.
        let sdes_len = (8 + 2 + cname.len() + 1).div_ceil(4) * 4;
        buf.push(b'$');
        buf.push(self.channel.wrapping_add(1));
        buf.extend_from_slice(&((28 + sdes_len) as u16).to_be_bytes());
        // SR: V=2, RC=0, PT=200, length = 6 (32-bit words minus one).
        buf.extend_from_slice(&[0x80, 200, 0, 6]);
        buf.extend_from_slice(&self.ssrc.to_be_bytes());
        buf.extend_from_slice(&ntp.to_be_bytes());
        buf.extend_from_slice(&ts.to_be_bytes());
        buf.extend_from_slice(&self.packets.to_be_bytes());
        buf.extend_from_slice(&self.octets.to_be_bytes());
        // SDES with one chunk.
        let start = buf.len();
        buf.extend_from_slice(&[0x81, 202]);
        buf.extend_from_slice(&((sdes_len / 4 - 1) as u16).to_be_bytes());
        buf.extend_from_slice(&self.ssrc.to_be_bytes());
        buf.push(1); // CNAME
        buf.push(cname.len() as u8);
        buf.extend_from_slice(cname);
        buf.resize(start + sdes_len, 0); // END item and padding are zeros
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn au(nals: &[Vec<u8>]) -> AccessUnit {
        AccessUnit { nals: nals.to_vec(), keyframe: true }
    }

    #[test]
    fn h264_stap_a_single_and_fu_a() {
        let sps = vec![0x67, 1, 2, 3];
        let pps = vec![0x68, 4];
        let mut idr = vec![0x65];
        idr.extend((0..3000).map(|i| i as u8));
        let f = packetize_au(Codec::H264, &au(&[sps.clone(), pps.clone(), idr.clone()]), 1400);
        // STAP-A + 3 FU-A.
        assert_eq!(f.payloads.len(), 4);
        assert_eq!(f.payloads[0], [vec![0x78, 0, 4], sps, vec![0, 2], pps].concat());
        assert_eq!(f.payloads[1][..2], [0x7c, 0x85]);
        assert_eq!(f.payloads[2][..2], [0x7c, 0x05]);
        assert_eq!(f.payloads[3][..2], [0x7c, 0x45]);
        assert!(f.payloads.iter().all(|p| p.len() <= 1400));
        let rebuilt: Vec<u8> =
            std::iter::once(0x65).chain(f.payloads[1..].iter().flat_map(|p| p[2..].to_vec())).collect();
        assert_eq!(rebuilt, idr);
        // A small slice goes alone.
        let p = packetize_au(Codec::H264, &au(&[vec![0x41, 9, 9], vec![]]), 1400);
        assert_eq!(p.payloads, vec![vec![0x41, 9, 9]]);
        // A silly MTU still gives valid fragments.
        let p = packetize_au(Codec::H264, &au(&[vec![0x41; 100]]), 0);
        assert!(p.payloads.len() > 1 && p.payloads.iter().all(|p| p.len() <= 20));
    }

    #[test]
    fn h265_ap_and_fu() {
        let vps = vec![0x40, 0x01, 1];
        let sps = vec![0x42, 0x01, 2];
        let pps = vec![0x44, 0x01, 3];
        let mut idr = vec![0x28, 0x01]; // type 20 IDR_N_LP
        idr.extend((0..2000).map(|i| i as u8));
        let f = packetize_au(Codec::H265, &au(&[vps, sps, pps, idr.clone()]), 1400);
        assert_eq!(f.payloads.len(), 3);
        assert_eq!(f.payloads[0][..4], [48 << 1, 0x01, 0, 3]);
        assert_eq!(f.payloads[1][..3], [49 << 1, 0x01, 0x80 | 20]);
        assert_eq!(f.payloads[2][..3], [49 << 1, 0x01, 0x40 | 20]);
        let body: Vec<u8> = f.payloads[1..].iter().flat_map(|p| p[3..].to_vec()).collect();
        assert_eq!(body, idr[2..]);
    }

    #[test]
    fn rtp_header_and_marker() {
        let mut s = RtpStream { ssrc: 0x01020304, seq: 0xffff, pt: 96, channel: 2, packets: 0, octets: 0 };
        let frame = PacketizedFrame { payloads: vec![vec![1], vec![2, 3]], keyframe: false, bytes: 3 };
        let mut buf = Vec::new();
        s.write_frame(&mut buf, &frame, 0xaabbccdd);
        assert_eq!(buf[..16], [b'$', 2, 0, 13, 0x80, 96, 0xff, 0xff, 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4]);
        assert_eq!(buf[17..21], [b'$', 2, 0, 14]);
        assert_eq!(buf[21..25], [0x80, 0x80 | 96, 0, 0]);
        assert_eq!((s.packets, s.octets, s.seq), (2, 3, 1));
        let mut sr = Vec::new();
        s.write_sender_report(&mut sr, 0x1122334455667788, 7, "cam0");
        assert_eq!(sr[..4], [b'$', 3, 0, (sr.len() - 4) as u8]);
        assert_eq!(sr[4..8], [0x80, 200, 0, 6]);
        assert_eq!((sr.len() - 4) % 4, 0);
    }
}
