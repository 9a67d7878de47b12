//! Shared by the supervisor's process tests: `hotspare supervisor` started on a written
//! configuration.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command};

/// The system monitor (on by default) judges this machine's real load and memory: its
/// notices and hardware level would make these tests depend on what else runs.
pub const NO_SYSTEM: &str = "[system]\nenabled = false\n\n";

/// The head of a test configuration: state in `<dir>/state`, resets do nothing, no boot
/// grace, 2 s to stop, no system monitor.
pub fn config_head(dir: &Path) -> String {
    format!(
        "state_dir = \"{}\"\nreset_command = [\"true\"]\nboot_grace_s = 0\nstop_grace_s = 2\n\n{NO_SYSTEM}",
        dir.join("state").display()
    )
}

/// Writes `config` to `<dir>/supervisor.toml` and starts `hotspare supervisor` on it.
pub fn start(dir: &Path, config: &str) -> Child {
    std::fs::write(dir.join("supervisor.toml"), config).unwrap();
    Command::new(env!("CARGO_BIN_EXE_hotspare"))
        .args(["supervisor", "--config"])
        .arg(dir.join("supervisor.toml"))
        .env("RUST_LOG", "debug")
        .spawn()
        .unwrap()
}

/// As [`start`], with the supervisor's log (stderr) in `<dir>/supervisor.log`.
pub fn start_logged(dir: &Path, config: &str) -> Child {
    std::fs::write(dir.join("supervisor.toml"), config).unwrap();
    let log = std::fs::File::create(dir.join("supervisor.log")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_hotspare"))
        .args(["supervisor", "--config"])
        .arg(dir.join("supervisor.toml"))
        .env("RUST_LOG", "debug")
        .stderr(log)
        .spawn()
        .unwrap()
}
