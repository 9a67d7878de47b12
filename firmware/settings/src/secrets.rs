//! The secrets of the settings, defined once: what is left out when the
//! settings are shown ([`redacted`]: `hotspare settings show`, the API's
//! `GET /api/v1/settings`) and kept when an edit leaves them out ([`merge`]:
//! the API's `PUT`). The secrets ([`SECRETS`]): NVR admin passwords, account
//! password hashes, the console password hash, the SMTP password.
//!
//! An edit is the shown tree with changes. [`merge`] fills in each secret it
//! leaves out from the stored settings (an NVR by `id`, an account by
//! `user`); passwords of people come in clear (`account[i].password`,
//! `console_password`) and are hashed here: hashes are never accepted from
//! outside, a clear password is never stored. Hashing is slow on purpose
//! (PBKDF2): call [`merge`] off async workers.

use serde::Deserialize as _;

use crate::model::Settings;
use crate::validate::{self, FieldError};

/// The fields never shown, as [`crate::fields`] names them (`[]`: every element).
pub const SECRETS: [&str; 4] =
    ["nvr[].admin_password", "account[].password_hash", "console_password_hash", "email.password"];

/// An edit that cannot be used, and why.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Not the shape of the settings (a missing table, an unknown key, a wrong type).
    #[error("not settings: {0}")]
    Shape(String),
    /// The settings have problems, each naming its field.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Fields(Vec<FieldError>),
}

/// `s` as a tree without its secrets.
pub fn redacted(s: &Settings) -> toml::Table {
    let mut t = tree(s);
    t.remove("console_password_hash");
    if let Some(toml::Value::Table(e)) = t.get_mut("email") {
        e.remove("password");
    }
    for (list, key) in [("nvr", "admin_password"), ("account", "password_hash")] {
        for item in tables(&mut t, list) {
            item.remove(key);
        }
    }
    t
}

/// `edit` (a [`redacted`]-shaped tree with changes) as settings, each secret it leaves out
/// kept from `stored`, clear passwords hashed. Every problem is reported, validation's
/// included.
pub fn merge(mut edit: toml::Table, stored: &Settings) -> Result<Settings, MergeError> {
    let mut problems = Vec::new();
    // fields given a placeholder so that the rest can be checked: their own complaint is enough
    let mut placeholders = Vec::new();
    let mut bad = |field: String, problem: &str| problems.push(FieldError::new(field, problem));
    if edit.remove("console_password_hash").is_some() {
        bad("console_password_hash".into(), "not accepted: give console_password (hashed by the box)");
    }
    match edit.remove("console_password") {
        None => {
            if let Some(h) = &stored.console_password_hash {
                edit.insert("console_password_hash".into(), h.clone().into());
            }
        }
        // the empty password removes the console password
        Some(toml::Value::String(p)) if p.is_empty() => {}
        Some(toml::Value::String(p)) => match validate::password(&p) {
            Ok(()) => {
                edit.insert("console_password_hash".into(), hotspare_http::password::hash_password(&p).into());
            }
            Err(why) => bad("console_password".into(), &why),
        },
        Some(_) => bad("console_password".into(), "must be a string (\"\" removes it)"),
    }
    if let (Some(toml::Value::Table(e)), Some(old)) = (edit.get_mut("email"), &stored.email) {
        if let (false, Some(p)) = (e.contains_key("password"), &old.password) {
            e.insert("password".into(), p.clone().into());
        }
    }
    for (i, n) in tables(&mut edit, "nvr").into_iter().enumerate() {
        if n.contains_key("admin_password") {
            continue;
        }
        let id = n.get("id").and_then(toml::Value::as_str);
        match stored.nvrs.iter().find(|s| Some(s.id.as_str()) == id) {
            Some(s) => n.insert("admin_password".into(), s.admin_password.clone().into()),
            None => {
                bad(format!("nvr[{i}].admin_password"), "required for a new NVR (its admin's password)");
                placeholders.push(format!("nvr[{i}].admin_password"));
                n.insert("admin_password".into(), "?".into())
            }
        };
    }
    for (i, a) in tables(&mut edit, "account").into_iter().enumerate() {
        let field = format!("account[{i}].password");
        placeholders.push(format!("account[{i}].password_hash"));
        if a.remove("password_hash").is_some() {
            bad(format!("account[{i}].password_hash"), "not accepted: give password (hashed by the box)");
        }
        let hash = match a.remove("password") {
            Some(toml::Value::String(p)) => match validate::password(&p) {
                Ok(()) => Some(hotspare_http::password::hash_password(&p)),
                Err(why) => {
                    bad(field, &why);
                    None
                }
            },
            Some(_) => {
                bad(field, "must be a string");
                None
            }
            None => {
                let user = a.get("user").and_then(toml::Value::as_str);
                let kept = stored.accounts.iter().find(|s| Some(s.user.as_str()) == user);
                if kept.is_none() {
                    bad(field, "required for a new account (at least 8 characters)");
                }
                kept.map(|s| s.password_hash.clone())
            }
        };
        a.insert("password_hash".into(), hash.unwrap_or_default().into());
    }
    let settings = match Settings::deserialize(toml::Value::Table(edit)) {
        Ok(s) => s,
        Err(e) if problems.is_empty() => return Err(MergeError::Shape(e.message().to_string())),
        Err(_) => return Err(MergeError::Fields(problems)),
    };
    let reported = |f: &str| placeholders.iter().chain(problems.iter().map(|p| &p.field)).any(|x| x == f);
    let more: Vec<FieldError> = validate::validate(&settings).into_iter().filter(|p| !reported(&p.field)).collect();
    problems.extend(more);
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(MergeError::Fields(problems))
    }
}

fn tree(s: &Settings) -> toml::Table {
    // Settings has only strings, numbers, bools, arrays and tables: always a table
    toml::Table::try_from(s).unwrap_or_default()
}

/// The tables of the array `key` of `t`.
fn tables<'a>(t: &'a mut toml::Table, key: &str) -> Vec<&'a mut toml::Table> {
    match t.get_mut(key) {
        Some(toml::Value::Array(a)) => a.iter_mut().filter_map(toml::Value::as_table_mut).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
