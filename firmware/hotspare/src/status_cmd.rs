//! `hotspare status [--config /etc/hotspare/supervisor.toml] [--json]`: the box's state for a
//! person at the serial console (80 columns) or, with `--json`, for tools: firmware version,
//! booted slot and boot counting, last reset and rescue mode, the services, the hardware
//! (arrays, bays, SMART, volumes, system) and whether takeovers are allowed. It reads what
//! the supervisor writes (`status.json`, `health.json` in its `state_dir`), the boot state
//! of `[boot]` and the update agent's `update.json` (one `update:` line); it changes nothing. Exit 0 healthy, 1 not healthy, 2 the state cannot be
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
    /// The update agent's state directory (`hotspare update --state`).
    #[arg(long, default_value = "/data/update")]
    pub update_state: PathBuf,
}

/// The agent's `update.json`, if there is one.
fn update_status(dir: &std::path::Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(dir.join("update.json")).ok()?).ok()
}

/// One line for a person: what the update agent is doing and what it last said.
fn update_line(u: &serde_json::Value) -> String {
    let s = |k: &str| u.get(k).and_then(serde_json::Value::as_str);
    let mut line = format!("update: {}, runs {}", s("state").unwrap_or("?"), s("installed").unwrap_or("?"));
    if let Some(o) = s("offered").filter(|o| Some(*o) != s("installed")) {
        line.push_str(&format!(", offered {o}"));
    }
    if let Some(e) = s("last_error").or(s("last_outcome")) {
        line.push_str(&format!(": {e}"));
    }
    line
}

pub fn run(a: StatusArgs) -> ExitCode {
    match gather(&a.config, env!("CARGO_PKG_VERSION")) {
        Ok(r) => {
            let update = update_status(&a.update_state);
            if a.json {
                let mut v = serde_json::to_value(&r).unwrap_or_default();
                if let (Some(obj), Some(u)) = (v.as_object_mut(), update) {
                    obj.insert("update".into(), u);
                }
                match serde_json::to_string_pretty(&v) {
                    Ok(j) => println!("{j}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                let text = render(&r);
                // The update line goes before the verdict (the last line).
                let body = text.trim_end_matches('\n');
                let (head, last) = body.rsplit_once('\n').unwrap_or(("", body));
                let update = update.map(|u| format!("{}\n", update_line(&u))).unwrap_or_default();
                println!("{}{}{update}{last}", head, if head.is_empty() { "" } else { "\n" });
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

#[cfg(test)]
mod tests {
    use super::update_line;

    #[test]
    fn the_update_line_says_what_the_agent_does_and_last_said() {
        let u = serde_json::json!({"state": "idle", "installed": "2", "offered": "2", "last_error": null,
            "last_outcome": "updated to 2"});
        assert_eq!(update_line(&u), "update: idle, runs 2: updated to 2");
        let u = serde_json::json!({"state": "waiting-covering", "installed": "2", "offered": "3"});
        assert_eq!(update_line(&u), "update: waiting-covering, runs 2, offered 3");
        let u = serde_json::json!({"state": "idle", "installed": "2", "offered": "3",
            "last_error": "3 was refused: RAUC refused the bundle", "last_outcome": "updated to 2"});
        assert_eq!(update_line(&u), "update: idle, runs 2, offered 3: 3 was refused: RAUC refused the bundle");
        assert_eq!(update_line(&serde_json::json!({"state": "off", "installed": "2"})), "update: off, runs 2");
    }
}
