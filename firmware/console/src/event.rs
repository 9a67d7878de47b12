//! What goes into the console's state machine and what comes out of it.

use hotspare_settings::confirm::Pending;
use hotspare_settings::Settings;

/// One thing that happened on the console's side.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The console (re)started: show the first screen.
    Start,
    /// A line typed (without its end of line).
    Line(String),
    /// Ctrl-C: cancel what is being typed, back to the menu.
    Interrupt,
    /// Ctrl-\: the same as Ctrl-C (never a core dump, never an exit).
    Quit,
    /// Time passed (the adapter ticks about once a second).
    Tick,
    /// The result of the last [`Effect`] that has one.
    Outcome(Outcome),
}

/// The result of an effect, fed back by the adapter.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Save, restore or factory reset done: the settings now current and their generation.
    Saved { seq: u64, settings: Box<Settings> },
    /// The effect failed or was refused; `why` is shown as is (names the field).
    Failed { why: String },
    /// The settings in force, the status at a glance (a few lines) and the full status text
    /// (answers [`Effect::Gather`]; the console edits from these settings).
    Status { seq: u64, settings: Box<Settings>, glance: Vec<String>, details: String },
    /// The generations kept, newest first, one line each (answers [`Effect::History`]).
    History(Vec<(u64, String)>),
    /// The network command ran (answers [`Effect::ApplyNetwork`]); `Err`: why it failed.
    Applied(Result<(), String>),
}

/// What the adapter does (in order).
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Text to show as is (lines end with `\n`).
    Text(String),
    /// A question: the text without end of line; `hidden`: do not echo the answer.
    Prompt {
        text: String,
        hidden: bool,
    },
    Effect(Effect),
}

/// Something the adapter does for the console.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Save `settings`, edited from generation `edited` (conflict-checked) → `Saved`/`Failed`.
    Save { settings: Box<Settings>, edited: u64, summary: String },
    /// Make generation `seq` current again → `Saved`/`Failed`.
    Restore { seq: u64 },
    /// The defaults; older generations removed → `Saved`/`Failed`.
    FactoryReset,
    /// Apply the current network settings to the system → `Applied`.
    ApplyNetwork,
    /// Store (or clear) the change waiting for its confirmation (survives a restart).
    PersistPending(Option<Pending>),
    /// Read the box's status → `Status`.
    Gather,
    /// List the generations → `History`.
    History,
    /// Restart the box (no outcome).
    Reboot,
}
