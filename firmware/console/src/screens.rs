//! The text of the console's screens, for an 80×24 dumb terminal: no colours, no cursor
//! addressing, lines of at most 79 characters, every screen at most 24 lines. Pure.

use hotspare_settings::model::AddressMode;
use hotspare_settings::Settings;
use hotspare_supervisor::status_view::Report;

/// Terminal lines a screen may use.
pub const ROWS: usize = 24;
/// Characters per line (79: a dumb terminal wraps at the 80th).
pub const COLS: usize = 79;

/// The main menu's entries, numbered from 1.
pub const MAIN: &[&str] = &[
    "Status (details)",
    "Network",
    "NVRs",
    "Accounts",
    "E-mail",
    "Licence",
    "Time",
    "Restore a previous configuration",
    "Reboot",
    "Factory reset",
    "Hostname, monitoring, announcement",
];

/// Cuts a line to [`COLS`].
pub fn fit(line: &str) -> String {
    line.chars().take(COLS).collect()
}

/// Who is covered, from the spare's last state in the supervisor's report (`roles`),
/// the NVRs configured and `taken_over` (the spare's own state file: names the NVRs
/// taken over; may be empty when it cannot be read, the report's count still decides).
pub fn coverage(r: &Report, configured: &[String], taken_over: &[String]) -> String {
    let line = match r.status.spare() {
        None => "coverage: the spare role has not reported (starting, or not running)".to_string(),
        Some((_, n)) if n > 0 && !taken_over.is_empty() => {
            format!("COVERING {}: recording for it", taken_over.join(", "))
        }
        Some((_, n)) if n > 0 => format!("COVERING {n} NVR(s): recording for them"),
        Some((_, _)) if configured.is_empty() => "coverage: no NVR to protect is configured".to_string(),
        Some((true, _)) => format!("armed, watching {}", configured.join(", ")),
        Some((false, _)) => format!("NOT armed (configured: {})", configured.join(", ")),
    };
    fit(&line)
}

/// The status at a glance from the supervisor's report (four lines; the console adds
/// [`coverage`] as the fifth).
pub fn glance(r: &Report) -> Vec<String> {
    let st = &r.status.status;
    let slot = r.status.readiness.slot.as_deref().map_or("no boot counting".to_string(), |s| format!("slot {s}"));
    let arrays: Vec<String> = r.health.arrays.iter().map(|a| format!("{} {}", a.device, a.state)).collect();
    let smart_bad = r.health.smart.iter().filter(|s| s.passed == Some(false)).count();
    let disks = format!(
        "disks: {} bays, arrays: {}, SMART: {}",
        r.health.bays.iter().filter(|b| b.present).count(),
        if arrays.is_empty() { "none".into() } else { arrays.join(", ") },
        if smart_bad == 0 { format!("{} ok", r.health.smart.len()) } else { format!("{smart_bad} FAILED") }
    );
    let takeovers = if st.takeovers_allowed { "allowed".to_string() } else { format!("NOT allowed: {}", st.reason) };
    let verdict = if r.healthy { "healthy".to_string() } else { format!("NOT healthy: {}", r.reason) };
    vec![
        fit(&format!("firmware {}, {slot}, last reset {:?}", r.version, st.last_reset)),
        fit(&disks),
        fit(&format!("takeovers {takeovers}")),
        fit(&format!("status: {verdict}")),
    ]
}

/// The main menu: the status at a glance, the settings in short, the numbered entries.
pub fn main_menu(s: &Settings, seq: u64, glance: &[String], licence: &str) -> String {
    let mut out = vec![fit(&format!("=== Hotspare console: {} ===", s.hostname))];
    out.extend(glance.iter().take(5).map(|l| fit(l)));
    out.push(fit(&format!("network: {}", network_line(s))));
    let nvrs: Vec<&str> = s.nvrs.iter().map(|n| n.id.as_str()).collect();
    let nvrs = if nvrs.is_empty() { "none".into() } else { nvrs.join(", ") };
    out.push(fit(&format!("NVRs protected: {nvrs}")));
    out.push(fit(&format!("licence: {licence}")));
    out.push(fit(&format!("settings: generation {seq}")));
    out.push(String::new());
    let half = MAIN.len().div_ceil(2);
    for (i, entry) in MAIN.iter().enumerate().take(half) {
        let left = format!("{:>2}) {entry}", i + 1);
        let right = MAIN.get(i + half).map_or(String::new(), |e| format!("{:>2}) {e}", i + half + 1));
        out.push(fit(&format!("{left:<38}{right}")));
    }
    out.join("\n") + "\n"
}

/// `dhcp` or `static 10.0.0.2/24 via 10.0.0.1, DNS …`.
pub fn network_line(s: &Settings) -> String {
    let n = &s.network;
    let dns = if n.dns.is_empty() {
        String::new()
    } else {
        format!(", DNS {}", n.dns.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
    };
    match n.mode {
        AddressMode::Dhcp => format!("DHCP{dns}"),
        AddressMode::Static => {
            let a = n.address.map_or("?".into(), |a| a.to_string());
            let p = n.prefix.map_or("?".into(), |p| p.to_string());
            let g = n.gateway.map_or(String::new(), |g| format!(" via {g}"));
            format!("static {a}/{p}{g}{dns}")
        }
    }
}

/// NVRs per page of the NVR screen (a box may protect up to 64).
pub const NVRS_PER_PAGE: usize = 16;

/// Page `page` of the NVRs, one line each, numbered from 1.
pub fn nvr_list(s: &Settings, page: usize) -> String {
    if s.nvrs.is_empty() {
        return "No NVRs yet.\n".into();
    }
    let from = (page * NVRS_PER_PAGE).min(s.nvrs.len().saturating_sub(1) / NVRS_PER_PAGE * NVRS_PER_PAGE);
    let mut out = String::new();
    if s.nvrs.len() > NVRS_PER_PAGE {
        let to = (from + NVRS_PER_PAGE).min(s.nvrs.len());
        out += &format!("NVRs {}-{to} of {} (n: next page)\n", from + 1, s.nvrs.len());
    }
    for (i, n) in s.nvrs.iter().enumerate().skip(from).take(NVRS_PER_PAGE) {
        out += &fit(&format!("{:>2}) {:<16} {:<40} user {} prio {}", i + 1, n.id, n.url, n.admin_user, n.priority));
        out += "\n";
    }
    out
}

/// Accounts shown on the accounts screen (the others are counted).
pub const ACCOUNTS_SHOWN: usize = 12;

/// The accounts, one line each (the first [`ACCOUNTS_SHOWN`]).
pub fn account_list(s: &Settings) -> String {
    let mut out = String::new();
    for a in s.accounts.iter().take(ACCOUNTS_SHOWN) {
        out += &fit(&format!("    {:<20} {:?}", a.user, a.role));
        out += "\n";
    }
    if s.accounts.len() > ACCOUNTS_SHOWN {
        out += &format!("    ... and {} more (hotspare settings show)\n", s.accounts.len() - ACCOUNTS_SHOWN);
    }
    let console = if s.console_password_hash.is_some() { "set" } else { "none" };
    out + &format!("    console password: {console}\n")
}

/// Pages of at most `rows` lines.
pub fn pages(text: &str, rows: usize) -> Vec<String> {
    let lines: Vec<String> = text.lines().map(fit).collect();
    lines.chunks(rows.max(1)).map(|c| c.join("\n") + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(healthy: bool) -> Report {
        use hotspare_ipc::{Level, Mode, ResetCause, Status};
        let status = Status {
            mode: if healthy { Mode::Normal } else { Mode::Rescue },
            healthy,
            takeovers_allowed: healthy,
            last_reset: if healthy { ResetCause::Deliberate } else { ResetCause::Watchdog },
            hardware: Level::Ok,
            reason: if healthy { String::new() } else { "rescue mode: 3 resets in 1 h".into() },
        };
        Report {
            version: "1.2.3".into(),
            image: None,
            boot: Default::default(),
            status: hotspare_supervisor::status_file::StatusFile {
                status,
                readiness: hotspare_api::health::Readiness {
                    ready: healthy,
                    slot: Some("B".into()),
                    slot_marked_good: healthy,
                },
                services: Vec::new(),
                pid: None,
                roles: Default::default(),
            },
            health: Default::default(),
            healthy,
            reason: if healthy { String::new() } else { "rescue mode".into() },
        }
    }

    #[test]
    fn the_glance_says_version_slot_reset_takeovers_and_the_verdict() {
        let g = glance(&report(true));
        assert_eq!(g[0], "firmware 1.2.3, slot B, last reset Deliberate");
        assert_eq!(g[1], "disks: 0 bays, arrays: none, SMART: 0 ok");
        assert_eq!((g[2].as_str(), g[3].as_str()), ("takeovers allowed", "status: healthy"));
        let g = glance(&report(false));
        assert!(g[0].ends_with("last reset Watchdog"), "{g:?}");
        assert_eq!(g[2], "takeovers NOT allowed: rescue mode: 3 resets in 1 h");
        assert_eq!(g[3], "status: NOT healthy: rescue mode");
    }

    #[test]
    fn coverage_names_who_is_covered() {
        use hotspare_ipc::RoleState;
        let mut r = report(true);
        let nvrs = ["nvr1".to_string(), "nvr2".to_string()];
        assert!(coverage(&r, &nvrs, &[]).contains("has not reported"));
        r.status.roles.insert("failover".into(), RoleState::Spare { armed: true, covering: 0 });
        assert_eq!(coverage(&r, &nvrs, &[]), "armed, watching nvr1, nvr2");
        assert_eq!(coverage(&r, &[], &[]), "coverage: no NVR to protect is configured");
        r.status.roles.insert("failover".into(), RoleState::Spare { armed: true, covering: 1 });
        assert_eq!(coverage(&r, &nvrs, &["nvr2".to_string()]), "COVERING nvr2: recording for it");
        assert_eq!(coverage(&r, &nvrs, &[]), "COVERING 1 NVR(s): recording for them");
        r.status.roles.insert("failover".into(), RoleState::Spare { armed: false, covering: 0 });
        assert_eq!(coverage(&r, &nvrs, &[]), "NOT armed (configured: nvr1, nvr2)");
    }

    #[test]
    fn long_lists_are_paged_or_cut_to_fit_the_screen() {
        let mut s = Settings::default();
        for i in 0..40 {
            s.nvrs.push(hotspare_settings::model::Nvr {
                id: format!("nvr-{i}"),
                url: format!("https://10.0.1.{i}:8443"),
                admin_user: "admin".into(),
                admin_password: "x".into(),
                priority: i,
                fingerprint: None,
            });
            // (not hashed: only listed)
            s.accounts.push(hotspare_settings::model::Account {
                user: format!("viewer{i}"),
                role: hotspare_http::Role::Viewer,
                password_hash: String::new(),
            });
        }
        let p = nvr_list(&s, 2);
        assert!(p.starts_with("NVRs 33-40 of 40") && p.contains("33) nvr-32") && !p.contains("nvr-31 "), "{p}");
        assert_eq!(nvr_list(&s, 9), p, "past the end: the last page");
        assert!(nvr_list(&s, 0).lines().count() + 3 < ROWS);
        let a = account_list(&s);
        assert!(a.contains("... and 28 more") && a.lines().count() + 8 < ROWS, "{a}");
    }

    #[test]
    fn the_main_menu_fits_an_80_by_24_terminal() {
        let s = Settings { hostname: "x".repeat(63), ..Settings::default() };
        let glance: Vec<String> = (0..5).map(|i| format!("{i}{}", "y".repeat(200))).collect();
        let text = main_menu(&s, 7, &glance, "none");
        // the prompt takes one more line
        assert!(text.lines().count() < ROWS, "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= COLS));
        assert!(text.contains("10) Factory reset"));
    }
}
