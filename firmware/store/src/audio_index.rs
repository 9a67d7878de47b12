//! The audio part of a segment: the `.audio-index` format (the index file's
//! CRC-framed postcard record log: an [`AudioIndexHeader`] then one record per
//! written batch of [`AudioEntry`]), its never-panicking decoder
//! [`parse_audio_index`], and [`validate_audio`], the checks recovery and
//! import both apply before audio is served.
//!
//! The `.audio` file holds the frames concatenated with no framing of ours:
//! AAC access units without ADTS headers, or G.711 bytes.

use crate::error::IndexError;
use crate::index::{next_record, RECORD_HEADER_LEN};
use hotspare_media::{AudioCodec, AudioParams};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Version written in every [`AudioIndexHeader`].
pub const AUDIO_INDEX_VERSION: u16 = 1;
/// Highest accepted sample rate (Hz).
pub const MAX_SAMPLE_RATE: u32 = 192_000;
/// Most channels accepted.
pub const MAX_CHANNELS: u8 = 8;
/// Longest accepted AAC `AudioSpecificConfig`.
pub const MAX_AAC_CONFIG: usize = 64;
/// Largest accepted AAC access unit: 6144 bits per channel (ISO 14496-3 §4.5.3.1), 8 channels.
pub const MAX_AAC_FRAME: u32 = 6144;
/// Longest accepted audio frame, in seconds of its own clock.
pub const MAX_FRAME_SECONDS: u32 = 1;
/// Longest accepted audio part of a segment (by pts), seconds: one day, as for video.
pub const MAX_AUDIO_SECONDS: u64 = 86_400;

/// First record of an `.audio-index` file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioIndexHeader {
    pub version: u16,
    pub params: AudioParams,
    /// Wall-clock time of the first audio frame, µs since the Unix epoch (through the
    /// writer's audio run anchor, see [`crate::contract::AudioFrameIn`]).
    pub start_wall_us: i64,
    /// Audio-clock pts of the first frame (stream timeline, informative).
    pub first_pts: i64,
}

/// One audio frame as stored in a batch record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioEntry {
    /// Bytes of the frame in the `.audio` file.
    pub len: u32,
    /// pts minus the part's first pts, in the audio clock (`sample_rate` Hz).
    pub pts_rel: i64,
    /// Samples (per channel) the frame holds: 1024 for AAC-LC, `len / channels` for G.711.
    pub duration: u32,
}

/// Result of [`parse_audio_index`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedAudioIndex {
    pub header: AudioIndexHeader,
    pub frames: Vec<AudioEntry>,
    /// Bytes of the file covered by whole, valid records.
    pub valid_len: usize,
    /// True when bytes after `valid_len` were ignored (torn or corrupt tail).
    pub torn: bool,
}

/// Decodes an `.audio-index` file. Never panics: a bad header is an error, a bad record after
/// it ends the log (reported through `torn`).
pub fn parse_audio_index(bytes: &[u8]) -> Result<ParsedAudioIndex, IndexError> {
    let Some((payload, mut pos)) = next_record(bytes) else {
        let claimed = bytes.get(0..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
        return match claimed {
            Some(n) if bytes.len() >= RECORD_HEADER_LEN.saturating_add(n) => Err(IndexError::HeaderCrc),
            _ => Err(IndexError::NoHeader),
        };
    };
    let header: AudioIndexHeader = postcard::from_bytes(payload).map_err(IndexError::HeaderDecode)?;
    if header.version != AUDIO_INDEX_VERSION {
        return Err(IndexError::Version(header.version));
    }
    let mut frames = Vec::new();
    while let Some((payload, len)) = bytes.get(pos..).and_then(next_record) {
        let Ok(batch) = postcard::from_bytes::<Vec<AudioEntry>>(payload) else { break };
        frames.extend_from_slice(&batch);
        pos += len;
    }
    Ok(ParsedAudioIndex { header, frames, valid_len: pos, torn: pos < bytes.len() })
}

/// Why the audio part of a segment is not served (recovery) or refused (import).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidAudio {
    #[error("audio index does not decode: {0}")]
    IndexDecode(#[source] IndexError),
    #[error("audio index has {0} bytes after its last valid record")]
    IndexTail(usize),
    #[error("audio sample rate {0} Hz outside 1..={MAX_SAMPLE_RATE}")]
    SampleRate(u32),
    #[error("audio channels {0} outside 1..={MAX_CHANNELS}")]
    Channels(u8),
    #[error("AAC AudioSpecificConfig of {0} bytes (expected 2..={MAX_AAC_CONFIG})")]
    AacConfig(usize),
    #[error("G.711 audio with a codec config")]
    G711Config,
    #[error("audio start time {0} µs is before the Unix epoch")]
    NegativeStart(i64),
    #[error("audio frame {frame}: empty or longer than its codec allows ({len} bytes)")]
    FrameLen { frame: usize, len: u32 },
    #[error("audio frame {frame}: duration {duration} outside 1..=sample_rate")]
    Duration { frame: usize, duration: u32 },
    #[error("audio frame {frame}: {len} G.711 bytes for {duration} samples of {channels} channels")]
    G711Len { frame: usize, len: u32, duration: u32, channels: u8 },
    #[error("audio frame {frame}: pts {pts} is negative or before the previous frame's {prev}")]
    Pts { frame: usize, pts: i64, prev: i64 },
    #[error("audio lasts {0} s, more than one day")]
    TooLong(u64),
    #[error("audio ends at {end_us} µs, more than a day after now ({now_us} µs)")]
    InFuture { end_us: i64, now_us: i64 },
    #[error("audio frames total {indexed} bytes but the audio data is {data} bytes")]
    LengthMismatch { indexed: u64, data: u64 },
}

/// The audio parameters are ones an MP4 sample entry can carry.
pub fn validate_audio_params(p: &AudioParams) -> Result<(), InvalidAudio> {
    if !(1..=MAX_SAMPLE_RATE).contains(&p.sample_rate) {
        return Err(InvalidAudio::SampleRate(p.sample_rate));
    }
    if !(1..=MAX_CHANNELS).contains(&p.channels) {
        return Err(InvalidAudio::Channels(p.channels));
    }
    match p.codec {
        AudioCodec::Aac if !(2..=MAX_AAC_CONFIG).contains(&p.config.len()) => {
            Err(InvalidAudio::AacConfig(p.config.len()))
        }
        AudioCodec::Pcma | AudioCodec::Pcmu if !p.config.is_empty() => Err(InvalidAudio::G711Config),
        _ => Ok(()),
    }
}

/// Checks one frame against the stream's parameters (`frame` numbers the error).
pub fn validate_audio_frame(p: &AudioParams, frame: usize, f: &AudioEntry) -> Result<(), InvalidAudio> {
    let max_len = match p.codec {
        AudioCodec::Aac => MAX_AAC_FRAME,
        AudioCodec::Pcma | AudioCodec::Pcmu => p.sample_rate.saturating_mul(u32::from(p.channels)),
    };
    if f.len == 0 || f.len > max_len {
        return Err(InvalidAudio::FrameLen { frame, len: f.len });
    }
    if f.duration == 0 || f.duration > p.sample_rate.saturating_mul(MAX_FRAME_SECONDS) {
        return Err(InvalidAudio::Duration { frame, duration: f.duration });
    }
    if p.codec != AudioCodec::Aac && u64::from(f.len) != u64::from(f.duration) * u64::from(p.channels) {
        return Err(InvalidAudio::G711Len { frame, len: f.len, duration: f.duration, channels: p.channels });
    }
    Ok(())
}

/// Strict check of a whole audio part, as import needs it: the index decodes completely, its
/// parameters and every frame are sane, pts never go back, the part lasts at most a day, and
/// the frames add up to exactly `data_len` bytes of `.audio`.
pub fn validate_audio(index: &[u8], data_len: u64) -> Result<ParsedAudioIndex, InvalidAudio> {
    let parsed = parse_audio_index(index).map_err(InvalidAudio::IndexDecode)?;
    if parsed.torn {
        return Err(InvalidAudio::IndexTail(index.len() - parsed.valid_len));
    }
    validate_audio_params(&parsed.header.params)?;
    if parsed.header.start_wall_us < 0 {
        return Err(InvalidAudio::NegativeStart(parsed.header.start_wall_us));
    }
    let mut prev = 0i64;
    for (frame, f) in parsed.frames.iter().enumerate() {
        validate_audio_frame(&parsed.header.params, frame, f)?;
        if f.pts_rel < prev {
            return Err(InvalidAudio::Pts { frame, pts: f.pts_rel, prev });
        }
        prev = f.pts_rel;
    }
    let rate = u64::from(parsed.header.params.sample_rate);
    if let Some(last) = parsed.frames.last() {
        let end = (last.pts_rel as u64).saturating_add(u64::from(last.duration));
        if end / rate > MAX_AUDIO_SECONDS {
            return Err(InvalidAudio::TooLong(end / rate));
        }
    }
    let indexed: u64 = parsed.frames.iter().map(|f| u64::from(f.len)).sum();
    if indexed != data_len {
        return Err(InvalidAudio::LengthMismatch { indexed, data: data_len });
    }
    Ok(parsed)
}

/// The audio's wall-clock span is sane for a receiver whose clock reads `now_us`: it ends at
/// most [`crate::validate::MAX_FUTURE_US`] after now.
pub fn audio_times(p: &ParsedAudioIndex, now_us: i64) -> Result<(), InvalidAudio> {
    let rate = i128::from(p.header.params.sample_rate.max(1));
    let end_ticks = p.frames.last().map_or(0, |f| i128::from(f.pts_rel) + i128::from(f.duration));
    let end_us = i128::from(p.header.start_wall_us) + end_ticks * 1_000_000 / rate;
    let limit = i128::from(now_us) + i128::from(crate::validate::MAX_FUTURE_US);
    if end_us > limit {
        return Err(InvalidAudio::InFuture { end_us: end_us.min(i128::from(i64::MAX)) as i64, now_us });
    }
    Ok(())
}

/// What recovery keeps of an audio part whose index parsed: the leading frames that are sane,
/// in pts order and whose bytes lie inside `data_len` bytes of `.audio`. Returns their count
/// and the bytes they span.
pub fn provable_audio(p: &ParsedAudioIndex, data_len: u64) -> (usize, u64) {
    let (mut bytes, mut prev) = (0u64, 0i64);
    for (i, f) in p.frames.iter().enumerate() {
        let ok = validate_audio_frame(&p.header.params, i, f).is_ok()
            && f.pts_rel >= prev
            && bytes + u64::from(f.len) <= data_len;
        if !ok {
            return (i, bytes);
        }
        bytes += u64::from(f.len);
        prev = f.pts_rel;
    }
    (p.frames.len(), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::encode_record;

    fn header(codec: AudioCodec) -> AudioIndexHeader {
        let config = if codec == AudioCodec::Aac { vec![0x14, 0x08] } else { vec![] };
        AudioIndexHeader {
            version: AUDIO_INDEX_VERSION,
            params: AudioParams { codec, sample_rate: 16_000, channels: 1, config },
            start_wall_us: 1_700_000_000_000_000,
            first_pts: 77,
        }
    }

    #[test]
    fn round_trip_torn_tail_and_validation() {
        let mut buf = Vec::new();
        encode_record(&header(AudioCodec::Pcma), &mut buf).unwrap();
        let f = |i: i64| AudioEntry { len: 320, pts_rel: i * 320, duration: 320 };
        encode_record(&[f(0), f(1)][..], &mut buf).unwrap();
        let good = buf.len();
        encode_record(&[f(2)][..], &mut buf).unwrap();
        let p = validate_audio(&buf, 960).unwrap();
        assert_eq!(p.frames.len(), 3);
        assert_eq!(validate_audio(&buf, 961), Err(InvalidAudio::LengthMismatch { indexed: 960, data: 961 }));
        for cut in good..buf.len() {
            let p = parse_audio_index(&buf[..cut]).unwrap();
            assert_eq!((p.frames.len(), p.torn), (2, cut > good));
            assert!(matches!(validate_audio(&buf[..cut], 640), Err(InvalidAudio::IndexTail(_)) | Ok(_)));
            assert_eq!(provable_audio(&p, 500), (1, 320));
        }
        for cut in 0..RECORD_HEADER_LEN + 3 {
            assert!(parse_audio_index(&buf[..cut]).is_err());
        }
        // A G.711 frame whose bytes do not match its samples; pts going back.
        let mut bad = Vec::new();
        encode_record(&header(AudioCodec::Pcmu), &mut bad).unwrap();
        encode_record(&[AudioEntry { len: 300, pts_rel: 0, duration: 320 }][..], &mut bad).unwrap();
        assert!(matches!(validate_audio(&bad, 300), Err(InvalidAudio::G711Len { frame: 0, .. })));
        let mut back = Vec::new();
        encode_record(&header(AudioCodec::Aac), &mut back).unwrap();
        encode_record(
            &[
                AudioEntry { len: 9, pts_rel: 2048, duration: 1024 },
                AudioEntry { len: 9, pts_rel: 1024, duration: 1024 },
            ][..],
            &mut back,
        )
        .unwrap();
        assert!(matches!(validate_audio(&back, 18), Err(InvalidAudio::Pts { frame: 1, .. })));
    }

    #[test]
    fn params_checked() {
        let mut p = header(AudioCodec::Aac).params;
        assert_eq!(validate_audio_params(&p), Ok(()));
        p.config.clear();
        assert_eq!(validate_audio_params(&p), Err(InvalidAudio::AacConfig(0)));
        p.codec = AudioCodec::Pcma;
        p.channels = 0;
        assert_eq!(validate_audio_params(&p), Err(InvalidAudio::Channels(0)));
        p.channels = 1;
        p.sample_rate = 0;
        assert_eq!(validate_audio_params(&p), Err(InvalidAudio::SampleRate(0)));
    }
}
