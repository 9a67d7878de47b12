//! The box's settings as stored (`hotspare_settings::store::parse`: one generation file,
//! `settings.<seq>.toml`, read back from the data partition) on arbitrary text.
//!
//! Checked: no panic; a refused file says why; an accepted one is valid, names its own
//! generation, reads back the same after being written again (`render`), and every field
//! the menus edit by name (`fields::FIELDS`) reads as text that, set again, is accepted and
//! changes nothing (what the console shows in brackets is kept when the installer presses
//! Enter).
#![no_main]

use hotspare_settings::fields::{self, FIELDS};
use hotspare_settings::store::{parse, render};
use hotspare_settings::validate::validate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (meta, settings) = match parse(&text, 1) {
        Ok(ok) => ok,
        Err(why) => {
            assert!(!why.trim().is_empty(), "refused without a reason");
            return;
        }
    };
    assert_eq!(meta.seq, 1);
    assert!(validate(&settings).is_empty(), "accepted with problems");
    let again = render(&meta, &settings).expect("accepted settings render");
    assert_eq!(parse(&again, 1).as_ref(), Ok(&(meta, settings.clone())), "does not read back the same:\n{again}");
    for (name, _) in FIELDS {
        let shown = fields::get(&settings, name).unwrap_or_else(|| panic!("{name}: listed but unknown"));
        let mut kept = settings.clone();
        if let Err(e) = fields::set(&mut kept, name, &shown) {
            panic!("{name} = {shown:?} as shown is refused: {e}");
        }
        assert_eq!(kept, settings, "{name} = {shown:?} as shown changes the settings");
    }
});
