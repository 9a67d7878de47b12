//! Secrets stay out of the process list: the camera password of `hotspare
//! record` and the camera passwords an NVR hands its recorder child are
//! never in any `/proc/PID/cmdline`, read from the real running processes.

use crate::common::{bin, free_port, record_cmd, Proc, Sim};
use crate::nvr_common::*;
use std::time::Duration;

/// The command line of a running process (polled: it reads empty for a moment around the exec).
fn cmdline(pid: u32) -> String {
    let end = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_else(|e| panic!("/proc/{pid}/cmdline: {e}"));
        if !raw.is_empty() || std::time::Instant::now() > end {
            return String::from_utf8_lossy(&raw).replace('\0', " ");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn record_takes_the_camera_password_from_env_or_file_not_argv() {
    let password = "Sup3r-s3cret-cam";
    let port = free_port();
    let sim = Sim::start("h264", port, &["--user", "op", "--password", password]);
    let work = tempfile::tempdir().unwrap();
    let pw_file = work.path().join("pw");
    std::fs::write(&pw_file, format!("{password}\n")).unwrap();

    let mut by_env = record_cmd(&sim.url(), work.path(), "env", &["--duration", "4s", "--user", "op"]);
    by_env.env("HOTSPARE_CAMERA_PASSWORD", password);
    let by_file = record_cmd(
        &sim.url(),
        work.path(),
        "file",
        &["--duration", "4s", "--user", "op", "--password-file", pw_file.to_str().unwrap()],
    );
    for (name, cmd) in [("env", by_env), ("file", by_file)] {
        let p = Proc::spawn(name, cmd);
        let line = cmdline(p.pid());
        assert!(line.contains("record") && line.contains(&sim.url()), "{line}");
        assert!(!line.contains(password), "{name}: the password is in the process list: {line}");
        let out = p.finish(Duration::from_secs(20));
        assert!(out.success(), "{name}:\n{}", out.dump());
        let s = crate::common::expect_summary(&out);
        assert!(s.frames >= 25, "{name}: {} frames:\n{}", s.frames, out.dump());
    }
}

#[test]
fn nvr_recorder_child_gets_no_camera_password_in_argv() {
    let port = free_port();
    let sim = Sim::start("h264", port, &["--streams", "2"]);
    let cams =
        vec![("cam1", format!("rtsp://127.0.0.1:{port}/cam0")), ("cam2", format!("rtsp://127.0.0.1:{port}/cam1"))];
    let work = tempfile::tempdir().unwrap();
    let api_port = free_port();
    let text = config_text(api_port, &work.path().join("store"), &cams, "", "");
    assert!(text.contains("cam-pw-cam1"), "the test config has camera passwords");
    let nvr = Nvr::with_config(work.path(), &text, api_port);
    let child = nvr.recorder_pid();
    for pid in [nvr.proc.pid(), child] {
        let line = cmdline(pid);
        assert!(line.starts_with(bin()), "{line}");
        assert!(!line.contains("cam-pw") && !line.contains(ADMIN.1), "a password is in the process list: {line}");
    }
    assert!(cmdline(child).contains("nvr-recorder --config"), "{}", cmdline(child));
    drop(sim);
}

/// A paired site: every box shows its fingerprint (status JSON, `--fingerprint`), the spare's
/// snapshot and state files and both keys are 0600, plain HTTP to a TLS port gets no answer,
/// and a spare with no or a wrong pin for the NVR refuses it, naming the fingerprints.
#[test]
fn paired_site_pins_fingerprints_and_keeps_secrets_private() {
    use crate::failover_common::{spare_config_text, Site};
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
    };
    let mut site = Site::prepare(1, 1);
    site.start();
    site.wait_healthy();
    let nvr_fp = site.nvrs[0].fingerprint.expect("NVR fingerprint");
    let spare_fp = site.nvrs[0].spare_fingerprint.expect("spare fingerprint");
    let status = site.spare_status().unwrap();
    assert_eq!(status.fingerprint, Some(spare_fp.to_string()));
    assert_eq!(site.nvr(0).try_status().unwrap().fingerprint, Some(nvr_fp.to_string()));
    assert!(site.spare_log().contains(&spare_fp.to_string()), "the spare prints its fingerprint at start");

    let d = site.dir().to_owned();
    for f in ["spare-state/snapshots/nvr1.postcard", "spare-state/tls/key.pem", "nvr1-tls/key.pem"] {
        assert_eq!(mode(&d.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&d.join("spare-state")), 0o700);

    // Plain HTTP to the NVR's TLS port: no HTTP answer.
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", site.nvrs[0].port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    use std::io::{Read, Write};
    tcp.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = tcp.read_to_end(&mut reply);
    assert!(!String::from_utf8_lossy(&reply).contains("HTTP/1.1 200"), "plain HTTP answered");

    // No pin, then a wrong pin (the spare's own certificate) for the NVR: refused by name.
    let mut unpinned = site.nvrs.clone();
    for (pin, expect) in [(None, "no certificate fingerprint is configured"), (Some(spare_fp), "mismatch")] {
        unpinned[0].fingerprint = pin;
        let text = spare_config_text(&site.spare_serial, site.spare_port, &d, &unpinned, &site.spare_extra);
        std::fs::write(&site.spare_config, text).unwrap();
        site.kill_spare();
        site.start_spare();
        let v = site.wait_view(0, Duration::from_secs(20), "the NVR refused", |v| v.last_error.is_some());
        let err = v.last_error.unwrap();
        assert!(err.contains(expect) && err.contains(&nvr_fp.to_string()), "{err}");
        if pin.is_some() {
            assert!(err.contains(&spare_fp.to_string()), "{err}");
        }
    }
}
