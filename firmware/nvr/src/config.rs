//! `nvr.toml`: the recording server's configuration, parsed with serde
//! (`deny_unknown_fields`) and validated. Every error names the file, the
//! line and column, the key and what was expected
//! ([`hotspare_base::config_error`], shared with `failover.toml`).

use hotspare_api::{
    CameraPolicy, CameraSettings, EmailSettings, EventRule, RecordingSettings, ServerSettings, TakeoverConfig,
};
use hotspare_base::config_error::ConfigText;
use hotspare_http::{Account, AccountConfig, Role};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A configuration that cannot be used: the shared shape (file, line, column, key, what was
/// expected).
pub use hotspare_base::config_error::ConfigError;

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_true() -> bool {
    true
}
fn default_segment_seconds() -> u32 {
    60
}
fn default_high_water() -> u8 {
    90
}
fn default_mdstat() -> PathBuf {
    PathBuf::from("/proc/mdstat")
}

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NvrConfig {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    #[serde(default, rename = "camera")]
    pub cameras: Vec<ConfiguredCamera>,
    #[serde(default, rename = "event")]
    pub events: Vec<EventConfig>,
    pub email: Option<EmailSettings>,
    pub failover: Option<FailoverConfig>,
    // --- TLS and pairing (issue 6, "Secrets") ---
    #[serde(default)]
    pub tls: TlsConfig,
}

/// `[server]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub name: String,
    pub serial: String,
    #[serde(default = "default_listen")]
    pub listen: String,
    pub admin_user: String,
    /// Clear text here only; the API exposes a PBKDF2 hash.
    pub admin_password: String,
    #[serde(default = "default_true")]
    pub upnp: bool,
    /// `[[server.accounts]]`: further accounts (`user`, `role` = `admin` or `viewer`, and
    /// `password` or `password_hash`), besides the admin above.
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// The supervisor's `health.json`, served as `GET /api/v1/health`.
    #[serde(default = "default_health_file")]
    pub health_file: PathBuf,
}

fn default_health_file() -> PathBuf {
    PathBuf::from(hotspare_http::health::DEFAULT_FILE)
}

/// `[storage]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub dir: PathBuf,
    #[serde(default = "default_segment_seconds")]
    pub segment_seconds: u32,
    #[serde(default = "default_high_water")]
    pub high_water_percent: u8,
    pub retention_days: Option<u32>,
    /// e.g. `md0`: RAID health is read from `mdstat`.
    pub raid_device: Option<String>,
    #[serde(default = "default_mdstat")]
    pub mdstat: PathBuf,
}

/// `[[camera]]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredCamera {
    pub id: String,
    pub name: String,
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// `[camera.policy]`: how this camera's quirks are tolerated
    /// (docs/ref/camera-policy.md); every option defaults.
    #[serde(default)]
    pub policy: CameraPolicy,
}

/// `[[event]] on = "takeover", action = { type = "email" }`. (Read through these types because
/// the TOML deserializer does not handle serde's internally tagged [`hotspare_api::Action`].)
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventConfig {
    pub on: hotspare_api::EventKind,
    pub action: ActionConfig,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    #[serde(rename = "type")]
    pub kind: ActionKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Email,
    Log,
}

impl EventConfig {
    pub fn rule(&self) -> EventRule {
        let action = match self.action.kind {
            ActionKind::Email => hotspare_api::Action::Email,
            ActionKind::Log => hotspare_api::Action::Log,
        };
        EventRule { on: self.on, action }
    }
}

/// `[failover]`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverConfig {
    /// Spares that may hold failover video of this NVR (`https://host:port`; `http://` only
    /// with `[tls] insecure = true`).
    #[serde(default)]
    pub spares: Vec<String>,
    /// Certificate fingerprints of those spares (`sha256:…`, as `hotspare failover --config F
    /// --fingerprint` shows them): the NVR talks only to a spare presenting one of them.
    #[serde(default)]
    pub fingerprints: Vec<String>,
    /// Credentials this NVR presents to its spares (an account of theirs); default: the admin's
    /// (each spare accepts the admin of every NVR it protects).
    pub user: Option<String>,
    pub password: Option<String>,
}

/// `[tls]`: the API's TLS (optional table).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Where the NVR's certificate and key live (default: `<config file stem>-tls` next to
    /// the config file).
    pub dir: Option<PathBuf>,
    /// Plain HTTP instead of TLS, for development and tests only.
    #[serde(default)]
    pub insecure: bool,
}

impl NvrConfig {
    /// Reads, parses and validates `file`.
    pub fn load(file: &Path) -> Result<NvrConfig, ConfigError> {
        let text = hotspare_base::config_error::read(file)?;
        Self::parse(file, &text)
    }

    /// Parses and validates `text` (read from `file`, named in errors).
    pub fn parse(file: &Path, text: &str) -> Result<NvrConfig, ConfigError> {
        let src = ConfigText::new(file, text);
        let cfg: NvrConfig = src.deserialize()?;
        cfg.validate(&src)?;
        Ok(cfg)
    }

    /// The checks serde cannot make; each error points at the key's place in `src`.
    fn validate(&self, src: &ConfigText<'_>) -> Result<(), ConfigError> {
        let bad = |key: &str, problem: String| Err(src.error_for_key(key, problem));
        let s = &self.server;
        if s.name.trim().is_empty() {
            return bad("server.name", "expected a name (not empty)".into());
        }
        if s.serial.is_empty() || !s.serial.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return bad("server.serial", format!("{:?}: expected 1 or more characters of [A-Za-z0-9_-]", s.serial));
        }
        if s.listen.parse::<SocketAddr>().is_err() {
            return bad(
                "server.listen",
                format!("{:?}: expected an IP address and port such as 127.0.0.1:8080", s.listen),
            );
        }
        if s.admin_user.is_empty() || s.admin_user.contains(':') {
            return bad("server.admin_user", "expected a user name (not empty, no ':')".into());
        }
        if s.admin_password.is_empty() {
            return bad("server.admin_password", "expected a password (not empty)".into());
        }
        let mut users = std::collections::HashSet::from([s.admin_user.as_str()]);
        for (i, a) in s.accounts.iter().enumerate() {
            if let Err((key, problem)) = a.check() {
                return bad(&format!("server.accounts[{i}].{key}"), problem);
            }
            if !users.insert(a.user.as_str()) {
                return bad(
                    &format!("server.accounts[{i}].user"),
                    format!("{:?} is used by another account: expected a unique user", a.user),
                );
            }
        }
        let st = &self.storage;
        if st.dir.as_os_str().is_empty() {
            return bad("storage.dir", "expected a directory (not empty)".into());
        }
        if !(1..=3600).contains(&st.segment_seconds) {
            return bad("storage.segment_seconds", format!("{}: expected 1..=3600", st.segment_seconds));
        }
        if !(1..=99).contains(&st.high_water_percent) {
            return bad("storage.high_water_percent", format!("{}: expected 1..=99", st.high_water_percent));
        }
        if let Some(d) = st.retention_days {
            if !(1..=36500).contains(&d) {
                return bad("storage.retention_days", format!("{d}: expected 1..=36500"));
            }
        }
        if let Some(dev) = &st.raid_device {
            if dev.is_empty() || !dev.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                return bad("storage.raid_device", format!("{dev:?}: expected a device name such as md0"));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (i, c) in self.cameras.iter().enumerate() {
            let key = |k: &str| format!("camera[{i}].{k}");
            if !hotspare_store::segment::valid_camera_id(&c.id) {
                return bad(&key("id"), format!("{:?}: expected 1 to 64 characters of [A-Za-z0-9_-]", c.id));
            }
            if !ids.insert(c.id.as_str()) {
                return bad(&key("id"), format!("{:?} is used by another camera: expected a unique id", c.id));
            }
            if let Err(e) = hotspare_rtsp::client::split_url(&c.url) {
                return bad(&key("url"), format!("{:?}: {e}", c.url));
            }
            if c.user.is_some() != c.password.is_some() {
                return bad(&key("user"), "expected both user and password, or neither".into());
            }
        }
        if let Some(e) = &self.email {
            if e.smtp_host.is_empty() || e.smtp_port == 0 {
                return bad("email.smtp_host", "expected a host and a non-zero smtp_port".into());
            }
            if e.to.is_empty() {
                return bad("email.to", "expected at least one recipient".into());
            }
        }
        if let Some(i) = self.events.iter().position(|r| r.action.kind == ActionKind::Email) {
            if self.email.is_none() {
                return bad(
                    &format!("event[{i}].action.type"),
                    "expected an [email] section for an email action".into(),
                );
            }
        }
        let insecure = self.tls.insecure;
        if let Some(f) = &self.failover {
            if f.user.is_some() != f.password.is_some() {
                return bad("failover.user", "expected both user and password, or neither".into());
            }
        }
        for (i, u) in self.spares().iter().enumerate() {
            let ok = u.starts_with("https://") || (insecure && u.starts_with("http://"));
            if !ok {
                let expected =
                    if insecure { "https://host:port or http://host:port" } else { "https://host:port (TLS)" };
                return bad(&format!("failover.spares[{i}]"), format!("{u:?}: expected {expected}"));
            }
        }
        if let Some(f) = &self.failover {
            for (i, text) in f.fingerprints.iter().enumerate() {
                if let Err(e) = text.parse::<hotspare_tls::Fingerprint>() {
                    return bad(&format!("failover.fingerprints[{i}]"), e.to_string());
                }
            }
        }
        Ok(())
    }

    /// Listen address (validated).
    pub fn listen(&self) -> SocketAddr {
        self.server.listen.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    /// Every account: the admin (`admin_password_hash` of `server.admin_password`), then
    /// `server.accounts` (clear passwords hashed here: call once at startup).
    pub fn accounts(&self, admin_password_hash: &str) -> Vec<Account> {
        let admin = Account {
            user: self.server.admin_user.clone(),
            role: Role::Admin,
            password_hash: admin_password_hash.to_owned(),
        };
        std::iter::once(admin).chain(self.server.accounts.iter().map(AccountConfig::to_account)).collect()
    }

    /// `(user, password)` this NVR presents to its spares.
    pub fn spare_credentials(&self) -> (&str, &str) {
        match self.failover.as_ref().and_then(|f| f.user.as_deref().zip(f.password.as_deref())) {
            Some(c) => c,
            None => (&self.server.admin_user, &self.server.admin_password),
        }
    }

    pub fn spares(&self) -> &[String] {
        self.failover.as_ref().map_or(&[], |f| &f.spares)
    }

    /// The spares' pinned certificate fingerprints (validated).
    pub fn spare_fingerprints(&self) -> Vec<hotspare_tls::Fingerprint> {
        self.failover.as_ref().map_or(Vec::new(), |f| f.fingerprints.iter().filter_map(|t| t.parse().ok()).collect())
    }

    /// The directory of the NVR's TLS identity; `file` is the config file it was read from.
    pub fn tls_dir(&self, file: &Path) -> PathBuf {
        if let Some(d) = &self.tls.dir {
            return d.clone();
        }
        let stem = file.file_stem().map_or_else(|| "nvr".into(), |s| s.to_string_lossy().into_owned());
        file.parent().unwrap_or(Path::new(".")).join(format!("{stem}-tls"))
    }

    /// Store settings of the recorder process.
    pub fn store_config(&self) -> hotspare_store::StoreConfig {
        let st = &self.storage;
        hotspare_store::StoreConfig {
            segment_duration: std::time::Duration::from_secs(u64::from(st.segment_seconds)),
            high_water_percent: st.high_water_percent,
            max_age: st.retention_days.map(|d| std::time::Duration::from_secs(u64::from(d) * 86_400)),
            ..Default::default()
        }
    }

    /// What `GET /api/v1/config` returns, with `admin_password_hash` as the only form of the
    /// admin password.
    pub fn takeover(&self, admin_password_hash: String) -> TakeoverConfig {
        TakeoverConfig {
            cameras: self
                .cameras
                .iter()
                .map(|c| CameraSettings {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    url: c.url.clone(),
                    user: c.user.clone(),
                    password: c.password.clone(),
                    policy: c.policy,
                })
                .collect(),
            recording: RecordingSettings {
                mode: "continuous".into(),
                segment_seconds: self.storage.segment_seconds,
                retention_days: self.storage.retention_days,
                high_water_percent: self.storage.high_water_percent,
                stream: "main".into(),
            },
            events: self.events.iter().map(EventConfig::rule).collect(),
            email: self.email.clone(),
            server: ServerSettings {
                name: self.server.name.clone(),
                upnp: self.server.upnp,
                admin_user: self.server.admin_user.clone(),
                admin_password_hash,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[server]
name = "NVR 1"
serial = "NVR-0001"
admin_user = "admin"
admin_password = "s3cret"

[storage]
dir = "/tmp/x"

[[camera]]
id = "cam1"
name = "Gate"
url = "rtsp://127.0.0.1:8554/cam0"

[[event]]
on = "takeover"
action = { type = "email" }

[email]
smtp_host = "mail"
smtp_port = 25
from = "nvr@example.com"
to = ["ops@example.com"]
"#;

    fn err(text: &str) -> String {
        NvrConfig::parse(Path::new("nvr.toml"), text).unwrap_err().to_string()
    }

    #[test]
    fn good_config_and_defaults() {
        let c = NvrConfig::parse(Path::new("nvr.toml"), GOOD).unwrap();
        assert_eq!(c.listen().port(), 8080);
        assert_eq!((c.storage.segment_seconds, c.storage.high_water_percent), (60, 90));
        assert!(c.server.upnp);
        let t = c.takeover("h".into());
        assert_eq!(t.cameras[0].url, "rtsp://127.0.0.1:8554/cam0");
        assert_eq!(t.events.len(), 1);
    }

    #[test]
    fn errors_name_file_and_key() {
        let e = err(&GOOD.replace("[storage]", "[storage]\ncolour = 1"));
        assert!(e.contains("nvr.toml") && e.contains("colour"), "{e}");
        let e = err(&GOOD.replace("url = \"rtsp://127.0.0.1:8554/cam0\"", ""));
        assert!(e.contains("url"), "{e}");
        let e = err(&GOOD.replace("admin_user", "listen = \"nowhere\"\nadmin_user"));
        assert!(e.contains("server.listen"), "{e}");
        let e = err(&GOOD.replace("dir = \"/tmp/x\"", "dir = \"/tmp/x\"\nsegment_seconds = 0"));
        assert!(e.contains("storage.segment_seconds"), "{e}");
        let e = err(&GOOD.replace("id = \"cam1\"", "id = \"../x\""));
        assert!(e.contains("camera[0].id"), "{e}");
    }

    /// The shared shape of configuration errors: file, line, column, key, what was expected.
    #[test]
    fn errors_name_file_line_column_key_and_expectation() {
        let text = GOOD.replace("dir = \"/tmp/x\"", "dir = \"/tmp/x\"\nsegment_seconds = 0");
        let line = text.lines().position(|l| l.starts_with("segment_seconds")).unwrap() + 1;
        match NvrConfig::parse(Path::new("/etc/hotspare/nvr.toml"), &text).unwrap_err() {
            ConfigError::Invalid { file, line: l, column, key, problem } => {
                assert_eq!(file, Path::new("/etc/hotspare/nvr.toml"));
                assert_eq!((l, column), (line, 19), "at the value");
                assert_eq!(key, "storage.segment_seconds");
                assert!(problem.contains("expected 1..=3600"), "{problem}");
            }
            e => panic!("{e:?}"),
        }
        let e = err(&GOOD.replace("id = \"cam1\"", "id = \"../x\""));
        let line = GOOD.lines().position(|l| l.starts_with("id = ")).unwrap() + 1;
        assert!(e.starts_with(&format!("nvr.toml:{line}:6: camera[0].id: \"../x\": expected ")), "{e}");
        // A syntax or type error (serde) has the same shape.
        let e = err(&GOOD.replace("smtp_port = 25", "smtp_port = \"25\""));
        let line = GOOD.lines().position(|l| l.starts_with("smtp_port")).unwrap() + 1;
        assert!(e.starts_with(&format!("nvr.toml:{line}:13: email.smtp_port: ")), "{e}");
        // A missing key points at its table.
        let e = err(&GOOD.replace("url = \"rtsp://127.0.0.1:8554/cam0\"", ""));
        let line = GOOD.lines().position(|l| l == "[[camera]]").unwrap() + 1;
        assert!(e.starts_with(&format!("nvr.toml:{line}:")) && e.contains("url"), "{e}");
    }

    /// `[camera.policy]` reaches the takeover settings a spare records by;
    /// a bad value is named with its key.
    #[test]
    fn camera_policy_table() {
        use hotspare_camera_policy::{ContentBase, Transport, UnassignedChannel};
        let c = NvrConfig::parse(Path::new("nvr.toml"), GOOD).unwrap();
        assert_eq!(c.cameras[0].policy, CameraPolicy::default());
        let with = GOOD.replace(
            "url = \"rtsp://127.0.0.1:8554/cam0\"\n",
            "url = \"rtsp://127.0.0.1:8554/cam0\"\n[camera.policy]\ntransport = \"udp-then-tcp\"\n\
             content_base = \"strict\"\nunassigned_channel = \"error\"\n",
        );
        let c = NvrConfig::parse(Path::new("nvr.toml"), &with).unwrap();
        let p = c.takeover("h".into()).cameras[0].policy;
        assert_eq!(p.transport, Transport::UdpThenTcp);
        assert_eq!(p.content_base, ContentBase::Strict);
        assert_eq!(p.unassigned_channel, UnassignedChannel::Error);
        let e = err(&with.replace("\"udp-then-tcp\"", "\"pigeon\""));
        let line = with.lines().position(|l| l.starts_with("transport =")).unwrap() + 1;
        assert!(e.starts_with(&format!("nvr.toml:{line}:")) && e.contains("camera.policy.transport"), "{e}");
        assert!(e.contains("pigeon"), "{e}");
        let e = err(&with.replace("content_base", "contentbase"));
        assert!(e.contains("contentbase"), "{e}");
    }

    #[test]
    fn spares_are_tls_and_pinned_unless_insecure() {
        let fp = format!("sha256:{}", "ab".repeat(32));
        let pinned = format!("[failover]\nspares = [\"https://10.0.0.2:8090\"]\nfingerprints = [\"{fp}\"]\n");
        let c = NvrConfig::parse(Path::new("/etc/hotspare/nvr.toml"), &format!("{GOOD}{pinned}")).unwrap();
        assert_eq!(c.spare_fingerprints().len(), 1);
        assert!(!c.tls.insecure);
        assert_eq!(c.tls_dir(Path::new("/etc/hotspare/nvr.toml")), Path::new("/etc/hotspare/nvr-tls"));
        let e = err(&format!("{GOOD}[failover]\nspares = [\"http://10.0.0.2:8090\"]\n"));
        assert!(e.contains("failover.spares[0]") && e.contains("https://"), "{e}");
        let e = err(&format!("{GOOD}[failover]\nfingerprints = [\"sha256:12\"]\n"));
        assert!(e.contains("failover.fingerprints[0]") && e.contains("64 hex digits"), "{e}");
        let dev =
            format!("{GOOD}[failover]\nspares = [\"http://10.0.0.2:8090\"]\n[tls]\ninsecure = true\ndir = \"/x\"\n");
        let c = NvrConfig::parse(Path::new("nvr.toml"), &dev).unwrap();
        assert!(c.tls.insecure);
        assert_eq!(c.tls_dir(Path::new("nvr.toml")), Path::new("/x"));
    }

    #[test]
    fn accounts() {
        let viewer = "upnp = false\n[[server.accounts]]\nuser = \"guard\"\nrole = \"viewer\"\npassword = \"v\"\n";
        let c = NvrConfig::parse(Path::new("nvr.toml"), &GOOD.replace("[storage]", &format!("{viewer}\n[storage]")))
            .unwrap();
        let accounts = c.accounts("h");
        assert_eq!(accounts.len(), 2);
        assert_eq!((accounts[0].user.as_str(), accounts[0].role), ("admin", Role::Admin));
        assert_eq!((accounts[1].user.as_str(), accounts[1].role), ("guard", Role::Viewer));
        assert!(hotspare_http::password::verify_password("v", &accounts[1].password_hash));
        let e = err(&GOOD.replace("[storage]", &format!("{}\n[storage]", viewer.replace("guard", "admin"))));
        assert!(e.contains("server.accounts[0].user"), "{e}");
        let e = err(&GOOD.replace("[storage]", &format!("{}\n[storage]", viewer.replace("viewer", "root"))));
        assert!(e.contains("role"), "{e}");
        let e = err(&GOOD.replace("[storage]", &format!("{}\n[storage]", viewer.replace("password = \"v\"", ""))));
        assert!(e.contains("server.accounts[0].password"), "{e}");
    }
}
