//! Disks as the kernel shows them in sysfs: the serial of a block device,
//! and a generation that changes when a disk is replaced.

use sha2::{Digest, Sha256};
use std::path::Path;

/// Serial of a block device: `device/serial`, else `device/wwid`, else the name. A partition
/// (`sda1`, `nvme0n1p2`) is looked up as its disk. `sys_block` is `/sys/block` (tests point
/// elsewhere).
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
        for f in ["serial", "wwid"] {
            if let Ok(s) = std::fs::read_to_string(sys_block.join(d).join("device").join(f)) {
                let s = s.trim();
                if !s.is_empty() {
                    return s.to_owned();
                }
            }
        }
    }
    dev.to_owned()
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
    }

    #[test]
    fn generation_changes_with_a_disk_not_the_order() {
        let g = generation(["A", "B"]);
        assert_eq!(g.len(), 16);
        assert_eq!(generation(["B", "A"]), g);
        assert_ne!(generation(["A", "C"]), g);
    }
}
