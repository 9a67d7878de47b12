//! The box's settings over the spare's API, with the real `hotspare failover`
//! (plain HTTP: `[tls] insecure`) on a settings directory that `hotspare
//! settings` (the CLI) reads too: who may use the routes, secrets never
//! shown and kept when left out, bad input named with nothing saved, a stale
//! edit refused, a network change reverted unless the same user confirms it
//! (the `--apply-network` program records each call), history and restore,
//! and a spare restarted before the confirmation reverting the change.

mod common;
mod nvr_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{bin, free_port, Proc};
use hotspare_http::Role;
use nvr_common::{basic, try_http, Resp};
use serde_json::{json, Value};

const ALICE: (&str, &str) = ("alice", "alice-pass-1");
const BOB: (&str, &str) = ("bob", "bob-pass-12");
const GUARD: (&str, &str) = ("guard", "guard-pass-1");
const WINDOW: &str = "4s";

struct Spare {
    proc: Proc,
    port: u16,
    dir: PathBuf,
}

impl Spare {
    fn start(dir: &Path, port: u16) -> Spare {
        let mut cmd = Command::new(bin());
        cmd.arg("failover").arg("--config").arg(dir.join("failover.toml")).args(["--ssdp", "off"]);
        cmd.arg("--settings").arg(dir.join("settings")).arg("--apply-network").arg(dir.join("apply"));
        cmd.args(["--confirm-window", WINDOW]);
        let proc = Proc::spawn("spare", cmd);
        let spare = Spare { proc, port, dir: dir.to_owned() };
        let end = Instant::now() + Duration::from_secs(30);
        while spare.try_call("GET", "/api/v1/status", Some(GUARD), &[]).map(|r| r.status) != Ok(200) {
            assert!(Instant::now() < end, "the spare never answered\n{}", spare.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        spare
    }

    fn log(&self) -> String {
        format!("{}{}", self.proc.stdout.text(), self.proc.stderr.text())
    }

    fn try_call(&self, method: &str, path: &str, who: Option<(&str, &str)>, body: &[u8]) -> Result<Resp, String> {
        let mut h: Vec<(String, String)> = who.map(|(u, p)| basic(u, p)).into_iter().collect();
        if !body.is_empty() {
            h.push(("Content-Type".into(), "application/json".into()));
        }
        try_http(self.port, method, path, &h, body, Duration::from_secs(60))
    }

    fn call(&self, method: &str, path: &str, who: Option<(&str, &str)>, body: &Value) -> Resp {
        let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        self.try_call(method, path, who, &body).unwrap_or_else(|e| panic!("{e}\n{}", self.log()))
    }

    fn get(&self) -> Value {
        let r = self.call("GET", "/api/v1/settings", Some(ALICE), &Value::Null);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// The current settings with `edit` applied to them, sent as edited from their generation.
    fn put(&self, who: (&str, &str), edit: impl FnOnce(&mut Value)) -> Resp {
        let mut cur = self.get();
        edit(&mut cur["settings"]);
        let body = json!({ "seq": cur["seq"], "settings": cur["settings"] });
        self.call("PUT", "/api/v1/settings", Some(who), &body)
    }

    /// The `--apply-network` program's calls: the address in force when it ran.
    fn applied(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.join("applied.log")).unwrap_or_default();
        text.lines().map(str::to_string).collect()
    }

    fn wait_applied(&self, n: usize) -> Vec<String> {
        let end = Instant::now() + Duration::from_secs(30);
        while self.applied().len() < n {
            assert!(Instant::now() < end, "{n} calls expected: {:?}\n{}", self.applied(), self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        self.applied()
    }
}

fn cli(dir: &Path, args: &[&str]) -> String {
    let o = Command::new(bin()).arg("settings").arg("--dir").arg(dir.join("settings")).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "settings {args:?}: {text}");
    text
}

fn setup() -> (tempfile::TempDir, u16) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let port = free_port();
    // the box's fixed parts only: with --settings the site (accounts included) is the settings'
    let cfg = format!(
        "[spare]\nserial = \"HS-T8\"\nlisten = \"127.0.0.1:{port}\"\nstore = \"{}\"\n\
         state = \"{}\"\n\n[tls]\ninsecure = true\n",
        dir.join("store").display(),
        dir.join("state").display()
    );
    std::fs::write(dir.join("failover.toml"), cfg).unwrap();
    // records each call: the address of the settings in force (read back with the CLI)
    let script = format!(
        "#!/bin/sh\nset -e\necho \"$({} settings --dir \"$1\" get network.address)\" >> {}\n",
        bin(),
        dir.join("applied.log").display()
    );
    std::fs::write(dir.join("apply"), script).unwrap();
    let mut p = std::fs::metadata(dir.join("apply")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o755);
    std::fs::set_permissions(dir.join("apply"), p).unwrap();
    // generation 1, as the console's first-boot wizard would leave it: the accounts and a
    // static address
    let mut s = hotspare_settings::Settings::default();
    for ((user, password), role) in [(ALICE, Role::Admin), (BOB, Role::Admin), (GUARD, Role::Viewer)] {
        s.set_account(user, role, password);
    }
    s.network.mode = hotspare_settings::model::AddressMode::Static;
    (s.network.address, s.network.prefix) = (Some([192, 168, 1, 20].into()), Some(24));
    hotspare_settings::SettingsStore::open(&dir.join("settings")).unwrap().save(&s, 0, "console", "wizard").unwrap();
    (d, port)
}

fn address(v: &Value) -> &str {
    v["settings"]["network"]["address"].as_str().unwrap_or("")
}

#[test]
fn the_settings_over_the_api() {
    let (d, port) = setup();
    let dir = d.path();
    let mut spare = Spare::start(dir, port);

    // who may: admins; a viewer is forbidden, nobody else gets in
    for (method, path) in [
        ("GET", "/api/v1/settings"),
        ("PUT", "/api/v1/settings"),
        ("POST", "/api/v1/settings/confirm"),
        ("GET", "/api/v1/settings/history"),
        ("POST", "/api/v1/settings/restore/1"),
    ] {
        assert_eq!(spare.call(method, path, None, &Value::Null).status, 401, "{method} {path}");
        assert_eq!(spare.call(method, path, Some(GUARD), &Value::Null).status, 403, "{method} {path}");
    }
    let cur = spare.get();
    assert_eq!((cur["seq"].as_u64(), address(&cur)), (Some(1), "192.168.1.20"), "{cur}");

    // a valid change, secrets included: saved as api:alice, the CLI sees it, secrets not shown
    let r = spare.put(ALICE, |s| {
        s["hostname"] = json!("spare-7");
        s["nvr"] = json!([{ "id": "nvr1", "url": "https://192.168.1.10:8081", "admin_user": "admin",
                            "admin_password": "nvr-secret-1", "priority": 1 }]);
        let carol = json!({ "user": "carol", "role": "viewer", "password": "carol-pass-1" });
        s["account"].as_array_mut().unwrap().push(carol);
    });
    assert_eq!(r.status, 200, "{}", r.text());
    let saved: Value = r.json();
    assert_eq!(saved["seq"], 2, "{saved}");
    assert_eq!(saved["changed"], json!(["account", "hostname", "nvr"]), "{saved}");
    let shown = cli(dir, &["show"]);
    assert!(
        shown.contains("generation 2 (api:alice") && shown.contains("spare-7") && shown.contains("carol"),
        "{shown}"
    );
    let got = spare.get().to_string();
    for secret in ["nvr-secret-1", "carol-pass-1", "pbkdf2", "password_hash", "admin_password"] {
        assert!(!shown.contains(secret), "{secret} in show: {shown}");
        assert!(!got.contains(secret), "{secret} in GET: {got}");
    }
    for f in std::fs::read_dir(dir.join("settings")).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        assert!(!text.contains("carol-pass-1"), "a clear password stored: {text}");
    }
    assert!(spare.applied().is_empty(), "the network did not change: {:?}", spare.applied());

    // the shown tree sent back (no secrets): the stored secrets are kept
    let r = spare.put(ALICE, |s| s["hostname"] = json!("spare-8"));
    assert_eq!(r.status, 200, "{}", r.text());
    let store = hotspare_settings::SettingsStore::open(&dir.join("settings")).unwrap();
    let s = store.current().unwrap().settings;
    assert_eq!((s.hostname.as_str(), s.nvrs[0].admin_password.as_str()), ("spare-8", "nvr-secret-1"));
    let carol = s.accounts.iter().find(|a| a.user == "carol").unwrap();
    assert!(hotspare_http::password::verify_password("carol-pass-1", &carol.password_hash));
    // the spare follows its settings: carol may use it once generation 3 is in force (asked
    // as the guard: failed logins would slow this client down)
    let end = Instant::now() + Duration::from_secs(30);
    let in_force = |spare: &Spare| {
        spare.call("GET", "/api/v1/status", Some(GUARD), &Value::Null).json::<Value>()["settings_seq"].as_u64()
    };
    while in_force(&spare) != Some(3) {
        assert!(Instant::now() < end, "generation 3 never in force\n{}", spare.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(spare.call("GET", "/api/v1/status", Some(("carol", "carol-pass-1")), &Value::Null).status, 200);

    // bad input: every problem named, nothing saved
    let r = spare.put(ALICE, |s| {
        s["monitoring"]["interval_s"] = json!(5);
        s["hostname"] = json!("not a host name");
    });
    assert_eq!(r.status, 422, "{}", r.text());
    let body: Value = r.json();
    let fields: Vec<&str> = body["problems"].as_array().unwrap().iter().filter_map(|p| p["field"].as_str()).collect();
    assert_eq!(fields, ["hostname", "monitoring.interval_s"], "{body}");
    let r = spare.call("PUT", "/api/v1/settings", Some(ALICE), &json!({ "seq": 3, "settings": { "colour": 1 } }));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("colour"), "{}", r.text());
    assert_eq!(spare.get()["seq"], 3, "nothing saved");

    // a stale edit (generation 2, now 3): refused, not silently undoing generation 3
    let mut old = spare.get();
    old["settings"]["hostname"] = json!("late");
    let r = spare.call("PUT", "/api/v1/settings", Some(BOB), &json!({ "seq": 2, "settings": old["settings"] }));
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("now 3 by api:alice"), "{}", r.text());

    // a network change not confirmed: applied, then the old one back and applied again
    let r = spare.put(ALICE, |s| s["network"]["address"] = json!("192.168.1.30"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json::<Value>()["confirm_by_us"].is_i64(), "{}", r.text());
    assert!(dir.join("settings/pending-api.toml").exists());
    assert_eq!(spare.wait_applied(2), ["192.168.1.30", "192.168.1.20"], "{}", spare.log());
    let cur = spare.get();
    assert_eq!((cur["seq"].as_u64(), address(&cur)), (Some(5), "192.168.1.20"), "{cur}");
    assert!(!dir.join("settings/pending-api.toml").exists());
    assert!(cli(dir, &["history"]).contains("restored generation 3"));

    // confirmed by the same user: stays; another admin cannot confirm it for them
    let r = spare.put(ALICE, |s| s["network"]["address"] = json!("192.168.1.40"));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = spare.call("POST", "/api/v1/settings/confirm", Some(BOB), &Value::Null);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("api:alice"), "{}", r.text());
    let r = spare.call("POST", "/api/v1/settings/confirm", Some(ALICE), &Value::Null);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json::<Value>()["confirmed"], 6);
    let r = spare.call("POST", "/api/v1/settings/confirm", Some(ALICE), &Value::Null);
    assert_eq!(r.status, 409, "nothing left to confirm: {}", r.text());
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(address(&spare.get()), "192.168.1.40");
    assert_eq!(spare.applied().len(), 3, "{:?}", spare.applied());

    // history, newest first, and restore (a new generation; the network again to confirm)
    let r = spare.call("GET", "/api/v1/settings/history", Some(ALICE), &Value::Null);
    assert_eq!(r.status, 200, "{}", r.text());
    let h: Vec<Value> = r.json();
    let seqs: Vec<u64> = h.iter().filter_map(|g| g["seq"].as_u64()).collect();
    assert_eq!(seqs, [6, 5, 4, 3, 2, 1], "{h:?}");
    assert_eq!((h[0]["current"].as_bool(), h[0]["channel"].as_str()), (Some(true), Some("api:alice")));
    let r = spare.call("POST", "/api/v1/settings/restore/2", Some(BOB), &Value::Null);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json::<Value>()["seq"], 7, "{}", r.text());
    let r = spare.call("POST", "/api/v1/settings/confirm", Some(BOB), &Value::Null);
    assert_eq!(r.status, 200, "{}", r.text());
    let cur = spare.get();
    assert_eq!((cur["settings"]["hostname"].as_str(), address(&cur)), (Some("spare-7"), "192.168.1.20"), "{cur}");
    assert_eq!(spare.call("POST", "/api/v1/settings/restore/99", Some(BOB), &Value::Null).status, 404);

    // a spare restarted before the confirmation reverts the change when it starts
    let r = spare.put(ALICE, |s| s["network"]["address"] = json!("192.168.1.50"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(spare.wait_applied(5)[4], "192.168.1.50");
    spare.proc.kill();
    let spare = Spare::start(dir, port);
    assert_eq!(spare.wait_applied(6)[5], "192.168.1.20", "{}", spare.log());
    let cur = spare.get();
    assert_eq!(address(&cur), "192.168.1.20", "{cur}");
    assert!(spare.log().contains("restarted before the change was confirmed"), "{}", spare.log());
    assert!(!dir.join("settings/pending-api.toml").exists());
}
