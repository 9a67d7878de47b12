//! Single settings read and written by name as text (`network.address` =
//! `192.168.1.20`): what a numbered menu, a front-panel editor and the
//! command line need. Parsing errors name the field and what is allowed;
//! whole-settings rules (a gateway in the subnet) are [`crate::validate`]'s.
//! Lists (NVRs, accounts) have their own operations on [`Settings`].

use std::net::Ipv4Addr;

use crate::model::{AddressMode, Profile, Settings};
use crate::validate::FieldError;

/// Every field by name, with what it takes (for menus and `--help`).
pub const FIELDS: &[(&str, &str)] = &[
    ("hostname", "host name, e.g. spare-1"),
    ("network.mode", "dhcp or static"),
    ("network.address", "IPv4 address (static), e.g. 192.168.1.20; empty: none"),
    ("network.prefix", "prefix length 1–30 (static), e.g. 24; empty: none"),
    ("network.gateway", "IPv4 address in the subnet (static); empty: none"),
    ("network.dns", "IPv4 addresses, comma-separated (at most 4)"),
    ("time.ntp", "NTP servers, comma-separated (at most 4)"),
    ("time.timezone", "IANA time zone, e.g. UTC, Europe/Paris"),
    ("monitoring.profile", "default or fast"),
    ("monitoring.interval_s", "seconds between checks of an NVR, 30–180"),
    ("monitoring.failures", "failed checks in a row before a takeover, 1–10"),
    ("announcement.server_name", "the name the box announces"),
    ("announcement.ssdp", "on or off"),
    ("update.manifest_url", "the fleet's update manifest, http://host[:port]/path; empty: no updates"),
    ("update.check_every_s", "seconds between checks of the manifest, 60–86400"),
];

/// The value of field `name` as text (`None`: no such field).
pub fn get(s: &Settings, name: &str) -> Option<String> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let list = |v: &[String]| v.join(",");
    Some(match name {
        "hostname" => s.hostname.clone(),
        "network.mode" => mode_name(s.network.mode).into(),
        "network.address" => opt(s.network.address.map(|a| a.to_string())),
        "network.prefix" => opt(s.network.prefix.map(|p| p.to_string())),
        "network.gateway" => opt(s.network.gateway.map(|a| a.to_string())),
        "network.dns" => list(&s.network.dns.iter().map(Ipv4Addr::to_string).collect::<Vec<_>>()),
        "time.ntp" => list(&s.time.ntp),
        "time.timezone" => s.time.timezone.clone(),
        "monitoring.profile" => profile_name(s.monitoring.profile).into(),
        "monitoring.interval_s" => s.monitoring.interval_s.to_string(),
        "monitoring.failures" => s.monitoring.failures.to_string(),
        "announcement.server_name" => s.announcement.server_name.clone(),
        "announcement.ssdp" => if s.announcement.ssdp { "on" } else { "off" }.into(),
        "update.manifest_url" => s.update.manifest_url.clone(),
        "update.check_every_s" => s.update.check_every_s.to_string(),
        _ => return None,
    })
}

/// Sets field `name` from `text` (trimmed). Only parsing is checked here.
pub fn set(s: &mut Settings, name: &str, text: &str) -> Result<(), FieldError> {
    let t = text.trim();
    let err = |what: &str| FieldError::new(name, format!("{t:?}: {what}"));
    let ip = |t: &str| t.parse::<Ipv4Addr>().map_err(|_| err("not an IPv4 address (e.g. 192.168.1.20)"));
    let opt_ip = |t: &str| if t.is_empty() { Ok(None) } else { ip(t).map(Some) };
    let list = |t: &str| t.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect::<Vec<_>>();
    let num = |t: &str| t.parse::<u32>().map_err(|_| err("not a whole number"));
    match name {
        "hostname" => s.hostname = t.into(),
        "network.mode" => {
            s.network.mode = match t {
                "dhcp" => AddressMode::Dhcp,
                "static" => AddressMode::Static,
                _ => return Err(err("dhcp or static")),
            }
        }
        "network.address" => s.network.address = opt_ip(t)?,
        "network.gateway" => s.network.gateway = opt_ip(t)?,
        "network.prefix" => {
            s.network.prefix = if t.is_empty() {
                None
            } else {
                Some(t.trim_start_matches('/').parse().map_err(|_| err("a prefix length 1–30"))?)
            }
        }
        "network.dns" => s.network.dns = list(t).iter().map(|a| ip(a)).collect::<Result<_, _>>()?,
        "time.ntp" => s.time.ntp = list(t),
        "time.timezone" => s.time.timezone = t.into(),
        "monitoring.profile" => {
            s.monitoring.profile = match t {
                "default" => Profile::Default,
                "fast" => Profile::Fast,
                _ => return Err(err("default or fast")),
            }
        }
        "monitoring.interval_s" => s.monitoring.interval_s = num(t)?,
        "monitoring.failures" => s.monitoring.failures = num(t)?,
        "announcement.server_name" => s.announcement.server_name = t.into(),
        "announcement.ssdp" => {
            s.announcement.ssdp = match t {
                "on" | "yes" | "true" => true,
                "off" | "no" | "false" => false,
                _ => return Err(err("on or off")),
            }
        }
        "update.manifest_url" => s.update.manifest_url = t.into(),
        "update.check_every_s" => s.update.check_every_s = num(t)?,
        _ => return Err(FieldError::new(name, "no such setting")),
    }
    Ok(())
}

fn mode_name(m: AddressMode) -> &'static str {
    match m {
        AddressMode::Dhcp => "dhcp",
        AddressMode::Static => "static",
    }
}

fn profile_name(p: Profile) -> &'static str {
    match p {
        Profile::Default => "default",
        Profile::Fast => "fast",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::validate;

    #[test]
    fn every_field_reads_back_what_was_set() {
        let mut s = Settings::default();
        let values = [
            ("hostname", "spare-2"),
            ("network.mode", "static"),
            ("network.address", "10.1.2.3"),
            ("network.prefix", "16"),
            ("network.gateway", "10.1.0.1"),
            ("network.dns", "10.1.0.2,1.1.1.1"),
            ("time.ntp", "ntp1.example.com,10.1.0.3"),
            ("time.timezone", "Europe/Paris"),
            ("monitoring.profile", "fast"),
            ("monitoring.interval_s", "60"),
            ("monitoring.failures", "5"),
            ("announcement.server_name", "Spare 2"),
            ("announcement.ssdp", "off"),
            ("update.manifest_url", "http://10.0.2.2:8000/fleet/manifest.json"),
            ("update.check_every_s", "600"),
        ];
        assert_eq!(values.len(), FIELDS.len());
        for (name, v) in values {
            set(&mut s, name, v).unwrap();
            assert_eq!(get(&s, name).as_deref(), Some(v), "{name}");
        }
        assert_eq!(validate(&s), vec![]);
    }

    #[test]
    fn bad_text_names_the_field_and_changes_nothing() {
        let mut s = Settings::default();
        let before = s.clone();
        for (name, v, says) in [
            ("network.mode", "auto", "dhcp or static"),
            ("network.address", "300.1.1.1", "not an IPv4 address"),
            ("network.dns", "1.1.1.1,x", "not an IPv4 address"),
            ("monitoring.failures", "-1", "whole number"),
            ("announcement.ssdp", "maybe", "on or off"),
            ("update.check_every_s", "hourly", "whole number"),
            ("nope", "1", "no such setting"),
        ] {
            let e = set(&mut s, name, v).unwrap_err();
            assert_eq!(e.field, name);
            assert!(e.problem.contains(says), "{e}");
        }
        assert_eq!(s, before);
        assert_eq!(get(&s, "nope"), None);
    }
}
