use super::*;
use crate::smart::testdata::block;
use crate::smart::{AtaSmart, Kind};

fn ata(data: &str, errors: &str, selftest: &str, passed: bool) -> Snapshot {
    let mut attributes = ata::parse_data(&block(data)).unwrap();
    ata::apply_thresholds(&mut attributes, &block("ata-thresholds.hex")).unwrap();
    Snapshot {
        device: "sda".into(),
        kind: Kind::Ata,
        model: "QEMU HARDDISK".into(),
        serial: "QM00001".into(),
        passed,
        ata: Some(AtaSmart {
            attributes,
            error_count: Some(ata::parse_error_log(&block(errors)).unwrap()),
            self_tests: Some(ata::parse_self_test_log(&block(selftest)).unwrap()),
        }),
        nvme: None,
    }
}

fn healthy() -> Snapshot {
    ata("ata-data-healthy.hex", "ata-errorlog-0.hex", "ata-selftest-ok.hex", true)
}

fn nvme(file: &str) -> Snapshot {
    let h = nvme::parse_health(&block(file)).unwrap();
    Snapshot {
        device: "nvme0".into(),
        kind: Kind::Nvme,
        model: "M".into(),
        serial: "S1".into(),
        passed: h.critical_warning == 0,
        ata: None,
        nvme: Some(h),
    }
}

fn kinds(f: &[Finding]) -> Vec<(Severity, FindingKind, u32)> {
    f.iter().map(|f| (f.severity, f.kind, f.subject)).collect()
}

#[test]
fn a_healthy_disk_has_no_findings() {
    let h = healthy();
    assert_eq!(verdict(None, &h), []);
    assert_eq!(verdict(Some(&h), &h), []);
    assert_eq!((h.temperature_c(), h.power_on_hours()), (Some(36), Some(8766)));
    assert_eq!(verdict(None, &nvme("nvme-healthy.hex")), []);
}

#[test]
fn health_failing_is_critical() {
    let mut s = healthy();
    s.passed = false;
    let f = verdict(None, &s);
    assert_eq!(kinds(&f), [(Severity::Critical, FindingKind::HealthFailing, 0)]);
    assert_eq!(f[0].text, "sda: SMART overall health: FAILING");
}

#[test]
fn prefail_at_threshold_is_critical_usage_a_warning() {
    let s = ata("ata-data-failing.hex", "ata-errorlog-0.hex", "ata-selftest-ok.hex", true);
    let f = verdict(Some(&healthy()), &s);
    assert_eq!(
        kinds(&f),
        [
            (Severity::Critical, FindingKind::PrefailAttribute, 5),
            (Severity::Warning, FindingKind::UsageAttribute, 190),
            (Severity::Warning, FindingKind::RawIncreased, 5),
        ]
    );
    assert!(f[0].text.contains("5 Reallocated_Sector_Ct at its threshold: value 30 ≤ 36"), "{}", f[0].text);
}

#[test]
fn raw_197_198_and_5_increasing() {
    let h = healthy();
    let p = ata("ata-data-pending.hex", "ata-errorlog-0.hex", "ata-selftest-ok.hex", true);
    assert_eq!(verdict(None, &p), [], "no previous snapshot: nothing increased");
    let f = verdict(Some(&h), &p);
    let want = [5, 197, 198].map(|id| (Severity::Warning, FindingKind::RawIncreased, id));
    assert_eq!(kinds(&f), want);
    assert_eq!(f[1].text, "sda: 197 Current_Pending_Sector increased from 0 to 8");
    assert_eq!(verdict(Some(&p), &p), [], "unchanged since the last check");
    assert_eq!(verdict(Some(&p), &h), [], "a decrease is no finding");
    let mut other = h.clone();
    other.serial = "ANOTHER".into();
    assert_eq!(verdict(Some(&other), &p), [], "another disk in the bay starts from nothing");
}

#[test]
fn error_log_and_self_test() {
    let errors = ata("ata-data-healthy.hex", "ata-errorlog-3.hex", "ata-selftest-failed.hex", true);
    let f = verdict(Some(&healthy()), &errors);
    assert_eq!(
        kinds(&f),
        [(Severity::Warning, FindingKind::ErrorLogIncreased, 0), (Severity::Warning, FindingKind::SelfTestFailed, 0)]
    );
    assert_eq!(f[0].text, "sda: ATA error count increased from 0 to 3");
    assert_eq!(kinds(&verdict(Some(&errors), &errors)), [(Severity::Warning, FindingKind::SelfTestFailed, 0)]);
}

#[test]
fn each_nvme_critical_warning_bit() {
    let healthy = nvme("nvme-healthy.hex");
    let want = [
        (0x01, Severity::Critical),
        (0x02, Severity::Warning),
        (0x04, Severity::Critical),
        (0x08, Severity::Critical),
        (0x10, Severity::Warning),
        (0x20, Severity::Warning),
    ];
    for (bit, severity) in want {
        let mut s = healthy.clone();
        if let Some(h) = s.nvme.as_mut() {
            h.critical_warning = bit;
        }
        let f = verdict(Some(&healthy), &s);
        assert_eq!(kinds(&f), [(severity, FindingKind::NvmeCriticalWarning, u32::from(bit))], "bit {bit:#x}");
    }
}

#[test]
fn nvme_wear_spare_and_media_errors() {
    let healthy = nvme("nvme-healthy.hex");
    let worn = nvme("nvme-worn.hex");
    let f = verdict(Some(&healthy), &worn);
    assert_eq!(
        kinds(&f),
        [
            (Severity::Critical, FindingKind::NvmeCriticalWarning, 1),
            (Severity::Critical, FindingKind::NvmeCriticalWarning, 4),
            (Severity::Warning, FindingKind::NvmeWorn, 0),
            (Severity::Critical, FindingKind::NvmeSpareLow, 0),
            (Severity::Warning, FindingKind::NvmeMediaErrorsIncreased, 0),
            (Severity::Warning, FindingKind::ErrorLogIncreased, 0),
        ]
    );
    assert_eq!(f[3].text, "nvme0: available spare 5 % below its threshold 10 %");
    let mut at95 = healthy.clone();
    if let Some(h) = at95.nvme.as_mut() {
        h.percentage_used = 95;
    }
    assert_eq!(verdict(None, &at95), [], "95 % is not yet worn");
    assert_eq!(worn.temperature_c(), Some(35));
    assert_eq!(worn.power_on_hours(), Some(40_000));
}
