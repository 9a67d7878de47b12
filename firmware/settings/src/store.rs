//! Settings on disk, power-safe with history: each save writes a new
//! generation `settings.<seq>.toml` (0600: NVR passwords) with
//! [`hotspare_base::fs::write_atomic`] (temporary file, fsync, rename, fsync
//! of the directory), so a power cut at any moment leaves the old or the new
//! generation, never a broken one. The current settings are the newest
//! generation that parses and validates; the last [`KEEP`] are kept and can
//! be restored (a restore is a new generation with the old content). A save
//! names the generation it edited: if another channel saved meanwhile, the
//! save is refused ([`SaveError::Conflict`]) instead of silently undoing it.
//! Factory reset writes the defaults as a new generation and then removes
//! every older one (secrets included).

use std::path::{Path, PathBuf};

use hotspare_base::config_error::{ConfigError, ConfigText};
use hotspare_base::fs::{write_atomic, FsError};
use serde::{Deserialize, Serialize};

use crate::model::Settings;
use crate::validate::{validate, FieldError};

/// Generations kept on disk.
pub const KEEP: usize = 8;
const PREFIX: &str = "settings.";
const SUFFIX: &str = ".toml";

/// Who saved a generation, when, and why (stored with it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub seq: u64,
    /// Wall clock, µs since the Unix epoch.
    pub saved_us: i64,
    /// `console`, `panel`, `api`, `cli`, `factory-reset`, …
    pub channel: String,
    /// One line for people: what changed.
    pub summary: String,
}

/// The stored form of one generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    meta: Meta,
    settings: Settings,
}

/// The settings in force and where they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Current {
    /// `None`: no valid generation (a fresh box): the defaults.
    pub meta: Option<Meta>,
    pub settings: Settings,
    /// Newer generations that could not be used, with why (damaged on disk).
    pub skipped: Vec<(PathBuf, String)>,
}

impl Current {
    /// The generation a save based on these settings names (0 for the defaults).
    pub fn seq(&self) -> u64 {
        self.meta.as_ref().map_or(0, |m| m.seq)
    }
}

/// One generation in the history.
#[derive(Clone, Debug, PartialEq)]
pub struct Generation {
    pub seq: u64,
    pub path: PathBuf,
    /// Its metadata, or why it cannot be read.
    pub meta: Result<Meta, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the settings have problems: {}", list(.0))]
    Invalid(Vec<FieldError>),
    #[error(
        "the settings changed meanwhile (edited generation {edited}, now {current} by {by}): reload and edit again"
    )]
    Conflict { edited: u64, current: u64, by: String },
    #[error("generation {0} is not in the history")]
    NoSuchGeneration(u64),
    #[error("generation {seq}: {problem}")]
    Unreadable { seq: u64, problem: String },
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("{}: {source}", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn list(e: &[FieldError]) -> String {
    e.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// The settings directory (`/data/settings` on the box).
pub struct SettingsStore {
    dir: PathBuf,
}

impl SettingsStore {
    /// The store in `dir` (created, 0700, when missing).
    pub fn open(dir: &Path) -> Result<SettingsStore, SaveError> {
        use std::os::unix::fs::DirBuilderExt;
        let err = |source| SaveError::Dir { path: dir.to_owned(), source };
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(err)?;
        Ok(SettingsStore { dir: dir.to_owned() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every generation on disk, newest first.
    pub fn history(&self) -> Result<Vec<Generation>, SaveError> {
        let entries =
            std::fs::read_dir(&self.dir).map_err(|source| SaveError::Dir { path: self.dir.clone(), source })?;
        let mut out: Vec<Generation> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name();
                let seq = name.to_str()?.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?.parse().ok()?;
                let path = e.path();
                let meta = read(&path, seq).map(|f| f.meta);
                Some(Generation { seq, path, meta })
            })
            .collect();
        out.sort_by_key(|g| std::cmp::Reverse(g.seq));
        Ok(out)
    }

    /// The settings in force: the newest generation that parses and validates.
    pub fn current(&self) -> Result<Current, SaveError> {
        let mut skipped = Vec::new();
        for g in self.history()? {
            match read(&g.path, g.seq) {
                Ok(f) => return Ok(Current { meta: Some(f.meta), settings: f.settings, skipped }),
                Err(why) => skipped.push((g.path, why)),
            }
        }
        Ok(Current { meta: None, settings: Settings::default(), skipped })
    }

    /// The settings of generation `seq`.
    pub fn load(&self, seq: u64) -> Result<(Meta, Settings), SaveError> {
        let path = self.path_of(seq);
        if !path.exists() {
            return Err(SaveError::NoSuchGeneration(seq));
        }
        read(&path, seq).map(|f| (f.meta, f.settings)).map_err(|problem| SaveError::Unreadable { seq, problem })
    }

    /// Saves `settings`, edited from generation `edited` (what [`Current::seq`] said), as a
    /// new generation; returns its number. Refused when the settings have problems or
    /// another save came in between.
    pub fn save(&self, settings: &Settings, edited: u64, channel: &str, summary: &str) -> Result<u64, SaveError> {
        let problems = validate(settings);
        if !problems.is_empty() {
            return Err(SaveError::Invalid(problems));
        }
        let cur = self.current()?;
        if cur.seq() != edited {
            let current = cur.seq();
            let by = cur.meta.map(|m| m.channel).unwrap_or_default();
            return Err(SaveError::Conflict { edited, current, by });
        }
        self.write_generation(settings, channel, summary)
    }

    /// Makes generation `seq` current again (as a new generation).
    pub fn restore(&self, seq: u64, channel: &str) -> Result<u64, SaveError> {
        let (meta, settings) = self.load(seq)?;
        let summary = format!("restored generation {seq} ({} by {})", meta.summary, meta.channel);
        self.write_generation(&settings, channel, &summary)
    }

    /// The defaults as a new generation; every older generation removed.
    pub fn factory_reset(&self, channel: &str) -> Result<u64, SaveError> {
        let seq = self.write_generation(&Settings::default(), channel, "factory reset")?;
        for g in self.history()? {
            if g.seq < seq {
                let _ = std::fs::remove_file(&g.path);
            }
        }
        hotspare_base::fs::sync_dir(&self.dir)?;
        Ok(seq)
    }

    fn write_generation(&self, settings: &Settings, channel: &str, summary: &str) -> Result<u64, SaveError> {
        // the next number after every file on disk, readable or not
        let seq = self.history()?.first().map_or(1, |g| g.seq + 1);
        let meta =
            Meta { seq, saved_us: hotspare_base::clock::now_us(), channel: channel.into(), summary: summary.into() };
        let text = render(&meta, settings).map_err(|e| SaveError::Unreadable { seq, problem: e.to_string() })?;
        write_atomic(&self.path_of(seq), text.as_bytes(), 0o600)?;
        self.prune(seq);
        Ok(seq)
    }

    /// Keeps the newest [`KEEP`] generations (best effort: a leftover is harmless).
    fn prune(&self, newest: u64) {
        if let Ok(h) = self.history() {
            for g in h.iter().filter(|g| g.seq + KEEP as u64 <= newest) {
                let _ = std::fs::remove_file(&g.path);
            }
        }
    }

    fn path_of(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{PREFIX}{seq}{SUFFIX}"))
    }
}

/// One generation file, parsed and validated; why not otherwise.
fn read(path: &Path, seq: u64) -> Result<File, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    parse(&text, seq).map(|(meta, settings)| File { meta, settings })
}

/// One generation's text (`settings.<seq>.toml`, named `seq`) as the store reads it: TOML
/// with `meta` and `settings`, unknown keys refused, `meta.seq` the same as the name, the
/// settings valid. `Err`: why it cannot be used (the store then falls back to an older
/// generation). Pure: the fuzz target `settings` drives it.
pub fn parse(text: &str, seq: u64) -> Result<(Meta, Settings), String> {
    // the base's TOML reading: the place and key of a syntax error, never an empty message
    let f: File = ConfigText::new(Path::new(""), text).deserialize().map_err(|e| match e {
        ConfigError::Invalid { line, column, key, problem, .. } if key.is_empty() => {
            format!("line {line}, column {column}: {problem}")
        }
        ConfigError::Invalid { line, column, key, problem, .. } => {
            format!("line {line}, column {column}: {key}: {problem}")
        }
        other => other.to_string(),
    })?;
    if f.meta.seq != seq {
        return Err(format!("its meta.seq is {}, its name says {seq}", f.meta.seq));
    }
    let problems = validate(&f.settings);
    if !problems.is_empty() {
        return Err(list(&problems));
    }
    Ok((f.meta, f.settings))
}

/// The text [`parse`] reads back as `meta` and `settings` (what a save writes).
pub fn render(meta: &Meta, settings: &Settings) -> Result<String, toml::ser::Error> {
    toml::to_string(&File { meta: meta.clone(), settings: settings.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SettingsStore) {
        let d = tempfile::tempdir().unwrap();
        let s = SettingsStore::open(&d.path().join("settings")).unwrap();
        (d, s)
    }

    #[test]
    fn a_fresh_box_has_the_defaults_and_saves_number_generations() {
        let (_d, st) = store();
        let c = st.current().unwrap();
        assert_eq!((c.seq(), &c.settings), (0, &Settings::default()));
        let mut s = c.settings;
        s.hostname = "spare-7".into();
        assert_eq!(st.save(&s, 0, "console", "hostname").unwrap(), 1);
        let c = st.current().unwrap();
        assert_eq!((c.seq(), c.settings.hostname.as_str()), (1, "spare-7"));
        let mode = std::fs::metadata(st.dir().join("settings.1.toml")).unwrap();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);
    }

    #[test]
    fn invalid_settings_and_stale_edits_change_nothing() {
        let (_d, st) = store();
        let mut s = Settings { hostname: "ok".into(), ..Settings::default() };
        st.save(&s, 0, "api", "first").unwrap();
        s.monitoring.failures = 0;
        assert!(
            matches!(st.save(&s, 1, "console", "x"), Err(SaveError::Invalid(e)) if e[0].field == "monitoring.failures")
        );
        s.monitoring.failures = 3;
        s.hostname = "second".into();
        st.save(&s, 1, "panel", "second").unwrap();
        // the console still edits generation 1
        let e = st.save(&s, 1, "console", "late").unwrap_err();
        assert!(e.to_string().contains("now 2 by panel"), "{e}");
        assert_eq!(st.current().unwrap().seq(), 2);
    }

    #[test]
    fn a_damaged_newest_generation_falls_back_to_the_one_before() {
        let (_d, st) = store();
        let mut s = Settings::default();
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            s.hostname = (*name).into();
            st.save(&s, i as u64, "cli", name).unwrap();
        }
        std::fs::write(st.dir().join("settings.3.toml"), "meta = { seq = 3").unwrap();
        let c = st.current().unwrap();
        assert_eq!((c.seq(), c.settings.hostname.as_str()), (2, "b"));
        assert_eq!(c.skipped.len(), 1);
        // the next save does not reuse number 3
        assert_eq!(st.save(&c.settings, 2, "cli", "again").unwrap(), 4);
    }

    #[test]
    fn a_refused_generation_says_where_and_why() {
        // found by the fuzz target `settings`: a comment with a control character
        let why = parse("#\u{2}", 1).unwrap_err();
        assert!(why.starts_with("line 1, column 2: ") && why.len() > "line 1, column 2: ".len(), "{why}");
        let why = parse("[meta]\nseq = 1\nsaved_us = 0\nchannel = \"cli\"\nsummary = \"\"\n", 1).unwrap_err();
        assert!(why.contains("settings"), "{why}");
    }

    #[test]
    fn history_is_bounded_restorable_and_wiped_by_factory_reset() {
        let (_d, st) = store();
        let mut s = Settings::default();
        s.set_account("admin", hotspare_http::Role::Admin, "a long password");
        for i in 0..12u64 {
            s.hostname = format!("h{i}");
            st.save(&s, i, "cli", &format!("h{i}")).unwrap();
        }
        let h = st.history().unwrap();
        assert_eq!(h.len(), KEEP);
        assert_eq!(h[0].seq, 12);
        let seq = st.restore(10, "console").unwrap();
        let c = st.current().unwrap();
        assert_eq!((seq, c.settings.hostname.as_str()), (13, "h9"));
        assert!(c.meta.unwrap().summary.starts_with("restored generation 10"));
        assert!(matches!(st.restore(1, "console"), Err(SaveError::NoSuchGeneration(1))));
        let seq = st.factory_reset("panel").unwrap();
        let h = st.history().unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].seq, seq);
        assert!(st.current().unwrap().settings.needs_first_boot());
    }
}
