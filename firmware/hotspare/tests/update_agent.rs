//! `hotspare update` on the host against real parts: a real HTTP server (Python's
//! `http.server`) serving the manifest and the bundles, real RAUC bundles made and checked by
//! Debian's `rauc` (the host's `rauc info` verifies the signature against a test keyring), the
//! spare's state directory written by the spare's own code (`StateDir::save_nvrs`) to say it
//! covers an NVR. The install itself needs RAUC's service and A/B slots: on the host
//! `rauc install` cannot reach a service, which shows how that is handled; the installs that
//! succeed are the image's (hw-tests/tests/update.rs).
//!
//! One box, one run, in order: a rollout stage in the future → `waiting-rollout`; a bundle
//! signed by an untrusted key → RAUC's refusal remembered; a bundle whose bytes are not the
//! manifest's SHA-256 → retried, not installed; the spare covering → no download at all;
//! covering ends → downloaded, verified, `rauc install` asked; RAUC's service out of reach is
//! retried with the same file, not refused, and nothing reboots.

#[path = "common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, Proc};
use hotspare_failover::monitor::{Phase, Reason};
use hotspare_failover::state::{NvrState, StateDir};
use serde_json::Value;
use sha2::{Digest, Sha256};

const COMPATIBLE: &str = "hotspare-test";

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{cmd:?}: {text}");
    text
}

/// A self-signed certificate and key named `name` in `d`.
fn cert(d: &Path, name: &str) {
    run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj"])
        .arg(format!("/CN={name}"))
        .arg("-keyout")
        .arg(d.join(format!("{name}.key")))
        .arg("-out")
        .arg(d.join(format!("{name}.pem"))));
}

/// A RAUC bundle of `version` signed by `signer`, in `www/<file>`; returns its bytes' SHA-256
/// and size.
fn bundle(d: &Path, signer: &str, version: &str, file: &str) -> (String, u64) {
    let content = d.join(format!("content-{file}"));
    std::fs::create_dir_all(&content).unwrap();
    let image: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(content.join("rootfs.img"), image).unwrap();
    std::fs::write(
        content.join("manifest.raucm"),
        format!("[update]\ncompatible={COMPATIBLE}\nversion={version}\n[bundle]\nformat=verity\n[image.rootfs]\nfilename=rootfs.img\n"),
    )
    .unwrap();
    let out = d.join("www").join(file);
    run(Command::new("rauc")
        .arg("bundle")
        .arg(format!("--cert={}", d.join(format!("{signer}.pem")).display()))
        .arg(format!("--key={}", d.join(format!("{signer}.key")).display()))
        .arg(&content)
        .arg(&out));
    let bytes = std::fs::read(&out).unwrap();
    (hex::encode(Sha256::digest(&bytes)), bytes.len() as u64)
}

fn manifest(d: &Path, version: &str, file: &str, sha: &str, size: u64, rollout: &str) {
    let body = format!(
        r#"{{"compatible":"{COMPATIBLE}","version":"{version}","bundle":"{file}","sha256":"{sha}","size":{size}{rollout}}}"#
    );
    let tmp = d.join("www/manifest.json.tmp");
    std::fs::write(&tmp, body).unwrap();
    std::fs::rename(tmp, d.join("www/manifest.json")).unwrap();
}

/// Python's http.server on an ephemeral port serving `dir`; returns it and its port.
fn http_server(dir: &Path) -> (Proc, u16) {
    let mut cmd = Command::new("python3");
    cmd.args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"]).current_dir(dir);
    cmd.stdout(Stdio::piped());
    let mut child = cmd.stdin(Stdio::null()).stderr(Stdio::null()).spawn().expect("python3 http.server");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
    let port: u16 = line.split_whitespace().nth(5).and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{line}"));
    let _ = child.kill();
    let _ = child.wait();
    // Started again on the port it chose, as a Proc (captured output, killed on drop).
    let mut cmd = Command::new("python3");
    cmd.args(["-u", "-m", "http.server", "--bind", "127.0.0.1"]).arg(port.to_string()).current_dir(dir);
    let p = Proc::spawn("http.server", cmd);
    p.wait_for_output(Duration::from_secs(10), "serving", |o, _| o.contains("Serving HTTP"));
    (p, port)
}

fn covering(state: &Path, on: bool) {
    let dir = StateDir::open(state).unwrap();
    let mut nvrs = BTreeMap::new();
    let phase = if on {
        Phase::TakenOver {
            reason: Reason::NetworkDisconnection { checks: 3, error: "test".into() },
            since_us: 1,
            covering: BTreeSet::from(["cam1".to_string()]),
            handed_back: BTreeSet::new(),
        }
    } else {
        Phase::Watching
    };
    nvrs.insert("nvr1".to_string(), NvrState { phase, identity: None });
    dir.save_nvrs(&nvrs).unwrap();
}

/// The partial downloads in the agent's download directory.
fn parts(state: &Path) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(state.join("download")) else { return vec![] };
    dir.filter_map(|e| Some(e.ok()?.path())).filter(|p| p.extension().is_some_and(|x| x == "part")).collect()
}

fn status(state: &Path) -> Value {
    std::fs::read(state.join("update.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null)
}

fn wait(agent: &Proc, state: &Path, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let s = status(state);
        if pred(&s) {
            return s;
        }
        assert!(Instant::now() < end, "waited 30 s for {what}; update.json: {s:#}\n--- agent\n{}", agent.stderr.text());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

#[test]
fn the_agent_follows_rollout_refuses_what_rauc_refuses_and_never_acts_while_covering() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    std::fs::create_dir_all(d.join("www")).unwrap();
    cert(d, "fleet");
    cert(d, "intruder");
    let conf = d.join("system.conf");
    std::fs::write(
        &conf,
        format!(
            "[system]\ncompatible={COMPATIBLE}\nbootloader=noop\n[keyring]\npath={}\n",
            d.join("fleet.pem").display()
        ),
    )
    .unwrap();
    std::fs::write(d.join("version"), "1\n").unwrap();
    let (_server, port) = http_server(&d.join("www"));
    let settings = d.join("settings");
    run(Command::new(bin())
        .arg("settings")
        .arg("--dir")
        .arg(&settings)
        .args(["set", &format!("update.manifest_url=http://127.0.0.1:{port}/manifest.json")]));
    let spare_state = d.join("spare-state");
    covering(&spare_state, false);
    let failover_toml = d.join("failover.toml");
    std::fs::write(
        &failover_toml,
        format!(
            "[spare]\nserial = \"HS-TEST\"\nlisten = \"127.0.0.1:1\"\nstore = \"{}\"\nstate = \"{}\"\n",
            d.join("spare-store").display(),
            spare_state.display()
        ),
    )
    .unwrap();

    // 1. Version 2 rolls out tomorrow: the box waits for its stage.
    let (sha2, size2) = bundle(d, "fleet", "2", "hs-2.raucb");
    let tomorrow = common::rfc3339(hotspare_base::clock::now_us() + 86_400_000_000);
    manifest(d, "2", "hs-2.raucb", &sha2, size2, &format!(r#","rollout":[{{"at":"{tomorrow}","percent":100}}]"#));
    let state = d.join("update");
    let mut cmd = Command::new(bin());
    cmd.arg("update").arg("--settings").arg(&settings).arg("--state").arg(&state);
    cmd.arg("--failover-config").arg(&failover_toml).arg("--rauc-conf").arg(&conf);
    cmd.arg("--version-file").arg(d.join("version")).args(["--box-id", "HS-TEST", "--retry", "1s"]);
    cmd.args(["--check-every", "1s", "--rauc", "rauc", "--reboot"]).arg(d.join("no-reboot-expected"));
    let agent = Proc::spawn("hotspare update", cmd);
    let s = wait(&agent, &state, "waiting-rollout", |s| text(s, "state") == "waiting-rollout");
    assert_eq!(text(&s, "installed"), "1");
    assert_eq!(text(&s, "offered"), "2");
    assert!(s["rollout_at_us"].as_i64().is_some(), "{s:#}");
    assert!(parts(&state).is_empty(), "nothing downloaded before the stage");

    // 2. Signed by a key the box does not trust: RAUC refuses it, the refusal is remembered.
    let (sha3, size3) = bundle(d, "intruder", "3", "hs-3.raucb");
    manifest(d, "3", "hs-3.raucb", &sha3, size3, "");
    let s = wait(&agent, &state, "the intruder's bundle refused", |s| {
        text(s, "last_error").contains("RAUC refused the bundle")
    });
    assert!(text(&s, "last_error").contains("signature verification failed"), "{s:#}");
    let memory: Value = serde_json::from_slice(&std::fs::read(state.join("memory.json")).unwrap()).unwrap();
    assert_eq!(memory["refused"][0]["version"], "3", "{memory:#}");
    assert_eq!(memory["refused"][0]["sha256"], sha3.as_str());

    // 3. The manifest's checksum is not the file's: retried, never checked by RAUC.
    manifest(d, "4", "hs-2.raucb", &"ab".repeat(32), size2, "");
    let s = wait(&agent, &state, "a checksum mismatch", |s| text(s, "last_error").contains("is not the manifest's"));
    assert!(text(&s, "last_error").contains(&sha2), "{s:#}");
    assert!(!state.join("download/bundle.raucb").exists());

    // 4. The spare covers an NVR: a good bundle is offered, nothing is downloaded.
    covering(&spare_state, true);
    let (sha5, size5) = bundle(d, "fleet", "5", "hs-5.raucb");
    manifest(d, "5", "hs-5.raucb", &sha5, size5, "");
    wait(&agent, &state, "waiting while covering", |s| {
        text(s, "state") == "waiting-covering" && text(s, "offered") == "5"
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(text(&status(&state), "state"), "waiting-covering");
    assert!(parts(&state).is_empty() && !state.join("download/bundle.raucb").exists());
    // a part left by an interrupted download of another bundle (withdrawn since): never
    // resumed into, deleted
    std::fs::create_dir_all(state.join("download")).unwrap();
    let stale = state.join(format!("download/bundle-{}.part", &"cd".repeat(8)));
    std::fs::write(&stale, vec![0x55; 4096]).unwrap();

    // 5. The takeover ends: downloaded, verified by RAUC, `rauc install` asked. On the host
    //    the client cannot reach RAUC's service (none runs here): the agent keeps the bundle and
    //    tries again later; nothing is refused, nothing rebooted.
    covering(&spare_state, false);
    let s = wait(&agent, &state, "the install's outcome", |s| text(s, "state") == "waiting-rauc");
    assert!(text(&s, "last_error").starts_with("5: RAUC could not be reached"), "{s:#}");
    assert!(state.join("download/bundle.raucb").exists(), "the verified bundle is kept for the retry");
    let log = agent.stderr.text();
    assert!(!stale.exists() && !log.contains("resuming"), "{log}");
    assert!(log.contains("is of another bundle: deleted"), "{log}");
    assert!(log.contains("update: downloading") && log.contains("update: installing"), "{log}");
    assert!(!d.join("no-reboot-expected").exists());
    assert!(!log.contains("rebooting into the new slot"), "{log}");
    // The retry (after the 1 s backoff) asks RAUC again with the same file.
    let end = Instant::now() + Duration::from_secs(30);
    while agent.stderr.text().matches("update: installing").count() < 2 {
        assert!(Instant::now() < end, "no second install attempt\n{}", agent.stderr.text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(agent.stderr.text().matches("update: downloading").count(), log.matches("update: downloading").count());
    let memory: Value = serde_json::from_slice(&std::fs::read(state.join("memory.json")).unwrap()).unwrap();
    let refused: Vec<&str> =
        memory["refused"].as_array().unwrap().iter().filter_map(|r| r["version"].as_str()).collect();
    assert_eq!(refused, ["3"], "{memory:#}");
    assert_eq!(memory["attempted"], Value::Null);
}
