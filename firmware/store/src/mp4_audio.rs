//! The MP4 audio track: sample entries (`mp4a` + `esds` holding the AAC
//! `AudioSpecificConfig`; `alaw` / `ulaw` for G.711, the QuickTime sound
//! sample entries ffmpeg and most players read in an ISO file) and the `trak`
//! box, whose edit list (`edts`/`elst`) starts the audio where its first
//! frame lies on the video's timeline, so both tracks stay in sync.

use crate::mp4::{bx, fullbox, sample_tables, u16be, u32be, u64be, Chunk, MATRIX};
use hotspare_media::{AudioCodec, AudioParams};

/// Everything the audio track needs. Times in the audio clock unless said otherwise.
pub struct AudioTrack<'a> {
    pub params: &'a AudioParams,
    /// Encoded sample entry (from [`sample_entry`]).
    pub entry: &'a [u8],
    /// Where the first sample starts on the movie timeline, 90 kHz (an empty edit).
    pub start_90k: u64,
    pub sizes: &'a [u32],
    pub durations: &'a [u32],
    pub chunks: &'a [Chunk],
}

impl AudioTrack<'_> {
    /// Samples' total duration in the audio clock.
    pub fn media_duration(&self) -> u64 {
        self.durations.iter().map(|&d| u64::from(d)).sum()
    }

    /// The media duration in 90 kHz (rounded up).
    fn media_duration_90k(&self) -> u64 {
        let rate = u64::from(self.params.sample_rate.max(1));
        (u128::from(self.media_duration()) * 90_000).div_ceil(u128::from(rate)).min(u128::from(u64::MAX)) as u64
    }

    /// End of the audio on the movie timeline, 90 kHz.
    pub fn movie_duration(&self) -> u64 {
        self.start_90k.saturating_add(self.media_duration_90k())
    }
}

/// An MPEG-4 descriptor: tag, length (one byte when short, else the 4-byte form), body.
fn descriptor(b: &mut Vec<u8>, tag: u8, body: &[u8]) {
    b.push(tag);
    if body.len() < 0x80 {
        b.push(body.len() as u8);
    } else {
        let n = body.len() as u32;
        b.extend_from_slice(&[
            0x80 | (n >> 21) as u8 & 0x7f,
            0x80 | (n >> 14) as u8 & 0x7f,
            0x80 | (n >> 7) as u8 & 0x7f,
        ]);
        b.push(n as u8 & 0x7f);
    }
    b.extend_from_slice(body);
}

/// `esds` body (ES_Descriptor, ISO 14496-1 §7.2.6.5) for AAC with its `AudioSpecificConfig`.
fn esds(config: &[u8]) -> Vec<u8> {
    let mut dcd = vec![0x40, 0x15]; // objectTypeIndication: MPEG-4 audio; streamType audio (5), reserved bit
    dcd.extend_from_slice(&[0, 0, 0]); // bufferSizeDB
    dcd.extend_from_slice(&0u32.to_be_bytes()); // maxBitrate (unknown)
    dcd.extend_from_slice(&0u32.to_be_bytes()); // avgBitrate (unknown)
    descriptor(&mut dcd, 0x05, config); // DecoderSpecificInfo
    let mut es = vec![0, 2, 0]; // ES_ID 2, no flags
    descriptor(&mut es, 0x04, &dcd);
    descriptor(&mut es, 0x06, &[0x02]); // SLConfigDescriptor, predefined MP4
    let mut out = Vec::new();
    descriptor(&mut out, 0x03, &es);
    out
}

/// The audio sample entry for `p`: `mp4a` + `esds`, or `alaw` / `ulaw`.
pub fn sample_entry(p: &AudioParams) -> Vec<u8> {
    let fourcc = match p.codec {
        AudioCodec::Aac => b"mp4a",
        AudioCodec::Pcma => b"alaw",
        AudioCodec::Pcmu => b"ulaw",
    };
    let mut b = Vec::new();
    bx(&mut b, fourcc, |b| {
        b.extend_from_slice(&[0; 6]);
        u16be(b, 1); // data_reference_index
        b.extend_from_slice(&[0; 8]); // version, revision, vendor
        u16be(b, u16::from(p.channels));
        u16be(b, 16); // samplesize
        u16be(b, 0); // pre_defined / compression id
        u16be(b, 0); // reserved / packet size
                     // 16.16 fixed point; rates above 65535 Hz do not fit and the `mdhd` timescale holds them.
        u32be(b, if p.sample_rate <= 0xffff { p.sample_rate << 16 } else { 0 });
        if p.codec == AudioCodec::Aac {
            fullbox(b, b"esds", 0, 0, |b| b.extend_from_slice(&esds(&p.config)));
        }
    });
    b
}

/// The audio `trak` (track 2).
pub(crate) fn trak(b: &mut Vec<u8>, a: &AudioTrack<'_>) {
    let media_90k = a.media_duration_90k();
    bx(b, b"trak", |b| {
        fullbox(b, b"tkhd", 1, 3, |b| {
            u64be(b, 0);
            u64be(b, 0);
            u32be(b, 2); // track_ID
            u32be(b, 0);
            u64be(b, a.movie_duration());
            b.extend_from_slice(&[0; 8]);
            u16be(b, 0); // layer
            u16be(b, 1); // alternate_group
            u16be(b, 0x0100); // volume
            u16be(b, 0);
            MATRIX.iter().for_each(|&m| u32be(b, m));
            u32be(b, 0);
            u32be(b, 0);
        });
        bx(b, b"edts", |b| {
            fullbox(b, b"elst", 1, 0, |b| {
                let empty = a.start_90k > 0;
                u32be(b, 1 + u32::from(empty));
                if empty {
                    u64be(b, a.start_90k);
                    u64be(b, u64::MAX); // media_time -1: nothing plays
                    u32be(b, 0x0001_0000);
                }
                u64be(b, media_90k);
                u64be(b, 0);
                u32be(b, 0x0001_0000);
            });
        });
        bx(b, b"mdia", |b| {
            fullbox(b, b"mdhd", 1, 0, |b| {
                u64be(b, 0);
                u64be(b, 0);
                u32be(b, a.params.sample_rate);
                u64be(b, a.media_duration());
                u16be(b, 0x55c4); // "und"
                u16be(b, 0);
            });
            fullbox(b, b"hdlr", 0, 0, |b| {
                u32be(b, 0);
                b.extend_from_slice(b"soun");
                b.extend_from_slice(&[0; 12]);
                b.extend_from_slice(b"Hotspare audio\0");
            });
            bx(b, b"minf", |b| {
                fullbox(b, b"smhd", 0, 0, |b| b.extend_from_slice(&[0; 4]));
                bx(b, b"dinf", |b| {
                    fullbox(b, b"dref", 0, 0, |b| {
                        u32be(b, 1);
                        fullbox(b, b"url ", 0, 1, |_| {});
                    })
                });
                bx(b, b"stbl", |b| {
                    sample_tables(b, std::slice::from_ref(&a.entry.to_vec()), a.durations, None, a.sizes, a.chunks)
                });
            });
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esds_carries_the_config() {
        let p = AudioParams { codec: AudioCodec::Aac, sample_rate: 16_000, channels: 1, config: vec![0x14, 0x08] };
        let e = sample_entry(&p);
        assert_eq!(&e[4..8], b"mp4a");
        assert_eq!(u32::from_be_bytes(e[0..4].try_into().unwrap()) as usize, e.len());
        let i = e.windows(2).position(|w| w == [0x05, 2]).unwrap();
        assert_eq!(&e[i + 2..i + 4], &[0x14, 0x08]);
        let g = sample_entry(&AudioParams { codec: AudioCodec::Pcmu, sample_rate: 8000, channels: 1, config: vec![] });
        assert_eq!((&g[4..8], g.len()), (&b"ulaw"[..], 36));
    }
}
