//! The verdict of smartd `-a` as a pure function of the previous and the current
//! [`Snapshot`] of a disk: `-H` health, `-f` usage attributes failing, prefail attributes
//! failing, `-C 197+ -U 198+` and reallocations (id 5) increased, `-l error` and
//! `-l selftest`, and for NVMe each critical warning bit, wear, media errors and spare.
//! Change-based findings ("increased") need the previous snapshot of the same disk (same
//! serial); a new disk starts from nothing.

use super::{ata, nvme, Snapshot};

/// How bad a finding is (the supervisor maps it to the API's severity; `Critical` stops
/// takeovers while it stands).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Critical,
}

/// What was found (with [`Finding::subject`], the key of "the same finding again").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// SMART RETURN STATUS says the disk is failing.
    HealthFailing,
    /// A pre-failure attribute at or below its threshold (subject: the id).
    PrefailAttribute,
    /// An old-age (usage) attribute at or below its threshold (subject: the id).
    UsageAttribute,
    /// Raw value of 5, 197 or 198 grew (subject: the id).
    RawIncreased,
    /// The device's error log count grew.
    ErrorLogIncreased,
    /// The newest self-test failed.
    SelfTestFailed,
    /// NVMe critical warning bit set (subject: the bit mask).
    NvmeCriticalWarning,
    /// NVMe percentage used above 95.
    NvmeWorn,
    NvmeMediaErrorsIncreased,
    NvmeSpareLow,
}

impl FindingKind {
    /// The notice kind (`hotspare_api::health::Notice::kind`).
    pub fn code(self) -> &'static str {
        match self {
            FindingKind::HealthFailing => "SmartFailing",
            FindingKind::PrefailAttribute => "SmartPrefailAttribute",
            FindingKind::UsageAttribute => "SmartUsageAttribute",
            FindingKind::RawIncreased => "SmartRawIncreased",
            FindingKind::ErrorLogIncreased => "SmartErrorLogIncreased",
            FindingKind::SelfTestFailed => "SmartSelfTestFailed",
            FindingKind::NvmeCriticalWarning => "NvmeCriticalWarning",
            FindingKind::NvmeWorn => "NvmeWorn",
            FindingKind::NvmeMediaErrorsIncreased => "NvmeMediaErrors",
            FindingKind::NvmeSpareLow => "NvmeSpareLow",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub kind: FindingKind,
    pub subject: u32,
    /// For people: names the disk and what was found.
    pub text: String,
}

/// Percentage used above which an NVMe disk is worn out (smartd warns at its own limits;
/// the NVMe spec says 100 is the vendor's life estimate).
pub const WORN_PERCENT: u8 = 95;

fn attribute_name(id: u8) -> &'static str {
    match id {
        1 => "Raw_Read_Error_Rate",
        3 => "Spin_Up_Time",
        4 => "Start_Stop_Count",
        5 => "Reallocated_Sector_Ct",
        7 => "Seek_Error_Rate",
        9 => "Power_On_Hours",
        10 => "Spin_Retry_Count",
        12 => "Power_Cycle_Count",
        184 => "End-to-End_Error",
        187 => "Reported_Uncorrect",
        188 => "Command_Timeout",
        190 => "Airflow_Temperature_Cel",
        194 => "Temperature_Celsius",
        196 => "Reallocated_Event_Count",
        197 => "Current_Pending_Sector",
        198 => "Offline_Uncorrectable",
        199 => "UDMA_CRC_Error_Count",
        _ => "Unknown_Attribute",
    }
}

/// The findings of `cur` given `prev` (the last snapshot of the same device, if any).
pub fn verdict(prev: Option<&Snapshot>, cur: &Snapshot) -> Vec<Finding> {
    let prev = prev.filter(|p| p.serial == cur.serial && p.kind == cur.kind);
    let d = &cur.device;
    let mut out = Vec::new();
    let mut add = |severity, kind, subject: u32, text: String| out.push(Finding { severity, kind, subject, text });
    if !cur.passed && cur.ata.is_some() {
        add(Severity::Critical, FindingKind::HealthFailing, 0, format!("{d}: SMART overall health: FAILING"));
    }
    if let Some(a) = &cur.ata {
        for at in a.attributes.iter().filter(|at| at.at_threshold()) {
            let (severity, kind, what) = if at.prefail() {
                (Severity::Critical, FindingKind::PrefailAttribute, "pre-failure")
            } else {
                (Severity::Warning, FindingKind::UsageAttribute, "usage")
            };
            let t = at.threshold.unwrap_or(0);
            let name = attribute_name(at.id);
            let text = format!("{d}: {what} attribute {} {name} at its threshold: value {} ≤ {t}", at.id, at.current);
            add(severity, kind, u32::from(at.id), text);
        }
        let pa = prev.and_then(|p| p.ata.as_ref());
        for id in [ata::REALLOCATED, ata::PENDING, ata::OFFLINE_UNCORRECTABLE] {
            let before = pa.and_then(|p| p.attribute(id)).map(|x| x.raw);
            if let (Some(b), Some(now)) = (before, a.attribute(id).map(|x| x.raw)) {
                if now > b {
                    let text = format!("{d}: {} {} increased from {b} to {now}", id, attribute_name(id));
                    add(Severity::Warning, FindingKind::RawIncreased, u32::from(id), text);
                }
            }
        }
        if let (Some(b), Some(now)) = (pa.and_then(|p| p.error_count), a.error_count) {
            if now > b {
                let text = format!("{d}: ATA error count increased from {b} to {now}");
                add(Severity::Warning, FindingKind::ErrorLogIncreased, 0, text);
            }
        }
        if let Some(st) = a.self_tests.as_ref().filter(|s| s.newest_failed()) {
            let (status, hours) = st.newest.unwrap_or_default();
            let text = format!("{d}: the last self-test failed (status {status}, at {hours} h)");
            add(Severity::Warning, FindingKind::SelfTestFailed, 0, text);
        }
    }
    if let Some(h) = &cur.nvme {
        nvme_findings(d, prev.and_then(|p| p.nvme.as_ref()), h, &mut add);
    }
    out
}

fn nvme_findings(
    d: &str,
    prev: Option<&nvme::Health>,
    h: &nvme::Health,
    add: &mut impl FnMut(Severity, FindingKind, u32, String),
) {
    let bits: [(u8, Severity, &str); 6] = [
        (nvme::WARN_SPARE, Severity::Critical, "available spare below its threshold"),
        (nvme::WARN_TEMPERATURE, Severity::Warning, "temperature beyond a threshold"),
        (nvme::WARN_RELIABILITY, Severity::Critical, "reliability degraded by media or internal errors"),
        (nvme::WARN_READ_ONLY, Severity::Critical, "media in read-only mode"),
        (nvme::WARN_VOLATILE_BACKUP, Severity::Warning, "volatile memory backup failed"),
        (nvme::WARN_PMR_READ_ONLY, Severity::Warning, "persistent memory region read-only"),
    ];
    for (bit, severity, what) in bits.into_iter().filter(|b| h.critical_warning & b.0 != 0) {
        let text = format!("{d}: critical warning 0x{bit:02x}: {what}");
        add(severity, FindingKind::NvmeCriticalWarning, u32::from(bit), text);
    }
    if h.percentage_used > WORN_PERCENT {
        let text = format!("{d}: {} % of its rated life used", h.percentage_used);
        add(Severity::Warning, FindingKind::NvmeWorn, 0, text);
    }
    if h.available_spare < h.spare_threshold {
        let text = format!("{d}: available spare {} % below its threshold {} %", h.available_spare, h.spare_threshold);
        add(Severity::Critical, FindingKind::NvmeSpareLow, 0, text);
    }
    if let Some(p) = prev {
        if h.media_errors > p.media_errors {
            let text = format!("{d}: media errors increased from {} to {}", p.media_errors, h.media_errors);
            add(Severity::Warning, FindingKind::NvmeMediaErrorsIncreased, 0, text);
        }
        if h.error_log_entries > p.error_log_entries {
            let (b, now) = (p.error_log_entries, h.error_log_entries);
            add(
                Severity::Warning,
                FindingKind::ErrorLogIncreased,
                0,
                format!("{d}: error log entries increased from {b} to {now}"),
            );
        }
    }
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
