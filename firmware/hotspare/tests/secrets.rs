//! Secrets stay out of the process list: the camera password of `hotspare
//! record` and the camera passwords an NVR hands its recorder child are
//! never in any `/proc/PID/cmdline`, read from the real running processes.
mod common;
mod nvr_common;

use common::{bin, free_port, record_cmd, Proc, Sim};
use nvr_common::*;
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
        let s = common::expect_summary(&out);
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
