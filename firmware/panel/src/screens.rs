//! The rotating screens' lines for a display of `wid × hgt` characters
//! (2×16 shows the essentials; 4×20 adds a title line and details). Pure:
//! [`render`] returns, for each screen id, its lines (at most `hgt`, each cut
//! to `wid`).

use crate::view::{State, View};

/// The rotating screens, in order.
pub const ROTATING: [&str; 4] = ["status", "ip", "disks", "alarms"];

/// A line cut to `wid` characters (a cut line ends in `.` when there is room to say so).
pub fn fit(text: &str, wid: usize) -> String {
    if text.chars().count() <= wid {
        return text.to_string();
    }
    let mut s: String = text.chars().take(wid.saturating_sub(1)).collect();
    if wid > 0 {
        s.push('.');
    }
    s
}

/// The status screen's headline and detail.
pub fn state_lines(state: &State) -> (String, String) {
    match state {
        State::Armed => ("ARMED".into(), "watching NVRs".into()),
        State::Covering { n, names } if names.is_empty() => {
            (format!("COVERING {n} NVR{}", if *n == 1 { "" } else { "s" }), "recording for it".into())
        }
        State::Covering { names, .. } => (format!("COVERING {}", names.join(",")), "recording for it".into()),
        State::Standby => ("STANDBY".into(), "not armed".into()),
        State::Fault(why) => ("FAULT".into(), why.clone()),
        State::Unknown(why) => ("NO STATUS".into(), why.clone()),
    }
}

/// Every rotating screen's lines.
pub fn render(v: &View, wid: usize, hgt: usize) -> Vec<(&'static str, Vec<String>)> {
    let big = hgt >= 4;
    let (head, detail) = state_lines(&v.state);
    let addr = v.address.clone().unwrap_or_else(|| "no address".into());
    let how = if v.dhcp { "DHCP" } else { "static" };
    let mut status = vec![head, detail];
    let mut ip = vec![format!("IP ({how})"), addr.clone()];
    let mut disks: Vec<String> = v.disks.clone();
    let mut alarms: Vec<String> = if v.alarms.is_empty() { vec!["no alarms".into()] } else { v.alarms.clone() };
    if big {
        status.insert(0, format!("Hotspare {}", v.hostname));
        status.push(addr);
        ip.insert(0, v.hostname.clone());
        disks.insert(0, "Disks".into());
        alarms.insert(0, format!("Alarms ({})", v.alarms.len()));
    } else if !v.alarms.is_empty() {
        alarms.insert(0, format!("ALARMS {}", v.alarms.len()));
    }
    let out = [("status", status), ("ip", ip), ("disks", disks), ("alarms", alarms)];
    out.into_iter().map(|(id, lines)| (id, lines.iter().take(hgt).map(|l| fit(l, wid)).collect())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(state: State) -> View {
        View {
            state,
            hostname: "spare1".into(),
            address: Some("192.168.10.20".into()),
            dhcp: false,
            disks: vec!["md0 raid1 clean".into(), "bays 2/2 ok".into(), "SMART ok".into()],
            alarms: Vec::new(),
        }
    }

    #[test]
    fn two_by_sixteen_and_four_by_twenty() {
        let small = render(&view(State::Covering { n: 1, names: vec![] }), 16, 2);
        assert_eq!(small[0], ("status", vec!["COVERING 1 NVR".to_string(), "recording for it".into()]));
        assert_eq!(small[1].1, vec!["IP (static)".to_string(), "192.168.10.20".into()]);
        let big = render(&view(State::Fault("rescue mode: 3 resets in 10 min".into())), 20, 4);
        assert_eq!(big[0].1, vec!["Hotspare spare1", "FAULT", "rescue mode: 3 rese.", "192.168.10.20"]);
        assert_eq!(big[2].1, vec!["Disks", "md0 raid1 clean", "bays 2/2 ok", "SMART ok"]);
        assert_eq!(big[3].1, vec!["Alarms (0)", "no alarms"]);
        let named = render(&view(State::Covering { n: 1, names: vec!["nvr1".into()] }), 16, 2);
        assert_eq!(named[0].1[0], "COVERING nvr1");
        assert!(small.iter().all(|(_, l)| l.len() <= 2 && l.iter().all(|s| s.chars().count() <= 16)));
    }
}
