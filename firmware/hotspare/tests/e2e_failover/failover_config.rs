//! End to end: `hotspare failover` refuses bad configurations and licences
//! with a non-zero exit and a message that names the problem, and a valid
//! licence raises the number of NVRs it may watch.

use crate::common::{bin, free_port, Proc};
use crate::failover_common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BOX: &str = "HS-T1";

fn dev_key() -> PathBuf {
    crate::common::repo_root().join("firmware/failover/fixtures/licence/dev.key")
}

/// A config with `n` NVRs (nothing listens on their ports) and `[spare]` extra lines.
fn config(dir: &Path, n: usize, spare_extra: &str, monitor: &str) -> String {
    let mut t = format!(
        "[spare]\nname = \"spare-1\"\nserial = \"{BOX}\"\nlisten = \"127.0.0.1:{}\"\nstore = \"{}\"\nstate = \"{}\"\n{spare_extra}\n\
         [monitor]\n{monitor}\n",
        free_port(),
        dir.join("store").display(),
        dir.join("state").display()
    );
    for i in 1..=n {
        t.push_str(&format!(
            "\n[[nvr]]\nid = \"nvr{i}\"\nurl = \"https://127.0.0.1:{}\"\nadmin_user = \"admin\"\nadmin_password = \"pw\"\n",
            free_port()
        ));
    }
    let (user, password) = crate::failover_common::SPARE_VIEWER;
    t.push_str(&format!("\n[[account]]\nuser = \"{user}\"\nrole = \"viewer\"\npassword = \"{password}\"\n"));
    t
}

fn issue(dir: &Path, name: &str, box_id: &str, nvrs: u8, channels: u16) -> PathBuf {
    let out = dir.join(name);
    let mut cmd = Command::new(bin());
    cmd.args(["licence", "issue", "--key"]).arg(dev_key());
    cmd.args(["--box-id", box_id, "--nvrs", &nvrs.to_string(), "--channels", &channels.to_string(), "-o"]).arg(&out);
    let o = Proc::spawn("licence issue", cmd).finish(Duration::from_secs(10));
    assert!(o.success(), "{}", o.dump());
    out
}

/// Writes `text` and runs the spare on it: it must exit non-zero naming every one of `expect`.
fn refused(dir: &Path, name: &str, text: &str, expect: &[&str]) {
    let cfg = dir.join(name);
    std::fs::write(&cfg, text).unwrap();
    let o = failover_exits(&cfg);
    assert!(!o.success() && o.status.is_some(), "{name}: expected a refusal:\n{}", o.dump());
    o.assert_no_panic();
    let all = o.all();
    for e in expect {
        assert!(all.contains(e), "{name}: the message lacks {e:?}:\n{}", o.dump());
    }
    eprintln!("{name}: {}", all.trim().lines().last().unwrap_or(""));
}

#[test]
fn bad_configs_are_refused_with_the_reason() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let good = config(d, 2, "", "profile = \"fast\"");
    refused(
        d,
        "unknown.toml",
        &good.replace("[spare]\n", "[spare]\ncolour = \"blue\"\n"),
        &["unknown.toml:2:1", "spare.colour", "unknown field `colour`"],
    );
    refused(
        d,
        "interval.toml",
        &config(d, 2, "", "check_interval_s = 10"),
        &["interval.toml:", "monitor.check_interval_s", "10 is out of range (allowed 30..=180)"],
    );
    refused(
        d,
        "dup.toml",
        &good.replace("id = \"nvr2\"", "id = \"nvr1\""),
        &["dup.toml:", "nvr[1].id", "duplicate NVR id \"nvr1\""],
    );
    refused(
        d,
        "five.toml",
        &config(d, 5, "", "profile = \"fast\""),
        &["five.toml:", "5 NVRs configured but the licence allows 4"],
    );
}

#[test]
#[cfg_attr(not(feature = "dev-keys"), ignore = "signs licences with the development key: needs --features dev-keys")]
fn licences_are_verified_and_raise_the_nvr_count() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let lic = issue(d, "lic.toml", BOX, 8, 32);
    let text = std::fs::read_to_string(&lic).unwrap();
    assert!(text.contains("nvrs = 8"), "{text}");

    // Altered after signing.
    let tampered = d.join("tampered.toml");
    std::fs::write(&tampered, text.replace("nvrs = 8", "nvrs = 16")).unwrap();
    let extra = format!("licence = \"{}\"\nbox_id = \"{BOX}\"", tampered.display());
    refused(
        d,
        "tampered-cfg.toml",
        &config(d, 5, &extra, ""),
        &["signature does not match", "altered", "tampered.toml"],
    );

    // Bound to another box.
    let other = issue(d, "other.toml", "HS-OTHER", 8, 32);
    let extra = format!("licence = \"{}\"\nbox_id = \"{BOX}\"", other.display());
    refused(
        d,
        "other-cfg.toml",
        &config(d, 5, &extra, ""),
        &["other.toml", "issued for box HS-OTHER but this box is HS-T1"],
    );

    // The valid licence lets 5 NVRs start.
    let extra = format!("licence = \"{}\"\nbox_id = \"{BOX}\"", lic.display());
    let text = config(d, 5, &extra, "profile = \"fast\"");
    let cfg = d.join("five-licensed.toml");
    std::fs::write(&cfg, &text).unwrap();
    let port: u16 = text
        .lines()
        .find_map(|l| l.strip_prefix("listen = \"127.0.0.1:"))
        .unwrap()
        .trim_end_matches('"')
        .parse()
        .unwrap();
    let spare = SpareProc::start(&cfg, port, None);
    let end = Instant::now() + Duration::from_secs(10);
    let s = loop {
        let s = spare.try_status().expect("status");
        if s.nvrs.len() == 5 {
            break s;
        }
        assert!(Instant::now() < end, "{s:#?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!((s.nvrs_licensed, s.channels_licensed), (8, 32), "{s:#?}");
    assert!(spare.group.log().contains("5 NVRs, licence allows 8 NVRs and 32 channels"), "{}", spare.group.log());
}

/// `hotspare licence box-id` prints the identity licences are bound to (a
/// factory id or a hardware serial, never a configuration value) and where
/// it comes from; on a machine without one it says what it tried. The
/// spelling of earlier firmware, `hotspare license`, does the same.
#[test]
fn licence_box_id_shows_the_box_identity() {
    let run = |spelling: &str| {
        let mut cmd = Command::new(bin());
        cmd.args([spelling, "box-id"]);
        Proc::spawn("licence box-id", cmd).finish(Duration::from_secs(10))
    };
    let o = run("licence");
    let old = run("license");
    let result = |o: &crate::common::Output| (o.success(), o.stdout.clone(), o.stderr.clone());
    assert_eq!(result(&old), result(&o), "{}", old.dump());
    o.assert_no_panic();
    if o.success() {
        let id = o.stdout.trim();
        assert!(!id.is_empty() && id.lines().count() == 1 && id.chars().all(|c| c.is_ascii_graphic()), "{}", o.dump());
        assert!(o.stderr.contains("box id from "), "{}", o.dump());
        eprintln!("box id {id} ({})", o.stderr.trim());
    } else {
        let all = o.all();
        assert!(all.contains("/factory/box-id") && all.contains("DMI product serial"), "{}", o.dump());
        eprintln!("no box id here: {}", all.trim());
    }
}
