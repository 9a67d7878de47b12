//! End to end: two NVRs with 10 cameras each fail while the channel licence
//! allows 16 cameras: the higher-priority NVR is covered completely, the
//! other one as far as channels remain, and the rest is reported as not
//! covered.

use crate::common::bin;
use crate::failover_common::*;
use std::process::Command;
use std::time::Duration;

#[test]
#[cfg_attr(not(feature = "dev-keys"), ignore = "signs licences with the development key: needs --features dev-keys")]
fn channel_licence_covers_nvrs_by_priority() {
    let mut site = Site::prepare(2, 10);
    // nvr2 is the important one.
    site.nvrs[0].priority = 20;
    site.nvrs[1].priority = 1;
    let lic = site.dir().join("lic.toml");
    let o = Command::new(bin())
        .args(["licence", "issue", "--key"])
        .arg(crate::common::repo_root().join("firmware/failover/fixtures/licence/dev.key"))
        .args(["--box-id", "HS-T1", "--nvrs", "4", "--channels", "16", "-o"])
        .arg(&lic)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    site.spare_extra = format!("licence = \"{}\"\nbox_id = \"HS-T1\"", lic.display());
    site.start();
    // Only the settings are needed before the failure.
    site.wait_view(0, Duration::from_secs(20), "nvr1 synced", |v| v.snapshot_us.is_some());
    site.wait_view(1, Duration::from_secs(20), "nvr2 synced", |v| v.snapshot_us.is_some());
    site.kill_nvr(0);
    site.kill_nvr(1);

    let high = site.wait_takeover(1, Duration::from_secs(25));
    let low = site.wait_view(0, Duration::from_secs(25), "nvr1 partly covered", |v| {
        v.phase == "taken_over" && v.recording.len() == 6 && v.first_frame_us.values().all(|f| f.is_some())
    });
    let status = site.spare_status().unwrap();
    assert_eq!((status.channels_licensed, status.channels_used), (16, 16), "{status:#?}");
    assert!(high.uncovered.is_empty(), "{high:#?}");
    assert_eq!(high.recording.len(), 10);
    assert_eq!(low.uncovered.len(), 4, "{low:#?}");
    let mut all: Vec<String> = low.recording.iter().chain(&low.uncovered).cloned().collect();
    all.sort();
    let mut want = site.nvrs[0].cam_ids();
    want.sort();
    assert_eq!(all, want, "covered + uncovered = nvr1's cameras");
    assert!(site.spare_log().contains("nvr1: channel licence exhausted: cameras not covered:"), "{}", site.dump());
    eprintln!("covered: nvr2 {:?}; nvr1 {:?}, not covered {:?}", high.recording, low.recording, low.uncovered);
}
