//! The G.711 µ-law test tone: one precomputed 20 ms packet (160 samples at
//! 8 kHz of a 400 Hz sine, a whole number of periods so packets join up
//! seamlessly), sent as is on every audio tick.

/// Samples (= bytes) per 20 ms PCMU packet.
pub const SAMPLES_PER_PACKET: usize = 160;
/// RTP clock rate of PCMU.
pub const CLOCK_RATE: u32 = 8000;

/// µ-law encodes one 16-bit linear PCM sample (ITU-T G.711).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = sample as i32;
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let exponent = (0..8).rev().find(|e| s & (0x80 << e) != 0).unwrap_or(0);
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// One 20 ms packet of a 400 Hz tone at about -12 dBFS.
pub fn tone_packet() -> Vec<u8> {
    (0..SAMPLES_PER_PACKET)
        .map(|i| {
            let t = i as f64 / CLOCK_RATE as f64;
            linear_to_ulaw((8000.0 * (2.0 * std::f64::consts::PI * 400.0 * t).sin()) as i16)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_values() {
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(linear_to_ulaw(-1), 0x7f);
        assert_eq!(linear_to_ulaw(32767), 0x80);
        assert_eq!(linear_to_ulaw(-32768), 0x00);
        assert_eq!(tone_packet().len(), 160);
    }
}
