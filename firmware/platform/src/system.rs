//! System resources of the box, read from procfs and sysfs text: CPU temperature (thermal
//! zones), memory (`/proc/meminfo`), load per core (`/proc/loadavg` over
//! `/sys/devices/system/cpu/online`), filesystem usage (statvfs) and open file descriptors
//! (`/proc/sys/fs/file-nr`, and each child process of the supervisor against its own
//! open-files limit: `/proc/<pid>/fd`, `limits`). The parsers are pure (tested on recorded text); [`read`] gathers
//! one [`Readings`] from configurable roots (tests point them at temp trees). The verdict
//! against warning and critical thresholds is [`thresholds`].
//!
//! Why not the `sysinfo` crate: it reads the same files, but gives no thermal-zone types, no
//! file-nr, no configurable roots (so no tests on recorded trees) and pulls a large
//! dependency; these five files are a few lines each.

pub mod thresholds;

use std::path::{Path, PathBuf};

/// A procfs or sysfs text that does not say what it should.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{what}: {problem}")]
pub struct ParseError {
    pub what: &'static str,
    pub problem: String,
}

fn bad(what: &'static str, problem: impl Into<String>) -> ParseError {
    ParseError { what, problem: problem.into() }
}

/// `/proc/meminfo`: `MemTotal` and `MemAvailable` in KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    pub total_kib: u64,
    pub available_kib: u64,
}

impl Memory {
    /// Percent of the memory not available to new work.
    pub fn used_pct(&self) -> f64 {
        if self.total_kib == 0 {
            return 0.0;
        }
        100.0 * self.total_kib.saturating_sub(self.available_kib) as f64 / self.total_kib as f64
    }
}

pub fn parse_meminfo(text: &str) -> Result<Memory, ParseError> {
    let field = |name: &str| {
        let line = text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':'));
        let line = line.ok_or_else(|| bad("meminfo", format!("no {name}")))?;
        let n = line.split_whitespace().next().unwrap_or("");
        n.parse::<u64>().map_err(|_| bad("meminfo", format!("{name}: {n:?} is not a number")))
    };
    Ok(Memory { total_kib: field("MemTotal")?, available_kib: field("MemAvailable")? })
}

/// `/proc/loadavg`: the 1, 5 and 15 minute load averages.
pub fn parse_loadavg(text: &str) -> Result<[f64; 3], ParseError> {
    let mut it = text.split_whitespace().map(|w| w.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0));
    match (it.next(), it.next(), it.next()) {
        (Some(Some(a)), Some(Some(b)), Some(Some(c))) => Ok([a, b, c]),
        _ => Err(bad("loadavg", format!("{:?} has no three averages", text.trim()))),
    }
}

/// `/sys/devices/system/cpu/online` (`0-3`, `0,2-5`): how many CPUs.
pub fn parse_cpu_list(text: &str) -> Result<u32, ParseError> {
    let mut n = 0u32;
    for part in text.trim().split(',') {
        let num = |s: &str| s.parse::<u32>().map_err(|_| bad("cpu list", format!("{:?}", text.trim())));
        n += match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a {
                    return Err(bad("cpu list", format!("{:?}", text.trim())));
                }
                b - a + 1
            }
            None => num(part).map(|_| 1)?,
        };
    }
    Ok(n)
}

/// `/proc/sys/fs/file-nr`: allocated, free (0 since Linux 2.6), maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHandles {
    pub used: u64,
    pub max: u64,
}

impl FileHandles {
    pub fn used_pct(&self) -> f64 {
        if self.max == 0 {
            return 0.0;
        }
        100.0 * self.used as f64 / self.max as f64
    }
}

pub fn parse_file_nr(text: &str) -> Result<FileHandles, ParseError> {
    let v: Vec<u64> = text.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    match v[..] {
        [allocated, free, max] => Ok(FileHandles { used: allocated.saturating_sub(free), max }),
        _ => Err(bad("file-nr", format!("{:?} is not three numbers", text.trim()))),
    }
}

/// A thermal zone's `temp` (millidegrees Celsius) in degrees.
pub fn parse_millidegrees(text: &str) -> Result<f64, ParseError> {
    let t = text.trim();
    t.parse::<i64>().map(|m| m as f64 / 1000.0).map_err(|_| bad("temp", format!("{t:?} is not millidegrees")))
}

/// `/proc/<pid>/limits`: the soft `Max open files` (`None`: unlimited).
pub fn parse_max_open_files(text: &str) -> Result<Option<u64>, ParseError> {
    let line = text.lines().find_map(|l| l.strip_prefix("Max open files"));
    let soft = line.and_then(|l| l.split_whitespace().next()).ok_or_else(|| bad("limits", "no Max open files"))?;
    match soft {
        "unlimited" => Ok(None),
        n => n.parse().map(Some).map_err(|_| bad("limits", format!("Max open files {n:?}"))),
    }
}

/// Open files of one child process of the supervisor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessFiles {
    pub pid: u32,
    /// Its program's file name and first argument (the role), e.g. `hotspare failover`.
    pub name: String,
    pub open: u64,
    /// Its soft `RLIMIT_NOFILE`.
    pub limit: u64,
}

impl ProcessFiles {
    pub fn used_pct(&self) -> f64 {
        if self.limit == 0 {
            return 0.0;
        }
        100.0 * self.open as f64 / self.limit as f64
    }
}

/// The children of `parent` (`<proc>/<parent>/task/*/children`) and their open files;
/// a child that exits meanwhile, or has no limit, is skipped.
pub fn read_children_files(proc: &Path, parent: u32) -> Vec<ProcessFiles> {
    let Ok(tasks) = std::fs::read_dir(proc.join(parent.to_string()).join("task")) else { return Vec::new() };
    let mut pids: Vec<u32> = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|t| t.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids.into_iter()
        .filter_map(|pid| {
            let dir = proc.join(pid.to_string());
            let limit = parse_max_open_files(&std::fs::read_to_string(dir.join("limits")).ok()?).ok()??;
            let open = std::fs::read_dir(dir.join("fd")).ok()?.count() as u64;
            let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
            let mut args = cmdline.split(|&b| b == 0).filter(|a| !a.is_empty()).map(String::from_utf8_lossy);
            let program = args.next().map(|p| p.rsplit('/').next().unwrap_or_default().to_owned());
            let name = [program, args.next().map(|a| a.into_owned())].into_iter().flatten().collect::<Vec<_>>();
            Some(ProcessFiles { pid, name: name.join(" "), open, limit })
        })
        .collect()
}

/// One temperature sensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Temperature {
    /// The zone's `type` (e.g. `cpu-thermal`), or its directory name.
    pub sensor: String,
    pub celsius: f64,
}

/// Usage of one mounted filesystem.
#[derive(Clone, Debug, PartialEq)]
pub struct FsUsage {
    pub path: PathBuf,
    /// As `df` counts it: used / (used + available to unprivileged users).
    pub used_pct: f64,
}

/// One look at the box's resources; `None` where the source could not be read
/// (`errors` says why).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Readings {
    pub temperatures: Vec<Temperature>,
    pub memory: Option<Memory>,
    /// The 1, 5 and 15 minute load averages and the CPUs online.
    pub load: Option<([f64; 3], u32)>,
    pub filesystems: Vec<FsUsage>,
    pub file_handles: Option<FileHandles>,
    /// The supervisor's children against their open-files limits.
    pub processes: Vec<ProcessFiles>,
    pub errors: Vec<String>,
}

/// Where [`read`] looks: the roots of procfs and sysfs and the mount points to measure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sources {
    pub proc: PathBuf,
    pub sys: PathBuf,
    pub filesystems: Vec<PathBuf>,
    /// Whose children's open files to count (the supervisor's pid); `None`: none.
    pub parent: Option<u32>,
}

fn read_parsed<T>(path: &Path, parse: fn(&str) -> Result<T, ParseError>, errors: &mut Vec<String>) -> Option<T> {
    let r = std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| parse(&t).map_err(|e| e.to_string()));
    r.map_err(|e| errors.push(format!("{}: {e}", path.display()))).ok()
}

/// The thermal zones under `<sys>/class/thermal` (`thermal_zone*/temp` and `type`); zones
/// whose `temp` cannot be read are skipped (a disabled zone reads as an error).
pub fn read_temperatures(sys: &Path) -> Vec<Temperature> {
    let Ok(dir) = std::fs::read_dir(sys.join("class/thermal")) else { return Vec::new() };
    let mut out: Vec<Temperature> = dir
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("thermal_zone"))
        .filter_map(|e| {
            let celsius = parse_millidegrees(&std::fs::read_to_string(e.path().join("temp")).ok()?).ok()?;
            let sensor = std::fs::read_to_string(e.path().join("type"))
                .map(|t| t.trim().to_owned())
                .unwrap_or_else(|_| e.file_name().to_string_lossy().into_owned());
            Some(Temperature { sensor, celsius })
        })
        .collect();
    out.sort_by(|a, b| a.sensor.cmp(&b.sensor));
    out
}

/// statvfs of `path`.
pub fn fs_usage(path: &Path) -> Result<FsUsage, std::io::Error> {
    let st = rustix::fs::statvfs(path)?;
    let used = st.f_blocks.saturating_sub(st.f_bfree);
    let total = used + st.f_bavail;
    let used_pct = if total == 0 { 0.0 } else { 100.0 * used as f64 / total as f64 };
    Ok(FsUsage { path: path.to_owned(), used_pct })
}

/// Reads everything once (a few small files and one statvfs per filesystem).
pub fn read(src: &Sources) -> Readings {
    let mut errors = Vec::new();
    let memory = read_parsed(&src.proc.join("meminfo"), parse_meminfo, &mut errors);
    let avg = read_parsed(&src.proc.join("loadavg"), parse_loadavg, &mut errors);
    let cpus = read_parsed(&src.sys.join("devices/system/cpu/online"), parse_cpu_list, &mut errors);
    let file_handles = read_parsed(&src.proc.join("sys/fs/file-nr"), parse_file_nr, &mut errors);
    let mut filesystems = Vec::new();
    for p in &src.filesystems {
        match fs_usage(p) {
            Ok(u) => filesystems.push(u),
            Err(e) => errors.push(format!("{}: statvfs: {e}", p.display())),
        }
    }
    Readings {
        temperatures: read_temperatures(&src.sys),
        memory,
        load: avg.zip(cpus.filter(|&n| n > 0)),
        filesystems,
        file_handles,
        processes: src.parent.map(|p| read_children_files(&src.proc, p)).unwrap_or_default(),
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded on a 4-core aarch64 board (Linux 6.1).
    const MEMINFO: &str = "MemTotal:        3994712 kB\nMemFree:          211540 kB\n\
                           MemAvailable:    2519188 kB\nBuffers:          120944 kB\n";

    #[test]
    fn parsers_on_recorded_text() {
        let m = parse_meminfo(MEMINFO).unwrap();
        assert_eq!(m, Memory { total_kib: 3994712, available_kib: 2519188 });
        assert!((m.used_pct() - 36.937).abs() < 0.01, "{}", m.used_pct());
        assert_eq!(parse_loadavg("0.52 0.58 0.59 2/389 12345\n").unwrap(), [0.52, 0.58, 0.59]);
        assert_eq!(parse_cpu_list("0-3\n").unwrap(), 4);
        assert_eq!(parse_cpu_list("0,2-5\n").unwrap(), 5);
        assert_eq!(parse_file_nr("2272\t0\t9223372036854775807\n").unwrap().used, 2272);
        let f = parse_file_nr("900 0 1000\n").unwrap();
        assert_eq!((f.used, f.max, f.used_pct()), (900, 1000, 90.0));
        assert_eq!(parse_millidegrees("47250\n").unwrap(), 47.25);
        assert_eq!(parse_millidegrees("-5000").unwrap(), -5.0);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             15431                15431                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_max_open_files(limits).unwrap(), Some(1024));
        assert_eq!(parse_max_open_files("Max open files unlimited unlimited files").unwrap(), None);
    }

    #[test]
    fn parsers_refuse_garbage() {
        assert_eq!(parse_meminfo("MemTotal: 10 kB\n").unwrap_err().problem, "no MemAvailable");
        assert!(parse_meminfo("MemTotal: x kB\nMemAvailable: 1 kB").is_err());
        assert!(parse_loadavg("0.5 nan 1").is_err());
        assert!(parse_loadavg("").is_err());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("").is_err());
        assert!(parse_file_nr("1 2").is_err());
        assert!(parse_millidegrees("hot").is_err());
        assert!(parse_max_open_files("Max processes 10 10 processes\n").is_err());
    }

    #[test]
    fn open_files_of_a_real_child() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        // Until the child has exec'd (between fork and exec its command line is not yet its own).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let found = loop {
            let found = read_children_files(Path::new("/proc"), std::process::id());
            let exec_done = found.iter().any(|p| p.pid == child.id() && p.name == "sleep 30");
            if exec_done || std::time::Instant::now() > deadline {
                break found;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let _ = child.kill();
        let _ = child.wait();
        let me = found.iter().find(|p| p.pid == child.id()).unwrap_or_else(|| panic!("{found:?}"));
        assert_eq!(me.name, "sleep 30");
        assert!(me.open >= 3 && me.limit >= me.open, "{me:?}");
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn read_a_recorded_tree() {
        let d = tempfile::tempdir().unwrap();
        let (proc, sys) = (d.path().join("proc"), d.path().join("sys"));
        write(&proc, "meminfo", MEMINFO);
        write(&proc, "loadavg", "3.90 3.80 3.70 5/400 99\n");
        write(&proc, "sys/fs/file-nr", "1024 0 65536\n");
        write(&sys, "devices/system/cpu/online", "0-3\n");
        write(&sys, "class/thermal/thermal_zone0/temp", "81500\n");
        write(&sys, "class/thermal/thermal_zone0/type", "cpu-thermal\n");
        write(&sys, "class/thermal/thermal_zone1/temp", "40000\n");
        write(&sys, "class/thermal/thermal_zone1/type", "gpu-thermal\n");
        write(&sys, "class/thermal/thermal_zone2/type", "disabled\n");
        write(&proc, "100/task/100/children", "200 300 ");
        write(&proc, "100/task/101/children", "400");
        write(&proc, "200/limits", "Max open files            64                 4096               files\n");
        write(&proc, "200/cmdline", "/usr/bin/hotspare\0failover\0--config\0x\0");
        for fd in 0..60 {
            write(&proc, &format!("200/fd/{fd}"), "");
        }
        write(&proc, "400/limits", "Max open files            1024                 4096               files\n");
        write(&proc, "400/fd/0", "");
        let src =
            Sources { proc, sys, filesystems: vec![d.path().to_owned(), d.path().join("gone")], parent: Some(100) };
        let r = read(&src);
        assert_eq!(r.temperatures.len(), 2);
        assert_eq!((r.temperatures[0].sensor.as_str(), r.temperatures[0].celsius), ("cpu-thermal", 81.5));
        assert_eq!(r.load, Some(([3.9, 3.8, 3.7], 4)));
        assert_eq!(r.file_handles, Some(FileHandles { used: 1024, max: 65536 }));
        let p = &r.processes;
        assert_eq!(p.len(), 2, "300 has gone: {p:?}");
        assert_eq!((p[0].pid, p[0].name.as_str(), p[0].open, p[0].limit), (200, "hotspare failover", 60, 64));
        assert_eq!((p[1].pid, p[1].name.as_str(), p[1].open), (400, "", 1));
        assert_eq!(r.filesystems.len(), 1);
        assert!((0.0..=100.0).contains(&r.filesystems[0].used_pct));
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        assert!(r.errors[0].contains("gone") && r.errors[0].contains("statvfs"), "{:?}", r.errors);
        std::fs::remove_file(src.proc.join("meminfo")).unwrap();
        let r = read(&src);
        assert_eq!(r.memory, None);
        assert!(r.errors.iter().any(|e| e.contains("meminfo")), "{:?}", r.errors);
    }
}
