//! SMART of the box's disks, the way smartd `-a` judges it: the commands and parsers of
//! SATA disks ([`ata`], through SG_IO) and NVMe disks ([`nvme`], the health log page), one
//! [`Snapshot`] per disk read by [`device`], and the pure [`verdict`] from the previous and
//! the current snapshot to [`Finding`]s. The supervisor's SMART monitor and `hotspare smart`
//! are the adapters.

pub mod ata;
pub mod device;
pub mod nvme;
pub mod verdict;

#[cfg(test)]
pub(crate) mod testdata;

use serde::{Deserialize, Serialize};

pub use verdict::{verdict, Finding, FindingKind, Severity};

#[derive(Debug, thiserror::Error)]
pub enum SmartError {
    #[error("{what}: {len} bytes, expected 512")]
    Length { what: &'static str, len: usize },
    #[error("{0}: checksum mismatch")]
    Checksum(&'static str),
    #[error("no SMART status in the sense data {0:02x?}")]
    Sense(Vec<u8>),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: not a SATA or NVMe disk ({1})")]
    NotADisk(String, String),
    #[error("{device}: {command}: {problem}")]
    Command { device: String, command: &'static str, problem: String },
}

/// How the disk is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// SATA through SCSI-ATA Translation (an `sd` or `sg` device).
    Ata,
    Nvme,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ata => "ata",
            Kind::Nvme => "nvme",
        }
    }
}

/// What a SATA disk said.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtaSmart {
    pub attributes: Vec<ata::Attribute>,
    /// The device error count of the summary error log (`None`: not read).
    pub error_count: Option<u16>,
    pub self_tests: Option<ata::SelfTests>,
}

impl AtaSmart {
    pub fn attribute(&self, id: u8) -> Option<&ata::Attribute> {
        self.attributes.iter().find(|a| a.id == id)
    }
}

/// One reading of one disk (persisted between checks so "increased" survives a restart).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// e.g. `sda`, `nvme0`.
    pub device: String,
    pub kind: Kind,
    pub model: String,
    pub serial: String,
    /// SMART RETURN STATUS / no NVMe critical warning.
    pub passed: bool,
    pub ata: Option<AtaSmart>,
    pub nvme: Option<nvme::Health>,
}

impl Snapshot {
    /// Degrees Celsius: attribute 194 (else 190), low byte of the raw value; NVMe composite.
    pub fn temperature_c(&self) -> Option<i32> {
        if let Some(h) = &self.nvme {
            return h.temperature_c();
        }
        let a = self.ata.as_ref()?;
        let t = a.attribute(ata::TEMPERATURE).or_else(|| a.attribute(ata::AIRFLOW_TEMPERATURE))?;
        Some(i32::from((t.raw & 0xff) as u8))
    }

    /// Attribute 9 (low 32 bits of the raw value: vendors put minutes above); NVMe.
    pub fn power_on_hours(&self) -> Option<u64> {
        if let Some(h) = &self.nvme {
            return Some(h.power_on_hours);
        }
        self.ata.as_ref()?.attribute(ata::POWER_ON_HOURS).map(|a| a.raw & 0xffff_ffff)
    }
}
