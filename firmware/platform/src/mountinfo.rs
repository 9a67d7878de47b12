//! Parser of Linux `/proc/self/mountinfo` (proc(5)): which mount holds a path and whether it
//! is read-only — a filesystem that hit an error and was remounted read-only
//! (`errors=remount-ro`) shows `ro` in its super options while the mount may still say `rw`.

use std::path::{Component, Path, PathBuf};

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,noatime`).
    pub options: String,
    pub fs_type: String,
    pub source: String,
    /// Per-superblock options (`rw,errors=remount-ro`).
    pub super_options: String,
}

impl Mount {
    /// `ro` in the mount's or the superblock's options.
    pub fn read_only(&self) -> bool {
        let ro = |o: &str| o.split(',').any(|x| x == "ro");
        ro(&self.options) || ro(&self.super_options)
    }
}

/// Undoes the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` `\`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = b[i + 1..i + 4].iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
            if let Ok(v) = u8::try_from(v) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses one line; `None` if it is malformed.
pub fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let l: Vec<&str> = left.split(' ').collect();
    let r: Vec<&str> = right.split(' ').collect();
    if l.len() < 6 || r.len() < 3 {
        return None;
    }
    Some(Mount {
        mount_point: PathBuf::from(unescape(l[4])),
        options: l[5].to_owned(),
        fs_type: r[0].to_owned(),
        source: unescape(r[1]),
        super_options: r[2].trim_end().to_owned(),
    })
}

/// All mounts, in the kernel's order (a later mount on the same point hides an earlier one).
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

/// The mount holding `path` (absolute, without `..`): the longest mount point that is a
/// prefix of it, the last such line when several are stacked.
pub fn mount_of<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    let depth = |p: &Path| p.components().filter(|c| matches!(c, Component::Normal(_))).count();
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| path.starts_with(&m.mount_point))
        .max_by_key(|(i, m)| (depth(&m.mount_point), *i))
        .map(|(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    // From a Debian 12 box: the root, /proc, a recording volume remounted read-only by ext4
    // after an error (mount options still `rw`), and one with a space in its name.
    const TEXT: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
41 22 9:0 / /var/lib/hotspare/rec rw,noatime shared:30 - ext4 /dev/md0 ro,errors=remount-ro
42 22 9:1 / /mnt/rec\\0402 ro,noatime shared:31 - ext4 /dev/md1 rw
43 41 0:50 / /var/lib/hotspare/rec/tmp rw,relatime shared:32 - tmpfs tmpfs rw,size=1024k
";

    #[test]
    fn lines_and_escapes() {
        let m = parse(TEXT);
        assert_eq!(m.len(), 5);
        assert_eq!(m[2].mount_point, Path::new("/var/lib/hotspare/rec"));
        assert_eq!((m[2].fs_type.as_str(), m[2].source.as_str()), ("ext4", "/dev/md0"));
        assert_eq!(m[3].mount_point, Path::new("/mnt/rec 2"));
        assert!(parse_line("garbage").is_none());
        assert!(parse_line("1 2 3 - x").is_none());
    }

    #[test]
    fn which_mount_and_read_only() {
        let m = parse(TEXT);
        let rec = mount_of(&m, Path::new("/var/lib/hotspare/rec/cam1")).unwrap();
        assert_eq!(rec.source, "/dev/md0");
        assert!(rec.read_only(), "ro in the super options (remounted after an error)");
        let tmp = mount_of(&m, Path::new("/var/lib/hotspare/rec/tmp/x")).unwrap();
        assert_eq!((tmp.fs_type.as_str(), tmp.read_only()), ("tmpfs", false));
        assert!(mount_of(&m, Path::new("/mnt/rec 2/a")).unwrap().read_only(), "ro on the mount");
        assert_eq!(mount_of(&m, Path::new("/var/lib/hotspare/recx")).unwrap().mount_point, Path::new("/"));
        assert!(!mount_of(&m, Path::new("/home")).unwrap().read_only());
        let stacked = format!("{TEXT}44 22 9:0 / /var/lib/hotspare/rec rw - ext4 /dev/md0 rw\n");
        assert!(!mount_of(&parse(&stacked), Path::new("/var/lib/hotspare/rec/a")).unwrap().read_only());
        assert!(mount_of(&[], Path::new("/")).is_none());
    }
}
