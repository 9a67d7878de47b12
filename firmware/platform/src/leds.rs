//! The front panel's LEDs, pure: from what the box is doing ([`PanelState`]: status level,
//! rescue mode, the spare's role state, each bay's fault level) to the light each LED of the
//! board's [`LedMap`] should show ([`wanted`]), and the fewest writes to the Linux LED class
//! (`/sys/class/leds/<name>/{brightness,trigger,delay_on,delay_off}`) that get an LED from
//! what it shows to what it should ([`writes`]; [`Panel`] remembers what each shows).
//!
//! The board map says which LED does what: `power` (on while the supervisor runs),
//! `status` (ok: steady; warning: slow blink; fault: fast blink, or, when the board has a
//! separate `fault` LED, status off and the fault LED steady, fast-blinking in rescue mode),
//! `failover` (steady while the spare is armed, slow blink while it covers an NVR, off
//! otherwise) and one LED per disk bay (warning: slow blink, fault: steady). Blinking is the
//! kernel's `timer` trigger.

use std::collections::BTreeMap;

/// Slow blink (warning, covering an NVR): on and off times in ms.
pub const SLOW: (u32, u32) = (500, 500);
/// Fast blink (fault on a board without a fault LED, rescue mode).
pub const FAST: (u32, u32) = (100, 100);

/// What an LED shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Light {
    Off,
    On,
    Blink { on_ms: u32, off_ms: u32 },
}

impl Light {
    fn blink((on_ms, off_ms): (u32, u32)) -> Light {
        Light::Blink { on_ms, off_ms }
    }
}

/// The board's LED class names of each front-panel function (the board profile's
/// `leds.toml`); a function the board lacks is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedMap {
    pub power: Option<String>,
    pub status: Option<String>,
    pub fault: Option<String>,
    pub failover: Option<String>,
    /// Bay name (as in `BayHealth.bay`) to LED name.
    pub bays: BTreeMap<String, String>,
}

impl LedMap {
    /// Every LED name of the map.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        let fixed = [&self.power, &self.status, &self.fault, &self.failover];
        fixed.into_iter().flatten().chain(self.bays.values())
    }
}

/// How well something is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    #[default]
    Ok,
    Warning,
    Fault,
}

/// What the front panel tells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PanelState {
    pub status: Health,
    pub rescue: bool,
    /// The failover spare's `(armed, NVRs covered)`; `None` on an NVR or before the first
    /// heartbeat saying so.
    pub spare: Option<(bool, u32)>,
    /// Bays not [`Health::Ok`] (a bay not listed is ok).
    pub bays: BTreeMap<String, Health>,
}

/// The light of each LED of `map` for `s`.
pub fn wanted(map: &LedMap, s: &PanelState) -> BTreeMap<String, Light> {
    let mut out = BTreeMap::new();
    let mut set = |led: &Option<String>, light: Light| {
        if let Some(name) = led {
            out.insert(name.clone(), light);
        }
    };
    set(&map.power, Light::On);
    let status = if s.rescue { Health::Fault } else { s.status };
    let fault_light = match (status, s.rescue) {
        (Health::Fault, true) => Light::blink(FAST),
        (Health::Fault, false) => Light::On,
        _ => Light::Off,
    };
    let status_light = match status {
        Health::Ok => Light::On,
        Health::Warning => Light::blink(SLOW),
        Health::Fault if map.fault.is_some() => Light::Off,
        Health::Fault => Light::blink(FAST),
    };
    set(&map.status, status_light);
    set(&map.fault, fault_light);
    let failover = match s.spare {
        Some((_, covering)) if covering > 0 => Light::blink(SLOW),
        Some((true, _)) => Light::On,
        _ => Light::Off,
    };
    set(&map.failover, failover);
    for (bay, led) in &map.bays {
        let light = match s.bays.get(bay).copied().unwrap_or_default() {
            Health::Ok => Light::Off,
            Health::Warning => Light::blink(SLOW),
            Health::Fault => Light::On,
        };
        out.insert(led.clone(), light);
    }
    out
}

/// One write to a file of an LED's class directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// `brightness`, `trigger`, `delay_on` or `delay_off`.
    pub file: &'static str,
    pub value: String,
}

fn w(file: &'static str, value: impl ToString) -> Write {
    Write { file, value: value.to_string() }
}

/// The writes, in order, that take an LED showing `current` (`None`: unknown, e.g. at start
/// or after a failed write) to `wanted`. `max` is its `max_brightness`. Setting the `timer`
/// trigger resets the delays to the kernel's defaults, so both are written after it.
pub fn writes(current: Option<Light>, wanted: Light, max: u32) -> Vec<Write> {
    let steady = |on: bool| vec![w("trigger", "none"), w("brightness", if on { max } else { 0 })];
    match (current, wanted) {
        (Some(c), w_) if c == w_ => vec![],
        (Some(Light::Off | Light::On), Light::Off) => vec![w("brightness", 0)],
        (Some(Light::Off | Light::On), Light::On) => vec![w("brightness", max)],
        (_, Light::Off) => steady(false),
        (_, Light::On) => steady(true),
        (Some(Light::Blink { on_ms: a, off_ms: b }), Light::Blink { on_ms, off_ms }) => {
            let mut out = Vec::new();
            if a != on_ms {
                out.push(w("delay_on", on_ms));
            }
            if b != off_ms {
                out.push(w("delay_off", off_ms));
            }
            out
        }
        (_, Light::Blink { on_ms, off_ms }) => {
            vec![w("trigger", "timer"), w("delay_on", on_ms), w("delay_off", off_ms)]
        }
    }
}

/// The panel: the board map and what each LED shows now.
#[derive(Clone, Debug)]
pub struct Panel {
    map: LedMap,
    shown: BTreeMap<String, Light>,
}

impl Panel {
    pub fn new(map: LedMap) -> Panel {
        Panel { map, shown: BTreeMap::new() }
    }

    pub fn map(&self) -> &LedMap {
        &self.map
    }

    /// The writes (per LED name) that make the panel show `s`; they are taken as done
    /// (call [`Panel::failed`] for an LED whose writes failed).
    pub fn update(&mut self, s: &PanelState, max: impl Fn(&str) -> u32) -> Vec<(String, Write)> {
        let mut out = Vec::new();
        for (led, light) in wanted(&self.map, s) {
            let current = self.shown.insert(led.clone(), light);
            out.extend(writes(current, light, max(&led)).into_iter().map(|wr| (led.clone(), wr)));
        }
        out
    }

    /// What `led` shows is unknown (a write failed): the next update writes it in full.
    pub fn failed(&mut self, led: &str) {
        self.shown.remove(led);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(fault: bool) -> LedMap {
        LedMap {
            power: Some("pwr".into()),
            status: Some("st".into()),
            fault: fault.then(|| "red".into()),
            failover: Some("fo".into()),
            bays: [("bay1".into(), "b1".into()), ("bay2".into(), "b2".into())].into(),
        }
    }

    #[test]
    fn the_lights_of_each_state() {
        let slow = Light::blink(SLOW);
        let mut s = PanelState::default();
        let l = wanted(&map(false), &s);
        assert_eq!((l["pwr"], l["st"], l["fo"], l["b1"]), (Light::On, Light::On, Light::Off, Light::Off));
        s.status = Health::Warning;
        s.spare = Some((true, 0));
        s.bays.insert("bay2".into(), Health::Fault);
        s.bays.insert("bay9".into(), Health::Fault);
        let l = wanted(&map(false), &s);
        assert_eq!((l["st"], l["fo"], l["b1"], l["b2"]), (slow, Light::On, Light::Off, Light::On));
        assert_eq!(l.len(), 5, "an unknown bay lights nothing");
        s.status = Health::Fault;
        s.spare = Some((false, 2));
        let l = wanted(&map(false), &s);
        assert_eq!((l["st"], l["fo"]), (Light::blink(FAST), slow), "covering blinks, armed or not");
        let l = wanted(&map(true), &s);
        assert_eq!((l["st"], l["red"]), (Light::Off, Light::On), "the board's red LED shows the fault");
        s.rescue = true;
        s.status = Health::Ok;
        let l = wanted(&map(true), &s);
        assert_eq!((l["st"], l["red"]), (Light::Off, Light::blink(FAST)), "rescue is a fault, blinking");
        s.spare = Some((false, 0));
        assert_eq!(wanted(&map(true), &s)["fo"], Light::Off);
    }

    #[test]
    fn the_fewest_writes() {
        let names = |v: Vec<Write>| v.into_iter().map(|w| format!("{}={}", w.file, w.value)).collect::<Vec<_>>();
        let slow = Light::blink(SLOW);
        assert_eq!(names(writes(None, Light::On, 255)), ["trigger=none", "brightness=255"]);
        assert_eq!(names(writes(Some(Light::On), Light::On, 1)), Vec::<String>::new());
        assert_eq!(names(writes(Some(Light::Off), Light::On, 1)), ["brightness=1"]);
        assert_eq!(names(writes(Some(Light::On), slow, 1)), ["trigger=timer", "delay_on=500", "delay_off=500"]);
        assert_eq!(names(writes(Some(slow), Light::blink((100, 500)), 1)), ["delay_on=100"]);
        assert_eq!(names(writes(Some(slow), Light::Off, 1)), ["trigger=none", "brightness=0"]);
    }

    #[test]
    fn the_panel_writes_changes_and_rewrites_after_a_failure() {
        let mut p = Panel::new(map(false));
        let first = p.update(&PanelState::default(), |_| 1);
        assert_eq!(first.len(), 10, "five LEDs written in full at start: {first:?}");
        assert!(p.update(&PanelState::default(), |_| 1).is_empty());
        let s = PanelState { spare: Some((true, 0)), ..PanelState::default() };
        assert_eq!(p.update(&s, |_| 1), vec![("fo".to_owned(), w("brightness", 1))]);
        p.failed("pwr");
        assert_eq!(p.update(&s, |_| 1).len(), 2, "the failed LED is written in full");
    }
}
