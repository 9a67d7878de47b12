//! `hotspare status [--config /etc/hotspare/supervisor.toml] [--json]`: the box's state for a
//! person at the serial console (80 columns) or, with `--json`, for tools: firmware version,
//! booted slot and boot counting, last reset and rescue mode, the services, the hardware
//! (arrays, bays, SMART, volumes, system) and whether takeovers are allowed. It reads what
//! the supervisor writes (`status.json`, `health.json` in its `state_dir`) and the boot state
//! of `[boot]`; it changes nothing. Exit 0 healthy, 1 not healthy, 2 the state cannot be
//! read (the message names the file). The last line is `status: healthy` or
//! `status: NOT healthy: <reason>`.

use std::path::PathBuf;
use std::process::ExitCode;

use hotspare_supervisor::status_view::{gather, render};

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The supervisor's configuration (its state_dir and [boot] say where to look).
    #[arg(long, default_value = "/etc/hotspare/supervisor.toml")]
    pub config: PathBuf,
    /// One JSON object instead of the text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: StatusArgs) -> ExitCode {
    match gather(&a.config, env!("CARGO_PKG_VERSION")) {
        Ok(r) => {
            if a.json {
                match serde_json::to_string_pretty(&r) {
                    Ok(j) => println!("{j}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                print!("{}", render(&r));
            }
            ExitCode::from(if r.healthy { 0 } else { 1 })
        }
        Err(e) => {
            eprintln!("error: {e}");
            if a.json {
                println!("{}", serde_json::json!({ "healthy": false, "error": e }));
            } else {
                println!("status: NOT healthy: cannot read the state: {e}");
            }
            ExitCode::from(2)
        }
    }
}
