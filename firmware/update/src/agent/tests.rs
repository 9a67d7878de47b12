//! The agent in simulated time: every decision of the module doc, step by step.

use super::*;
use crate::rollout;

const SHA: [u8; 32] = [7; 32];
const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn cfg() -> AgentConfig {
    AgentConfig {
        manifest_url: "http://fleet/hs/manifest.json".into(),
        compatible: "hotspare-qemu-virt".into(),
        box_id: Some("HS-000042".into()),
        check_every: HOUR,
        retry_min: MIN,
    }
}

fn at(mono: Duration) -> Now {
    Now { mono, wall_us: 1_800_000_000_000_000 + mono.as_micros() as i64 }
}

fn manifest(version: &str, extra: &str) -> Vec<u8> {
    format!(
        r#"{{"compatible":"hotspare-qemu-virt","version":"{version}","bundle":"b-{version}.raucb","sha256":"{}","size":1000{extra}}}"#,
        hex::encode(SHA)
    )
    .into_bytes()
}

fn info(version: &str) -> Input {
    Input::Checked(Ok(BundleInfo { compatible: "hotspare-qemu-virt".into(), version: version.into() }))
}

fn bundle() -> PathBuf {
    PathBuf::from("/data/update/bundle.raucb")
}

/// A new agent on version 1 with nothing remembered; its first tick asks for the manifest.
fn started() -> Agent {
    let (mut a, effects) = Agent::new(cfg(), "1".into(), Memory::default(), at(Duration::ZERO));
    assert!(effects.is_empty());
    assert_eq!(a.poll_at(), Some(Duration::ZERO));
    let e = a.handle(at(Duration::ZERO), Input::Tick);
    assert_eq!(e, vec![Effect::FetchManifest { url: "http://fleet/hs/manifest.json".into() }]);
    assert_eq!(a.status().state, "checking");
    a
}

/// A started agent that was offered version 2, downloaded it and had RAUC check it (its
/// install asked next), and the time of those steps.
fn checked_version_2() -> (Agent, Now) {
    let mut a = started();
    let t = at(Duration::from_secs(1));
    a.handle(t, Input::Manifest(Ok(manifest("2", ""))));
    a.handle(t, Input::Downloaded(Ok(bundle())));
    a.handle(t, info("2"));
    (a, t)
}

#[test]
fn up_to_date_checks_again_after_the_interval() {
    let mut a = started();
    let t = at(Duration::from_secs(1));
    assert!(a.handle(t, Input::Manifest(Ok(manifest("1", "")))).is_empty());
    assert_eq!(a.status().state, "idle");
    assert_eq!(a.poll_at(), Some(t.mono + HOUR));
    assert!(a.handle(at(t.mono + HOUR - MIN), Input::Tick).is_empty(), "not before the interval");
    assert!(matches!(a.handle(at(t.mono + HOUR), Input::Tick)[..], [Effect::FetchManifest { .. }]));
}

#[test]
fn an_offered_version_is_downloaded_checked_installed_and_rebooted_into() {
    let mut a = started();
    let t = at(Duration::from_secs(1));
    let e = a.handle(t, Input::Manifest(Ok(manifest("2", ""))));
    assert_eq!(e, vec![Effect::Download { url: "http://fleet/hs/b-2.raucb".into(), sha256: SHA, size: 1000 }]);
    assert_eq!(a.handle(t, Input::Downloaded(Ok(bundle()))), vec![Effect::Check { path: bundle() }]);
    assert_eq!(a.handle(t, info("2")), vec![Effect::Install { path: bundle() }]);
    let e = a.handle(t, Input::Installed(Ok(())));
    let saved = Memory { attempted: Some("2".into()), refused: vec![] };
    assert_eq!(e, vec![Effect::Save(saved.clone()), Effect::Discard { path: bundle() }, Effect::Reboot]);
    assert_eq!((a.status().state, a.poll_at()), ("rebooting", None));
    // The box comes back on 2: the attempt is decided and forgotten.
    let (a, e) = Agent::new(cfg(), "2".into(), saved, at(Duration::ZERO));
    assert_eq!(e, vec![Effect::Save(Memory::default())]);
    assert_eq!(a.status().last_outcome.as_deref(), Some("updated to 2"));
}

#[test]
fn nothing_is_downloaded_installed_or_rebooted_while_covering() {
    let mut a = started();
    let t = at(Duration::from_secs(1));
    assert!(a.handle(t, Input::Covering(true)).is_empty());
    assert!(a.handle(t, Input::Manifest(Ok(manifest("2", "")))).is_empty(), "no download while covering");
    assert_eq!(a.status().state, "waiting-covering");
    // The manifest is still read at the interval: a newer version replaces the one waiting.
    assert_eq!(a.poll_at(), Some(t.mono + HOUR));
    let t = at(t.mono + HOUR);
    assert!(matches!(a.handle(t, Input::Tick)[..], [Effect::FetchManifest { .. }]));
    assert!(a.handle(t, Input::Manifest(Ok(manifest("3", "")))).is_empty());
    assert_eq!((a.status().state, a.status().offered.as_deref()), ("waiting-covering", Some("3")));
    let e = a.handle(t, Input::Covering(false));
    assert!(matches!(&e[..], [Effect::Download { url, .. }] if url.ends_with("b-3.raucb")), "{e:?}");
    // A takeover during the download: the download finishes, the install waits.
    assert!(a.handle(t, Input::Covering(true)).is_empty());
    assert_eq!(a.handle(t, Input::Downloaded(Ok(bundle()))), vec![Effect::Check { path: bundle() }]);
    assert!(a.handle(t, info("3")).is_empty(), "no install while covering");
    assert_eq!(a.status().state, "waiting-covering");
    assert_eq!(a.handle(t, Input::Covering(false)), vec![Effect::Install { path: bundle() }]);
    // A takeover during the install: installed, but no reboot until the failback.
    assert!(a.handle(t, Input::Covering(true)).is_empty());
    let e = a.handle(t, Input::Installed(Ok(())));
    assert!(!e.contains(&Effect::Reboot), "{e:?}");
    assert_eq!(a.status().state, "reboot-waiting-covering");
    assert!(a.handle(t, Input::Tick).is_empty());
    assert_eq!(a.handle(t, Input::Covering(false)), vec![Effect::Reboot]);
    // A takeover between the agent's decision and the reboot: back to waiting.
    assert!(a.handle(t, Input::Covering(true)).is_empty());
    assert_eq!(a.status().state, "reboot-waiting-covering");
    assert_eq!(a.handle(t, Input::Covering(false)), vec![Effect::Reboot]);
}

#[test]
fn a_bundle_rauc_refuses_is_not_tried_again_until_the_manifest_changes_it() {
    let mut a = started();
    let t = at(Duration::from_secs(1));
    a.handle(t, Input::Manifest(Ok(manifest("2", ""))));
    a.handle(t, Input::Downloaded(Ok(bundle())));
    let e = a.handle(t, Input::Checked(Err("signature verification failed: certificate not trusted".into())));
    let [Effect::Save(m), Effect::Discard { .. }] = &e[..] else { panic!("{e:?}") };
    assert_eq!(m.refused.len(), 1);
    assert!(m.refused[0].why.contains("RAUC refused the bundle: signature verification failed"), "{m:?}");
    assert_eq!(a.status().state, "idle");
    // The same bundle again: not downloaded; the error says why.
    let t2 = at(t.mono + HOUR);
    a.handle(t2, Input::Tick);
    assert!(a.handle(t2, Input::Manifest(Ok(manifest("2", "")))).is_empty());
    assert!(a.status().last_error.as_deref().unwrap_or("").contains("2 was refused"), "{:?}", a.status());
    // A bundle with another checksum under the same version is a new candidate.
    let other = String::from_utf8(manifest("2", "")).unwrap().replace(&hex::encode(SHA), &hex::encode([8u8; 32]));
    let t3 = at(t2.mono + HOUR);
    a.handle(t3, Input::Tick);
    assert!(matches!(a.handle(t3, Input::Manifest(Ok(other.into_bytes())))[..], [Effect::Download { .. }]));
}

#[test]
fn a_signed_bundle_that_disagrees_with_the_manifest_is_refused() {
    for (compatible, version, want) in [
        ("hotspare-qemu-virt", "3", "the signed bundle says version 3, the manifest 2"),
        ("hotspare-rk3568", "2", "the bundle is for hotspare-rk3568"),
    ] {
        let mut a = started();
        let t = at(Duration::from_secs(1));
        a.handle(t, Input::Manifest(Ok(manifest("2", ""))));
        a.handle(t, Input::Downloaded(Ok(bundle())));
        let e = a.handle(t, Input::Checked(Ok(BundleInfo { compatible: compatible.into(), version: version.into() })));
        assert!(!e.iter().any(|e| matches!(e, Effect::Install { .. })), "{e:?}");
        assert!(a.status().last_error.as_deref().unwrap_or("").contains(want), "{:?}", a.status());
    }
}

#[test]
fn a_failed_install_is_refused() {
    let (mut a, t) = checked_version_2();
    let e =
        a.handle(t, Input::Installed(Err(InstallError::Failed("writing slot rootfs.1 failed: No space left".into()))));
    assert!(!e.contains(&Effect::Reboot));
    assert!(a.memory().refused[0].why.contains("rauc install failed: writing slot"), "{:?}", a.memory());
}

#[test]
fn a_slot_that_fell_back_is_refused_at_the_next_start() {
    let memory = Memory { attempted: Some("2".into()), refused: vec![] };
    let (mut a, e) = Agent::new(cfg(), "1".into(), memory, at(Duration::ZERO));
    let [Effect::Save(m)] = &e[..] else { panic!("{e:?}") };
    assert_eq!(m.attempted, None);
    assert!(m.refused[0].why.contains("came back on 1"), "{m:?}");
    assert!(a.status().last_outcome.as_deref().unwrap_or("").starts_with("2 did not stay"), "{:?}", a.status());
    a.handle(at(Duration::ZERO), Input::Tick);
    assert!(a.handle(at(Duration::ZERO), Input::Manifest(Ok(manifest("2", "")))).is_empty());
    // A newer version is taken.
    let t = at(HOUR);
    a.handle(t, Input::Tick);
    assert!(matches!(a.handle(t, Input::Manifest(Ok(manifest("3", ""))))[..], [Effect::Download { .. }]));
}

#[test]
fn a_box_waits_for_its_rollout_stage_and_wakes_at_its_start() {
    let t = at(Duration::from_secs(1));
    let b = rollout::bucket("HS-000042", "2");
    let stage_at = t.wall_us + 600_000_000; // ten minutes from now
    let stage_time = |us: i64| std::time::UNIX_EPOCH + Duration::from_micros(us as u64);
    let rollout = format!(
        r#","rollout":[{{"at":"{}","percent":{b}}},{{"at":"{}","percent":{}}}]"#,
        humantime_rfc3339(stage_time(t.wall_us - 1_000_000)),
        humantime_rfc3339(stage_time(stage_at)),
        b + 1
    );
    let mut a = started();
    assert!(a.handle(t, Input::Manifest(Ok(manifest("2", &rollout)))).is_empty(), "bucket {b} is not in {b}%");
    assert_eq!(a.status().state, "waiting-rollout");
    assert_eq!((a.status().bucket, a.status().rollout_at_us), (Some(b), Some(stage_at)));
    let wake = a.poll_at().unwrap();
    assert_eq!(wake, t.mono + Duration::from_secs(600), "wakes at the stage, before the hourly check");
    assert!(matches!(a.handle(at(wake), Input::Tick)[..], [Effect::FetchManifest { .. }]));
    assert!(matches!(a.handle(at(wake), Input::Manifest(Ok(manifest("2", &rollout))))[..], [Effect::Download { .. }]));
}

fn humantime_rfc3339(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[test]
fn failures_back_off_up_to_the_interval_and_bad_manifests_say_which_field() {
    let mut a = started();
    let mut t = at(Duration::from_secs(1));
    let mut waits = Vec::new();
    for _ in 0..8 {
        a.handle(t, Input::Manifest(Err("connection refused".into())));
        let next = a.poll_at().unwrap();
        waits.push((next - t.mono).as_secs());
        t = at(next);
        a.handle(t, Input::Tick);
    }
    assert_eq!(waits, vec![60, 120, 240, 480, 960, 1920, 3600, 3600]);
    assert_eq!(a.status().last_error.as_deref(), Some("manifest: connection refused"));
    let bad = String::from_utf8(manifest("2", "")).unwrap().replace("\"size\":1000", "\"size\":0");
    assert!(a.handle(t, Input::Manifest(Ok(bad.into_bytes()))).is_empty());
    assert!(a.status().last_error.as_deref().unwrap_or("").contains("field `size`"), "{:?}", a.status());
    // A good manifest resets the backoff.
    t = at(a.poll_at().unwrap());
    a.handle(t, Input::Tick);
    a.handle(t, Input::Manifest(Ok(manifest("1", ""))));
    assert_eq!(a.poll_at(), Some(t.mono + HOUR));
    t = at(t.mono + HOUR);
    a.handle(t, Input::Tick);
    a.handle(t, Input::Manifest(Err("timeout".into())));
    assert_eq!(a.poll_at(), Some(t.mono + MIN));
}

#[test]
fn a_manifest_for_another_board_is_not_taken() {
    let mut a = started();
    let t = at(Duration::from_secs(1));
    let other = String::from_utf8(manifest("2", "")).unwrap().replace("hotspare-qemu-virt", "hotspare-rk3568");
    assert!(a.handle(t, Input::Manifest(Ok(other.into_bytes()))).is_empty());
    assert!(a.status().last_error.as_deref().unwrap_or("").contains("for hotspare-rk3568"), "{:?}", a.status());
}

#[test]
fn refusals_are_bounded() {
    let mut a = started();
    for v in 0..40 {
        a.refuse(&v.to_string(), "00", "test");
    }
    assert_eq!(a.memory().refused.len(), MAX_REFUSED);
    assert_eq!(a.memory().refused[0].version, "24", "the newest are kept");
}

#[test]
fn rauc_out_of_reach_is_retried_with_the_same_bundle_not_refused() {
    let (mut a, t) = checked_version_2();
    let e = a.handle(t, Input::Installed(Err(InstallError::Unreachable("ServiceUnknown".into()))));
    assert!(e.is_empty(), "nothing saved, nothing discarded: {e:?}");
    assert_eq!(a.status().state, "waiting-rauc");
    assert!(a.memory().refused.is_empty());
    let next = a.poll_at().unwrap();
    assert_eq!(next, t.mono + MIN);
    assert!(a.handle(at(next - Duration::from_secs(1)), Input::Tick).is_empty());
    assert_eq!(a.handle(at(next), Input::Tick), vec![Effect::Install { path: bundle() }], "the same file, no download");
    // Covering meanwhile: the retry waits for the failback.
    a.handle(at(next), Input::Installed(Err(InstallError::Unreachable("ServiceUnknown".into()))));
    a.handle(at(next), Input::Covering(true));
    let next = a.poll_at().unwrap();
    assert!(a.handle(at(next), Input::Tick).is_empty());
    assert_eq!(a.status().state, "waiting-covering");
    assert_eq!(a.handle(at(next), Input::Covering(false)), vec![Effect::Install { path: bundle() }]);
    let e = a.handle(at(next), Input::Installed(Ok(())));
    assert_eq!(e.last(), Some(&Effect::Reboot));
}

#[test]
fn a_box_without_an_identity_waits_for_the_whole_fleet() {
    let mut cfg = cfg();
    cfg.box_id = None;
    let (mut a, _) = Agent::new(cfg, "1".into(), Memory::default(), at(Duration::ZERO));
    a.handle(at(Duration::ZERO), Input::Tick);
    let t = at(Duration::from_secs(1));
    let stage = |p: u8| {
        format!(
            r#","rollout":[{{"at":"{}","percent":{p}}}]"#,
            humantime_rfc3339(std::time::UNIX_EPOCH + Duration::from_micros((t.wall_us - 1_000_000) as u64))
        )
    };
    assert!(a.handle(t, Input::Manifest(Ok(manifest("2", &stage(99))))).is_empty());
    assert_eq!((a.status().state, a.status().bucket), ("waiting-rollout", Some(99)));
    let t = at(a.poll_at().unwrap());
    a.handle(t, Input::Tick);
    assert!(matches!(a.handle(t, Input::Manifest(Ok(manifest("2", &stage(100)))))[..], [Effect::Download { .. }]));
}

#[test]
fn a_failed_reboot_is_asked_again_after_a_backoff_and_not_while_covering() {
    let (mut a, t) = checked_version_2();
    assert_eq!(a.handle(t, Input::Installed(Ok(()))).last(), Some(&Effect::Reboot));
    assert!(a.handle(t, Input::RebootFailed("/sbin/reboot exited 1".into())).is_empty());
    assert_eq!(a.status().state, "reboot-retry");
    assert!(a.status().last_error.as_deref().is_some_and(|e| e.contains("exited 1")), "{:?}", a.status());
    assert_eq!(a.memory().attempted.as_deref(), Some("2"), "the install stands");
    let next = a.poll_at().unwrap();
    assert_eq!(next, t.mono + MIN);
    assert!(a.handle(at(next - Duration::from_secs(1)), Input::Tick).is_empty());
    assert_eq!(a.handle(at(next), Input::Tick), vec![Effect::Reboot]);
    // failed again, and a takeover before the retry: the reboot waits for the failback
    a.handle(at(next), Input::RebootFailed("again".into()));
    let next = a.poll_at().unwrap();
    assert_eq!(next, at(Duration::from_secs(1)).mono + MIN + 2 * MIN, "the backoff doubles");
    a.handle(at(next), Input::Covering(true));
    assert!(a.handle(at(next), Input::Tick).is_empty());
    assert_eq!(a.status().state, "reboot-waiting-covering");
    assert_eq!(a.handle(at(next), Input::Covering(false)), vec![Effect::Reboot]);
}
