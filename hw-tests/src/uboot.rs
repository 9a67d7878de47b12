//! U-Boot under QEMU: the pflash images, a GPT disk image whose first
//! partition is FAT (built without root), and mtools access to its files.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Debian's `u-boot-qemu` build for `-M virt` (aarch64).
pub const UBOOT_BIN: &str = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";
/// The FAT partition starts at 1 MiB (sector 2048); mtools addresses it as `IMG@@1M`.
const PART_OFFSET: &str = "@@1M";

fn run(cmd: &mut Command) -> Result<Vec<u8>, String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}: {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}

/// A working directory with `flash0.img` (U-Boot), `flash1.img` (its
/// environment, blank) and `disk.img` (GPT, partition 1 = FAT `BOOT`).
pub struct Machine {
    pub dir: PathBuf,
}

impl Machine {
    /// Builds the images in `dir`; `fat_mib` is the FAT partition's size.
    pub fn create(dir: &Path, fat_mib: u64) -> Result<Machine, String> {
        let flash0 = dir.join("flash0.img");
        std::fs::copy(UBOOT_BIN, &flash0).map_err(|e| format!("{UBOOT_BIN}: {e}"))?;
        for f in ["flash0.img", "flash1.img"] {
            let file =
                std::fs::OpenOptions::new().create(true).append(true).open(dir.join(f)).map_err(|e| e.to_string())?;
            file.set_len(64 << 20).map_err(|e| e.to_string())?;
        }
        let disk = dir.join("disk.img");
        let file = std::fs::File::create(&disk).map_err(|e| e.to_string())?;
        file.set_len((fat_mib + 2) << 20).map_err(|e| e.to_string())?;
        let layout = format!(
            "label: gpt\nstart=2048, size={}, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=boot\n",
            fat_mib * 2048
        );
        let mut sfdisk = Command::new("sfdisk");
        sfdisk.arg("-q").arg(&disk).stdin(Stdio::piped()).stdout(Stdio::null());
        let mut child = sfdisk.spawn().map_err(|e| format!("sfdisk: {e}"))?;
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().ok_or("sfdisk: no stdin")?;
            stdin.write_all(layout.as_bytes()).map_err(|e| e.to_string())?;
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("sfdisk {}: {status}", disk.display()));
        }
        run(Command::new("mkfs.vfat")
            .args(["-n", "BOOT", "--offset", "2048"])
            .arg(&disk)
            .arg((fat_mib * 1024).to_string()))?;
        Ok(Machine { dir: dir.to_path_buf() })
    }

    fn image(&self) -> String {
        format!("{}{PART_OFFSET}", self.dir.join("disk.img").display())
    }

    /// Copies a host file onto the FAT partition as `name`.
    pub fn put(&self, host: &Path, name: &str) -> Result<(), String> {
        run(Command::new("mcopy").args(["-o", "-i", &self.image()]).arg(host).arg(format!("::{name}"))).map(drop)
    }

    /// Writes bytes as `name` on the FAT partition.
    pub fn put_bytes(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let tmp = self.dir.join("put.tmp");
        std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
        self.put(&tmp, name)
    }

    /// A file of the FAT partition; `None` when it does not exist.
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        run(Command::new("mtype").args(["-i", &self.image()]).arg(format!("::{name}"))).ok()
    }

    /// Copies `bootstate.0`/`.1` from the FAT partition into `dir` (for the Linux tool).
    pub fn export_files(&self, names: &[&str], dir: &Path) -> Result<(), String> {
        for n in names {
            if let Some(b) = self.get(n) {
                std::fs::write(dir.join(n), b).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// The QEMU arguments: U-Boot from pflash, the disk as virtio-blk, no network boot ROM.
    pub fn qemu_args(&self) -> Vec<String> {
        [
            "-M",
            "virt",
            "-cpu",
            "cortex-a53",
            "-m",
            "512",
            "-nographic",
            "-no-reboot",
            "-drive",
            "if=pflash,format=raw,file=flash0.img,readonly=on",
            "-drive",
            "if=pflash,format=raw,file=flash1.img",
            "-drive",
            "if=none,id=d0,file=disk.img,format=raw",
            "-device",
            "virtio-blk-device,drive=d0",
            "-netdev",
            "user,id=n0",
            "-device",
            "virtio-net-pci,netdev=n0,romfile=",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

/// `mkimage -A arm64 -T script` of a boot script into `out`.
pub fn mkimage_script(cmd: &Path, out: &Path) -> Result<(), String> {
    run(Command::new("mkimage")
        .args(["-A", "arm64", "-O", "linux", "-T", "script", "-C", "none", "-d"])
        .arg(cmd)
        .arg(out))
    .map(drop)
}
