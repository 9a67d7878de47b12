//! `hotspare export`: a camera's recordings between two times as one MP4.

use std::io::BufWriter;

use hotspare_store::Store;

use crate::cli::ExportArgs;
use crate::times::parse_rfc3339_us;
use crate::CliError;

pub fn run(a: ExportArgs) -> Result<(), CliError> {
    let from = a.from.as_deref().map(|s| parse_rfc3339_us("--from", s)).transpose()?;
    let to = a.to.as_deref().map(|s| parse_rfc3339_us("--to", s)).transpose()?;
    if !a.store.is_dir() {
        return Err(CliError::new(format!("store {} is not a directory", a.store.display())));
    }
    // Read-only: a recorder may be writing this store right now; export never recovers,
    // truncates or deletes anything (it reads each segment up to its last complete frame).
    let store = Store::open_readonly(&a.store)
        .map_err(|e| CliError::new(format!("opening store {}: {e}", a.store.display())))?;
    let plan = store.export_mp4(&a.camera, from, to).map_err(|e| CliError::new(e.to_string()))?;
    let tmp = a.output.with_extension("mp4.partial");
    let write = || -> Result<(), CliError> {
        let file =
            std::fs::File::create(&tmp).map_err(|e| CliError::new(format!("creating {}: {e}", tmp.display())))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        plan.write_to(&mut w).map_err(|e| CliError::new(format!("writing {}: {e}", tmp.display())))?;
        let file = w.into_inner().map_err(|e| CliError::new(format!("writing {}: {e}", tmp.display())))?;
        file.sync_all().map_err(|e| CliError::new(format!("syncing {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &a.output).map_err(|e| CliError::new(format!("renaming to {}: {e}", a.output.display())))
    };
    if let Err(e) = write() {
        // Leave nothing half-written behind.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    println!(
        "exported {} frames, {:.3} s, to {}",
        plan.frames,
        plan.duration_90k as f64 / 90_000.0,
        a.output.display()
    );
    Ok(())
}
