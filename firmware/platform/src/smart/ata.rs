//! SMART of SATA disks through SCSI-ATA Translation: the ATA PASS-THROUGH(16) CDBs (SAT-4
//! §12.2.2) of SMART RETURN STATUS, READ DATA, READ THRESHOLDS, READ LOG and IDENTIFY
//! DEVICE, and the parsers of what comes back. Layouts: ATA/ATAPI-8 ACS (ACS-2 §7.53 SMART,
//! §A.20 the SMART self-test log, §A.16 the summary SMART error log) and the attribute
//! table as every vendor and smartmontools lay it out (ACS leaves it vendor-specific).
//! Every 512-byte block ends in a checksum: the sum of its bytes is 0 modulo 256.

use serde::{Deserialize, Serialize};

use super::SmartError;

/// SMART sub-commands (the FEATURES register of ATA command 0xB0).
pub const READ_DATA: u8 = 0xd0;
pub const READ_THRESHOLDS: u8 = 0xd1;
pub const READ_LOG: u8 = 0xd5;
pub const RETURN_STATUS: u8 = 0xda;
/// ATA command SMART.
const SMART: u8 = 0xb0;
/// ATA command IDENTIFY DEVICE.
const IDENTIFY: u8 = 0xec;
/// SMART log addresses.
pub const LOG_SUMMARY_ERROR: u8 = 0x01;
pub const LOG_SELF_TEST: u8 = 0x06;

/// ATA PASS-THROUGH(16) reading one 512-byte block (PIO data-in, T_DIR in, BYT_BLOK,
/// T_LENGTH in the sector count): byte 1 = protocol 4 << 1, byte 2 = 0x0e.
fn pio_in(command: u8, features: u8, lba_low: u8, smart_key: bool) -> [u8; 16] {
    let (mid, high) = if smart_key { (0x4f, 0xc2) } else { (0, 0) };
    [0x85, 0x08, 0x0e, 0, features, 0, 1, 0, lba_low, 0, mid, 0, high, 0, command, 0]
}

/// SMART READ DATA (the CDB QEMU's AHCI disks were checked with).
pub fn cdb_read_data() -> [u8; 16] {
    pio_in(SMART, READ_DATA, 0, true)
}

/// SMART READ THRESHOLDS (obsolete in ACS-3, still answered by disks and QEMU).
pub fn cdb_read_thresholds() -> [u8; 16] {
    pio_in(SMART, READ_THRESHOLDS, 0, true)
}

/// SMART READ LOG of one sector of `log` (0x01 summary error log, 0x06 self-test log).
pub fn cdb_read_log(log: u8) -> [u8; 16] {
    pio_in(SMART, READ_LOG, log, true)
}

/// IDENTIFY DEVICE (model and serial).
pub fn cdb_identify() -> [u8; 16] {
    pio_in(IDENTIFY, 0, 0, false)
}

/// SMART RETURN STATUS: non-data (protocol 3) with CK_COND so the device's registers come
/// back in the sense data; the verdict is in LBA mid/high.
pub fn cdb_return_status() -> [u8; 16] {
    [0x85, 0x06, 0x20, 0, RETURN_STATUS, 0, 0, 0, 0, 0, 0x4f, 0, 0xc2, 0, SMART, 0]
}

/// The verdict of SMART RETURN STATUS from the sense data (`true`: passed): LBA mid/high
/// 0x4f/0xc2 = threshold not exceeded, 0xf4/0x2c = exceeded. Descriptor format (0x72/0x73,
/// ATA Status Return descriptor 0x09) and fixed format (0x70/0x71, SAT-4 §12.2.2.6).
pub fn parse_return_status(sense: &[u8]) -> Result<bool, SmartError> {
    let (mid, high) = match sense.first().map(|b| b & 0x7f) {
        Some(0x72 | 0x73) => {
            let len = usize::from(*sense.get(7).unwrap_or(&0));
            let mut d = &sense[8.min(sense.len())..(8 + len).min(sense.len())];
            loop {
                match d {
                    [0x09, dl, ..] if d.len() >= 14 && *dl >= 12 => break (d[9], d[11]),
                    [_, dl, ..] if d.len() > usize::from(*dl) + 2 => d = &d[usize::from(*dl) + 2..],
                    _ => return Err(SmartError::Sense(sense.to_vec())),
                }
            }
        }
        Some(0x70 | 0x71) if sense.len() >= 12 => (sense[10], sense[11]),
        _ => return Err(SmartError::Sense(sense.to_vec())),
    };
    match (mid, high) {
        (0x4f, 0xc2) => Ok(true),
        (0xf4, 0x2c) => Ok(false),
        _ => Err(SmartError::Sense(sense.to_vec())),
    }
}

fn checked<'a>(what: &'static str, block: &'a [u8]) -> Result<&'a [u8; 512], SmartError> {
    let b: &[u8; 512] = block.try_into().map_err(|_| SmartError::Length { what, len: block.len() })?;
    if b.iter().fold(0u8, |s, &x| s.wrapping_add(x)) != 0 {
        return Err(SmartError::Checksum(what));
    }
    Ok(b)
}

/// One attribute of SMART READ DATA with its threshold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub id: u8,
    pub flags: u16,
    /// Normalised value (1..=253, higher is better).
    pub current: u8,
    pub worst: u8,
    /// The 48-bit raw value, little-endian.
    pub raw: u64,
    /// From READ THRESHOLDS (`None`: not read or no entry).
    pub threshold: Option<u8>,
}

impl Attribute {
    /// Pre-failure (flag bit 0): at threshold the disk is expected to fail; otherwise an
    /// old-age (usage) attribute.
    pub fn prefail(&self) -> bool {
        self.flags & 1 != 0
    }

    /// At or below a valid threshold (1..=0xfd; 0 means "never fails").
    pub fn at_threshold(&self) -> bool {
        matches!(self.threshold, Some(t @ 1..=0xfd) if self.current <= t)
    }
}

/// Attribute ids the verdicts and the report use.
pub const REALLOCATED: u8 = 5;
pub const POWER_ON_HOURS: u8 = 9;
pub const AIRFLOW_TEMPERATURE: u8 = 190;
pub const TEMPERATURE: u8 = 194;
pub const PENDING: u8 = 197;
pub const OFFLINE_UNCORRECTABLE: u8 = 198;

/// The 30 attribute entries of SMART READ DATA (12 bytes each from offset 2).
pub fn parse_data(block: &[u8]) -> Result<Vec<Attribute>, SmartError> {
    let b = checked("SMART READ DATA", block)?;
    Ok(b[2..362]
        .chunks_exact(12)
        .filter(|e| e[0] != 0)
        .map(|e| Attribute {
            id: e[0],
            flags: u16::from_le_bytes([e[1], e[2]]),
            current: e[3],
            worst: e[4],
            raw: e[5..11].iter().rev().fold(0u64, |v, &x| (v << 8) | u64::from(x)),
            threshold: None,
        })
        .collect())
}

/// Fills the thresholds of `attrs` from SMART READ THRESHOLDS (entries: id, threshold, 10
/// reserved bytes, from offset 2).
pub fn apply_thresholds(attrs: &mut [Attribute], block: &[u8]) -> Result<(), SmartError> {
    let b = checked("SMART READ THRESHOLDS", block)?;
    for e in b[2..362].chunks_exact(12).filter(|e| e[0] != 0) {
        if let Some(a) = attrs.iter_mut().find(|a| a.id == e[0]) {
            a.threshold = Some(e[1]);
        }
    }
    Ok(())
}

/// The summary SMART error log (0x01): the device error count (bytes 452-453).
pub fn parse_error_log(block: &[u8]) -> Result<u16, SmartError> {
    let b = checked("SMART summary error log", block)?;
    Ok(u16::from_le_bytes([b[452], b[453]]))
}

/// What the SMART self-test log (0x06) says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfTests {
    /// Tests in the log that ended in a failure (status 3..=8).
    pub failed: u32,
    /// The newest test: its execution status (upper nibble of byte 1) and lifetime hours.
    pub newest: Option<(u8, u16)>,
}

impl SelfTests {
    /// The newest test failed (status 3 fatal, 4 unknown, 5 electrical, 6 servo, 7 read,
    /// 8 handling damage).
    pub fn newest_failed(&self) -> bool {
        matches!(self.newest, Some((3..=8, _)))
    }
}

/// The SMART self-test log: 21 descriptors of 24 bytes from offset 2, the index of the
/// newest (1-based, 0 = empty) at byte 508.
pub fn parse_self_test_log(block: &[u8]) -> Result<SelfTests, SmartError> {
    let b = checked("SMART self-test log", block)?;
    let entries: Vec<&[u8]> = b[2..506].chunks_exact(24).collect();
    let used = entries.iter().filter(|e| e.iter().any(|&x| x != 0));
    let failed = used.filter(|e| matches!(e[1] >> 4, 3..=8)).count() as u32;
    let newest = match usize::from(b[508]) {
        i @ 1..=21 => Some((entries[i - 1][1] >> 4, u16::from_le_bytes([entries[i - 1][2], entries[i - 1][3]]))),
        _ => None,
    };
    Ok(SelfTests { failed, newest })
}

/// Model and serial from IDENTIFY DEVICE (words 27-46 and 10-19, ATA strings: two
/// characters per word, high byte first). Its checksum (byte 511) counts only when byte
/// 510 is the signature 0xa5.
pub fn parse_identify(block: &[u8]) -> Result<(String, String), SmartError> {
    let b: &[u8; 512] =
        block.try_into().map_err(|_| SmartError::Length { what: "IDENTIFY DEVICE", len: block.len() })?;
    if b[510] == 0xa5 {
        checked("IDENTIFY DEVICE", b)?;
    }
    let text = |words: std::ops::Range<usize>| {
        let bytes: Vec<u8> = b[words.start * 2..words.end * 2].chunks_exact(2).flat_map(|w| [w[1], w[0]]).collect();
        String::from_utf8_lossy(&bytes).trim().to_owned()
    };
    Ok((text(27..47), text(10..20)))
}

#[cfg(test)]
#[path = "ata_tests.rs"]
mod tests;
