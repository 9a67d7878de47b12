//! The forms of the console: a list of questions, each answer applied to a draft of the
//! settings at once (a bad answer ends the form with the field's error and nothing saved),
//! the draft saved as one change at the end. An empty answer keeps the value shown in
//! brackets. Pure: no I/O.

use hotspare_api::EmailSettings;
use hotspare_http::Role;
use hotspare_settings::fields;
use hotspare_settings::model::{AddressMode, Nvr};
use hotspare_settings::validate::MIN_PASSWORD;
use hotspare_settings::{FieldError, Settings};

/// What one question sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// A field of [`fields::FIELDS`].
    Field(&'static str),
    /// A field of NVR `i` (`id`, `url`, `admin_user`, `admin_password`, `priority`).
    Nvr(usize, &'static str),
    /// The password of account `user` with `role` (asked twice: see [`Key::Again`]).
    Password { user: String, role: Role },
    /// The same password again (compared with the previous answer).
    Again,
    /// A new viewer account's user name.
    NewUser,
    /// The console password (empty: none).
    ConsolePassword,
    /// An e-mail field (`smtp_host`, `smtp_port`, `from`, `to`, `user`, `password`).
    Email(&'static str),
}

/// One question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub key: Key,
    pub label: String,
    pub hidden: bool,
}

impl Step {
    pub fn new(key: Key, label: &str) -> Step {
        let hidden = matches!(key, Key::Password { .. } | Key::Again | Key::ConsolePassword)
            || matches!(key, Key::Nvr(_, "admin_password") | Key::Email("password"));
        Step { key, label: label.into(), hidden }
    }

    /// Asked only when the network is static (after `network.mode` was answered).
    pub fn only_static(&self) -> bool {
        matches!(self.key, Key::Field("network.address" | "network.prefix" | "network.gateway"))
    }
}

/// What a form remembers between answers.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    /// The last password typed (for [`Key::Again`]).
    pub password: Option<String>,
    /// The user of a new account.
    pub user: Option<String>,
}

/// The field a question sets, as validation names it (`nvr[0].url`).
pub fn field_name(key: &Key) -> Option<String> {
    match key {
        Key::Field(name) => Some((*name).into()),
        Key::Nvr(i, f) => Some(format!("nvr[{i}].{f}")),
        Key::Email(f) => Some(format!("email.{f}")),
        _ => None,
    }
}

/// The problem validation finds with the field `key` sets (`network.dns[1]` counts for
/// `network.dns`), so that a bad answer is refused when typed, not at the end.
pub fn problem(s: &Settings, key: &Key) -> Option<FieldError> {
    let name = field_name(key)?;
    hotspare_settings::validate::validate(s)
        .into_iter()
        .find(|e| e.field == name || e.field.strip_prefix(name.as_str()).is_some_and(|r| r.starts_with('[')))
}

/// The value shown in brackets (secrets never shown).
pub fn current(s: &Settings, key: &Key) -> String {
    match key {
        Key::Field(name) => fields::get(s, name).unwrap_or_default(),
        Key::Nvr(i, f) => s.nvrs.get(*i).map_or(String::new(), |n| match *f {
            "id" => n.id.clone(),
            "url" => n.url.clone(),
            "admin_user" => n.admin_user.clone(),
            "priority" => n.priority.to_string(),
            _ if n.admin_password.is_empty() => String::new(),
            _ => "(set)".into(),
        }),
        Key::Email(f) => s.email.as_ref().map_or(String::new(), |e| match *f {
            "smtp_host" => e.smtp_host.clone(),
            "smtp_port" => e.smtp_port.to_string(),
            "from" => e.from.clone(),
            "to" => e.to.join(","),
            "user" => e.user.clone().unwrap_or_default(),
            _ => e.password.as_ref().map_or(String::new(), |_| "(set)".into()),
        }),
        _ => String::new(),
    }
}

/// Applies one answer to the draft. `Err`: the field and what is allowed.
pub fn apply(s: &mut Settings, scratch: &mut Scratch, key: &Key, text: &str) -> Result<(), FieldError> {
    let t = text.trim();
    match key {
        Key::Field(name) => {
            if t.is_empty() && !matches!(*name, "network.dns") {
                return Ok(());
            }
            fields::set(s, name, t)?;
            if *name == "network.mode" && s.network.mode == AddressMode::Dhcp {
                (s.network.address, s.network.prefix, s.network.gateway) = (None, None, None);
            }
        }
        Key::Nvr(i, f) => {
            let field = format!("nvr[{i}].{f}");
            let Some(n) = s.nvrs.get_mut(*i) else { return Err(FieldError::new(field, "no such NVR")) };
            if t.is_empty() {
                return Ok(());
            }
            match *f {
                "id" => n.id = t.into(),
                "url" => n.url = t.into(),
                "admin_user" => n.admin_user = t.into(),
                "admin_password" => n.admin_password = text.into(),
                _ => {
                    n.priority = t.parse().map_err(|_| FieldError::new(field, format!("{t:?}: not a whole number")))?
                }
            }
        }
        Key::Password { .. } | Key::ConsolePassword => {
            if matches!(key, Key::ConsolePassword) && text.is_empty() {
                scratch.password = Some(String::new());
                return Ok(());
            }
            let field = if matches!(key, Key::ConsolePassword) { "console_password" } else { "password" };
            if text.chars().count() < MIN_PASSWORD {
                return Err(FieldError::new(field, format!("at least {MIN_PASSWORD} characters")));
            }
            scratch.password = Some(text.into());
        }
        Key::Again => {
            let first = scratch.password.clone().unwrap_or_default();
            if text != first {
                return Err(FieldError::new("password", "the two passwords differ"));
            }
            // the password is set on the draft once confirmed (see `set_password`)
        }
        Key::NewUser => {
            if s.accounts.iter().any(|a| a.user == t) {
                return Err(FieldError::new("account.user", format!("{t:?}: used by another account")));
            }
            scratch.user = Some(t.into());
        }
        Key::Email(f) => email(s, f, t, text)?,
    }
    Ok(())
}

/// After [`Key::Again`]: the password of the step before goes onto the draft (hashed).
pub fn set_password(s: &mut Settings, scratch: &Scratch, before: &Key) {
    let Some(pw) = scratch.password.as_deref() else { return };
    match before {
        Key::Password { user, role } => {
            let user = if user.is_empty() { scratch.user.clone().unwrap_or_default() } else { user.clone() };
            s.set_account(&user, *role, pw);
        }
        Key::ConsolePassword if pw.is_empty() => s.console_password_hash = None,
        Key::ConsolePassword => s.console_password_hash = Some(hotspare_http::password::hash_password(pw)),
        _ => {}
    }
}

fn email(s: &mut Settings, f: &str, t: &str, raw: &str) -> Result<(), FieldError> {
    if f == "smtp_host" && t == "-" {
        s.email = None;
        return Ok(());
    }
    if t.is_empty() {
        return Ok(());
    }
    let e = s.email.get_or_insert_with(|| EmailSettings {
        smtp_host: String::new(),
        smtp_port: 587,
        from: String::new(),
        to: Vec::new(),
        user: None,
        password: None,
        tls: None,
        ca_certificate: None,
    });
    match f {
        "smtp_host" => e.smtp_host = t.into(),
        "smtp_port" => {
            e.smtp_port = t.parse().map_err(|_| FieldError::new("email.smtp_port", format!("{t:?}: a port 1–65535")))?
        }
        "from" => e.from = t.into(),
        "to" => e.to = t.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect(),
        "user" => e.user = (t != "-").then(|| t.into()),
        _ => e.password = (t != "-").then(|| raw.into()),
    }
    Ok(())
}

/// The network questions.
pub fn network() -> Vec<Step> {
    vec![
        Step::new(Key::Field("network.mode"), "Address mode (dhcp/static)"),
        Step::new(Key::Field("network.address"), "IPv4 address"),
        Step::new(Key::Field("network.prefix"), "Prefix length (e.g. 24)"),
        Step::new(Key::Field("network.gateway"), "Gateway (empty: none)"),
        Step::new(Key::Field("network.dns"), "DNS servers, comma-separated"),
    ]
}

/// The box's name, how it monitors the NVRs, and how it announces itself.
pub fn general() -> Vec<Step> {
    vec![
        Step::new(Key::Field("hostname"), "Host name"),
        Step::new(Key::Field("monitoring.profile"), "Monitoring profile (default/fast)"),
        Step::new(Key::Field("monitoring.interval_s"), "Seconds between checks of an NVR (30-180)"),
        Step::new(Key::Field("monitoring.failures"), "Failed checks before a takeover (1-10)"),
        Step::new(Key::Field("announcement.server_name"), "Name announced on the network"),
        Step::new(Key::Field("announcement.ssdp"), "SSDP announcement (on/off)"),
    ]
}

/// The time questions.
pub fn time() -> Vec<Step> {
    vec![
        Step::new(Key::Field("time.ntp"), "NTP servers, comma-separated"),
        Step::new(Key::Field("time.timezone"), "Time zone (e.g. UTC, Europe/Paris)"),
    ]
}

/// The questions of NVR `i` (a new one is pushed by the caller first).
pub fn nvr(i: usize) -> Vec<Step> {
    vec![
        Step::new(Key::Nvr(i, "id"), "NVR id (e.g. nvr-1)"),
        Step::new(Key::Nvr(i, "url"), "NVR API URL (e.g. https://10.0.0.5:8443)"),
        Step::new(Key::Nvr(i, "admin_user"), "NVR admin user"),
        Step::new(Key::Nvr(i, "admin_password"), "NVR admin password"),
        Step::new(Key::Nvr(i, "priority"), "Priority (lower is covered first)"),
    ]
}

/// An empty NVR to fill in (priority after the others).
pub fn blank_nvr(s: &Settings) -> Nvr {
    let priority = s.nvrs.iter().map(|n| n.priority + 1).max().unwrap_or(1);
    Nvr {
        id: String::new(),
        url: String::new(),
        admin_user: "admin".into(),
        admin_password: String::new(),
        priority,
        fingerprint: None,
    }
}

/// A password asked twice for `user` (empty user: the one of [`Key::NewUser`]).
pub fn password(user: &str, role: Role) -> Vec<Step> {
    vec![
        Step::new(Key::Password { user: user.into(), role }, &format!("New password for {}", shown(user))),
        Step::new(Key::Again, "The same password again"),
    ]
}

fn shown(user: &str) -> &str {
    if user.is_empty() {
        "the account"
    } else {
        user
    }
}

/// The e-mail questions.
pub fn email_steps() -> Vec<Step> {
    vec![
        Step::new(Key::Email("smtp_host"), "SMTP server (- : no e-mail)"),
        Step::new(Key::Email("smtp_port"), "SMTP port"),
        Step::new(Key::Email("from"), "From address"),
        Step::new(Key::Email("to"), "Recipients, comma-separated"),
        Step::new(Key::Email("user"), "SMTP user (- : none)"),
        Step::new(Key::Email("password"), "SMTP password (- : none)"),
    ]
}

/// The first-boot wizard: the admin password, the network, one NVR (more from the menu).
pub fn wizard() -> Vec<Step> {
    let mut v = password("admin", Role::Admin);
    v.extend(network());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_answer_names_the_field_and_leaves_the_draft() {
        let mut s = Settings::default();
        let before = s.clone();
        let mut sc = Scratch::default();
        let e = apply(&mut s, &mut sc, &Key::Field("network.address"), "10.0.0.300").unwrap_err();
        assert_eq!(e.field, "network.address");
        let e =
            apply(&mut s, &mut sc, &Key::Password { user: "admin".into(), role: Role::Admin }, "short").unwrap_err();
        assert!(e.problem.contains("at least 8"), "{e}");
        assert_eq!(s, before);
    }

    #[test]
    fn a_password_is_set_only_when_typed_twice_the_same() {
        let mut s = Settings::default();
        let mut sc = Scratch::default();
        let k = Key::Password { user: "admin".into(), role: Role::Admin };
        apply(&mut s, &mut sc, &k, "a long password").unwrap();
        assert!(apply(&mut s, &mut sc, &Key::Again, "a long passwort").is_err());
        apply(&mut s, &mut sc, &Key::Again, "a long password").unwrap();
        set_password(&mut s, &sc, &k);
        assert!(!s.needs_first_boot());
        assert!(hotspare_http::password::verify_password("a long password", &s.accounts[0].password_hash));
    }

    #[test]
    fn dhcp_clears_the_static_fields_and_empty_keeps() {
        let mut s = Settings::default();
        let mut sc = Scratch::default();
        for (k, v) in [("network.mode", "static"), ("network.address", "10.0.0.2"), ("network.prefix", "24")] {
            apply(&mut s, &mut sc, &Key::Field(k), v).unwrap();
        }
        apply(&mut s, &mut sc, &Key::Field("network.address"), "").unwrap();
        assert_eq!(fields::get(&s, "network.address").as_deref(), Some("10.0.0.2"));
        apply(&mut s, &mut sc, &Key::Field("network.mode"), "dhcp").unwrap();
        assert_eq!(s.network.address, None);
    }
}
