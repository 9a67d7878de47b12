//! SMART of NVMe disks: the SMART / Health Information log page (log identifier 0x02, 512
//! bytes, NVMe base specification 2.0 §5.16.1.3 — §5.14.1.2 in 1.4), read with Get Log
//! Page for the whole controller (namespace 0xFFFF_FFFF). Counters are 128-bit little-endian
//! (kept as `u64`, saturating: no disk reaches 2^64 of anything).

use serde::{Deserialize, Serialize};

use super::SmartError;

/// The log identifier of SMART / Health Information.
pub const LOG_HEALTH: u8 = 0x02;

/// Bits of the Critical Warning byte.
pub const WARN_SPARE: u8 = 1 << 0;
pub const WARN_TEMPERATURE: u8 = 1 << 1;
pub const WARN_RELIABILITY: u8 = 1 << 2;
pub const WARN_READ_ONLY: u8 = 1 << 3;
pub const WARN_VOLATILE_BACKUP: u8 = 1 << 4;
pub const WARN_PMR_READ_ONLY: u8 = 1 << 5;

/// The fields of the health log a verdict or a person needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Byte 0.
    pub critical_warning: u8,
    /// Composite temperature, bytes 1-2, in kelvin.
    pub temperature_k: u16,
    /// Bytes 3 and 4: remaining spare capacity and the threshold below which the
    /// controller warns, in percent.
    pub available_spare: u8,
    pub spare_threshold: u8,
    /// Byte 5: estimated life used, may exceed 100.
    pub percentage_used: u8,
    /// Bytes 128-143.
    pub power_on_hours: u64,
    /// Bytes 144-159.
    pub unsafe_shutdowns: u64,
    /// Bytes 160-175: unrecovered data integrity errors.
    pub media_errors: u64,
    /// Bytes 176-191: entries ever logged in the error information log.
    pub error_log_entries: u64,
}

impl Health {
    /// Degrees Celsius (`None`: the controller reports 0 K, i.e. no sensor).
    pub fn temperature_c(&self) -> Option<i32> {
        (self.temperature_k != 0).then(|| i32::from(self.temperature_k) - 273)
    }
}

fn u128_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 16];
    v.copy_from_slice(&b[at..at + 16]);
    u64::try_from(u128::from_le_bytes(v)).unwrap_or(u64::MAX)
}

/// Parses the 512-byte SMART / Health Information log page.
pub fn parse_health(block: &[u8]) -> Result<Health, SmartError> {
    if block.len() != 512 {
        return Err(SmartError::Length { what: "NVMe SMART log", len: block.len() });
    }
    Ok(Health {
        critical_warning: block[0],
        temperature_k: u16::from_le_bytes([block[1], block[2]]),
        available_spare: block[3],
        spare_threshold: block[4],
        percentage_used: block[5],
        power_on_hours: u128_at(block, 128),
        unsafe_shutdowns: u128_at(block, 144),
        media_errors: u128_at(block, 160),
        error_log_entries: u128_at(block, 176),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smart::testdata;

    #[test]
    fn a_healthy_log_page() {
        let h = parse_health(&testdata::block("nvme-healthy.hex")).unwrap();
        assert_eq!(h.critical_warning, 0);
        assert_eq!(h.temperature_c(), Some(35));
        assert_eq!((h.available_spare, h.spare_threshold, h.percentage_used), (100, 10, 3));
        assert_eq!((h.power_on_hours, h.media_errors, h.error_log_entries), (12_345, 0, 2));
        assert_eq!(h.unsafe_shutdowns, 7);
        assert!(parse_health(&[0u8; 511]).is_err());
    }

    #[test]
    fn the_worn_log_page() {
        let h = parse_health(&testdata::block("nvme-worn.hex")).unwrap();
        assert_eq!(h.critical_warning, WARN_SPARE | WARN_RELIABILITY);
        assert_eq!((h.available_spare, h.spare_threshold, h.percentage_used), (5, 10, 97));
        assert_eq!(h.media_errors, 3);
    }
}
