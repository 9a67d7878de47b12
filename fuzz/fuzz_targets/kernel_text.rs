//! What the kernel hands the supervisor as text or datagrams (`hotspare_platform`):
//! `/proc/self/mountinfo`, `/proc/mdstat`, md's `sync_completed`, the `/proc` and sysfs
//! files of system health, uevent datagrams from the netlink socket, and the bay globs
//! matched against sysfs paths. Trusted sources, but a parser that panics on an odd line
//! would take a monitor down: none may.
//!
//! The first byte picks the parser; the rest is its input.
#![no_main]

use std::path::Path;

use hotspare_platform::{bays, md_sysfs, mdstat, mountinfo, system};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    match which % 6 {
        0 => {
            let mounts = mountinfo::parse(&text);
            assert!(mounts.len() <= text.lines().count());
            for p in ["/", "/var/lib/hotspare/recordings"] {
                if let Some(m) = mountinfo::mount_of(&mounts, Path::new(p)) {
                    assert!(Path::new(p).starts_with(&m.mount_point), "{p} is not under {:?}", m.mount_point);
                }
            }
        }
        1 => {
            if let Some(a) = mdstat::parse(&text, "md0") {
                let _ = (a.state(), a.members_text());
            }
        }
        2 => {
            if let Some((done, total)) = md_sysfs::parse_sync_completed(&text) {
                let _ = done.checked_mul(100).map(|d| d / total.max(1));
            }
        }
        3 => {
            let _ = system::parse_meminfo(&text);
            let _ = system::parse_loadavg(&text);
            let _ = system::parse_cpu_list(&text);
            let _ = system::parse_file_nr(&text);
            let _ = system::parse_millidegrees(&text);
            let _ = system::parse_max_open_files(&text);
        }
        4 => {
            let props = bays::parse_uevent(rest);
            let _ = bays::is_disk_uevent(&props);
        }
        _ => {
            // `pattern NUL path`: a glob matches itself and `*` matches everything.
            let (pattern, path) = text.split_once('\0').unwrap_or((&text, ""));
            let _ = bays::glob(pattern, path);
            assert!(bays::glob(pattern, pattern), "{pattern:?} does not match itself");
            assert!(bays::glob("*", path));
        }
    }
});
