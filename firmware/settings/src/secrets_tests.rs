//! Tests of redaction and merge: secrets never shown, kept when left out,
//! clear passwords hashed, hashes refused, every problem named.

use super::*;
use crate::model::Nvr;
use hotspare_api::EmailSettings;
use hotspare_http::Role;

fn stored() -> Settings {
    let mut s = Settings::default();
    s.set_account("alice", Role::Admin, "alice's password");
    s.set_account("guard", Role::Viewer, "guard's password");
    s.console_password_hash = Some(hotspare_http::password::hash_password("console pass"));
    s.nvrs.push(Nvr {
        id: "nvr1".into(),
        url: "https://192.168.1.10:8081".into(),
        admin_user: "admin".into(),
        admin_password: "nvr-secret-1".into(),
        priority: 1,
        fingerprint: None,
    });
    s.email = Some(EmailSettings {
        smtp_host: "mail.example.com".into(),
        smtp_port: 587,
        from: "spare@example.com".into(),
        to: vec!["ops@example.com".into()],
        user: Some("spare".into()),
        password: Some("smtp-secret".into()),
        tls: None,
        ca_certificate: None,
    });
    s
}

fn text(t: &toml::Table) -> String {
    toml::to_string(t).unwrap()
}

#[test]
fn the_shown_tree_has_no_secret() {
    let s = stored();
    let t = redacted(&s);
    let shown = text(&t);
    for secret in ["nvr-secret-1", "smtp-secret", "pbkdf2", "password_hash", "admin_password"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
    // the rest is there: the user of each account, the SMTP user, the NVR's admin user
    for kept in ["alice", "guard", "mail.example.com", "user = \"spare\"", "admin_user = \"admin\""] {
        assert!(shown.contains(kept), "{kept} missing:\n{shown}");
    }
}

#[test]
fn an_edit_without_secrets_keeps_the_stored_ones() {
    let s = stored();
    let mut t = redacted(&s);
    t.insert("hostname".into(), "spare-9".into());
    let m = merge(t, &s).unwrap();
    assert_eq!(m.hostname, "spare-9");
    assert_eq!(Settings { hostname: s.hostname.clone(), ..m }, s, "everything else, secrets included, kept");
}

#[test]
fn clear_passwords_are_hashed_and_hashes_refused() {
    let s = stored();
    let mut t = redacted(&s);
    let accounts = t.get_mut("account").and_then(toml::Value::as_array_mut).unwrap();
    accounts[0].as_table_mut().unwrap().insert("password".into(), "a new password".into());
    let mut bob = toml::Table::new();
    bob.insert("user".into(), "bob".into());
    bob.insert("role".into(), "admin".into());
    bob.insert("password".into(), "bob's password".into());
    accounts.push(bob.into());
    t.insert("console_password".into(), "".into());
    let m = merge(t, &s).unwrap();
    assert_eq!(m.accounts.len(), 3);
    assert!(hotspare_http::password::verify_password("a new password", &m.accounts[0].password_hash));
    assert_eq!(m.accounts[1], s.accounts[1]);
    assert!(hotspare_http::password::verify_password("bob's password", &m.accounts[2].password_hash));
    assert!(!toml::to_string(&m).unwrap().contains("bob's password"), "never stored clear");
    assert_eq!(m.console_password_hash, None, "\"\" removes the console password");

    let mut t = redacted(&s);
    t.insert("console_password_hash".into(), "pbkdf2-sha256$1$AA$AA".into());
    let accounts = t.get_mut("account").and_then(toml::Value::as_array_mut).unwrap();
    accounts[1].as_table_mut().unwrap().insert("password_hash".into(), s.accounts[0].password_hash.clone().into());
    let Err(MergeError::Fields(e)) = merge(t, &s) else { panic!("hashes accepted") };
    let fields: Vec<&str> = e.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["console_password_hash", "account[1].password_hash"], "{e:?}");
}

#[test]
fn every_problem_is_named_and_a_wrong_shape_is_refused() {
    let s = stored();
    let mut t = redacted(&s);
    t.insert("hostname".into(), "no spaces allowed".into());
    t.insert("console_password".into(), "short".into());
    let accounts = t.get_mut("account").and_then(toml::Value::as_array_mut).unwrap();
    let mut eve = toml::Table::new();
    eve.insert("user".into(), "eve".into());
    eve.insert("role".into(), "viewer".into());
    accounts.push(eve.into());
    let nvrs = t.get_mut("nvr").and_then(toml::Value::as_array_mut).unwrap();
    let mut n2 = nvrs[0].as_table().unwrap().clone();
    n2.insert("id".into(), "nvr2".into());
    nvrs.push(n2.into());
    let Err(MergeError::Fields(e)) = merge(t, &s) else { panic!("accepted") };
    let fields: Vec<&str> = e.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["console_password", "nvr[1].admin_password", "account[2].password", "hostname"], "{e:?}");
    assert!(e[2].problem.contains("required for a new account"), "{e:?}");

    let mut t = redacted(&s);
    t.insert("colour".into(), "blue".into());
    assert!(matches!(merge(t, &s), Err(MergeError::Shape(m)) if m.contains("colour")));
    let mut t = redacted(&s);
    t.remove("network");
    assert!(matches!(merge(t, &s), Err(MergeError::Shape(m)) if m.contains("network")));
}
