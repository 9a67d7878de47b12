//! `hotspare smart <device>`: reads a disk's SMART once (SATA through SG_IO, NVMe through
//! its health log page) and prints the smartd `-a` verdict, for the installer and the
//! image's hardware tests. Exit status: 0 healthy, 1 warning, 2 critical, 3 cannot read
//! (not a disk, no permission, no SMART). No previous snapshot: "increased" findings are the
//! supervisor's monitor's.

use std::path::PathBuf;
use std::process::ExitCode;

use hotspare_platform::smart::device::{self, Target};
use hotspare_platform::smart::{verdict, Severity, Snapshot};

#[derive(clap::Args, Debug)]
pub struct SmartArgs {
    /// The disk: a path (`/dev/sg0`, `/dev/sda`, `/dev/nvme0`) or a name under /dev (`sda`,
    /// `nvme0`). Names starting with `nvme` are NVMe, others SATA through SCSI-ATA Translation.
    pub device: String,
    /// Where NVMe controllers' `model` and `serial` are.
    #[arg(long, default_value = "/sys/class/nvme", hide = true)]
    pub sys_class_nvme: PathBuf,
}

/// Exit status when the disk cannot be read.
const CANNOT_READ: u8 = 3;

pub fn run(a: SmartArgs) -> ExitCode {
    let t = Target::from_arg(&a.device);
    match device::read(&t, &a.sys_class_nvme) {
        Ok(s) => ExitCode::from(report(&s)),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(CANNOT_READ)
        }
    }
}

/// Prints the snapshot and its findings; returns the exit status.
fn report(s: &Snapshot) -> u8 {
    let findings = verdict(None, s);
    println!("{} ({}): {}, serial {}", s.device, s.kind.as_str(), s.model, s.serial);
    println!("SMART overall health: {}", if s.passed { "PASSED" } else { "FAILED" });
    if let Some(t) = s.temperature_c() {
        println!("temperature: {t} °C");
    }
    if let Some(h) = s.power_on_hours() {
        println!("power-on hours: {h}");
    }
    if let Some(h) = &s.nvme {
        println!(
            "available spare: {} % (threshold {} %), percentage used: {} %, media errors: {}",
            h.available_spare, h.spare_threshold, h.percentage_used, h.media_errors
        );
    }
    if let Some(a) = &s.ata {
        if let Some(n) = a.error_count {
            println!("ATA error count: {n}");
        }
    }
    for f in &findings {
        let sev = match f.severity {
            Severity::Warning => "warning",
            Severity::Critical => "CRITICAL",
        };
        println!("{sev}: {}", f.text);
    }
    let (word, code) = match findings.iter().map(|f| f.severity).max() {
        None => ("healthy", 0),
        Some(Severity::Warning) => ("warning", 1),
        Some(Severity::Critical) => ("critical", 2),
    };
    println!("verdict: {word}");
    code
}
