//! The serial console of the box (issue 11): numbered menus and a first-boot wizard that
//! work on an 80×24 dumb terminal, over the one configuration model (`hotspare-settings`).
//! No I/O here: [`Console::handle`] takes the time and an [`Input`] (a line typed, Ctrl-C or
//! Ctrl-\ as keys, a tick, the outcome of an effect) and returns [`Output`]s (text, prompts,
//! and [`Effect`]s the I/O adapter performs: save, restore, factory reset, apply the
//! network, reboot, …), so every menu path is tested in simulated time.
//!
//! - [`event`]: what goes in and out.
//! - [`machine`]: the screens and their transitions.
//! - `menus`: what each menu shows and does with a line typed.
//! - [`forms`]: the questions of each form (network, time, NVR, account, e-mail, wizard)
//!   and how an answer changes the draft settings.
//! - [`screens`]: the text of the menus, lists and the status at a glance.
//!
//! The adapter is `hotspare console` (firmware/hotspare/src/console_cmd.rs). Design
//! record: docs/design/console.md.

pub mod event;
pub mod forms;
pub mod machine;
mod menus;
pub mod screens;

pub use event::{Effect, Input, Outcome, Output};
pub use machine::{Console, Options};
