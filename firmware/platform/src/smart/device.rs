//! Reading a [`Snapshot`] from a disk: SATA through SG_IO on its `sg` or `sd` device, NVMe
//! through Get Log Page on its controller (`/dev/nvme0`, or a namespace), model and serial
//! of NVMe from sysfs (`/sys/class/nvme/nvme0/{model,serial}`). Which disks there are
//! comes from `/sys/block` ([`autodetect`]). Blocking: call it off the async runtime.

use std::fs::OpenOptions;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::io::Errno;

use super::{ata, nvme, AtaSmart, Kind, SmartError, Snapshot};
use crate::ioctl::{self, SgData};

/// One disk to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// What reports call it: `sda`, `nvme0`.
    pub name: String,
    /// The device node the commands go to: `/dev/sg0`, `/dev/sda`, `/dev/nvme0`.
    pub path: PathBuf,
    pub kind: Kind,
}

impl Target {
    /// A device given by path or by name (`sda` = `/dev/sda`): NVMe if the name starts with
    /// `nvme`, SATA otherwise.
    pub fn from_arg(arg: &str) -> Target {
        let path = if arg.contains('/') { PathBuf::from(arg) } else { Path::new("/dev").join(arg) };
        let base = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let kind = if base.starts_with("nvme") { Kind::Nvme } else { Kind::Ata };
        let name = if kind == Kind::Nvme { controller(&base) } else { base };
        Target { name, path, kind }
    }
}

/// `nvme0n1` → `nvme0`.
fn controller(name: &str) -> String {
    let digits = name["nvme".len().min(name.len())..].chars().take_while(char::is_ascii_digit).count();
    name[..("nvme".len() + digits).min(name.len())].to_owned()
}

/// The disks of `/sys/block` (`sys_block`): `sd*` through their `sg` node when the SCSI
/// generic driver is loaded (`device/scsi_generic/sgN`), else the `sd` node itself; `nvme*`
/// namespaces through their controller (the `device` link, else the name), once per
/// controller. Device nodes under `dev`.
pub fn autodetect(sys_block: &Path, dev: &Path) -> Vec<Target> {
    let Ok(dir) = std::fs::read_dir(sys_block) else { return Vec::new() };
    let mut names: Vec<String> = dir.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut out: Vec<Target> = Vec::new();
    for n in names {
        if n.starts_with("sd") {
            let sg = std::fs::read_dir(sys_block.join(&n).join("device/scsi_generic"))
                .ok()
                .and_then(|mut d| d.next())
                .and_then(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned());
            let path = dev.join(sg.as_deref().unwrap_or(&n));
            out.push(Target { name: n, path, kind: Kind::Ata });
        } else if n.starts_with("nvme") && !n.contains('c') {
            let linked = std::fs::read_link(sys_block.join(&n).join("device")).ok();
            let linked = linked.as_deref().and_then(Path::file_name).map(|f| f.to_string_lossy().into_owned());
            // A multipath namespace links to its subsystem, not a controller.
            let c = linked
                .filter(|l| l.starts_with("nvme") && !l.starts_with("nvme-subsys"))
                .unwrap_or_else(|| controller(&n));
            if !out.iter().any(|t| t.name == c) {
                out.push(Target { path: dev.join(&c), name: c, kind: Kind::Nvme });
            }
        }
    }
    out
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// Reads one disk. `sys_class_nvme` is `/sys/class/nvme` (NVMe model and serial).
pub fn read(t: &Target, sys_class_nvme: &Path) -> Result<Snapshot, SmartError> {
    let shown = t.path.display().to_string();
    let meta = std::fs::metadata(&t.path).map_err(|e| SmartError::Io(shown.clone(), e))?;
    if !meta.file_type().is_char_device() && !meta.file_type().is_block_device() {
        return Err(SmartError::NotADisk(shown, "not a device node".into()));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(t.kind == Kind::Ata)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(&t.path)
        .map_err(|e| SmartError::Io(shown.clone(), e))?;
    match t.kind {
        Kind::Ata => read_ata(t, &file),
        Kind::Nvme => read_nvme(t, &file, sys_class_nvme),
    }
}

fn not_a_disk(t: &Target, e: Errno) -> SmartError {
    let what = match t.kind {
        Kind::Ata => "SG_IO",
        Kind::Nvme => "NVMe admin commands",
    };
    SmartError::NotADisk(t.path.display().to_string(), format!("it does not take {what}: {e}"))
}

/// One 512-byte data-in command; a CHECK CONDITION or transport error is an error.
fn data_in(t: &Target, fd: impl AsFd, cdb: &[u8; 16], command: &'static str) -> Result<Vec<u8>, SmartError> {
    let mut buf = vec![0u8; 512];
    let r = ioctl::sg_io(fd, cdb, SgData::In(&mut buf), TIMEOUT).map_err(|e| match e {
        Errno::NOTTY | Errno::INVAL => not_a_disk(t, e),
        e => SmartError::Command { device: t.name.clone(), command, problem: e.to_string() },
    })?;
    // DRIVER_SENSE (0x08) only says sense data came with the status.
    if r.status != 0 || r.host_status != 0 || r.driver_status & !0x08 != 0 {
        let problem = format!(
            "SCSI status 0x{:02x}, host 0x{:x}, driver 0x{:x}, sense {:02x?}",
            r.status, r.host_status, r.driver_status, r.sense
        );
        return Err(SmartError::Command { device: t.name.clone(), command, problem });
    }
    Ok(buf)
}

fn read_ata(t: &Target, f: &std::fs::File) -> Result<Snapshot, SmartError> {
    let r = ioctl::sg_io(f, &ata::cdb_return_status(), SgData::None, TIMEOUT).map_err(|e| match e {
        Errno::NOTTY | Errno::INVAL => not_a_disk(t, e),
        e => SmartError::Command { device: t.name.clone(), command: "SMART RETURN STATUS", problem: e.to_string() },
    })?;
    let passed = ata::parse_return_status(&r.sense).map_err(|e| SmartError::Command {
        device: t.name.clone(),
        command: "SMART RETURN STATUS",
        problem: e.to_string(),
    })?;
    let (model, serial) = ata::parse_identify(&data_in(t, f, &ata::cdb_identify(), "IDENTIFY DEVICE")?)?;
    let mut attributes = ata::parse_data(&data_in(t, f, &ata::cdb_read_data(), "SMART READ DATA")?)?;
    // Thresholds and logs are optional (ACS-3 made READ THRESHOLDS obsolete; some disks
    // have no logs): without them their findings cannot be made.
    let optional = |cdb: [u8; 16], command| data_in(t, f, &cdb, command).map_err(|e| log::debug!("{e}")).ok();
    if let Some(b) = optional(ata::cdb_read_thresholds(), "SMART READ THRESHOLDS") {
        if let Err(e) = ata::apply_thresholds(&mut attributes, &b) {
            log::warn!("{}: {e}", t.name);
        }
    }
    let error_count = optional(ata::cdb_read_log(ata::LOG_SUMMARY_ERROR), "SMART READ LOG 0x01")
        .and_then(|b| ata::parse_error_log(&b).map_err(|e| log::warn!("{}: {e}", t.name)).ok());
    let self_tests = optional(ata::cdb_read_log(ata::LOG_SELF_TEST), "SMART READ LOG 0x06")
        .and_then(|b| ata::parse_self_test_log(&b).map_err(|e| log::warn!("{}: {e}", t.name)).ok());
    Ok(Snapshot {
        device: t.name.clone(),
        kind: Kind::Ata,
        model,
        serial,
        passed,
        ata: Some(AtaSmart { attributes, error_count, self_tests }),
        nvme: None,
    })
}

fn read_nvme(t: &Target, f: &std::fs::File, sys_class_nvme: &Path) -> Result<Snapshot, SmartError> {
    let mut buf = vec![0u8; 512];
    let status = ioctl::nvme_get_log_page(f, u32::MAX, nvme::LOG_HEALTH, &mut buf).map_err(|e| match e {
        Errno::NOTTY | Errno::INVAL => not_a_disk(t, e),
        e => SmartError::Command { device: t.name.clone(), command: "Get Log Page 0x02", problem: e.to_string() },
    })?;
    if status != 0 {
        let problem = format!("NVMe status 0x{status:x}");
        return Err(SmartError::Command { device: t.name.clone(), command: "Get Log Page 0x02", problem });
    }
    let health = nvme::parse_health(&buf)?;
    let attr = |f: &str| {
        std::fs::read_to_string(sys_class_nvme.join(&t.name).join(f)).map(|s| s.trim().to_owned()).unwrap_or_default()
    };
    Ok(Snapshot {
        device: t.name.clone(),
        kind: Kind::Nvme,
        model: attr("model"),
        serial: attr("serial"),
        passed: health.critical_warning == 0,
        ata: None,
        nvme: Some(health),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_arguments() {
        let t = Target::from_arg("sda");
        assert_eq!((t.name.as_str(), t.path.as_path(), t.kind), ("sda", Path::new("/dev/sda"), Kind::Ata));
        let t = Target::from_arg("/dev/nvme0n1");
        assert_eq!((t.name.as_str(), t.kind), ("nvme0", Kind::Nvme));
        assert_eq!(Target::from_arg("/dev/sg1").name, "sg1");
    }

    #[test]
    fn autodetect_from_a_sysfs_tree() {
        let d = tempfile::tempdir().unwrap();
        let sb = d.path();
        std::fs::create_dir_all(sb.join("sda/device/scsi_generic/sg0")).unwrap();
        std::fs::create_dir_all(sb.join("sdb/device")).unwrap();
        for n in ["nvme0n1", "nvme0n2", "nvme1n1", "nvme4n1", "loop0", "md0", "mmcblk0"] {
            std::fs::create_dir_all(sb.join(n)).unwrap();
        }
        std::os::unix::fs::symlink("../../nvme2", sb.join("nvme4n1/device")).unwrap();
        let got: Vec<(String, PathBuf, Kind)> =
            autodetect(sb, Path::new("/dev")).into_iter().map(|t| (t.name, t.path, t.kind)).collect();
        let want = [
            ("nvme0", "/dev/nvme0", Kind::Nvme),
            ("nvme1", "/dev/nvme1", Kind::Nvme),
            ("nvme2", "/dev/nvme2", Kind::Nvme),
            ("sda", "/dev/sg0", Kind::Ata),
            ("sdb", "/dev/sdb", Kind::Ata),
        ];
        let want: Vec<(String, PathBuf, Kind)> = want.iter().map(|(n, p, k)| (n.to_string(), p.into(), *k)).collect();
        assert_eq!(got, want);
        assert!(autodetect(&sb.join("missing"), Path::new("/dev")).is_empty());
    }

    #[test]
    fn what_is_not_a_disk_says_so() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("file");
        std::fs::write(&f, b"").unwrap();
        let e = read(&Target::from_arg(f.to_str().unwrap()), d.path()).unwrap_err().to_string();
        assert!(e.contains("not a SATA or NVMe disk (not a device node)"), "{e}");
        let e = read(&Target::from_arg("/dev/null"), d.path()).unwrap_err().to_string();
        assert!(e.contains("/dev/null: not a SATA or NVMe disk"), "{e}");
        let e = read(&Target::from_arg(d.path().join("none").to_str().unwrap()), d.path()).unwrap_err().to_string();
        assert!(e.contains("No such file"), "{e}");
    }
}
