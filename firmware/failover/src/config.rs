//! The spare's configuration file, `failover.toml`: parsing, validation and
//! the resolved monitoring timing. Every table denies unknown keys; every
//! error names the file, the line and column, the key and the problem.
//!
//! ```toml
//! [spare]
//! name = "spare-1"                       # shown to people (emails, UI)
//! serial = "HS-0001"                     # [A-Za-z0-9._-]{1,64}; SSDP uuids (not the licence binding)
//! listen = "127.0.0.1:8090"              # the spare's HTTP API
//! store = "/var/lib/hotspare/failover"   # where failover video is recorded
//! state = "/var/lib/hotspare/state"      # snapshots + state (postcard)
//! licence = "/etc/hotspare/licence.toml" # optional; without it: 4 NVRs, 16 channels
//!
//! [monitor]                              # optional table; these are the defaults
//! profile = "default"                    # or "fast" (tests, demanding sites)
//! check_interval_s = 30                  # 30..=180; NVR status check
//! failures_to_takeover = 3               # 1..=10; unanswered checks in a row before takeover
//! recording_check_interval_s = 60        # 10..=600; NVR disk/recording check
//! failback_check_interval_s = 60         # 10..=600; is the failed NVR back?
//!
//! [[nvr]]                                # one table per protected NVR
//! id = "nvr1"                            # [A-Za-z0-9_-]{1,32}, unique
//! url = "https://192.168.1.10:8081"      # https:// (http:// only with [tls] insecure), the NVR's API
//! admin_user = "admin"
//! admin_password = "secret"
//! priority = 1                           # optional (default 100); lower = covered first when channels run out
//! fingerprint = "sha256:…"               # the NVR's certificate (hotspare nvr --config F --fingerprint);
//!                                        # without it the spare refuses the NVR and logs what it presented
//!
//! [tls]                                  # optional table
//! insecure = false                       # true: plain HTTP API and NVR URLs (development/tests only)
//!
//! [[account]]                            # optional, any number: who may use the spare's API
//! user = "guard"                         # besides the admin of each [[nvr]] (role admin)
//! role = "viewer"                        # viewer (status, held video) or admin
//! password = "secret"                    # or password_hash = "pbkdf2-sha256$…"
//!
//! [email]                                # optional: the spare's own notifications
//! smtp_host = "mail.example.com"         # (same keys as hotspare_api::EmailSettings)
//! smtp_port = 25
//! from = "spare-1@example.com"
//! to = ["security@example.com"]
//! user = "spare"                         # optional
//! password = "secret"                    # optional
//! ```
//!
//! The spare's own certificate and key live in `<state>/tls/` (made on first
//! start; `hotspare failover --config F --fingerprint` shows the fingerprint
//! to write into each NVR's `[failover] fingerprints`).
//!
//! Licences are bound to the box's own identity
//! ([`crate::licence::box_identity`]), never to a value of this file. Only
//! development builds (feature `dev-keys`, for tests) accept
//! `spare.box_id = "..."` to stand in for it; production firmware refuses
//! the key with an error naming it.
//!
//! With `hotspare failover --settings DIR` the file holds only the box's fixed
//! parts (`[spare]` serial/listen/store/state/health_file, `[tls]`) and
//! [`Config::parse_box`] refuses the site's (`spare.name`, `spare.licence`,
//! `[monitor]`, `[[nvr]]`, `[[account]]`, `[email]`), naming the key: those
//! come from the settings ([`crate::site_settings`]), one source of truth.
//!
//! Profile `fast` fixes the intervals to 1 s (status), 1 s (recording) and
//! 2 s (failback); interval keys given with it are ignored with a warning.
//! `failures_to_takeover` applies to both profiles. The number of `[[nvr]]`
//! tables is checked against the licence with [`Config::check_capacity`].

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hotspare_api::EmailSettings;
use hotspare_base::config_error::ConfigText;
use hotspare_http::{Account, AccountConfig, Role};
use serde::Deserialize;
use toml::Spanned;

use crate::licence::{Capacity, Licence, LicenceError};

/// Allowed `check_interval_s` in the default profile (vendor behaviour).
pub const CHECK_INTERVAL_RANGE: RangeInclusive<u32> = 30..=180;
/// Allowed `failures_to_takeover`.
pub const FAILURES_RANGE: RangeInclusive<u32> = 1..=10;
/// Allowed `recording_check_interval_s` and `failback_check_interval_s`.
pub const SLOW_CHECK_RANGE: RangeInclusive<u32> = 10..=600;
/// Default `priority` of an NVR.
pub const DEFAULT_PRIORITY: u32 = 100;

/// A configuration problem: the shared shape (file, line, column, key, what was expected).
pub use hotspare_base::config_error::ConfigError;

/// More `[[nvr]]` tables than the licence allows ([`Config::check_capacity`]).
#[derive(Debug, thiserror::Error)]
#[error("{}: {configured} NVRs configured but the licence allows {allowed} ({capacity})", path.display())]
pub struct TooManyNvrs {
    pub path: PathBuf,
    pub configured: usize,
    pub allowed: u8,
    pub capacity: Capacity,
}

/// Monitoring profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// The vendor behaviour: 30–180 s checks, every minute for disks/failback.
    Default,
    /// 1 s checks (tests, demanding sites).
    Fast,
}

/// The whole validated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from (for messages).
    pub path: PathBuf,
    pub spare: Spare,
    pub monitor: MonitorSettings,
    /// In file order.
    pub nvrs: Vec<NvrEntry>,
    pub email: Option<EmailSettings>,
    // --- TLS and pairing (issue 6, "Secrets") ---
    pub tls: Tls,
    /// `[[account]]` tables, checked.
    pub accounts: Vec<AccountConfig>,
}

/// `[tls]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    /// Plain HTTP for the spare's API and to the NVRs (development/tests only).
    pub insecure: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spare {
    pub name: String,
    pub serial: String,
    pub listen: SocketAddr,
    pub store: PathBuf,
    pub state: PathBuf,
    pub licence: Option<PathBuf>,
    /// The licence's text from the settings (`--settings`; instead of `licence`).
    pub licence_text: Option<String>,
    /// `spare.box_id`: development builds only (always `None` in production).
    pub box_id: Option<String>,
    /// `spare.health_file`: the supervisor's `health.json`, served as `GET /api/v1/health`.
    pub health_file: PathBuf,
}

/// The `[monitor]` values as written (defaults filled in); see
/// [`Config::timing`] for what is actually used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorSettings {
    pub profile: Profile,
    pub check_interval_s: u32,
    pub failures_to_takeover: u32,
    pub recording_check_interval_s: u32,
    pub failback_check_interval_s: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvrEntry {
    pub id: String,
    /// Base URL of the NVR's API, without a trailing `/`.
    pub url: String,
    pub admin_user: String,
    pub admin_password: String,
    /// Lower is covered first when channels run out.
    pub priority: u32,
    /// The NVR's pinned certificate fingerprint; `None`: every connection is refused
    /// (the error names the fingerprint the NVR presented).
    pub fingerprint: Option<hotspare_tls::Fingerprint>,
}

/// The monitoring timing in effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonitorTiming {
    pub check_interval: Duration,
    pub failures_to_takeover: u32,
    pub recording_check_interval: Duration,
    pub failback_check_interval: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    spare: RawSpare,
    #[serde(default)]
    monitor: Option<RawMonitor>,
    #[serde(default)]
    nvr: Vec<RawNvr>,
    #[serde(default)]
    email: Option<Spanned<EmailSettings>>,
    // --- TLS and pairing ---
    #[serde(default)]
    tls: Option<RawTls>,
    #[serde(default)]
    account: Vec<Spanned<AccountConfig>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default)]
    insecure: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpare {
    /// Required without `--settings`, refused with it.
    name: Option<Spanned<String>>,
    serial: Spanned<String>,
    listen: SocketAddr,
    store: PathBuf,
    state: PathBuf,
    licence: Option<PathBuf>,
    box_id: Option<Spanned<String>>,
    health_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMonitor {
    profile: Option<Spanned<String>>,
    check_interval_s: Option<Spanned<u32>>,
    failures_to_takeover: Option<Spanned<u32>>,
    recording_check_interval_s: Option<Spanned<u32>>,
    failback_check_interval_s: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNvr {
    id: Spanned<String>,
    url: Spanned<String>,
    admin_user: String,
    admin_password: String,
    priority: Option<u32>,
    // --- TLS and pairing ---
    fingerprint: Option<Spanned<String>>,
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = hotspare_base::config_error::read(path)?;
        Config::parse(&text, path)
    }

    /// Parses and validates `text`; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::parse_as(text, path, false)
    }

    /// Reads `path` as the box's fixed parts only (`--settings`): see [`Config::parse_box`].
    pub fn load_box(path: &Path) -> Result<Config, ConfigError> {
        let text = hotspare_base::config_error::read(path)?;
        Config::parse_box(&text, path)
    }

    /// Parses `text` as the box's fixed parts only: the site's keys are an error naming the
    /// key (they come from the settings); the result has no NVRs, accounts or email, the
    /// default monitoring and an empty name, for [`crate::site_settings::apply`].
    pub fn parse_box(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::parse_as(text, path, true)
    }

    fn parse_as(text: &str, path: &Path, box_only: bool) -> Result<Config, ConfigError> {
        let src = ConfigText::new(path, text);
        let raw: RawConfig = src.deserialize()?;
        if box_only {
            let site = [
                ("spare.name", raw.spare.name.is_some()),
                ("spare.licence", raw.spare.licence.is_some()),
                ("monitor", raw.monitor.is_some()),
                ("nvr", !raw.nvr.is_empty()),
                ("account", !raw.account.is_empty()),
                ("email", raw.email.is_some()),
            ];
            if let Some((key, _)) = site.iter().find(|(_, given)| *given) {
                return Err(src.error_for_key(
                    key,
                    "comes from the settings with --settings (one source of truth): remove it from this \
                     file and set it with the console, the panel, the API or `hotspare settings`"
                        .to_owned(),
                ));
            }
        }

        let s = raw.spare;
        let name = match &s.name {
            Some(n) => check_name(&src, n, "spare.name")?,
            None if box_only => String::new(),
            None => return Err(src.error_for_key("spare", "missing field `name`".to_owned())),
        };
        let serial = check_token(&src, &s.serial, "spare.serial", 64, true)?;
        let box_id = match &s.box_id {
            Some(b) if cfg!(feature = "dev-keys") => Some(check_token(&src, b, "spare.box_id", 128, true)?),
            Some(b) => {
                return Err(src.error_at(
                    b.span().start,
                    "spare.box_id",
                    "not accepted by production firmware: licences are bound to the box's own identity \
                     (shown by `hotspare licence box-id`); remove this line"
                        .to_owned(),
                ))
            }
            None => None,
        };
        let spare = Spare {
            name,
            serial,
            listen: s.listen,
            store: s.store,
            state: s.state,
            licence: s.licence,
            licence_text: None,
            box_id,
            health_file: s.health_file.unwrap_or_else(|| hotspare_http::health::DEFAULT_FILE.into()),
        };

        let monitor = check_monitor(&src, raw.monitor)?;
        let tls = Tls { insecure: raw.tls.as_ref().is_some_and(|t| t.insecure) };

        let mut nvrs = Vec::with_capacity(raw.nvr.len());
        let mut ids = HashSet::new();
        for (i, n) in raw.nvr.into_iter().enumerate() {
            let id = check_token(&src, &n.id, &format!("nvr[{i}].id"), 32, false)?;
            if !ids.insert(id.clone()) {
                return Err(src.error_at(
                    n.id.span().start,
                    &format!("nvr[{i}].id"),
                    format!("duplicate NVR id {id:?}"),
                ));
            }
            let url = check_url(&src, &n.url, &format!("nvr[{i}].url"), tls.insecure)?;
            let fingerprint = match &n.fingerprint {
                Some(f) => Some(f.get_ref().parse().map_err(|e: hotspare_tls::fingerprint::BadFingerprint| {
                    src.error_at(f.span().start, &format!("nvr[{i}].fingerprint"), e.to_string())
                })?),
                None => None,
            };
            nvrs.push(NvrEntry {
                id,
                url,
                admin_user: n.admin_user,
                admin_password: n.admin_password,
                priority: n.priority.unwrap_or(DEFAULT_PRIORITY),
                fingerprint,
            });
        }

        let email = match raw.email {
            Some(e) => {
                let at = e.span().start;
                let e = e.into_inner();
                if let Err((key, problem)) = crate::email::check_settings(&e) {
                    return Err(src.error_at(at, &format!("email.{key}"), problem));
                }
                Some(e)
            }
            None => None,
        };

        let mut accounts = Vec::with_capacity(raw.account.len());
        let mut users = HashSet::new();
        for (i, a) in raw.account.into_iter().enumerate() {
            let at = a.span().start;
            let a = a.into_inner();
            if let Err((key, problem)) = a.check() {
                return Err(src.error_at(at, &format!("account[{i}].{key}"), problem));
            }
            if !users.insert(a.user.clone()) {
                return Err(src.error_at(at, &format!("account[{i}].user"), format!("duplicate user {:?}", a.user)));
            }
            accounts.push(a);
        }

        Ok(Config { path: path.to_owned(), spare, monitor, nvrs, email, tls, accounts })
    }

    /// The timing in effect (profile applied).
    pub fn timing(&self) -> MonitorTiming {
        self.monitor.timing()
    }

    /// Who may use the spare's API: each `[[nvr]]`'s admin (role admin: the spare's owner and
    /// the NVR itself, which reads the video the spare holds for it), then the `[[account]]`s.
    /// Clear passwords are hashed here: call once at startup.
    pub fn api_accounts(&self) -> Vec<Account> {
        let admins = self.nvrs.iter().map(|n| Account {
            user: n.admin_user.clone(),
            role: Role::Admin,
            password_hash: hotspare_http::password::hash_password(&n.admin_password),
        });
        admins.chain(self.accounts.iter().map(AccountConfig::to_account)).collect()
    }

    /// The id licences must be bound to: the box's identity
    /// ([`crate::licence::box_id`]); in development builds `spare.box_id`
    /// when set.
    pub fn box_id(&self) -> Result<String, LicenceError> {
        match &self.spare.box_id {
            Some(id) => Ok(id.clone()),
            None => crate::licence::box_id(),
        }
    }

    /// The capacity: the configured licence verified for [`Config::box_id`],
    /// or [`Capacity::unlicensed`] when no licence is configured. A
    /// configured licence that does not verify (or a box without an
    /// identity to check it against) is an error.
    pub fn capacity(&self) -> Result<Capacity, LicenceError> {
        if let Some(text) = &self.spare.licence_text {
            return Licence::parse(text, "the settings' licence")?.verify(&self.box_id()?);
        }
        match &self.spare.licence {
            Some(p) => {
                // The file first: a missing or bad licence is named as such.
                let text =
                    std::fs::read_to_string(p).map_err(|source| LicenceError::Read { path: p.clone(), source })?;
                Licence::parse(&text, &p.display().to_string())?.verify(&self.box_id()?)
            }
            None => Ok(Capacity::unlicensed()),
        }
    }

    /// More `[[nvr]]` tables than `capacity` allows is an error.
    pub fn check_capacity(&self, capacity: &Capacity) -> Result<(), TooManyNvrs> {
        if self.nvrs.len() > usize::from(capacity.nvrs) {
            return Err(TooManyNvrs {
                path: self.path.clone(),
                configured: self.nvrs.len(),
                allowed: capacity.nvrs,
                capacity: capacity.clone(),
            });
        }
        Ok(())
    }
}

impl MonitorSettings {
    /// The timing in effect (profile applied).
    pub fn timing(&self) -> MonitorTiming {
        match self.profile {
            Profile::Default => MonitorTiming {
                check_interval: Duration::from_secs(self.check_interval_s.into()),
                failures_to_takeover: self.failures_to_takeover,
                recording_check_interval: Duration::from_secs(self.recording_check_interval_s.into()),
                failback_check_interval: Duration::from_secs(self.failback_check_interval_s.into()),
            },
            Profile::Fast => MonitorTiming {
                check_interval: Duration::from_secs(1),
                failures_to_takeover: self.failures_to_takeover,
                recording_check_interval: Duration::from_secs(1),
                failback_check_interval: Duration::from_secs(2),
            },
        }
    }
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings {
            profile: Profile::Default,
            check_interval_s: 30,
            failures_to_takeover: 3,
            recording_check_interval_s: 60,
            failback_check_interval_s: 60,
        }
    }
}

fn check_monitor(src: &ConfigText<'_>, raw: Option<RawMonitor>) -> Result<MonitorSettings, ConfigError> {
    let mut m = MonitorSettings::default();
    let Some(raw) = raw else { return Ok(m) };
    if let Some(p) = &raw.profile {
        m.profile = match p.get_ref().as_str() {
            "default" => Profile::Default,
            "fast" => Profile::Fast,
            other => {
                return Err(src.error_at(
                    p.span().start,
                    "monitor.profile",
                    format!("unknown profile {other:?} (allowed: \"default\", \"fast\")"),
                ))
            }
        };
    }
    let ranged = |v: &Option<Spanned<u32>>, key: &str, range: RangeInclusive<u32>, default: u32| match v {
        None => Ok(default),
        Some(v) if range.contains(v.get_ref()) => Ok(*v.get_ref()),
        Some(v) => Err(src.error_at(
            v.span().start,
            key,
            format!("{} is out of range (allowed {}..={})", v.get_ref(), range.start(), range.end()),
        )),
    };
    m.failures_to_takeover =
        ranged(&raw.failures_to_takeover, "monitor.failures_to_takeover", FAILURES_RANGE, m.failures_to_takeover)?;
    let intervals = [
        (&raw.check_interval_s, "monitor.check_interval_s"),
        (&raw.recording_check_interval_s, "monitor.recording_check_interval_s"),
        (&raw.failback_check_interval_s, "monitor.failback_check_interval_s"),
    ];
    if m.profile == Profile::Fast {
        for (v, key) in intervals {
            if v.is_some() {
                log::warn!("{}: {key} is ignored with profile \"fast\"", src.file.display());
            }
        }
        return Ok(m);
    }
    m.check_interval_s =
        ranged(&raw.check_interval_s, "monitor.check_interval_s", CHECK_INTERVAL_RANGE, m.check_interval_s)?;
    m.recording_check_interval_s = ranged(
        &raw.recording_check_interval_s,
        "monitor.recording_check_interval_s",
        SLOW_CHECK_RANGE,
        m.recording_check_interval_s,
    )?;
    m.failback_check_interval_s = ranged(
        &raw.failback_check_interval_s,
        "monitor.failback_check_interval_s",
        SLOW_CHECK_RANGE,
        m.failback_check_interval_s,
    )?;
    Ok(m)
}

fn check_name(src: &ConfigText<'_>, v: &Spanned<String>, key: &str) -> Result<String, ConfigError> {
    let s = v.get_ref();
    if s.trim().is_empty() || s.chars().count() > 64 || s.chars().any(char::is_control) {
        return Err(src.error_at(v.span().start, key, format!("{s:?}: 1 to 64 characters, no control characters")));
    }
    Ok(s.clone())
}

/// `[A-Za-z0-9_-]` (plus `.` when `dot`), 1..=max characters.
fn check_token(
    src: &ConfigText<'_>,
    v: &Spanned<String>,
    key: &str,
    max: usize,
    dot: bool,
) -> Result<String, ConfigError> {
    let s = v.get_ref();
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (dot && c == '.');
    if s.is_empty() || s.len() > max || !s.chars().all(ok_char) {
        let allowed = if dot { "A-Z a-z 0-9 . _ -" } else { "A-Z a-z 0-9 _ -" };
        return Err(src.error_at(v.span().start, key, format!("{s:?}: 1 to {max} characters of {allowed}")));
    }
    Ok(s.clone())
}

fn check_url(src: &ConfigText<'_>, v: &Spanned<String>, key: &str, insecure: bool) -> Result<String, ConfigError> {
    let s = v.get_ref();
    nvr_url(s, insecure).map_err(|problem| src.error_at(v.span().start, key, format!("{s:?}: {problem}")))
}

/// An NVR's API URL checked (`https://host:port`; `http://` only when `insecure`) and
/// normalised (no trailing `/`), or the problem.
pub(crate) fn nvr_url(s: &str, insecure: bool) -> Result<String, String> {
    let bad = |problem: String| problem;
    let url = reqwest::Url::parse(s).map_err(|e| bad(format!("not a URL ({e})")))?;
    if insecure && url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad(format!("scheme {:?} (allowed: http, https)", url.scheme())));
    }
    if !insecure && url.scheme() != "https" {
        return Err(bad(format!(
            "scheme {:?}: the NVR's API is TLS, use https:// (plain http:// only with [tls] insecure = true)",
            url.scheme()
        )));
    }
    // Also as written: the URL parser repairs forms such as `http:/host` or `http:'/x` into
    // another URL than the installer meant.
    if !(s.starts_with("https://") || s.starts_with("http://")) {
        return Err(bad("expected https://host:port".to_owned()));
    }
    if url.host_str().unwrap_or_default().is_empty() {
        return Err(bad("no host".to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials belong in admin_user/admin_password, not in the URL".to_owned()));
    }
    if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
        return Err(bad("expected https://host:port, with no path, query or fragment".to_owned()));
    }
    // The URL as parsed (normalised), which is what was checked.
    Ok(url.as_str().trim_end_matches('/').to_owned())
}
