//! Validation of [`Settings`]: every problem, each naming the field
//! (`network.gateway`, `nvr[1].url`) and what is allowed, so a console, a
//! panel and the API can show it next to the field. A setting with problems
//! is never saved ([`crate::store`]).

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use crate::model::{AddressMode, Profile, Settings};

/// Allowed `monitoring.interval_s` (vendor behaviour).
pub const INTERVAL_RANGE: RangeInclusive<u32> = 30..=180;
/// Allowed `monitoring.failures`.
pub const FAILURES_RANGE: RangeInclusive<u32> = 1..=10;
/// At most this many DNS and NTP servers.
pub const MAX_SERVERS: usize = 4;
/// At most this many NVRs (the licence may allow fewer; the failover role checks it).
pub const MAX_NVRS: usize = 64;
/// At most this many accounts.
pub const MAX_ACCOUNTS: usize = 32;
/// Passwords: at least this long (the console and API hash them).
pub const MIN_PASSWORD: usize = 8;

/// One problem of one field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{field}: {problem}")]
pub struct FieldError {
    /// The field's name as [`crate::fields`] and the stored TOML spell it.
    pub field: String,
    /// What is wrong and what is allowed.
    pub problem: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), problem: problem.into() }
    }
}

/// All the problems of `s` (empty: valid).
pub fn validate(s: &Settings) -> Vec<FieldError> {
    let mut out = Vec::new();
    let mut bad = |field: &str, problem: String| out.push(FieldError::new(field, problem));
    if let Err(p) = hostname(&s.hostname) {
        bad("hostname", p);
    }
    let n = &s.network;
    match n.mode {
        AddressMode::Dhcp => {
            for (f, set) in
                [("address", n.address.is_some()), ("prefix", n.prefix.is_some()), ("gateway", n.gateway.is_some())]
            {
                if set {
                    bad(&format!("network.{f}"), "only with mode = \"static\" (DHCP assigns it)".into());
                }
            }
        }
        AddressMode::Static => match (n.address, n.prefix) {
            (None, _) => bad("network.address", "required with mode = \"static\" (e.g. 192.168.1.20)".into()),
            (_, None) => bad("network.prefix", "required with mode = \"static\" (1–30, e.g. 24)".into()),
            (Some(a), Some(p)) => {
                if !(1..=30).contains(&p) {
                    bad("network.prefix", format!("{p}: allowed 1–30"));
                } else if let Err(why) = host_address(a, p) {
                    bad("network.address", format!("{a}/{p}: {why}"));
                } else if let Some(g) = n.gateway {
                    if !same_subnet(a, g, p) || g == a {
                        bad("network.gateway", format!("{g}: must be another address in {a}/{p}'s subnet"));
                    }
                }
            }
        },
    }
    if n.dns.len() > MAX_SERVERS {
        bad("network.dns", format!("{} servers: at most {MAX_SERVERS}", n.dns.len()));
    }
    for (i, d) in n.dns.iter().enumerate() {
        if d.is_unspecified() || d.is_broadcast() || d.is_multicast() {
            bad(&format!("network.dns[{i}]"), format!("{d}: not a server address"));
        }
    }
    if s.time.ntp.len() > MAX_SERVERS {
        bad("time.ntp", format!("{} servers: at most {MAX_SERVERS}", s.time.ntp.len()));
    }
    for (i, h) in s.time.ntp.iter().enumerate() {
        if h.parse::<Ipv4Addr>().is_err() && hostname(h).is_err() {
            bad(&format!("time.ntp[{i}]"), format!("{h:?}: a host name or IPv4 address"));
        }
    }
    if let Err(p) = timezone(&s.time.timezone) {
        bad("time.timezone", p);
    }
    let m = &s.monitoring;
    if m.profile == Profile::Default && !INTERVAL_RANGE.contains(&m.interval_s) {
        bad("monitoring.interval_s", format!("{}: allowed 30–180 s", m.interval_s));
    }
    if !FAILURES_RANGE.contains(&m.failures) {
        bad("monitoring.failures", format!("{}: allowed 1–10", m.failures));
    }
    // Trimmed like every field the menus set (`fields::set`): a name kept as shown stays the same.
    let name = &s.announcement.server_name;
    match printable("a name", name, 1, 64) {
        Err(p) => bad("announcement.server_name", p),
        Ok(()) if name.trim() != name => {
            bad("announcement.server_name", format!("{name:?}: a name without spaces at its start or end"))
        }
        Ok(()) => {}
    }
    if !s.update.manifest_url.is_empty() {
        if let Err(p) = manifest_url(&s.update.manifest_url) {
            bad("update.manifest_url", format!("{:?}: {p}", s.update.manifest_url));
        }
    }
    if !CHECK_EVERY_RANGE.contains(&s.update.check_every_s) {
        bad("update.check_every_s", format!("{}: allowed 60–86400 s", s.update.check_every_s));
    }
    if let Some(e) = &s.email {
        if let Err((key, p)) = hotspare_email::check_settings(e) {
            bad(&format!("email.{key}"), p);
        }
    }
    if s.nvrs.len() > MAX_NVRS {
        bad("nvr", format!("{} NVRs: at most {MAX_NVRS}", s.nvrs.len()));
    }
    let mut ids = HashSet::new();
    for (i, v) in s.nvrs.iter().enumerate() {
        let f = |k: &str| format!("nvr[{i}].{k}");
        if !ident(&v.id, 32) {
            bad(&f("id"), format!("{:?}: 1–32 of A–Z a–z 0–9 _ -", v.id));
        } else if !ids.insert(v.id.as_str()) {
            bad(&f("id"), format!("{:?}: used by another NVR", v.id));
        }
        if let Err(p) = nvr_url(&v.url) {
            bad(&f("url"), format!("{:?}: {p}", v.url));
        }
        if let Err(p) = printable("a user name", &v.admin_user, 1, 64) {
            bad(&f("admin_user"), p);
        }
        if let Err(p) = printable("a password", &v.admin_password, 1, 128) {
            bad(&f("admin_password"), p);
        }
        if let Some(fp) = &v.fingerprint {
            if let Err(p) = fingerprint(fp) {
                bad(&f("fingerprint"), format!("{fp:?}: {p}"));
            }
        }
    }
    if s.accounts.len() > MAX_ACCOUNTS {
        bad("account", format!("{} accounts: at most {MAX_ACCOUNTS}", s.accounts.len()));
    }
    let mut users = HashSet::new();
    for (i, a) in s.accounts.iter().enumerate() {
        if !ident(&a.user, 32) {
            bad(&format!("account[{i}].user"), format!("{:?}: 1–32 of A–Z a–z 0–9 _ -", a.user));
        } else if !users.insert(a.user.as_str()) {
            bad(&format!("account[{i}].user"), format!("{:?}: used by another account", a.user));
        }
        if let Err(p) = hotspare_http::password::check_hash(&a.password_hash) {
            bad(&format!("account[{i}].password_hash"), p);
        }
    }
    if let Some(h) = &s.console_password_hash {
        if let Err(p) = hotspare_http::password::check_hash(h) {
            bad("console_password_hash", p);
        }
    }
    if let Some(l) = &s.licence {
        if l.len() > 16 * 1024 {
            bad("licence", format!("{} bytes: a licence file is at most 16 KiB", l.len()));
        }
    }
    out
}

/// A new password as a person typed it.
pub fn password(p: &str) -> Result<(), String> {
    if p.chars().count() < MIN_PASSWORD {
        return Err(format!("at least {MIN_PASSWORD} characters"));
    }
    printable("a password", p, MIN_PASSWORD, 128)
}

/// RFC 1123 host name: dot-separated labels of 1–63 letters, digits, `-` (not first or last).
pub fn hostname(h: &str) -> Result<(), String> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{h:?}: letters, digits and '-' (not first or last), dot-separated labels of 1–63"))
    }
}

fn timezone(tz: &str) -> Result<(), String> {
    let ok = tz.len() <= 64
        && !tz.is_empty()
        && !tz.starts_with('/')
        && !tz.split('/').any(|p| p.is_empty() || p == "." || p == "..")
        && tz.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("{tz:?}: an IANA time zone such as UTC or Europe/Paris"))
    }
}

fn ident(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn printable(what: &str, s: &str, min: usize, max: usize) -> Result<(), String> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(format!("{n} characters: {what} of {min}–{max}"));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{what} without control characters"));
    }
    Ok(())
}

/// `https://host[:port]` or `http://host[:port]`: no user, path, query or fragment.
/// Seconds between two checks of the update manifest.
const CHECK_EVERY_RANGE: std::ops::RangeInclusive<u32> = 60..=86_400;

/// An update manifest's URL: http://host[:port]/path, printable, no user part. (Not https
/// yet: the agent has no trust store; RAUC's signature is what makes a bundle trusted.)
fn manifest_url(u: &str) -> Result<(), String> {
    if u.starts_with("https://") {
        return Err("http:// only for now (the bundle's signature, checked by RAUC, is what is trusted)".into());
    }
    let Some(rest) = u.strip_prefix("http://") else { return Err("expected http://host[:port]/path".into()) };
    if u.len() > 256 || !u.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("at most 256 printable characters, no spaces".into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    nvr_url(&format!("http://{authority}")).map_err(|e| e.replace("https://host:port", "http://host[:port]/path"))
}

fn nvr_url(u: &str) -> Result<(), String> {
    let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
    let Some(rest) = rest else { return Err("expected https://host:port".into()) };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#', '@']) || rest.is_empty() {
        return Err("expected https://host:port, with no user, path, query or fragment".into());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
        return Err("the port is 1–65535".into());
    }
    if host.parse::<Ipv4Addr>().is_err() && hostname(host).is_err() {
        return Err(format!("{host:?} is not a host name or IPv4 address"));
    }
    Ok(())
}

/// A certificate fingerprint as `hotspare_tls::Fingerprint` reads it (the same rule as
/// failover.toml's `nvr.fingerprint`; that crate is in this one's layer, so written here):
/// `sha256:` then 64 hex digits, `:` allowed between them.
pub fn fingerprint(f: &str) -> Result<(), &'static str> {
    let t = f.trim();
    let Some(hex) = t.get(..7).filter(|p| p.eq_ignore_ascii_case("sha256:")).map(|_| &t[7..]) else {
        return Err("no sha256: prefix (expected sha256: and 64 hex digits)");
    };
    let digits: Vec<char> = hex.chars().filter(|c| *c != ':').collect();
    if digits.len() != 64 {
        return Err("not 64 hex digits after sha256:");
    }
    if !digits.iter().all(char::is_ascii_hexdigit) {
        return Err("not hex after sha256:");
    }
    Ok(())
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    (u32::from(a) & mask(prefix)) == (u32::from(b) & mask(prefix))
}

/// An address a host may have in `a/prefix`: not the network or broadcast address.
fn host_address(a: Ipv4Addr, prefix: u8) -> Result<(), &'static str> {
    let (x, m) = (u32::from(a), mask(prefix));
    if a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_broadcast() {
        return Err("not a host address");
    }
    if x & !m == 0 || x & !m == !m {
        return Err("the network's own or broadcast address");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Nvr;

    fn fields(s: &Settings) -> Vec<String> {
        validate(s).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(validate(&Settings::default()), vec![]);
    }

    #[test]
    fn a_static_network_needs_an_address_a_prefix_and_a_gateway_in_its_subnet() {
        let mut s = Settings::default();
        s.network.mode = AddressMode::Static;
        assert_eq!(fields(&s), ["network.address"]);
        s.network.address = Some(Ipv4Addr::new(192, 168, 1, 20));
        assert_eq!(fields(&s), ["network.prefix"]);
        s.network.prefix = Some(24);
        s.network.gateway = Some(Ipv4Addr::new(192, 168, 2, 1));
        let e = validate(&s);
        assert_eq!(e.len(), 1);
        assert!(e[0].to_string().starts_with("network.gateway: 192.168.2.1: must be another address"), "{e:?}");
        s.network.gateway = Some(Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(validate(&s), vec![]);
        s.network.address = Some(Ipv4Addr::new(192, 168, 1, 255));
        assert_eq!(fields(&s), ["network.address"]);
        s.network.prefix = Some(31);
        assert_eq!(fields(&s), ["network.prefix"]);
    }

    #[test]
    fn dhcp_with_a_static_address_is_refused() {
        let mut s = Settings::default();
        s.network.address = Some(Ipv4Addr::new(10, 0, 0, 5));
        assert_eq!(fields(&s), ["network.address"]);
    }

    #[test]
    fn monitoring_ranges_and_names_are_checked() {
        let mut s = Settings::default();
        s.monitoring.interval_s = 20;
        s.monitoring.failures = 0;
        s.hostname = "-bad".into();
        s.time.timezone = "../etc/passwd".into();
        assert_eq!(fields(&s), ["hostname", "time.timezone", "monitoring.interval_s", "monitoring.failures"]);
        s = Settings::default();
        s.monitoring.profile = Profile::Fast;
        s.monitoring.interval_s = 1;
        assert_eq!(validate(&s), vec![]);
    }

    /// Found by the `settings` fuzz campaign: a stored name with a leading space was accepted,
    /// and then kept as shown on the console (trimmed) it changed.
    #[test]
    fn a_server_name_has_no_spaces_at_its_ends() {
        let mut s = Settings::default();
        for bad in [" Hotspare", "Hotspare ", "\u{a0}Spare", " "] {
            s.announcement.server_name = bad.into();
            let e = validate(&s);
            assert_eq!(e.len(), 1, "{bad:?}");
            assert_eq!(e[0].field, "announcement.server_name");
        }
        s.announcement.server_name = "Spare 2 (rack B)".into();
        assert_eq!(validate(&s), vec![]);
    }

    #[test]
    fn the_update_manifest_url_and_interval_are_checked() {
        let mut s = Settings::default();
        for ok in ["", "http://10.0.2.2:8000/fleet/manifest.json", "http://updates.example.com/hs/stable.json"] {
            s.update.manifest_url = ok.into();
            assert_eq!(validate(&s), vec![], "{ok}");
        }
        for (bad, says) in [
            ("ftp://x/m.json", "expected http://host[:port]/path"),
            ("https://x/m.json", "http:// only for now"),
            ("http://user@host/m.json", "no user, path"),
            ("http://host:0/m.json", "the port is 1–65535"),
            ("http://ho st/m.json", "printable"),
        ] {
            s.update.manifest_url = bad.into();
            let e = validate(&s);
            assert_eq!(e.len(), 1, "{bad}: {e:?}");
            assert_eq!(e[0].field, "update.manifest_url");
            assert!(e[0].problem.contains(says), "{bad}: {}", e[0].problem);
        }
        s = Settings::default();
        s.update.check_every_s = 59;
        assert_eq!(fields(&s), ["update.check_every_s"]);
    }

    #[test]
    fn nvrs_need_unique_ids_and_plain_urls() {
        let nvr = |id: &str, url: &str| Nvr {
            id: id.into(),
            url: url.into(),
            admin_user: "admin".into(),
            admin_password: "pw".into(),
            priority: 100,
            fingerprint: None,
        };
        let s = Settings {
            nvrs: vec![
                nvr("nvr1", "https://192.168.1.10:8081"),
                nvr("nvr1", "https://nvr2.local"),
                nvr("nvr 3", "ftp://x"),
                nvr("nvr4", "https://u:p@host:8081"),
                nvr("nvr5", "https://host:8081/path"),
                nvr("nvr6", "https://host:0"),
            ],
            ..Settings::default()
        };
        assert_eq!(fields(&s), ["nvr[1].id", "nvr[2].id", "nvr[2].url", "nvr[3].url", "nvr[4].url", "nvr[5].url"]);
    }

    #[test]
    fn an_nvr_fingerprint_is_sha256_and_64_hex_digits() {
        let hex = "ab".repeat(32);
        let mut s = Settings {
            nvrs: vec![Nvr {
                id: "nvr1".into(),
                url: "https://192.168.1.10:8081".into(),
                admin_user: "admin".into(),
                admin_password: "pw".into(),
                priority: 1,
                fingerprint: Some(format!("sha256:{hex}")),
            }],
            ..Settings::default()
        };
        assert_eq!(validate(&s), vec![]);
        let colons: Vec<String> = hex.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).to_uppercase()).collect();
        s.nvrs[0].fingerprint = Some(format!("SHA256:{}", colons.join(":")));
        assert_eq!(validate(&s), vec![]);
        for (bad, says) in [
            (hex.clone(), "no sha256: prefix"),
            (format!("sha256:{}", &hex[2..]), "64 hex digits"),
            (format!("sha256:{}zz", &hex[2..]), "not hex"),
        ] {
            s.nvrs[0].fingerprint = Some(bad);
            let e = validate(&s);
            assert_eq!(e.len(), 1, "{e:?}");
            assert_eq!(e[0].field, "nvr[0].fingerprint");
            assert!(e[0].problem.contains(says), "{e:?}");
        }
    }

    #[test]
    fn accounts_need_unique_names_and_real_hashes() {
        let mut s = Settings::default();
        s.set_account("admin", hotspare_http::Role::Admin, "a long password");
        assert!(!s.needs_first_boot());
        assert_eq!(validate(&s), vec![]);
        s.accounts.push(s.accounts[0].clone());
        s.accounts[1].password_hash = "secret".into();
        assert_eq!(fields(&s), ["account[1].user", "account[1].password_hash"]);
        assert!(password("short").is_err());
        assert!(password("long enough").is_ok());
    }
}
