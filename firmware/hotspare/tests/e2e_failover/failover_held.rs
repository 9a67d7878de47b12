//! Before re-insertion, the NVR already shows and plays the failover video
//! still held on the spare (PRODUCT §4: "whether it is still on the spare or
//! already re-inserted"). A real way to keep the video on the spare: the NVR
//! comes back with another admin, the spare's credentials demoted to a viewer
//! account (status still works, so the spare fails back, but its imports are
//! refused with 403) until the configuration is put back. The NVR still
//! presents those credentials to the spare (`[failover] user/password`) to
//! read the held video.

use crate::common::ffprobe;
use crate::failover_common::*;
use hotspare_api::{Location, Source};
use std::time::Duration;

/// NVR 0's config: as the site wrote it, or with another admin and the spare's credentials
/// demoted to a viewer account.
fn rewrite_config(site: &Site, demoted: bool) {
    let spec = site.nvrs[0].clone();
    let mut text = spec.text(site.spare_port);
    if demoted {
        let (user, password) = (&spec.admin_user, &spec.admin_password);
        let original = format!("admin_user = \"{user}\"\nadmin_password = \"{password}\"\n");
        assert!(text.contains(&original), "{text}");
        text = text.replace(&original, "admin_user = \"root\"\nadmin_password = \"changed-on-the-nvr\"\n");
        text = text.replace("[failover]\n", &format!("[failover]\nuser = \"{user}\"\npassword = \"{password}\"\n"));
        text.push_str(&format!(
            "\n[[server.accounts]]\nuser = \"{user}\"\nrole = \"viewer\"\npassword = \"{password}\"\n"
        ));
    }
    std::fs::write(&spec.config, text).unwrap();
}

#[test]
fn nvr_lists_and_plays_video_still_on_the_spare() {
    let mut site = Site::prepare(1, 1);
    site.nvrs[0].segment_seconds = 2;
    site.start();
    site.wait_healthy();
    std::thread::sleep(Duration::from_secs(2));

    site.kill_nvr(0);
    site.wait_takeover(0, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(5));
    rewrite_config(&site, true);
    let back = site.restart_nvr(0);
    let v = site.wait_view(0, Duration::from_secs(40), "failback with re-insertion refused", |v| {
        v.phase == "watching" && v.reinsert.last_error.is_some()
    });
    let err = v.reinsert.last_error.clone().unwrap_or_default();
    assert!(err.contains("403"), "re-insertion error: {err}");

    // The NVR's timeline lists the held video, marked failover, on the spare.
    let rec = site.recordings(0, "cam0");
    let held: Vec<_> = rec.spans.iter().filter(|s| s.location == Location::Spare).collect();
    assert!(!held.is_empty(), "no span on the spare in the NVR's timeline: {rec:#?}");
    assert!(held.iter().all(|s| s.source == Source::Failover), "{rec:#?}");
    let h = held[0];
    assert!(h.frames >= 50, "{h:?}");

    // Playback from the NVR of a window only the spare has: proxied.
    let (from, to) = (h.start_us + 100_000, h.end_us.min(back) - 300_000);
    let out = site.dir().join("held.mp4");
    site.export(0, "cam0", from, to, &out);
    let p = ffprobe(&out);
    assert_eq!(p.codec, "h264");
    assert!(p.stderr.trim().is_empty(), "ffprobe: {}", p.stderr);
    assert!(p.frames >= (to - from) / 40_000 - 25, "{} frames for {} µs", p.frames, to - from);

    // The configuration is put back: re-insertion finishes and the span is on the NVR.
    rewrite_config(&site, false);
    site.kill_nvr(0);
    site.restart_nvr(0);
    site.wait_view(0, Duration::from_secs(40), "re-insertion after the password is fixed", |v| {
        v.phase == "watching" && v.reinsert.finished
    });
    let rec = site.recordings(0, "cam0");
    assert!(rec.spans.iter().all(|s| s.location == Location::Nvr), "{rec:#?}");
    assert!(failover_frames_on_nvr(&rec) >= h.frames, "{rec:#?}");
}
