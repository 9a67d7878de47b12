//! The front panel of the box (issue 11): status screens and a small menu on
//! whatever character display `LCDd` drives (2×16, 4×20, …), through the
//! LCDproc client protocol, with the six keys LCDd reports (Enter, Escape,
//! Up, Down, Left, Right). Everything here is pure; `hotspare panel`
//! (firmware/hotspare/src/panel_cmd.rs) connects to LCDd, reads the state
//! files and the settings, and carries out the [`menu::Output`]s.
//!
//! - [`lcdproc::wire`]: requests rendered with the protocol's quoting; server lines parsed.
//! - [`view`]: what the screens show, from `status_view::Report` and the settings.
//! - [`screens`]: the screens' lines for a display of `wid × hgt`.
//! - [`evdev`]: the keys from Linux input events (gpio-keys, a keyboard): records decoded
//!   from bytes, the board profile's key map, a held key as repeated presses (long press).
//! - [`menu`]: the state machine `Panel::handle(now, Input) -> Vec<Output>`: screen
//!   rotation and priorities, browsing, the menu (DHCP/static IP with digit entry and
//!   confirm-or-revert, NVR reachability, reboot, factory reset behind a long press).
//!
//! Design record: docs/design/panel.md.

pub mod entry;
pub mod evdev;
pub mod lcdproc;
pub mod menu;
pub mod screens;
pub mod view;

pub use menu::{Input, Output, Panel};
