//! Parser of Linux `/proc/mdstat`: the state of one md array (active or
//! not, `[n/m] [UU_]`, members and which are marked `(F)`aulty).

/// Health of an md array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayState {
    /// Every member wanted is working.
    Ok,
    /// Active, with fewer working members than wanted (at least one): no redundancy left.
    Degraded,
    /// Inactive, or no working member, or a faulty member of a level without redundancy.
    Failed,
}

/// One array as described by mdstat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdArray {
    pub device: String,
    pub active: bool,
    /// e.g. `raid1`; empty for an inactive array.
    pub level: String,
    /// `(name, faulty)` per member (e.g. `("sdb", true)` for `sdb[1](F)`).
    pub members: Vec<(String, bool)>,
    /// `(wanted, working)` from `[n/m]`, absent for levels without redundancy.
    pub counts: Option<(u32, u32)>,
    /// The `[UU_]` map.
    pub map: String,
    /// `resync = 12.6%` / `recovery = 5.0%` progress line, if any.
    pub sync: Option<String>,
}

impl MdArray {
    /// Ok / Degraded (fewer working members than wanted, at least one, array active) / Failed
    /// (inactive or no working member).
    pub fn state(&self) -> ArrayState {
        if !self.active {
            return ArrayState::Failed;
        }
        match self.counts {
            Some((_, 0)) => ArrayState::Failed,
            Some((n, m)) if m < n => ArrayState::Degraded,
            _ if self.members.iter().all(|(_, faulty)| *faulty) => ArrayState::Failed,
            // Without redundancy (raid0, linear) a faulty member means lost data.
            None if self.members.iter().any(|(_, faulty)| *faulty) => ArrayState::Failed,
            _ => ArrayState::Ok,
        }
    }

    /// `[2/1] [U_]`, or the level when the array has no counts.
    pub fn members_text(&self) -> String {
        match self.counts {
            Some((n, m)) => format!("[{n}/{m}] [{}]", self.map),
            None if self.active => self.level.clone(),
            None => "inactive".into(),
        }
    }
}

/// Finds `device` (e.g. `md0`) in mdstat `text`.
pub fn parse(text: &str, device: &str) -> Option<MdArray> {
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((name, rest)) = line.split_once(" : ") else { continue };
        if name.trim() != device {
            continue;
        }
        let mut words = rest.split_whitespace().peekable();
        let active = match words.next() {
            Some("active") => true,
            Some(_) => false,
            None => return None,
        };
        // Optional "(read-only)" / "(auto-read-only)" after the state.
        while words.peek().is_some_and(|w| w.starts_with('(')) {
            words.next();
        }
        let level = if active { words.next().unwrap_or_default().to_owned() } else { String::new() };
        let members = words
            .filter_map(|w| {
                let (name, tail) = w.split_once('[')?;
                Some((name.to_owned(), tail.contains("(F)")))
            })
            .collect();
        let mut arr =
            MdArray { device: device.to_owned(), active, level, members, counts: None, map: String::new(), sync: None };
        // Detail lines are indented and end at the next blank line.
        while let Some(next) = lines.peek() {
            if next.trim().is_empty() || !next.starts_with(char::is_whitespace) {
                break;
            }
            let l = lines.next().unwrap_or_default();
            if let Some((counts, map)) = counts_and_map(l) {
                arr.counts = Some(counts);
                arr.map = map;
            }
            for kind in ["resync", "recovery", "reshape", "check"] {
                if let Some(pos) = l.find(&format!("{kind} =")) {
                    let pct = l[pos..].split_whitespace().take(3).collect::<Vec<_>>().join(" ");
                    arr.sync = Some(pct);
                }
            }
        }
        return Some(arr);
    }
    None
}

/// `... [2/1] [U_]` → `((2, 1), "U_")`.
fn counts_and_map(line: &str) -> Option<((u32, u32), String)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).find_map(|w| {
        let c = w[0].strip_prefix('[')?.strip_suffix(']')?;
        let (n, m) = c.split_once('/')?;
        let map = w[1].strip_prefix('[')?.strip_suffix(']')?;
        if !map.bytes().all(|b| b == b'U' || b == b'_') {
            return None;
        }
        Some(((n.parse().ok()?, m.parse().ok()?), map.to_owned()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: &str = "Personalities : [raid1] [linear] [multipath] [raid0] [raid6] [raid5] [raid4] [raid10] \n\
md0 : active raid1 sdb[1] sda[0]\n      976630464 blocks super 1.2 [2/2] [UU]\n      bitmap: 1/8 pages [4KB], 65536KB chunk\n\nunused devices: <none>\n";

    const DEGRADED: &str = "Personalities : [raid1] \n\
md0 : active raid1 sdb[1](F) sda[0]\n      1046528 blocks super 1.2 [2/1] [U_]\n      \nunused devices: <none>\n";

    const FAILED: &str = "Personalities : [raid1] \n\
md0 : inactive sdb[1](S) sda[0](S)\n      2093056 blocks super 1.2\n       \nunused devices: <none>\n";

    const RESYNC: &str = "Personalities : [raid1] \n\
md1 : active raid1 sdd1[1] sdc1[0]\n      10476544 blocks super 1.2 [2/2] [UU]\n      [=>...................]  resync =  8.3% (871936/10476544) finish=0.7min speed=217984K/sec\n      \n\
md0 : active raid5 sdg[3] sdf[1] sde[0]\n      2095104 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/2] [UU_]\n      [==>..................]  recovery = 12.6% (132096/1047552) finish=0.1min speed=132096K/sec\n      \nunused devices: <none>\n";

    const RAID0: &str = "Personalities : [raid0] \nmd0 : active raid0 sdb[1] sda[0]\n      2093056 blocks super 1.2 512k chunks\n      \nunused devices: <none>\n";

    #[test]
    fn clean() {
        let a = parse(CLEAN, "md0").unwrap();
        assert_eq!(a.state(), ArrayState::Ok);
        assert_eq!(a.members_text(), "[2/2] [UU]");
        assert_eq!(a.members, vec![("sdb".into(), false), ("sda".into(), false)]);
        assert_eq!(a.level, "raid1");
        assert!(parse(CLEAN, "md1").is_none());
    }

    #[test]
    fn degraded() {
        let a = parse(DEGRADED, "md0").unwrap();
        assert_eq!(a.state(), ArrayState::Degraded);
        assert_eq!(a.members_text(), "[2/1] [U_]");
        assert_eq!(a.members, vec![("sdb".into(), true), ("sda".into(), false)]);
    }

    #[test]
    fn failed_inactive() {
        let a = parse(FAILED, "md0").unwrap();
        assert!(!a.active);
        assert_eq!(a.state(), ArrayState::Failed);
        assert_eq!(a.members.len(), 2);
        let zero = DEGRADED.replace("[2/1] [U_]", "[2/0] [__]");
        assert_eq!(parse(&zero, "md0").unwrap().state(), ArrayState::Failed);
    }

    #[test]
    fn resyncing_and_recovering() {
        let a = parse(RESYNC, "md1").unwrap();
        assert_eq!(a.state(), ArrayState::Ok);
        assert_eq!(a.sync.as_deref(), Some("resync = 8.3%"));
        let b = parse(RESYNC, "md0").unwrap();
        assert_eq!(b.state(), ArrayState::Degraded);
        assert_eq!(b.members_text(), "[3/2] [UU_]");
        assert_eq!(b.sync.as_deref(), Some("recovery = 12.6%"));
        assert_eq!(b.members.len(), 3);
    }

    #[test]
    fn no_redundancy_level() {
        let a = parse(RAID0, "md0").unwrap();
        assert_eq!((a.state(), a.members_text()), (ArrayState::Ok, "raid0".to_string()));
    }
}
