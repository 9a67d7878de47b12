//! The spare run from the box's settings (`hotspare failover --config box.toml --settings
//! DIR`) on a real site: one `hotspare nvr` recording a simulated camera. A fresh box lets
//! nobody in; `hotspare settings import` of an NVR and accounts is applied in place (same
//! process, same listener); the NVR is killed and taken over; a settings change made while
//! covering waits (`settings_pending`) and is applied after the failback; a network-only
//! change does not reload the role. failover.toml giving a site key with `--settings` is
//! refused, naming the key.

#[path = "common/mod.rs"]
mod common;
#[path = "failover_common/mod.rs"]
mod failover_common;
#[path = "nvr_common/mod.rs"]
mod nvr_common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{bin, Proc};
use failover_common::{try_get, Group, Site, SpareProc, SPARE_VIEWER};
use hotspare_api::spare::SpareStatus;
use hotspare_http::Role;
use hotspare_settings::model::{Nvr, Profile};
use hotspare_settings::Settings;
use nvr_common::basic;

const INSTALLER: (&str, &str) = ("installer", "Install3r-pass");

/// `[spare]`'s fixed parts of a spare in `d` (the site's: the same store, state and so TLS
/// identity as the paired failover.toml).
fn box_toml(serial: &str, port: u16, d: &Path, extra: &str) -> String {
    format!(
        "[spare]\nserial = \"{serial}\"\nlisten = \"127.0.0.1:{port}\"\nstore = \"{}\"\nstate = \"{}\"\n{extra}",
        d.join("spare-store").display(),
        d.join("spare-state").display(),
    )
}

fn settings_cmd(dir: &Path, args: &[&str]) -> String {
    let o = Command::new(bin()).arg("settings").arg("--dir").arg(dir).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "hotspare settings {args:?}: {text}");
    text
}

/// HTTP status of GET /api/v1/status as `user`.
fn status_as(port: u16, user: &str, password: &str) -> Option<u16> {
    try_get(port, "/api/v1/status", &[basic(user, password)]).ok().map(|r| r.status)
}

fn wait_status(site: &Site, timeout: Duration, what: &str, pred: impl Fn(&SpareStatus) -> bool) -> SpareStatus {
    let end = Instant::now() + timeout;
    loop {
        if let Some(s) = site.spare_status().filter(|s| pred(s)) {
            return s;
        }
        assert!(Instant::now() < end, "waited {timeout:?} for {what}\n{}", site.dump());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn the_spare_follows_its_settings_in_place_and_never_while_covering() {
    let mut site = Site::prepare(1, 1);
    site.start_nvrs();
    let d = site.dir().to_owned();
    let config = d.join("box.toml");
    std::fs::write(&config, box_toml(&site.spare_serial, site.spare_port, &d, "")).unwrap();
    let settings = d.join("settings");
    // the box-only file shows the certificate the NVR was paired with (same state directory)
    let fp = nvr_common::box_fingerprint("failover", &config).expect("--fingerprint of a box-only failover.toml");
    assert_eq!(Some(fp), nvr_common::box_fingerprint("failover", &site.spare_config));
    nvr_common::pin(site.spare_port, fp);
    let mut cmd = Command::new(bin());
    cmd.arg("failover").arg("--config").arg(&config).arg("--settings").arg(&settings);
    cmd.args(["--ssdp", "off"]).env("RUST_LOG", "info");
    let group = Group::spawn("spare", cmd);
    let pid = group.pid();
    let port = site.spare_port;

    // a fresh box: the spare runs, monitors nothing, lets nobody in
    // (waits for the port, not with wrong passwords: the API backs off a client after 5)
    let end = Instant::now() + Duration::from_secs(20);
    let mut first = None;
    while first.is_none() {
        assert!(Instant::now() < end, "the spare never answered\n{}", group.log());
        std::thread::sleep(Duration::from_millis(50));
        first = status_as(port, "admin", "admin");
    }
    assert_eq!(first, Some(401));
    assert_eq!(status_as(port, SPARE_VIEWER.0, SPARE_VIEWER.1), Some(401));
    site.spare = Some(SpareProc { group, port });

    // the installer's settings: nvr1 (pinned as paired), an admin and the tests' viewer
    let n = &site.nvrs[0];
    let mut s = Settings::default();
    s.monitoring.profile = Profile::Fast;
    s.nvrs.push(Nvr {
        id: n.id.clone(),
        url: n.url(),
        admin_user: n.admin_user.clone(),
        admin_password: n.admin_password.clone(),
        priority: n.priority,
        fingerprint: n.fingerprint.map(|f| f.to_string()),
    });
    s.set_account(INSTALLER.0, Role::Admin, INSTALLER.1);
    s.set_account(SPARE_VIEWER.0, Role::Viewer, SPARE_VIEWER.1);
    let file = d.join("site-settings.toml");
    std::fs::write(&file, s.to_toml()).unwrap();
    // a client connecting all along sees no refused connection across the reload
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prober = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut ok, mut refused) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                match std::net::TcpStream::connect(("127.0.0.1", port)) {
                    Ok(_) => ok += 1,
                    Err(_) => refused += 1,
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            (ok, refused)
        })
    };
    let imported = Instant::now();
    eprintln!("import at {}", common::rfc3339(common::now_us()));
    let out = settings_cmd(&settings, &["--channel", "test", "import", file.to_str().unwrap()]);
    assert!(out.contains("saved generation 1"), "{out}");
    // (the spare reloads within ~1 s; each first request of an account then costs one PBKDF2
    // verification, seconds in a debug build)
    let st = wait_status(&site, Duration::from_secs(20), "generation 1 applied", |s| {
        s.settings_seq == Some(1) && s.nvrs.iter().any(|v| v.id == "nvr1")
    });
    eprintln!("generation 1 applied {:.1} s after the import", imported.elapsed().as_secs_f64());
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (ok, refused) = prober.join().unwrap();
    assert_eq!(refused, 0, "connections refused across the reload ({ok} accepted)");
    assert!(ok > 10, "{ok} connections");
    assert_eq!((st.name.as_str(), st.settings_pending, st.settings_error.as_deref()), ("Hotspare", None, None));
    site.wait_healthy();
    assert_eq!(status_as(port, INSTALLER.0, INSTALLER.1), Some(200));
    assert_eq!(status_as(port, "admin", "admin"), Some(401));
    assert!(alive(pid), "same process\n{}", site.dump());

    // the NVR dies: taken over
    site.kill_nvr(0);
    site.wait_takeover(0, Duration::from_secs(30));

    // a change while covering waits
    let out = settings_cmd(&settings, &["set", "announcement.server_name=Spare B"]);
    assert!(out.contains("saved generation 2"), "{out}");
    wait_status(&site, Duration::from_secs(5), "generation 2 pending", |s| s.settings_pending == Some(2));
    std::thread::sleep(Duration::from_secs(2));
    let st = site.spare_status().expect("status");
    assert_eq!((st.settings_seq, st.settings_pending, st.name.as_str()), (Some(1), Some(2), "Hotspare"));
    assert_eq!(site.view(0).map(|v| v.phase), Some("taken_over".to_string()), "{}", site.dump());

    // back: failback, re-insertion, then the change is applied
    site.restart_nvr(0);
    site.wait_failback(0, Duration::from_secs(60));
    let failed_back = Instant::now();
    let st = wait_status(&site, Duration::from_secs(10), "generation 2 applied after the failback", |s| {
        s.settings_seq == Some(2)
    });
    assert_eq!((st.name.as_str(), st.settings_pending), ("Spare B", None));
    eprintln!("generation 2 applied {:.1} s after the failback was seen", failed_back.elapsed().as_secs_f64());
    wait_status(&site, Duration::from_secs(30), "nvr1 synced again", hotspare::kit::all_synced);
    assert_eq!(status_as(port, INSTALLER.0, INSTALLER.1), Some(200));

    // a network-only change: the role is not reloaded
    settings_cmd(&settings, &["set", "hostname=spare-9"]);
    wait_status(&site, Duration::from_secs(5), "generation 3 in force", |s| s.settings_seq == Some(3));
    // a generation the spare cannot use: reported, the one in force kept
    s.nvrs[0].url = s.nvrs[0].url.replace("https://", "http://");
    std::fs::write(&file, s.to_toml()).unwrap();
    settings_cmd(&settings, &["import", file.to_str().unwrap()]);
    let st = wait_status(&site, Duration::from_secs(5), "generation 4 refused", |s| s.settings_error.is_some());
    let e = st.settings_error.unwrap_or_default();
    assert!(e.starts_with("settings generation 4: nvr[0].url: ") && e.contains("https://"), "{e}");
    assert_eq!((st.settings_seq, st.settings_pending), (Some(3), None));
    assert_eq!(site.view(0).map(|v| v.phase), Some("watching".to_string()), "{}", site.dump());

    let log = site.spare_log();
    for l in log.lines().filter(|l| l.contains("settings generation") || l.contains("spare API on")) {
        eprintln!("{l}");
    }
    assert!(log.contains("settings generation 3: nothing the spare uses changed (no reload)"), "{log}");
    assert_eq!(log.matches("reloading the spare").count(), 2, "{log}");
    assert_eq!(log.matches("spare API on https://").count(), 1, "one listener\n{log}");
    assert!(alive(pid), "same process\n{}", site.dump());
}

#[test]
fn site_keys_in_failover_toml_with_settings_are_refused_by_name() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let config = d.join("box.toml");
    let nvr = "\n[[nvr]]\nid = \"nvr1\"\nurl = \"https://127.0.0.1:1\"\nadmin_user = \"a\"\nadmin_password = \"b\"\n";
    std::fs::write(&config, box_toml("HS-T2", common::free_port(), d, nvr)).unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("failover").arg("--config").arg(&config).arg("--settings").arg(d.join("settings"));
    cmd.args(["--ssdp", "off"]);
    let out = Proc::spawn("failover", cmd).finish(Duration::from_secs(15));
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{}", out.dump());
    let e = out.stderr;
    assert!(e.contains("box.toml:") && e.contains(": nvr: comes from the settings"), "{e}");
}
