//! A constructed H.264 RTP stream in interleaved frames: an IDR split into
//! FU-A fragments, then P frames, 30 fps.

use hotspare_media::interleaved;

pub struct RtpStream {
    pub channel: u8,
    pub payload_type: u8,
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
}

impl RtpStream {
    fn packet(&mut self, marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, self.payload_type | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        let len = u16::try_from(p.len()).expect("small packet");
        let mut f = interleaved::header(self.channel, len).to_vec();
        f.extend_from_slice(&p);
        f
    }

    /// `frames` access units (the first an IDR in two FU-A fragments, the
    /// rest single-NAL P frames) as interleaved frames.
    pub fn frames(&mut self, frames: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for i in 0..frames {
            if i == 0 {
                out.push(self.packet(false, &[0x7c, 0x85, 1, 2, 3, 4]));
                out.push(self.packet(true, &[0x7c, 0x45, 5, 6, 7, 8]));
            } else {
                out.push(self.packet(true, &[0x41, 0x9a, i as u8, 0, 0]));
            }
            self.ts = self.ts.wrapping_add(3000);
        }
        out
    }
}
