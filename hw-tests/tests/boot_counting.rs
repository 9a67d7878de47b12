//! Boot counting with the real U-Boot (Debian's `u-boot-qemu`) in QEMU and
//! `board/qemu-virt/boot.cmd` on a FAT boot disk with no kernel: the script
//! prints its decision (`hotspare-boot: slot A (tries left 2)`) and powers
//! off. After each run the state files are read back with mtools and the Rust
//! parser; `mark-good` goes through the Linux tool (`hotspare boot-state`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hotspare_hw_tests::qemu::Qemu;
use hotspare_hw_tests::uboot::{mkimage_script, Machine};
use hotspare_platform::bootstate::{BootState, FILE_NAMES};
use hotspare_platform::bootstate_io::{load, store, Loaded};

const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// One power-on to power-off; returns the script's `hotspare-boot:` lines.
fn boot(m: &Machine, times: &mut Vec<Duration>) -> Vec<String> {
    let t0 = Instant::now();
    let mut q = Qemu::spawn(&m.qemu_args(), &m.dir).expect("start qemu-system-aarch64");
    q.expect("Found U-Boot script /boot.scr", BOOT_TIMEOUT).unwrap();
    q.wait_exit(BOOT_TIMEOUT).unwrap();
    times.push(t0.elapsed());
    let lines: Vec<String> = q.lines_with("hotspare-boot:").iter().map(|s| s.to_string()).collect();
    assert!(!lines.is_empty(), "no decision printed:\n{}", q.transcript.join("\n"));
    lines
}

/// The script's decision: `slot X (tries left N)` or `no slot has tries left`.
fn decision(lines: &[String]) -> String {
    let d = lines.iter().find(|l| l.contains("(tries left") || l.contains("no slot has tries left"));
    d.cloned().unwrap_or_else(|| panic!("no decision in {lines:#?}"))
}

/// The state as Linux reads it from the disk image (both copies through the parser).
fn linux_view(m: &Machine, scratch: &Path) -> Loaded {
    for n in FILE_NAMES {
        let _ = std::fs::remove_file(scratch.join(n));
    }
    m.export_files(&FILE_NAMES, scratch).unwrap();
    load(scratch).unwrap()
}

/// The `hotspare` binary cargo built next to this test (target/debug/hotspare), if it
/// has the `boot-state` subcommand.
fn hotspare_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("hotspare");
    let ok = Command::new(&bin).args(["boot-state", "--help"]).output().ok()?.status.success();
    ok.then_some(bin)
}

/// `hotspare boot-state --dir SCRATCH ARGS` on copies of the FAT files, then back onto the disk.
fn linux_tool(m: &Machine, scratch: &Path, args: &[&str]) -> String {
    let before = linux_view(m, scratch);
    let out = match hotspare_bin() {
        Some(bin) => {
            eprintln!("Linux tool: {} boot-state {args:?}", bin.display());
            let o = Command::new(bin).arg("boot-state").arg("--dir").arg(scratch).args(args).output().unwrap();
            assert!(o.status.success(), "hotspare boot-state {args:?}: {}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).into_owned()
        }
        None => {
            // Not built by this cargo invocation (e.g. `cargo test -p hotspare-hw-tests`):
            // the same library calls the subcommand makes.
            eprintln!("target/debug/hotspare with boot-state not found: using hotspare_platform::bootstate_io");
            assert_eq!(args[0], "mark-good");
            let slot = hotspare_platform::bootstate::Slot::parse(args[1]).unwrap();
            let (p, s) = store(&before, &before.choice.state.mark_good(slot)).unwrap();
            format!("{}: seq {}\n", p.display(), s.seq)
        }
    };
    m.put(&scratch.join(FILE_NAMES[before.choice.write_to]), FILE_NAMES[before.choice.write_to]).unwrap();
    out
}

fn left(m: &Machine, scratch: &Path) -> (u8, u8, u64) {
    let s: BootState = linux_view(m, scratch).choice.state;
    (s.a_left, s.b_left, s.seq)
}

#[test]
fn uboot_counts_tries_falls_back_resets_and_honours_mark_good() {
    if let Some(why) = hotspare_hw_tests::skip_reason() {
        eprintln!("SKIP: {why}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let work = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let m = Machine::create(work.path(), 8).unwrap();
    let scr = work.path().join("boot.scr");
    mkimage_script(&root.join("board/qemu-virt/boot.cmd"), &scr).unwrap();
    m.put(&scr, "boot.scr").unwrap();
    let mut times = Vec::new();

    // No state yet: defaults, said so; then A 3→2→1→0, B 3→2→1→0, then both reset.
    let first = boot(&m, &mut times);
    assert!(first.iter().any(|l| l.contains("no valid boot state, using defaults")), "{first:?}");
    let mut decisions = vec![decision(&first)];
    let mut states = vec![left(&m, scratch.path())];
    for _ in 0..7 {
        decisions.push(decision(&boot(&m, &mut times)));
        states.push(left(&m, scratch.path()));
    }
    let want = [
        "slot A (tries left 2)",
        "slot A (tries left 1)",
        "slot A (tries left 0)",
        "slot B (tries left 2)",
        "slot B (tries left 1)",
        "slot B (tries left 0)",
        "no slot has tries left",
        "slot A (tries left 2)",
    ];
    for (d, w) in decisions.iter().zip(want) {
        assert!(d.contains(w), "decisions {decisions:#?}, wanted {want:#?}");
    }
    assert_eq!(states, [(2, 3, 1), (1, 3, 2), (0, 3, 3), (0, 2, 4), (0, 1, 5), (0, 0, 6), (3, 3, 7), (2, 3, 8)]);

    // Linux marks A good after each boot: U-Boot keeps booting A with 2 tries left.
    for _ in 0..2 {
        let out = linux_tool(&m, scratch.path(), &["mark-good", "A"]);
        assert!(out.contains("bootstate."), "{out}");
        assert_eq!(left(&m, scratch.path()).0, 3);
        let d = boot(&m, &mut times);
        assert!(decision(&d).contains("slot A (tries left 2)"), "{d:?}");
    }
    let (_, _, seq) = left(&m, scratch.path());
    assert_eq!(seq, 12);

    // A torn newer copy (mark-good's write cut short) is ignored by both sides.
    linux_tool(&m, scratch.path(), &["mark-good", "A"]);
    let newest = linux_view(&m, scratch.path());
    let torn_name = FILE_NAMES[newest.choice.from.unwrap()];
    let full = m.get(torn_name).unwrap();
    m.put_bytes(torn_name, &full[..full.len() - 5]).unwrap();
    let l = linux_view(&m, scratch.path());
    assert_eq!((l.choice.state.seq, l.choice.state.a_left), (12, 2), "Linux took the torn copy: {l:?}");
    let d = boot(&m, &mut times);
    assert!(d.iter().any(|x| x.contains(&format!("{torn_name} invalid"))), "{d:?}");
    assert!(decision(&d).contains("slot A (tries left 1)"), "{d:?}");
    assert_eq!(left(&m, scratch.path()), (1, 3, 13));

    // A flipped byte in the newer copy's body: same.
    let newest = linux_view(&m, scratch.path());
    let bad_name = FILE_NAMES[newest.choice.from.unwrap()];
    let mut bytes = m.get(bad_name).unwrap();
    let at = bytes.iter().position(|&b| b == b'=').unwrap() + 17;
    bytes[at] ^= 0x01;
    m.put_bytes(bad_name, &bytes).unwrap();
    assert_eq!(left(&m, scratch.path()), (2, 3, 12));
    let d = boot(&m, &mut times);
    assert!(d.iter().any(|x| x.contains(&format!("{bad_name} invalid"))), "{d:?}");
    assert!(decision(&d).contains("slot A (tries left 1)"), "{d:?}");

    let total: Duration = times.iter().sum();
    eprintln!(
        "{} U-Boot runs (power-on to power-off, TCG): mean {:.1} s, max {:.1} s, total {:.1} s",
        times.len(),
        total.as_secs_f64() / times.len() as f64,
        times.iter().max().unwrap().as_secs_f64(),
        total.as_secs_f64()
    );
}
