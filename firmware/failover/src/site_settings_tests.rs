//! Settings → the spare's [`Config`]: a fresh box, every mapped field, what a
//! generation cannot do, and failover.toml's box-only form naming site keys.

use std::path::Path;

use hotspare_http::Role;
use hotspare_settings::model::{AddressMode, Nvr, Profile as SettingsProfile};

use super::*;
use crate::licence::LicenceSource;

const BOX: &str = r#"
[spare]
serial = "HS-0001"
listen = "127.0.0.1:8090"
store = "/var/lib/hotspare/failover"
state = "/var/lib/hotspare/state"
health_file = "/run/hotspare/health.json"
"#;

fn base(extra: &str) -> Config {
    Config::parse_box(&format!("{BOX}{extra}"), Path::new("/etc/hotspare/failover.toml")).expect("box parts")
}

fn nvr(id: &str, url: &str) -> Nvr {
    Nvr {
        id: id.into(),
        url: url.into(),
        admin_user: "admin".into(),
        admin_password: "nvr secret".into(),
        priority: 100,
        fingerprint: None,
    }
}

#[test]
fn a_fresh_box_monitors_nothing_and_lets_nobody_in() {
    let site = apply(&base(""), &Settings::default(), 0).unwrap();
    let c = &site.config;
    assert!(c.nvrs.is_empty() && c.accounts.is_empty() && c.email.is_none());
    assert!(c.api_accounts().is_empty(), "no account: the API answers 401 to everyone");
    assert_eq!(c.spare.name, "Hotspare");
    assert_eq!((c.spare.serial.as_str(), c.spare.listen.port()), ("HS-0001", 8090));
    assert_eq!(c.monitor, MonitorSettings::default());
    assert!(site.ssdp);
    let cap = capacity(&site, 0).unwrap();
    assert_eq!(cap.source, LicenceSource::Unlicensed);
}

#[test]
fn every_site_part_is_taken_from_the_settings() {
    let fp = format!("sha256:{}", "0a".repeat(32));
    let mut s = Settings::default();
    s.announcement.server_name = "Spare 2".into();
    s.announcement.ssdp = false;
    s.monitoring.interval_s = 60;
    s.monitoring.failures = 5;
    s.nvrs.push(Nvr { priority: 1, fingerprint: Some(fp.clone()), ..nvr("nvr1", "https://192.168.1.10:8081/") });
    s.nvrs.push(nvr("nvr-2", "https://nvr2.example.com"));
    s.set_account("guard", Role::Viewer, "guard password");
    s.email = Some(hotspare_api::EmailSettings {
        smtp_host: "127.0.0.1".into(),
        smtp_port: 2525,
        from: "spare@example.com".into(),
        to: vec!["ops@example.com".into()],
        user: None,
        password: None,
        tls: None,
        ca_certificate: None,
    });
    s.licence = Some("not checked here".into());
    let site = apply(&base(""), &s, 7).unwrap();
    let c = &site.config;
    assert_eq!(c.spare.name, "Spare 2");
    assert!(!site.ssdp);
    assert_eq!(c.spare.licence_text.as_deref(), Some("not checked here"));
    assert_eq!(c.spare.licence, None);
    assert_eq!(
        (c.monitor.profile, c.monitor.check_interval_s, c.monitor.failures_to_takeover),
        (Profile::Default, 60, 5)
    );
    assert_eq!(c.timing().check_interval, std::time::Duration::from_secs(60));
    assert_eq!(c.nvrs.len(), 2);
    assert_eq!(c.nvrs[0].url, "https://192.168.1.10:8081", "normalised as failover.toml's");
    assert_eq!(c.nvrs[0].priority, 1);
    assert_eq!(c.nvrs[0].fingerprint, Some(fp.parse().unwrap()));
    assert_eq!((c.nvrs[1].id.as_str(), c.nvrs[1].fingerprint), ("nvr-2", None));
    assert_eq!(c.email, s.email);
    // the NVRs' admins (role admin), then the accounts, with the stored hash
    let api = c.api_accounts();
    let users: Vec<_> = api.iter().map(|a| (a.user.as_str(), a.role)).collect();
    assert_eq!(users, [("admin", Role::Admin), ("admin", Role::Admin), ("guard", Role::Viewer)]);
    assert_eq!(api[2].password_hash, s.accounts[0].password_hash);
    assert!(hotspare_http::password::verify_password("guard password", &api[2].password_hash));
}

#[test]
fn the_fast_profile_keeps_its_fixed_intervals() {
    let mut s = Settings::default();
    s.monitoring.profile = SettingsProfile::Fast;
    s.monitoring.interval_s = 1;
    s.monitoring.failures = 2;
    let c = apply(&base(""), &s, 1).unwrap().config;
    assert_eq!(c.monitor, MonitorSettings { profile: Profile::Fast, failures_to_takeover: 2, ..Default::default() });
    assert_eq!(c.timing().check_interval, std::time::Duration::from_secs(1));
}

#[test]
fn plain_http_nvrs_need_tls_insecure_in_the_box_file() {
    let mut s = Settings::default();
    s.nvrs.push(nvr("nvr1", "http://127.0.0.1:8081"));
    let e = apply(&base(""), &s, 3).unwrap_err();
    assert_eq!((e.seq, e.field.as_str()), (3, "nvr[0].url"));
    assert!(e.problem.contains("use https://"), "{e}");
    assert!(e.to_string().starts_with("settings generation 3: nvr[0].url: "), "{e}");
    let c = apply(&base("[tls]\ninsecure = true\n"), &s, 3).unwrap().config;
    assert_eq!(c.nvrs[0].url, "http://127.0.0.1:8081");
}

#[test]
fn invalid_settings_are_refused_naming_the_field() {
    let mut s = Settings::default();
    s.nvrs.push(Nvr { fingerprint: Some("sha256:12".into()), ..nvr("nvr1", "https://h:1") });
    assert_eq!(apply(&base(""), &s, 1).unwrap_err().field, "nvr[0].fingerprint");
}

#[test]
fn more_nvrs_than_the_free_capacity_or_a_bad_licence_is_refused() {
    let mut s = Settings::default();
    for i in 0..5 {
        s.nvrs.push(nvr(&format!("nvr{i}"), &format!("https://10.0.0.{}:8081", i + 1)));
    }
    let site = apply(&base(""), &s, 4).unwrap();
    let e = capacity(&site, 4).unwrap_err();
    assert_eq!(e.field, "nvr");
    assert!(e.problem.contains("5 NVRs but the licence allows 4"), "{e}");
    s.nvrs.truncate(1);
    s.licence = Some("this is not a licence".into());
    let site = apply(&base(""), &s, 5).unwrap();
    assert_eq!(capacity(&site, 5).unwrap_err().field, "licence");
}

#[test]
fn network_time_and_host_name_changes_do_not_reload_the_role() {
    let b = base("");
    let mut s = Settings::default();
    s.nvrs.push(nvr("nvr1", "https://10.0.0.1:8081"));
    let old = apply(&b, &s, 1).unwrap();
    s.hostname = "spare-9".into();
    s.network.mode = AddressMode::Static;
    s.network.address = Some("10.0.0.9".parse().unwrap());
    s.network.prefix = Some(24);
    s.time.timezone = "Europe/Paris".into();
    assert!(same_role(&old, &apply(&b, &s, 2).unwrap()));
    s.nvrs[0].priority = 2;
    assert!(!same_role(&old, &apply(&b, &s, 3).unwrap()));
    s.nvrs[0].priority = 100;
    s.announcement.ssdp = false;
    assert!(!same_role(&old, &apply(&b, &s, 4).unwrap()));
}

#[test]
fn the_box_file_refuses_site_keys_naming_them() {
    let path = Path::new("/etc/hotspare/failover.toml");
    let nvr = "[[nvr]]\nid = \"nvr1\"\nurl = \"https://h:1\"\nadmin_user = \"a\"\nadmin_password = \"b\"\n";
    let account = "[[account]]\nuser = \"g\"\nrole = \"viewer\"\npassword = \"x\"\n";
    let email = "[email]\nsmtp_host = \"h\"\nsmtp_port = 25\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\n";
    for (extra, key) in
        [(nvr, "nvr"), (account, "account"), ("[monitor]\nprofile = \"fast\"\n", "monitor"), (email, "email")]
    {
        let e = Config::parse_box(&format!("{BOX}{extra}"), path).unwrap_err().to_string();
        assert!(e.starts_with("/etc/hotspare/failover.toml:"), "{e}");
        assert!(e.contains(&format!(": {key}: ")) && e.contains("comes from the settings"), "{e}");
    }
    let named = BOX.replace("[spare]\n", "[spare]\nname = \"s\"\n");
    assert!(Config::parse_box(&named, path).unwrap_err().to_string().contains("spare.name"));
    let licensed = BOX.replace("[spare]\n", "[spare]\nlicence = \"/etc/l.toml\"\n");
    assert!(Config::parse_box(&licensed, path).unwrap_err().to_string().contains("spare.licence"));
    // without --settings the file must name the spare
    let e = Config::parse(BOX, path).unwrap_err().to_string();
    assert!(e.contains("spare") && e.contains("missing field `name`"), "{e}");
}

#[test]
fn the_qemu_boards_file_is_box_only_and_a_fresh_box_runs_on_it() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../board/qemu-virt/failover.toml");
    let b = Config::load_box(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((b.spare.serial.as_str(), b.spare.listen.port()), ("QEMU-SPARE", 8090));
    let site = apply(&b, &Settings::default(), 0).unwrap();
    assert!(site.config.nvrs.is_empty() && site.config.api_accounts().is_empty());
}
