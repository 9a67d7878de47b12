//! `hotspare settings`: the box's configuration model from the command line
//! (the console and the front panel use the same calls): show it (secrets
//! left out), read and set fields as one change, the history, restore,
//! factory reset. Exit 0 done, 1 refused (the message names the field and
//! what is allowed, nothing changed), 2 the store cannot be read or written.

use std::path::PathBuf;
use std::process::ExitCode;

use hotspare_settings::fields::{self, FIELDS};
use hotspare_settings::store::{Current, SaveError};
use hotspare_settings::SettingsStore;

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
