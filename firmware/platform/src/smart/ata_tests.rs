use super::*;
use crate::smart::testdata::block;

#[test]
fn the_read_data_cdb_is_the_one_checked_against_qemu() {
    // notes/qemu-aarch64.md: SMART READ DATA through SG_IO on QEMU's AHCI disks.
    let qemu = [0x85, 0x08, 0x0e, 0x00, 0xd0, 0x00, 0x01, 0x00, 0x00, 0x00, 0x4f, 0x00, 0xc2, 0x00, 0xb0, 0x00];
    assert_eq!(cdb_read_data(), qemu);
    assert_eq!(cdb_read_thresholds()[4], 0xd1);
    let log = cdb_read_log(LOG_SELF_TEST);
    assert_eq!((log[4], log[8], log[14]), (0xd5, 0x06, 0xb0));
    let id = cdb_identify();
    assert_eq!((id[4], id[10], id[12], id[14]), (0, 0, 0, 0xec));
    let st = cdb_return_status();
    assert_eq!((st[1], st[2], st[4], st[14]), (0x06, 0x20, 0xda, 0xb0), "non-data, CK_COND");
}

#[test]
fn healthy_attributes_with_thresholds() {
    let mut a = parse_data(&block("ata-data-healthy.hex")).unwrap();
    apply_thresholds(&mut a, &block("ata-thresholds.hex")).unwrap();
    assert_eq!(a.len(), 11);
    let r = a.iter().find(|x| x.id == REALLOCATED).unwrap();
    assert_eq!((r.flags, r.current, r.worst, r.raw, r.threshold), (0x33, 100, 100, 0, Some(36)));
    assert!(r.prefail() && !r.at_threshold());
    let h = a.iter().find(|x| x.id == POWER_ON_HOURS).unwrap();
    assert_eq!((h.raw, h.threshold, h.prefail()), (8766, Some(0), false));
    assert!(a.iter().all(|x| !x.at_threshold()));
}

#[test]
fn failing_attributes_are_at_their_threshold() {
    let mut a = parse_data(&block("ata-data-failing.hex")).unwrap();
    apply_thresholds(&mut a, &block("ata-thresholds.hex")).unwrap();
    let failing: Vec<(u8, bool)> = a.iter().filter(|x| x.at_threshold()).map(|x| (x.id, x.prefail())).collect();
    assert_eq!(failing, [(REALLOCATED, true), (AIRFLOW_TEMPERATURE, false)]);
}

#[test]
fn a_threshold_of_zero_never_fails() {
    let a = Attribute { id: 9, flags: 0x32, current: 0, worst: 0, raw: 0, threshold: Some(0) };
    assert!(!a.at_threshold());
    assert!(!Attribute { threshold: None, ..a.clone() }.at_threshold());
    assert!(Attribute { threshold: Some(1), current: 1, ..a }.at_threshold());
}

#[test]
fn checksums_and_lengths_are_checked() {
    let mut b = block("ata-data-healthy.hex");
    b[100] ^= 1;
    assert!(matches!(parse_data(&b), Err(SmartError::Checksum("SMART READ DATA"))));
    assert!(matches!(parse_data(&b[..511]), Err(SmartError::Length { len: 511, .. })));
    let mut t = block("ata-thresholds.hex");
    t[3] = t[3].wrapping_add(1);
    assert!(apply_thresholds(&mut [], &t).is_err());
    let mut l = block("ata-selftest-ok.hex");
    l[508] = 7;
    assert!(parse_self_test_log(&l).is_err());
}

#[test]
fn logs() {
    assert_eq!(parse_error_log(&block("ata-errorlog-0.hex")).unwrap(), 0);
    assert_eq!(parse_error_log(&block("ata-errorlog-3.hex")).unwrap(), 3);
    let ok = parse_self_test_log(&block("ata-selftest-ok.hex")).unwrap();
    assert_eq!(ok, SelfTests { failed: 0, newest: Some((0, 8760)) });
    assert!(!ok.newest_failed());
    let bad = parse_self_test_log(&block("ata-selftest-failed.hex")).unwrap();
    assert_eq!(bad, SelfTests { failed: 1, newest: Some((7, 8765)) });
    assert!(bad.newest_failed());
}

#[test]
fn identify_strings_are_byte_swapped() {
    let (model, serial) = parse_identify(&block("ata-identify.hex")).unwrap();
    assert_eq!((model.as_str(), serial.as_str()), ("QEMU HARDDISK", "QM00001"));
    let mut b = block("ata-identify.hex");
    b[60] ^= 0x20;
    assert!(parse_identify(&b).is_err(), "signature 0xa5: the checksum counts");
    b[510] = 0;
    assert!(parse_identify(&b).is_ok(), "no signature: no checksum");
}

#[test]
fn return_status_from_descriptor_and_fixed_sense() {
    // Descriptor format: ATA Status Return descriptor, LBA mid at 9, LBA high at 11.
    let mut d = vec![0x72, 0x01, 0x00, 0x1d, 0, 0, 0, 14];
    d.extend([0x09, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0x4f, 0, 0xc2, 0x40, 0x50]);
    assert!(parse_return_status(&d).unwrap());
    d[8 + 9] = 0xf4;
    d[8 + 11] = 0x2c;
    assert!(!parse_return_status(&d).unwrap());
    // Another descriptor first.
    let mut two = vec![0x72, 0x01, 0x00, 0x1d, 0, 0, 0, 18, 0x02, 0x02, 0, 0];
    two.extend(&d[8..]);
    assert!(!parse_return_status(&two).unwrap());
    // Fixed format: LBA mid/high in the command-specific information bytes 10 and 11.
    let mut f = vec![0x70, 0, 0x01, 0, 0x50, 0x40, 0, 0, 0, 0, 0x4f, 0xc2, 0, 0x1d];
    assert!(parse_return_status(&f).unwrap());
    f[10] = 0x12;
    assert!(parse_return_status(&f).is_err());
    assert!(parse_return_status(&[]).is_err());
    assert!(parse_return_status(&[0x72, 0, 0, 0, 0, 0, 0, 40]).is_err(), "a length past the end");
}
