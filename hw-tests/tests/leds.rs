//! The front panel of the emulated board as the real kernel drives it: the five
//! gpio-leds and the panel's gpio-keys that `boot.cmd` adds to the DT on QEMU's PL061
//! (board/qemu-virt/leds.toml, docs/design/image.md "Boards"), the supervisor lighting
//! them through /sys/class/leds: power on, status blinking slowly in the boot grace, the
//! failover LED on while the spare is armed (blinking while it covers), a failed RAID
//! member's bay LED on and the other's off, and, with the other disk gone too, its bay
//! blinking slowly (a missing disk) and the status LED blinking fast (cannot record). LED files are read from the serial console.
//! Needs the image (`scripts/build-image`; `scripts/test` builds it).

use std::time::{Duration, Instant};

use hotspare_hw_tests::appliance::{skip_reason, Appliance, Options};
use hotspare_hw_tests::timeout_factor;

/// Power-on to ready (as in tests/appliance.rs); × HW_TIMEOUT_FACTOR.
const BOOT: Duration = Duration::from_secs(180);
const CMD: Duration = Duration::from_secs(60);
/// How long the supervisor may take to show a change on the panel.
const SHOW: Duration = Duration::from_secs(90);

const POWER: &str = "hotspare:green:power";
const STATUS: &str = "hotspare:green:status";
const FAILOVER: &str = "hotspare:blue:failover";
const BAY1: &str = "hotspare:amber:bay1";
const BAY2: &str = "hotspare:amber:bay2";

/// What an LED's class directory says.
#[derive(Debug, PartialEq)]
struct Led {
    brightness: u32,
    /// The active trigger (`none`, `timer`, …).
    trigger: String,
    /// `delay_on`/`delay_off` in ms, present with the timer trigger.
    delays: Option<(u32, u32)>,
}

impl Led {
    fn steady(&self, on: bool) -> bool {
        self.trigger == "none" && (self.brightness > 0) == on
    }

    fn blinking(&self, on_off_ms: (u32, u32)) -> bool {
        self.trigger == "timer" && self.delays == Some(on_off_ms)
    }
}

/// Parses the line `led <brightness> <trigger> <delay_on|-> <delay_off|->` of [`read_led`].
fn parse_led(line: &str) -> Option<Led> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let [tag, brightness, trigger, on, off] = f.as_slice() else { return None };
    if *tag != "led" {
        return None;
    }
    let delays = match (on.parse(), off.parse()) {
        (Ok(on), Ok(off)) => Some((on, off)),
        _ => None,
    };
    Some(Led { brightness: brightness.parse().ok()?, trigger: trigger.to_string(), delays })
}

fn read_led(vm: &mut Appliance, name: &str) -> Led {
    // the trigger file lists every trigger, the active one in brackets
    let cmd = format!(
        "cd /sys/class/leds/{name} && echo led $(cat brightness) $(sed 's/.*\\[\\(.*\\)\\].*/\\1/' trigger) \
         $(cat delay_on 2>/dev/null || echo -) $(cat delay_off 2>/dev/null || echo -); cd /"
    );
    let out = vm.shell_ok(&cmd, CMD);
    out.iter().find_map(|l| parse_led(l.trim())).unwrap_or_else(|| panic!("{name}: no LED state in {out:?}"))
}

/// Reads `name` until `pred` holds; panics after [`SHOW`] with the last state.
fn wait_led(vm: &mut Appliance, name: &str, what: &str, pred: impl Fn(&Led) -> bool) -> Led {
    let deadline = Instant::now() + SHOW * timeout_factor();
    loop {
        let led = read_led(vm, name);
        if pred(&led) {
            return led;
        }
        if Instant::now() >= deadline {
            panic!("timeout waiting for {name} to show {what}; last: {led:?}");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn parse_led_reads_the_console_line() {
    let led = parse_led("led 1 timer 500 500").unwrap();
    assert!(led.blinking((500, 500)) && !led.steady(true));
    let led = parse_led("led 0 none - -").unwrap();
    assert!(led.steady(false) && !led.steady(true) && led.delays.is_none());
    assert_eq!(parse_led("cat: can't open 'brightness'"), None);
    assert_eq!(parse_led("led x none - -"), None);
}

#[test]
fn the_front_panel_shows_power_boot_grace_failover_and_the_failed_bay() {
    if let Some(r) = skip_reason() {
        eprintln!("SKIPPED: {r}");
        return;
    }
    let mut vm = Appliance::boot(&Options::default());
    vm.expect("hotspare-boot: front panel: 5 LEDs and 2 keys", BOOT);
    let (_, took) = vm.wait_ready(BOOT);
    eprintln!("ready {:.1} s after power-on", took.as_secs_f64());

    // the five LEDs of leds.toml, as gpio-leds
    let ls = vm.shell_ok("ls /sys/class/leds", CMD).join(" ");
    for name in [POWER, STATUS, FAILOVER, BAY1, BAY2] {
        assert!(ls.split_whitespace().any(|n| n == name), "{name} not in /sys/class/leds: {ls}");
        let dev = vm.shell_ok(&format!("readlink -f /sys/class/leds/{name}"), CMD).join(" ");
        assert!(dev.contains("/platform/leds/leds/"), "{name} is not a gpio-leds LED: {dev}");
    }
    // the panel keys: an input device of their own with KEY_ESC (1) and KEY_ENTER (28)
    let input = vm.shell_ok("cat /proc/bus/input/devices", CMD);
    let at = input
        .iter()
        .position(|l| l.contains("N: Name=\"hotspare front panel\""))
        .unwrap_or_else(|| panic!("no panel keys in /proc/bus/input/devices: {input:#?}"));
    let keys = input[at..].iter().take_while(|l| !l.trim().is_empty()).find(|l| l.contains("B: KEY="));
    assert_eq!(keys.map(|l| l.trim()), Some("B: KEY=10000002"), "{input:#?}");

    // power on; status blinking slowly while the supervisor's boot grace lasts
    // (supervisor.toml boot_grace_s = 300; steady only after it), the bays dark
    let power = read_led(&mut vm, POWER);
    assert!(power.steady(true), "power: {power:?}");
    let h = vm.wait_health("the supervisor's mode", SHOW, |h| h.supervisor.is_some());
    let status = read_led(&mut vm, STATUS);
    if h.supervisor.as_ref().is_some_and(|s| s.mode == "BootGrace") {
        assert!(status.blinking((500, 500)), "status in the boot grace: {status:?}");
    } else {
        // a host so slow that the grace ended before ready
        assert!(status.steady(true), "status, healthy after the boot grace: {status:?} {:?}", h.supervisor);
    }
    for bay in [BAY1, BAY2] {
        let led = read_led(&mut vm, bay);
        assert!(led.steady(false), "{bay}: {led:?}");
    }
    // the spare runs: armed (steady) or covering the unreachable NVR (slow blink)
    wait_led(&mut vm, FAILOVER, "armed or covering", |l| l.steady(true) || l.blinking((500, 500)));

    // a RAID member fails: its bay's LED on, the other bay's off
    vm.shell_ok("mdadm /dev/md0 --fail /dev/sdb", CMD);
    let bay2 = wait_led(&mut vm, BAY2, "on (sdb failed)", |l| l.steady(true));
    eprintln!("bay2 after mdadm --fail: {bay2:?}");
    let bay1 = read_led(&mut vm, BAY1);
    assert!(bay1.steady(false), "bay1 with sda in sync: {bay1:?}");

    // the last member vanishes: nothing can be recorded; status blinks fast
    vm.shell_ok("echo 1 > /sys/block/sda/device/delete", CMD);
    let status = wait_led(&mut vm, STATUS, "fast blink (cannot record)", |l| l.blinking((100, 100)));
    eprintln!("status with both members gone: {status:?}");
    // a bay whose disk went away is a warning (slow blink); sdb is still a faulty member
    let bay1 = wait_led(&mut vm, BAY1, "slow blink (sda gone)", |l| l.blinking((500, 500)));
    eprintln!("bay1 with sda gone: {bay1:?}");
    assert!(read_led(&mut vm, BAY2).steady(true), "bay2 with sdb faulty");
    assert!(read_led(&mut vm, POWER).steady(true), "power stays on");
}
