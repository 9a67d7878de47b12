//! Picks the audio track out of a parsed SDP: AAC (`mpeg4-generic`,
//! RFC 3640 AAC-hbr / AAC-lbr, with the `AudioSpecificConfig` from
//! `config=`) or G.711 (`PCMA`/`PCMU`, also as static payload types 8/0
//! without an `a=rtpmap`). Anything else, or an AAC track whose fmtp a
//! depacketizer could not follow, gives no audio track: never an error, the
//! video records without it.

use crate::bits::Bits;
use crate::sdp::{Description, Track};
use crate::{AudioCodec, AudioParams};

/// How an audio track's RTP payloads carry frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioFraming {
    /// G.711: the payload is samples, one byte per sample and channel.
    G711,
    /// RFC 3640 AU headers as the fmtp describes them.
    Aac(AacFraming),
}

/// The RFC 3640 fmtp fields of an AAC track (`mode=AAC-hbr`: 13/3/3,
/// `AAC-lbr`: 6/2/2, unless the fmtp says otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AacFraming {
    /// Bits of AU-size in each AU header (1..=16).
    pub size_length: u8,
    /// Bits of AU-index in the first AU header (0..=8).
    pub index_length: u8,
    /// Bits of AU-index-delta in the following AU headers (0..=8).
    pub index_delta_length: u8,
    /// Duration of one access unit in RTP clock units (1024 or 960
    /// samples at the core rate, scaled to the RTP clock).
    pub frame_duration: u32,
}

/// An audio track the recorder can store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioTrack {
    /// Codec, RTP clock rate (`sample_rate`), channels, AAC config.
    pub params: AudioParams,
    pub payload_type: u8,
    /// `a=control` value, possibly relative.
    pub control: Option<String>,
    pub framing: AudioFraming,
}

impl Description {
    /// The first audio track the recorder can store, if any.
    pub fn audio_track(&self) -> Option<AudioTrack> {
        self.tracks.iter().find_map(audio_track)
    }
}

/// `t` as an audio track the recorder can store, if it is one.
pub fn audio_track(t: &Track) -> Option<AudioTrack> {
    if t.media != "audio" || t.clock_rate == 0 {
        return None;
    }
    let (codec, framing, config, channels) = match t.encoding.as_str() {
        "PCMA" => (AudioCodec::Pcma, AudioFraming::G711, Vec::new(), t.channels.unwrap_or(1)),
        "PCMU" => (AudioCodec::Pcmu, AudioFraming::G711, Vec::new(), t.channels.unwrap_or(1)),
        "MPEG4-GENERIC" => {
            let fmtp = fmtp_map(t.fmtp.as_deref().unwrap_or(""));
            let config = decode_hex(fmtp.get("config")?)?;
            let asc = AudioSpecificConfig::parse(&config)?;
            let framing = aac_framing(&fmtp, &asc, t.clock_rate)?;
            let channels = t.channels.or(asc.channels).unwrap_or(1);
            (AudioCodec::Aac, AudioFraming::Aac(framing), config, channels)
        }
        _ => return None,
    };
    if channels == 0 {
        return None;
    }
    Some(AudioTrack {
        params: AudioParams { codec, sample_rate: t.clock_rate, channels, config },
        payload_type: t.payload_type,
        control: t.control.clone(),
        framing,
    })
}

/// fmtp `key=value;…` with lower-case keys.
fn fmtp_map(fmtp: &str) -> std::collections::HashMap<String, String> {
    fmtp.split(';')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

fn aac_framing(
    fmtp: &std::collections::HashMap<String, String>,
    asc: &AudioSpecificConfig,
    clock_rate: u32,
) -> Option<AacFraming> {
    let defaults = match fmtp.get("mode").map(|m| m.to_ascii_lowercase()) {
        Some(m) if m == "aac-hbr" => Some((13, 3, 3)),
        Some(m) if m == "aac-lbr" => Some((6, 2, 2)),
        Some(_) => return None, // generic, CELP-*: not AAC as we store it
        None => None,
    };
    let field = |k: &str, d: Option<u8>| -> Option<u8> {
        match fmtp.get(k) {
            Some(v) => v.parse().ok(),
            None => d,
        }
    };
    let size_length = field("sizelength", defaults.map(|d| d.0))?;
    let index_length = field("indexlength", defaults.map(|d| d.1)).unwrap_or(0);
    let index_delta_length = field("indexdeltalength", defaults.map(|d| d.2)).unwrap_or(0);
    if !(1..=16).contains(&size_length) || index_length > 8 || index_delta_length > 8 {
        return None;
    }
    let scaled = u64::from(asc.frame_samples) * u64::from(clock_rate) / u64::from(asc.core_rate.max(1));
    let frame_duration = u32::try_from(scaled).ok().filter(|&d| d > 0)?;
    Some(AacFraming { size_length, index_length, index_delta_length, frame_duration })
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().as_bytes();
    if s.is_empty() || !s.len().is_multiple_of(2) || s.len() > 2 * 64 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.chunks(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

/// What the recorder needs from an `AudioSpecificConfig` (ISO 14496-3
/// §1.6.2.1): the core sampling rate, the channel count and the frame length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    pub object_type: u8,
    pub core_rate: u32,
    /// None for channel configuration 0 (given in a program config element).
    pub channels: Option<u8>,
    /// 1024, or 960 when the GASpecificConfig's frameLengthFlag is set.
    pub frame_samples: u32,
}

const AAC_RATES: [u32; 13] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

impl AudioSpecificConfig {
    pub fn parse(b: &[u8]) -> Option<AudioSpecificConfig> {
        let mut r = Bits::new(b);
        let object_type = |r: &mut Bits| -> Option<u8> {
            let t = r.read(5)?;
            let t = if t == 31 { 32 + r.read(6)? } else { t };
            u8::try_from(t).ok()
        };
        let rate = |r: &mut Bits| -> Option<u32> {
            match r.read(4)? {
                15 => r.read(24),
                i => AAC_RATES.get(i as usize).copied(),
            }
        };
        let mut ot = object_type(&mut r)?;
        let core_rate = rate(&mut r)?;
        let channel_config = r.read(4)?;
        if ot == 5 || ot == 29 {
            // Explicit SBR/PS: the extension rate, then the core object type.
            rate(&mut r)?;
            ot = object_type(&mut r)?;
        }
        if ot == 0 || core_rate == 0 {
            return None;
        }
        let channels = match channel_config {
            0 => None,
            1..=6 => Some(channel_config as u8),
            7 => Some(8),
            _ => None,
        };
        // GASpecificConfig's first bit, for the general audio object types.
        let ga = matches!(ot, 1..=4 | 6 | 7 | 17 | 19..=23);
        let frame_samples = if ga && r.read(1) == Some(1) { 960 } else { 1024 };
        Some(AudioSpecificConfig { object_type: ot, core_rate, channels, frame_samples })
    }
}
