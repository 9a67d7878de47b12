//! The front panel on a real site: `hotspare supervisor` runs `hotspare failover` (the spare,
//! heartbeating its real role state) protecting one real `hotspare nvr` on loopback, and
//! `hotspare panel` shows it on a real LCDd (curses in tmux, see panel_common). The NVR is
//! killed: the status screen says COVERING <its id> and the panel's NVR test fails; the NVR
//! comes back: ARMED again after the failback, and the NVR test succeeds.

#[path = "common/mod.rs"]
mod common;
#[path = "failover_common/mod.rs"]
mod failover_common;
#[path = "nvr_common/mod.rs"]
mod nvr_common;
#[path = "panel_common/mod.rs"]
mod panel_common;
#[path = "supervisor_common/mod.rs"]
mod supervisor_common;

use std::process::Command;
use std::time::Duration;

use common::bin;
use failover_common::{Group, Site};
use hotspare_settings::model::Nvr;
use hotspare_settings::{Settings, SettingsStore};
use panel_common::Lcd;

#[test]
fn the_panel_shows_the_spare_covering_a_killed_nvr_and_armed_again_after_the_failback() {
    let mut site = Site::prepare(1, 1);
    site.start_nvrs();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spare_config = site.spare_config.display().to_string();
    let config = format!(
        "state_dir = \"{state}\"\nreset_command = [\"true\"]\nboot_grace_s = 0\nstop_grace_s = 2\n\
         [restart]\nbackoff_min_ms = 100\nbackoff_max_s = 1\n\n{no_system}\
         [[service]]\nname = \"failover\"\ncritical = true\n\
         args = [\"failover\", \"--config\", \"{spare_config}\", \"--ssdp\", \"off\"]\n\
         heartbeat_deadline_ms = 3000\nstart_deadline_s = 20\n",
        state = d.join("state").display(),
        no_system = supervisor_common::NO_SYSTEM,
    );
    std::fs::write(d.join("supervisor.toml"), &config).unwrap();
    if let Some(fp) = nvr_common::box_fingerprint("failover", &site.spare_config) {
        nvr_common::pin(site.spare_port, fp);
    }
    let mut cmd = Command::new(bin());
    cmd.args(["supervisor", "--config"]).arg(d.join("supervisor.toml")).env("RUST_LOG", "info");
    site.adopt_spare(Group::spawn("supervisor", cmd));

    // the settings name the NVR, for the panel's reachability test
    let store = SettingsStore::open(&d.join("settings")).unwrap();
    let nvr = &site.nvrs[0];
    let mut s = Settings::default();
    s.nvrs.push(Nvr {
        id: nvr.id.clone(),
        url: format!("https://127.0.0.1:{}", nvr.port),
        admin_user: nvr.admin_user.clone(),
        admin_password: nvr.admin_password.clone(),
        priority: 1,
        fingerprint: None,
    });
    store.save(&s, 0, "test", "the site's NVR").unwrap();
    let id = nvr.id.clone();

    let mut lcd = Lcd::start(d, 16, 2);
    lcd.start_panel(&d.join("supervisor.toml"), &["--failover-config", &spare_config]);
    let dump = || site.dump();
    lcd.wait_for_within(Duration::from_secs(20), &["ARMED", "watching NVRs"], dump);
    // Enter: menu; Down: Test NVR; Enter: the list; Enter: test the first
    lcd.keys(&["Enter", "Down", "Enter"]);
    lcd.wait_for(&["Test NVR", &format!(">{id}")]);
    lcd.keys(&["Enter"]);
    lcd.wait_for(&[&format!("{id}: ok")]);
    assert!(lcd.screen()[1].starts_with("connect ") && lcd.screen()[1].ends_with(" ms"), "{:?}", lcd.screen());
    lcd.keys(&["Escape"]);

    let killed = site.kill_nvr(0);
    site.wait_takeover(0, Duration::from_secs(40));
    lcd.wait_for_within(Duration::from_secs(10), &[&format!("COVERING {id}"), "recording for it"], || site.dump());
    eprintln!("panel: COVERING {:.1} s after the NVR was killed", (common::now_us() - killed) as f64 / 1e6);
    lcd.keys(&["Enter", "Down", "Enter", "Enter"]);
    lcd.wait_for(&[&format!("{id}: FAILED"), "refused"]);
    lcd.keys(&["Escape"]);

    site.restart_nvr(0);
    site.wait_failback(0, Duration::from_secs(60));
    lcd.wait_for_within(Duration::from_secs(10), &["ARMED", "watching NVRs"], || site.dump());
}
