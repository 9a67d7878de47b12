//! The spare's site parts from the box's one configuration model
//! (`hotspare failover --config failover.toml --settings DIR`): failover.toml
//! then holds the box's fixed parts ([`Config::parse_box`]) and this module
//! fills in the rest from a settings generation ([`hotspare_settings`]): the
//! NVRs (with their pinned fingerprints), the accounts (hashes), monitoring,
//! email, the licence text, the spare's name (`announcement.server_name`) and
//! SSDP on/off. Pure: the caller reads the store and runs the role.
//!
//! A generation that cannot be used (an `http://` NVR without `[tls] insecure`,
//! a licence that does not verify, more NVRs than it allows) is a [`SiteError`]
//! naming the settings field; the caller keeps the configuration in force.

use hotspare_http::AccountConfig;
use hotspare_settings::model::{Profile as SettingsProfile, Settings};

use crate::config::{Config, MonitorSettings, NvrEntry, Profile};
use crate::licence::Capacity;

/// The spare's configuration from one settings generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub config: Config,
    /// `announcement.ssdp`: announce taken-over NVRs' names (when `--ssdp` is not `off`).
    pub ssdp: bool,
}

/// Why a settings generation cannot run the spare.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("settings generation {seq}: {field}: {problem}")]
pub struct SiteError {
    pub seq: u64,
    /// The settings field at fault (`nvr[0].url`, `licence`, `nvr`).
    pub field: String,
    pub problem: String,
}

/// The spare's configuration: `base`'s fixed parts ([`Config::parse_box`]) with the site
/// parts of settings generation `seq` (0: the defaults of a fresh box).
pub fn apply(base: &Config, s: &Settings, seq: u64) -> Result<Site, SiteError> {
    let err = |field: &str, problem: String| SiteError { seq, field: field.to_owned(), problem };
    // The store only hands out valid generations; checked again (the same rules) so that
    // nothing unchecked reaches the role.
    if let Some(e) = hotspare_settings::validate::validate(s).into_iter().next() {
        return Err(err(&e.field, e.problem));
    }
    let mut c = base.clone();
    c.spare.name = s.announcement.server_name.clone();
    c.spare.licence = None;
    c.spare.licence_text = s.licence.clone();
    c.monitor = monitor(s);
    c.email = s.email.clone();
    c.nvrs = Vec::with_capacity(s.nvrs.len());
    for (i, n) in s.nvrs.iter().enumerate() {
        let url = crate::config::nvr_url(&n.url, c.tls.insecure)
            .map_err(|p| err(&format!("nvr[{i}].url"), format!("{:?}: {p}", n.url)))?;
        let fingerprint = match &n.fingerprint {
            Some(f) => Some(f.parse().map_err(|e: hotspare_tls::fingerprint::BadFingerprint| {
                err(&format!("nvr[{i}].fingerprint"), e.to_string())
            })?),
            None => None,
        };
        c.nvrs.push(NvrEntry {
            id: n.id.clone(),
            url,
            admin_user: n.admin_user.clone(),
            admin_password: n.admin_password.clone(),
            priority: n.priority,
            fingerprint,
        });
    }
    c.accounts = Vec::with_capacity(s.accounts.len());
    for (i, a) in s.accounts.iter().enumerate() {
        let a = AccountConfig {
            user: a.user.clone(),
            role: a.role,
            password: None,
            password_hash: Some(a.password_hash.clone()),
        };
        a.check().map_err(|(key, p)| err(&format!("account[{i}].{key}"), p))?;
        c.accounts.push(a);
    }
    Ok(Site { config: c, ssdp: s.announcement.ssdp })
}

/// The capacity of `site` (its licence verified, or the free capacity without one),
/// checked against its NVRs.
pub fn capacity(site: &Site, seq: u64) -> Result<Capacity, SiteError> {
    let err = |field: &str, problem: String| SiteError { seq, field: field.to_owned(), problem };
    let capacity = site.config.capacity().map_err(|e| err("licence", e.to_string()))?;
    if site.config.nvrs.len() > usize::from(capacity.nvrs) {
        return Err(err(
            "nvr",
            format!("{} NVRs but the licence allows {} ({capacity})", site.config.nvrs.len(), capacity.nvrs),
        ));
    }
    Ok(capacity)
}

/// True when going from `old` to `new` changes nothing the spare runs with (a network,
/// time or host-name change): the role is not reloaded.
pub fn same_role(old: &Site, new: &Site) -> bool {
    old == new
}

fn monitor(s: &Settings) -> MonitorSettings {
    let d = MonitorSettings::default();
    let m = &s.monitoring;
    match m.profile {
        // Intervals do not apply with the fast profile (as in failover.toml).
        SettingsProfile::Fast => MonitorSettings { profile: Profile::Fast, failures_to_takeover: m.failures, ..d },
        SettingsProfile::Default => MonitorSettings {
            profile: Profile::Default,
            check_interval_s: m.interval_s,
            failures_to_takeover: m.failures,
            ..d
        },
    }
}

#[cfg(test)]
#[path = "site_settings_tests.rs"]
mod tests;
