//! SMART replies of a disk (`hotspare_platform::smart`): the 512-byte ATA blocks (READ DATA,
//! READ THRESHOLDS, summary error log, self-test log, IDENTIFY), the sense data of SMART
//! RETURN STATUS and the NVMe health log page, as a failing or hostile disk may return them.
//! The input is cut into two 512-byte blocks and a sense buffer; the first byte says whether
//! the ATA blocks get a valid checksum (so the fuzzer reaches the attribute logic).
#![no_main]

use hotspare_platform::smart::{ata, nvme, verdict, AtaSmart, Kind, Snapshot};
use libfuzzer_sys::fuzz_target;

fn block(data: &[u8], at: usize, fix_checksum: bool) -> Vec<u8> {
    let mut b = vec![0u8; 512];
    let src = data.get(at..).unwrap_or_default();
    let n = src.len().min(512);
    b[..n].copy_from_slice(&src[..n]);
    if fix_checksum {
        let sum = b[..511].iter().fold(0u8, |s, &x| s.wrapping_add(x));
        b[511] = 0u8.wrapping_sub(sum);
    }
    b
}

fuzz_target!(|data: &[u8]| {
    let fix = data.first().is_some_and(|b| b & 1 == 1);
    let (a, b) = (block(data, 1, fix), block(data, 513, fix));
    let sense = data.get(1025..).unwrap_or_default();
    // Every parser takes any bytes without panicking; wrong lengths are errors.
    let _ = ata::parse_return_status(sense);
    let _ = ata::parse_identify(&a);
    let _ = nvme::parse_health(sense);
    let error_count = ata::parse_error_log(&a).ok();
    let self_tests = ata::parse_self_test_log(&b).ok();
    let attributes = match ata::parse_data(&a) {
        Ok(mut attrs) => {
            assert!(attrs.len() <= 30, "{} attributes in one block", attrs.len());
            let _ = ata::apply_thresholds(&mut attrs, &b);
            attrs
        }
        Err(_) => Vec::new(),
    };
    let nv = nvme::parse_health(&b).ok();
    let passed = ata::parse_return_status(sense).unwrap_or(false);
    let ata_snap = Snapshot {
        device: "sda".into(),
        kind: Kind::Ata,
        model: "m".into(),
        serial: "s".into(),
        passed,
        ata: Some(AtaSmart { attributes, error_count, self_tests }),
        nvme: None,
    };
    let nvme_snap = Snapshot { device: "nvme0".into(), kind: Kind::Nvme, ata: None, nvme: nv, ..ata_snap.clone() };
    for snap in [ata_snap, nvme_snap] {
        let _ = (snap.temperature_c(), snap.power_on_hours());
        // Every finding names the disk; nothing "increased" against the same reading.
        for f in verdict::verdict(None, &snap).into_iter().chain(verdict::verdict(Some(&snap), &snap)) {
            assert!(f.text.starts_with(&snap.device), "{}", f.text);
        }
        let again = verdict::verdict(Some(&snap), &snap);
        assert_eq!(again, verdict::verdict(None, &snap), "a repeated reading adds findings");
    }
});
