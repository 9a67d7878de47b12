//! Accounts and roles: who may do what. An account is a user name, a role
//! and a PBKDF2 hash of its password ([`crate::password`]). Configuration
//! files give either the clear password (hashed at load) or the hash.

use serde::{Deserialize, Serialize};

/// What an account may do. `Admin` includes everything a `Viewer` may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Status, timelines and video.
    Viewer,
    /// Also settings (with secrets) and writes (imports).
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }

    /// True when this role may use what `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

/// One account, password as a hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub role: Role,
    pub password_hash: String,
}

/// An account as configuration files write it (`user`, `role`, and exactly one of `password`
/// and `password_hash`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub user: String,
    pub role: Role,
    pub password: Option<String>,
    pub password_hash: Option<String>,
}

impl AccountConfig {
    /// Checks the entry; `Err((key, problem))` names the key at fault.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        check_user(&self.user).map_err(|p| ("user", p))?;
        match (&self.password, &self.password_hash) {
            (Some(p), None) if p.is_empty() => Err(("password", "must not be empty".into())),
            (Some(_), None) => Ok(()),
            (None, Some(h)) => crate::password::check_hash(h).map_err(|p| ("password_hash", p)),
            _ => Err(("password", "give exactly one of password and password_hash".into())),
        }
    }

    /// The account, hashing a clear password (100 000 PBKDF2 rounds: call at startup, not per
    /// request). Call [`AccountConfig::check`] first.
    pub fn to_account(&self) -> Account {
        let password_hash = match (&self.password, &self.password_hash) {
            (_, Some(h)) => h.clone(),
            (Some(p), None) => crate::password::hash_password(p),
            (None, None) => String::new(),
        };
        Account { user: self.user.clone(), role: self.role, password_hash }
    }
}

/// A user name HTTP Basic can carry: 1..=64 characters, no `:` and no control characters.
pub fn check_user(user: &str) -> Result<(), String> {
    if user.is_empty() || user.chars().count() > 64 || user.contains(':') || user.chars().any(char::is_control) {
        return Err(format!("{user:?}: expected 1 to 64 characters without ':'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_checks() {
        assert!(Role::Admin.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Admin));
        let a =
            AccountConfig { user: "ops".into(), role: Role::Viewer, password: Some("pw".into()), password_hash: None };
        assert!(a.check().is_ok());
        assert!(crate::password::verify_password("pw", &a.to_account().password_hash));
        let both = AccountConfig { password_hash: Some("x".into()), ..a.clone() };
        assert_eq!(both.check().unwrap_err().0, "password");
        let bad_hash =
            AccountConfig { password: None, password_hash: Some("pbkdf2-sha256$99999999$AA$AA".into()), ..a.clone() };
        assert_eq!(bad_hash.check().unwrap_err().0, "password_hash");
        let colon = AccountConfig { user: "a:b".into(), ..a };
        assert_eq!(colon.check().unwrap_err().0, "user");
    }
}
