//! Disks as the kernel shows them in sysfs: the serial of a block device,
//! and a generation that changes when a disk is replaced.

use sha2::{Digest, Sha256};
use std::path::Path;

/// Serial of a block device: `device/serial` (NVMe), else `device/wwid` (the kernel's
/// identifier from VPD page 0x83: ATA, NAA or EUI), else the unit serial number of VPD page
/// 0x80 (`device/vpd_pg80`: SCSI disks whose page 0x83 has only a vendor-specific designator,
/// whose `wwid` then reads EINVAL: QEMU's scsi-hd, some SAS disks and USB bridges), else the
/// name. A partition (`sda1`, `nvme0n1p2`) is looked up as its disk. `sys_block` is
/// `/sys/block` (tests point elsewhere).
pub fn serial(sys_block: &Path, dev: &str) -> String {
    let mut candidates = vec![dev.to_owned()];
    let base = dev.trim_end_matches(|c: char| c.is_ascii_digit());
    if base != dev && !base.is_empty() {
        candidates.push(base.to_owned());
        if let Some(b) = base.strip_suffix('p').filter(|b| b.ends_with(|c: char| c.is_ascii_digit())) {
            candidates.push(b.to_owned());
        }
    }
    for d in &candidates {
        let device = sys_block.join(d).join("device");
        for f in ["serial", "wwid"] {
            if let Ok(s) = std::fs::read_to_string(device.join(f)) {
                let s = s.trim();
                if !s.is_empty() {
                    return s.to_owned();
                }
            }
        }
        if let Some(s) = std::fs::read(device.join("vpd_pg80")).ok().and_then(|p| unit_serial(&p)) {
            return s;
        }
    }
    dev.to_owned()
}

/// The product serial number of a SCSI Unit Serial Number VPD page (0x80): header (peripheral
/// byte, page code 0x80, 16-bit page length), then ASCII, space- or NUL-padded (SPC-4
/// 7.8.15). `None` for another page, a short or empty one, or one that is not text.
pub fn unit_serial(page: &[u8]) -> Option<String> {
    let (header, rest) = page.split_first_chunk::<4>()?;
    if header[1] != 0x80 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let text = std::str::from_utf8(rest.get(..len)?).ok()?;
    let text = text.trim_matches(|c: char| c == ' ' || c == '\0');
    (!text.is_empty() && text.chars().all(|c| c.is_ascii_graphic() || c == ' ')).then(|| text.to_owned())
}

/// Hex of a hash of the sorted serials: changes when a disk is replaced, not when the order of
/// the disks changes.
pub fn generation<'a>(serials: impl IntoIterator<Item = &'a str>) -> String {
    let mut serials: Vec<&str> = serials.into_iter().collect();
    serials.sort_unstable();
    let mut h = Sha256::new();
    for s in serials {
        h.update(s.as_bytes());
        h.update(b"\n");
    }
    hex::encode(&h.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_from_sysfs_partition_and_fallback() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sda/device")).unwrap();
        std::fs::write(d.path().join("sda/device/serial"), "WD-123\n").unwrap();
        std::fs::create_dir_all(d.path().join("nvme0n1/device")).unwrap();
        std::fs::write(d.path().join("nvme0n1/device/wwid"), "eui.0025\n").unwrap();
        assert_eq!(serial(d.path(), "sda"), "WD-123");
        assert_eq!(serial(d.path(), "sda1"), "WD-123");
        assert_eq!(serial(d.path(), "nvme0n1p2"), "eui.0025");
        assert_eq!(serial(d.path(), "sdz"), "sdz");
        // QEMU's scsi-hd: `wwid` reads EINVAL (an empty file here), the serial is in page 0x80
        std::fs::create_dir_all(d.path().join("sdb/device")).unwrap();
        std::fs::write(d.path().join("sdb/device/wwid"), "").unwrap();
        std::fs::write(d.path().join("sdb/device/vpd_pg80"), b"\0\x80\0\x09HSBAY0002").unwrap();
        assert_eq!(serial(d.path(), "sdb1"), "HSBAY0002");
    }

    #[test]
    fn unit_serial_number_page() {
        assert_eq!(unit_serial(b"\0\x80\0\x09HSBAY0002").as_deref(), Some("HSBAY0002"));
        // padded with spaces and NULs; bytes past the page length are not part of it
        assert_eq!(unit_serial(b"\0\x80\0\x0c  WD-1234\0\0\0junk").as_deref(), Some("WD-1234"));
        assert_eq!(unit_serial(b"\0\x83\0\x04abcd"), None, "another page");
        assert_eq!(unit_serial(b"\0\x80\0\x09HSBAY"), None, "shorter than its length");
        assert_eq!(unit_serial(b"\0\x80\0\x04    "), None, "blank");
        assert_eq!(unit_serial(b"\0\x80\0\x02\x01\xff"), None, "not text");
        assert_eq!(unit_serial(b"\0\x80"), None);
    }

    #[test]
    fn generation_changes_with_a_disk_not_the_order() {
        let g = generation(["A", "B"]);
        assert_eq!(g.len(), 16);
        assert_eq!(generation(["B", "A"]), g);
        assert_ne!(generation(["A", "C"]), g);
    }
}
