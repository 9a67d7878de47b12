//! The settings of the box, as stored (`settings.<seq>.toml`) and as the
//! channels edit them. Every table denies unknown keys (a typo is an error,
//! not a silently ignored setting). [`Settings::default`] is a fresh box:
//! DHCP, no NVRs, no accounts (the first-boot wizard asks for the admin
//! password: [`Settings::needs_first_boot`]).

use std::net::Ipv4Addr;

use hotspare_api::EmailSettings;
use hotspare_http::Role;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The box's host name (DHCP, the console prompt, e-mails).
    pub hostname: String,
    pub network: Network,
    pub time: Time,
    pub monitoring: Monitoring,
    pub announcement: Announcement,
    /// The console's own password (hash), asked before the menu when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_password_hash: Option<String>,
    /// The licence file's text as imported (its signature is checked by the failover role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailSettings>,
    /// The NVRs this spare protects.
    #[serde(default, rename = "nvr", skip_serializing_if = "Vec::is_empty")]
    pub nvrs: Vec<Nvr>,
    /// Who may use the box (API, web): admin and viewer accounts.
    #[serde(default, rename = "account", skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<Account>,
    /// Fleet updates (`hotspare update`); absent in generations saved before it existed.
    #[serde(default)]
    pub update: Update,
}

/// Where the box looks for updates (docs/design/update.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    /// The fleet's update manifest (http:// or https://); empty: no updates.
    #[serde(default)]
    pub manifest_url: String,
    /// Seconds between two checks of the manifest.
    #[serde(default = "Update::default_check_every_s")]
    pub check_every_s: u32,
}

impl Update {
    fn default_check_every_s() -> u32 {
        3600
    }
}

impl Default for Update {
    fn default() -> Update {
        Update { manifest_url: String::new(), check_every_s: Update::default_check_every_s() }
    }
}

/// How the box gets its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressMode {
    Dhcp,
    Static,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub mode: AddressMode,
    /// Static only: the address, its prefix length, the gateway, the DNS servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<Ipv4Addr>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Time {
    /// NTP servers (host names or addresses), tried in order.
    pub ntp: Vec<String>,
    /// An IANA time zone name (`UTC`, `Europe/Paris`).
    pub timezone: String,
}

/// How often the spare checks each NVR and after how many failures it takes over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// `interval_s` (30–180 s) × `failures` (vendor behaviour).
    Default,
    /// 1 s checks (demanding sites, tests).
    Fast,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    pub profile: Profile,
    pub interval_s: u32,
    pub failures: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Announcement {
    /// The name the box announces (SSDP) and shows.
    pub server_name: String,
    pub ssdp: bool,
}

/// One protected NVR (the spare logs into its API with the admin account).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nvr {
    pub id: String,
    pub url: String,
    pub admin_user: String,
    /// Kept in clear: the spare must present it to the NVR (the file is 0600).
    pub admin_password: String,
    /// Lower is covered first when channels run out.
    pub priority: u32,
    /// The NVR's certificate (`sha256:` + 64 hex digits, `:` allowed between them; shown by
    /// `hotspare nvr --config F --fingerprint`). Without it the spare refuses the NVR over
    /// https:// and logs the fingerprint it presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub user: String,
    pub role: Role,
    /// `pbkdf2-sha256$…` ([`hotspare_http::password`]); a clear password is never stored.
    pub password_hash: String,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            hostname: "hotspare".into(),
            network: Network { mode: AddressMode::Dhcp, address: None, prefix: None, gateway: None, dns: Vec::new() },
            time: Time { ntp: vec!["pool.ntp.org".into()], timezone: "UTC".into() },
            monitoring: Monitoring { profile: Profile::Default, interval_s: 30, failures: 3 },
            announcement: Announcement { server_name: "Hotspare".into(), ssdp: true },
            console_password_hash: None,
            licence: None,
            email: None,
            nvrs: Vec::new(),
            accounts: Vec::new(),
            update: Update::default(),
        }
    }
}

impl Settings {
    /// A fresh box: no admin account yet (the first-boot wizard sets one).
    pub fn needs_first_boot(&self) -> bool {
        !self.accounts.iter().any(|a| a.role == Role::Admin)
    }

    /// True when going from `self` to `new` can cut off whoever is connected over the
    /// network (address, mode, gateway): such a change is confirmed or reverted.
    pub fn cuts_off(&self, new: &Settings) -> bool {
        let (a, b) = (&self.network, &new.network);
        a.mode != b.mode || a.address != b.address || a.prefix != b.prefix || a.gateway != b.gateway
    }

    /// Sets (or replaces) `user`'s account with a fresh hash of `password`.
    pub fn set_account(&mut self, user: &str, role: Role, password: &str) {
        let password_hash = hotspare_http::password::hash_password(password);
        match self.accounts.iter_mut().find(|a| a.user == user) {
            Some(a) => (a.role, a.password_hash) = (role, password_hash),
            None => self.accounts.push(Account { user: user.into(), role, password_hash }),
        }
    }

    /// The TOML text (the stored form).
    pub fn to_toml(&self) -> String {
        // Settings has only strings, numbers, bools, arrays and tables: always serialisable
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot serialise: {e}\n"))
    }
}
