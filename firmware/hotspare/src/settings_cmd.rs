//! `hotspare settings`: the box's configuration model from the command line
//! (the console and the front panel use the same calls): show it (secrets
//! left out), read and set fields as one change, the history, restore,
//! factory reset; import and export the whole settings as one TOML file
//! (backups, installers, test harnesses). Exit 0 done, 1 refused (the message names the field and
//! what is allowed, nothing changed), 2 the store cannot be read or written.

use std::path::PathBuf;
use std::process::ExitCode;

use hotspare_settings::fields::{self, FIELDS};
use hotspare_settings::store::{Current, SaveError};
use hotspare_settings::{Settings, SettingsStore};

#[derive(clap::Args, Debug)]
pub struct SettingsArgs {
    /// The settings directory (generations settings.<seq>.toml).
    #[arg(long, default_value = "/data/settings")]
    pub dir: PathBuf,
    /// Who makes the change (stored with the generation).
    #[arg(long, default_value = "cli")]
    pub channel: String,
    #[command(subcommand)]
    pub op: Op,
}

#[derive(clap::Subcommand, Debug)]
pub enum Op {
    /// The current settings (secrets left out: passwords, hashes) and their generation.
    Show,
    /// One field's value.
    Get { field: String },
    /// Sets fields as one change: `hostname=spare-1 network.mode=static …` (all or nothing).
    Set {
        #[arg(required = true)]
        assignments: Vec<String>,
    },
    /// The fields that `get` and `set` know.
    Fields,
    /// The generations kept, newest first.
    History,
    /// Makes generation SEQ current again (as a new generation).
    Restore { seq: u64 },
    /// Saves the whole settings from FILE (TOML, as `export` writes it; `-`: standard input)
    /// as one new generation, validated (all or nothing).
    Import { file: PathBuf },
    /// Writes the whole current settings, secrets included (NVR passwords, account hashes), to
    /// FILE for a backup: created 0600, replaced power-safe. `show` leaves the secrets out.
    Export { file: PathBuf },
    /// The defaults; every older generation (and its secrets) removed.
    FactoryReset {
        /// Required: this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

pub fn run(a: SettingsArgs) -> ExitCode {
    match exec(&a) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(Failure::Refused(why)) => {
            eprintln!("refused: {why}");
            ExitCode::from(1)
        }
        Err(Failure::Store(why)) => {
            eprintln!("error: {why}");
            ExitCode::from(2)
        }
    }
}

enum Failure {
    Refused(String),
    Store(String),
}

impl From<SaveError> for Failure {
    fn from(e: SaveError) -> Failure {
        match e {
            SaveError::Invalid(_) | SaveError::Conflict { .. } | SaveError::NoSuchGeneration(_) => {
                Failure::Refused(e.to_string())
            }
            _ => Failure::Store(e.to_string()),
        }
    }
}

fn exec(a: &SettingsArgs) -> Result<String, Failure> {
    let store = SettingsStore::open(&a.dir)?;
    let cur = store.current()?;
    let mut out = warnings(&cur);
    match &a.op {
        Op::Show => out.push_str(&show(&cur)),
        Op::Get { field } => match fields::get(&cur.settings, field) {
            Some(v) => out.push_str(&format!("{v}\n")),
            None => return Err(Failure::Refused(format!("{field}: no such setting (hotspare settings fields)"))),
        },
        Op::Set { assignments } => {
            let mut s = cur.settings.clone();
            let mut names = Vec::new();
            for asg in assignments {
                let Some((name, value)) = asg.split_once('=') else {
                    return Err(Failure::Refused(format!("{asg:?}: expected FIELD=VALUE")));
                };
                fields::set(&mut s, name.trim(), value).map_err(|e| Failure::Refused(e.to_string()))?;
                names.push(name.trim().to_string());
            }
            if s == cur.settings {
                out.push_str("nothing changed\n");
                return Ok(out);
            }
            let seq = store.save(&s, cur.seq(), &a.channel, &format!("set {}", names.join(", ")))?;
            out.push_str(&format!("saved generation {seq}\n"));
        }
        Op::Fields => {
            for (name, what) in FIELDS {
                out.push_str(&format!("{name:<26} {what}\n"));
            }
        }
        Op::History => {
            for g in store.history()? {
                let current = if Some(g.seq) == cur.meta.as_ref().map(|m| m.seq) { " (current)" } else { "" };
                match g.meta {
                    Ok(m) => out.push_str(&format!(
                        "{:>4}  {}  {:<8} {}{current}\n",
                        m.seq,
                        crate::times::format_us(m.saved_us),
                        m.channel,
                        m.summary
                    )),
                    Err(why) => out.push_str(&format!("{:>4}  unreadable: {why}\n", g.seq)),
                }
            }
        }
        Op::Import { file } => out.push_str(&import(&store, &cur, file, &a.channel)?),
        Op::Export { file } => {
            let head = match &cur.meta {
                Some(m) => format!("# hotspare settings, generation {} ({}, {})\n", m.seq, m.channel, m.summary),
                None => "# hotspare settings: factory defaults (nothing saved yet)\n".into(),
            };
            let text = head + &cur.settings.to_toml();
            hotspare_base::fs::write_atomic(file, text.as_bytes(), 0o600)
                .map_err(|e| Failure::Store(format!("{}: {e}", file.display())))?;
            out.push_str(&format!(
                "generation {} exported to {} (0600: it holds the NVR passwords and account hashes)\n",
                cur.seq(),
                file.display()
            ));
        }
        Op::Restore { seq } => {
            let new = store.restore(*seq, &a.channel)?;
            out.push_str(&format!("generation {seq} restored as generation {new}\n"));
        }
        Op::FactoryReset { yes } => {
            if !yes {
                return Err(Failure::Refused("factory reset erases every setting and account: add --yes".into()));
            }
            let new = store.factory_reset(&a.channel)?;
            out.push_str(&format!("factory defaults saved as generation {new}; older generations removed\n"));
        }
    }
    Ok(out)
}

/// `import FILE`: the whole settings as one generation.
fn import(store: &SettingsStore, cur: &Current, file: &std::path::Path, channel: &str) -> Result<String, Failure> {
    let text = if file.as_os_str() == "-" {
        let mut t = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
            .map_err(|e| Failure::Refused(format!("standard input: {e}")))?;
        t
    } else {
        std::fs::read_to_string(file).map_err(|e| Failure::Refused(format!("{}: {e}", file.display())))?
    };
    let s: Settings = toml::from_str(&text)
        .map_err(|e| Failure::Refused(format!("{}: {}", file.display(), e.to_string().trim_end())))?;
    if s == cur.settings {
        return Ok("nothing changed\n".into());
    }
    let seq = store.save(&s, cur.seq(), channel, &format!("import {}", file.display()))?;
    Ok(format!("saved generation {seq}\n"))
}

/// Generations that could not be used (said on every command).
fn warnings(cur: &Current) -> String {
    cur.skipped.iter().map(|(p, why)| format!("warning: {} skipped: {why}\n", p.display())).collect()
}

/// The current settings as TOML, without their secrets (`hotspare_settings::secrets`, the same
/// view as the API's `GET /api/v1/settings`).
fn show(cur: &Current) -> String {
    let head = match &cur.meta {
        Some(m) => format!("# generation {} ({}, {})\n", m.seq, m.channel, m.summary),
        None => "# factory defaults (nothing saved yet)\n".into(),
    };
    let shown = hotspare_settings::secrets::redacted(&cur.settings);
    head + &toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot show: {e}\n"))
}
