//! `hotspare boot-state`: reads and edits the A/B boot-counting state on the
//! mounted FAT boot partition (`bootstate.0`/`bootstate.1`, the files U-Boot's
//! boot script counts tries in). `show`, `mark-good`, `set-primary` for people
//! and the supervisor; `get-primary`, `set-primary`, `get-state`, `set-state`
//! take exactly the arguments of RAUC's `custom` bootloader backend, so its
//! handler is `exec hotspare boot-state --dir /boot "$@"`
//! (docs/design/boot-counting.md). `mark-good` is the supervisor's own mark at "ready"
//! ([`hotspare_supervisor::boot_slot::mark_good`]), so both write the same way.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hotspare_platform::bootstate::{BootState, Copy, Slot, FILE_NAMES};
use hotspare_platform::bootstate_io::{load, store, Loaded};
use hotspare_supervisor::boot_slot::mark_good;

#[derive(clap::Args, Debug)]
pub struct BootStateArgs {
    /// The mounted FAT boot partition holding bootstate.0 and bootstate.1.
    #[arg(long, default_value = "/boot")]
    pub dir: PathBuf,
    #[command(subcommand)]
    pub op: Op,
}

#[derive(clap::Subcommand, Debug)]
pub enum Op {
    /// Prints both copies, which one is current and the slot U-Boot tries next.
    Show,
    /// The slot booted fine: its tries back to 3 (= set-state SLOT good).
    MarkGood { slot: SlotArg },
    /// Boot SLOT first from now on, with 3 tries (RAUC set-primary).
    SetPrimary { slot: SlotArg },
    /// Prints the slot U-Boot tries next: the first of BOOT_ORDER with tries left (RAUC get-primary).
    GetPrimary,
    /// Prints `good` or `bad` (RAUC get-state).
    GetState { slot: SlotArg },
    /// `good`: tries back to 3; `bad`: no tries left (RAUC set-state).
    SetState { slot: SlotArg, state: GoodBad },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum SlotArg {
    #[value(name = "A")]
    A,
    #[value(name = "B")]
    B,
}

impl From<SlotArg> for Slot {
    fn from(s: SlotArg) -> Slot {
        match s {
            SlotArg::A => Slot::A,
            SlotArg::B => Slot::B,
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum GoodBad {
    Good,
    Bad,
}

pub fn run(a: BootStateArgs) -> ExitCode {
    match execute(&a.dir, &a.op) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one operation; returns what goes to stdout.
fn execute(dir: &Path, op: &Op) -> Result<String, String> {
    let read = || load(dir).map_err(|e| e.to_string());
    // A change: the state read now, changed by `f`, written over the older copy.
    let change = |f: &dyn Fn(&BootState) -> BootState| {
        let loaded = read()?;
        store(&loaded, &f(&loaded.choice.state)).map_err(|e| e.to_string())
    };
    let (path, written) = match *op {
        Op::Show => return Ok(show(&read()?)),
        Op::GetPrimary => {
            return read()?
                .choice
                .state
                .primary()
                .map(|s| format!("{s}\n"))
                .ok_or_else(|| format!("{}: no slot of BOOT_ORDER has tries left", dir.display()))
        }
        Op::GetState { slot } => {
            return Ok(if read()?.choice.state.is_good(slot.into()) { "good\n" } else { "bad\n" }.to_string());
        }
        Op::MarkGood { slot } | Op::SetState { slot, state: GoodBad::Good } => {
            mark_good(dir, slot.into()).map_err(|e| e.to_string())?
        }
        Op::SetState { slot, state: GoodBad::Bad } => change(&|s| s.mark_bad(slot.into()))?,
        Op::SetPrimary { slot } => change(&|s| s.set_primary(slot.into()))?,
    };
    Ok(format!("{}: {}\n", path.display(), written.summary()))
}

fn show(l: &Loaded) -> String {
    let mut out = String::new();
    for (i, c) in l.copies.iter().enumerate() {
        let what = match c {
            Copy::Valid(s) => format!("valid, {}", s.summary()),
            Copy::Missing => "missing".to_string(),
            Copy::Invalid(why) => format!("invalid: {why}"),
        };
        out.push_str(&format!("{}: {what}\n", l.path(i).display()));
    }
    match l.choice.from {
        Some(i) => out.push_str(&format!("current: {}\n", FILE_NAMES[i])),
        None => out.push_str("current: none valid, using defaults (A B, 3 tries each)\n"),
    }
    out.push_str(&format!("state: {}\n", l.choice.state.summary()));
    match l.choice.state.primary() {
        Some(s) => out.push_str(&format!("next boot: slot {s}\n")),
        None => out.push_str("next boot: no slot has tries left (U-Boot resets both to 3)\n"),
    }
    out
}
