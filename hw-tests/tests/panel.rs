//! The front panel of the booted image (docs/design/panel.md, "In the image"): the supervisor
//! runs LCDd (board/qemu-virt/LCDd.conf: the `text` driver, a 4×20 display whose last frame
//! /usr/lib/hotspare/lcdd keeps in /run/lcdd/screen) and `hotspare panel` on it. The screen is
//! read from the serial console; keys are pressed on QEMU's virtio keyboard with QMP
//! `input-send-event` and reach the panel as Linux input events (evdev), as the board's
//! gpio-keys do. The gpio-keys themselves (Enter, Escape on PL061 lines 6, 7) cannot be pressed
//! here: QEMU drives no PL061 input line but the power button's (line 3), and QMP has no command
//! to set a GPIO line; the test checks the panel opened that device. The long press (Enter
//! held 3.5 s: QMP key down, key up; then a fresh Enter factory-resets and reboots) is a test
//! of its own, ignored for now (see it).
//! Needs the image (`scripts/build-image`; `scripts/test` builds it).

use std::time::{Duration, Instant};

use hotspare_hw_tests::appliance::{skip_reason, Appliance, Options, UBOOT_BANNER};
use hotspare_hw_tests::timeout_factor;
use serde_json::json;

/// Power-on to ready (as in tests/appliance.rs); × HW_TIMEOUT_FACTOR.
const BOOT: Duration = Duration::from_secs(180);
const CMD: Duration = Duration::from_secs(60);
/// How long the panel may take to show something (its refresh is 1 s; LCDd rotates every 5 s).
const SHOW: Duration = Duration::from_secs(60);

/// The display's rows in `/run/lcdd/screen` (`|text   |` each), without the frame and the
/// trailing blanks; `None` for any other output of the console.
fn parse_screen(lines: &[String]) -> Option<Vec<String>> {
    let rows: Vec<String> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.len() >= 2 && l.starts_with('|') && l.ends_with('|'))
        .map(|l| l[1..l.len() - 1].trim_end().to_string())
        .collect();
    (!rows.is_empty()).then_some(rows)
}

fn screen(vm: &mut Appliance) -> Option<Vec<String>> {
    let out = vm.shell("cat /run/lcdd/screen", CMD).1;
    parse_screen(&out)
}

/// Reads the display until `pred` holds; panics after [`SHOW`] with the last frame.
fn wait_screen(vm: &mut Appliance, what: &str, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + SHOW * timeout_factor();
    loop {
        let s = screen(vm);
        if let Some(rows) = s.as_ref().filter(|r| pred(r)) {
            return rows.clone();
        }
        if Instant::now() >= deadline {
            let log = vm.shell("tail -5 /run/lcdd/LCDd.log", CMD).1;
            let console: Vec<&str> =
                ["lcdd", "panel", "supervisor", "service"].iter().flat_map(|p| vm.qemu.lines_with(p)).collect();
            panic!(
                "timeout waiting for the panel to show {what}; last: {s:#?}; LCDd.log: {log:#?}; console: {console:#?}"
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Key `qcode` (QEMU's key names: `ret`, `esc`, `up`, `down`, `left`, `right`) down or up on
/// the virtio keyboard.
fn key(vm: &mut Appliance, qcode: &str, down: bool) {
    let ev =
        json!({ "events": [{ "type": "key", "data": { "down": down, "key": { "type": "qcode", "data": qcode } } }] });
    vm.qmp.execute("input-send-event", ev).unwrap_or_else(|e| panic!("{e}"));
}

/// A press and release of `qcode`, 100 ms apart (a short press).
fn press(vm: &mut Appliance, qcode: &str) {
    for down in [true, false] {
        key(vm, qcode, down);
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn has(rows: &[String], text: &str) -> bool {
    rows.iter().any(|r| r == text)
}

#[test]
fn parse_screen_reads_the_frame_rows() {
    let out = ["|Menu                |", "|>Network            |", "@@done3 0"].map(String::from);
    assert_eq!(parse_screen(&out), Some(vec!["Menu".into(), ">Network".into()]));
    assert_eq!(parse_screen(&["cat: can't open '/run/lcdd/screen'".into()]), None);
}

#[test]
fn the_panel_shows_the_status_and_keys_from_the_virtio_keyboard_walk_its_menu() {
    if let Some(r) = skip_reason() {
        eprintln!("SKIPPED: {r}");
        return;
    }
    let mut vm = Appliance::boot(&Options::default());
    let (_, took) = vm.wait_ready(BOOT);
    eprintln!("ready {:.1} s after power-on", took.as_secs_f64());

    // the status screen, with its title line (4 lines): the spare's state and the address
    let states = ["ARMED", "COVERING", "STANDBY", "NO STATUS", "FAULT"];
    let status = wait_screen(&mut vm, "the status screen", |r| {
        r.first().is_some_and(|t| t.starts_with("Hotspare "))
            && r.iter().any(|l| states.iter().any(|s| l.starts_with(s)))
    });
    eprintln!("status screen: {status:?}");
    // the panel found both key devices: the board's gpio-keys and the virtio keyboard
    // (the panel looks for them every 2 s: the console's shell lets the log through meanwhile)
    for name in ["hotspare front panel", "QEMU Virtio Keyboard"] {
        let deadline = Instant::now() + SHOW * timeout_factor();
        while !vm.qemu.transcript.iter().any(|l| l.contains("panel keys: /dev/input/event") && l.contains(name)) {
            if Instant::now() >= deadline {
                let devices = vm.shell("cat /proc/bus/input/devices; lsmod", CMD).1;
                panic!("the panel did not open the input device {name:?}; {devices:#?}");
            }
            vm.shell("sleep 1", CMD);
        }
    }

    // Right: the next screen (ip) to the front, the address QEMU's DHCP gave
    let t = Instant::now();
    press(&mut vm, "right");
    let ip = wait_screen(&mut vm, "the IP screen", |r| r.iter().any(|l| l.starts_with("IP (DHCP)")));
    eprintln!("after Right ({:.1} s): {ip:?}", t.elapsed().as_secs_f64());
    assert!(has(&ip, "10.0.2.15"), "{ip:?}");

    // Enter: the menu; Enter on Network: DHCP or static; Down: static
    let t = Instant::now();
    press(&mut vm, "ret");
    let menu = wait_screen(&mut vm, "the menu", |r| has(r, "Menu"));
    eprintln!("after Enter ({:.1} s): {menu:?}", t.elapsed().as_secs_f64());
    assert!(has(&menu, ">Network"), "{menu:?}");
    press(&mut vm, "down");
    wait_screen(&mut vm, "Test NVR selected", |r| has(r, ">Test NVR"));
    press(&mut vm, "up");
    wait_screen(&mut vm, "Network selected", |r| has(r, ">Network"));
    press(&mut vm, "ret");
    let net = wait_screen(&mut vm, "the Network menu", |r| has(r, "Network") && has(r, ">DHCP"));
    assert!(has(&net, " Static IP"), "{net:?}");
    press(&mut vm, "down");
    let net = wait_screen(&mut vm, "Static IP selected", |r| has(r, ">Static IP"));
    eprintln!("Network, Down: {net:?}");

    // Escape twice: out of the menu, back to the rotating screens; nothing was changed
    press(&mut vm, "esc");
    wait_screen(&mut vm, "the menu again", |r| has(r, ">Network"));
    press(&mut vm, "esc");
    let back =
        wait_screen(&mut vm, "the rotating screens", |r| !has(r, "Menu") && !r.iter().any(|l| l.starts_with('>')));
    eprintln!("after Escape, Escape: {back:?}");
    let gens = vm.shell_ok("ls /data/settings", CMD).join(" ");
    assert!(!gens.contains("panel-pending"), "no change waits for a confirmation: {gens}");
}

/// The long press in the image: Enter held 3.5 s on the virtio keyboard, then a fresh Enter.
/// (It failed 2 of 3 runs while a hold that began within 500 ms of the Enter that opened the
/// screen was taken for the continuation of a hold never begun; docs/design/panel.md.)
#[test]
fn enter_held_on_the_virtio_keyboard_factory_resets_after_a_fresh_enter() {
    if let Some(r) = skip_reason() {
        eprintln!("SKIPPED: {r}");
        return;
    }
    let mut vm = Appliance::boot(&Options::default());
    vm.wait_ready(BOOT);
    wait_screen(&mut vm, "the status screen", |r| r.first().is_some_and(|t| t.starts_with("Hotspare ")));
    // the long press: Factory reset asks for Enter held 3 s (the panel makes repeats of the
    // held key: evdev reports the release), then a fresh Enter erases and reboots
    press(&mut vm, "ret");
    for _ in 0..3 {
        press(&mut vm, "down");
    }
    wait_screen(&mut vm, "Factory reset selected", |r| has(r, ">Factory reset"));
    press(&mut vm, "ret");
    wait_screen(&mut vm, "the hold prompt", |r| has(r, "Hold Enter 3s"));
    let t = Instant::now();
    key(&mut vm, "ret", true);
    std::thread::sleep(Duration::from_millis(3500));
    key(&mut vm, "ret", false);
    let erase = wait_screen(&mut vm, "the last question", |r| has(r, "ERASE ALL?"));
    eprintln!("Enter held 3.5 s ({:.1} s): {erase:?}", t.elapsed().as_secs_f64());
    std::thread::sleep(Duration::from_millis(1000));
    press(&mut vm, "ret");
    vm.expect("factory reset from the panel", CMD);
    vm.expect(UBOOT_BANNER, BOOT);
    eprintln!("factory reset and reboot {:.1} s after the hold began", t.elapsed().as_secs_f64());
}
