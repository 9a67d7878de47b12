//! Licence files: `Licence::parse` and verification on arbitrary bytes, and
//! licences issued from arbitrary values.
//!
//! Input byte 0 chooses the mode:
//! - even: the rest is a licence file (TOML or JSON). No panic; an error
//!   names the origin; a licence that verifies (against a key made for the
//!   fuzzer, which signs nothing but what mode "odd" builds) has sane fields.
//! - odd: the rest gives the values (`nvrs`, `channels`, then `box_id`,
//!   `issued`, `licence_id` separated by `\n`); `issue` refuses what a
//!   licence cannot carry, and whatever it signs parses back to the same
//!   values and verifies for that box only, with the issued capacity.
#![no_main]

use ed25519_dalek::SigningKey;
use hotspare_failover::licence::{
    issue, Licence, LicenceFields, LicenceSource, TrustedKey, CHANNEL_SIZES, MAX_NVRS, UNLICENSED_NVRS,
};
use libfuzzer_sys::fuzz_target;

const ORIGIN: &str = "fuzz-licence";

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn trusted(k: &SigningKey) -> Vec<TrustedKey> {
    vec![TrustedKey { name: "fuzz", key: k.verifying_key() }]
}

fn sane_text(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_graphic())
}

fn parse_and_verify(text: &str, k: &SigningKey) {
    let lic = match Licence::parse(text, ORIGIN) {
        Ok(l) => l,
        Err(e) => {
            assert!(e.to_string().contains(ORIGIN), "error does not name the licence: {e}");
            return;
        }
    };
    assert!(sane_text(&lic.box_id) && sane_text(&lic.licence_id), "{lic:?}");
    assert!(humantime::parse_rfc3339(&lic.issued).is_ok(), "{lic:?}");
    assert_eq!(lic.signature.len(), 64);
    match lic.verify_with(&lic.box_id, &trusted(k)) {
        Ok(cap) => {
            assert!((UNLICENSED_NVRS..=MAX_NVRS).contains(&cap.nvrs), "{cap:?}");
            assert!(CHANNEL_SIZES.contains(&cap.channels), "{cap:?}");
            assert_eq!(cap.source, LicenceSource::Licensed { id: lic.licence_id.clone() });
        }
        Err(e) => assert!(e.to_string().contains(ORIGIN), "error does not name the licence: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let k = key();
    if mode % 2 == 0 {
        parse_and_verify(&String::from_utf8_lossy(rest), &k);
        return;
    }
    if rest.len() < 3 {
        return;
    }
    let (nvrs, channels) = (rest[0], u16::from_be_bytes([rest[1], rest[2]]));
    let text = String::from_utf8_lossy(&rest[3..]);
    let mut parts = text.split('\n');
    let fields = LicenceFields {
        box_id: parts.next().unwrap_or("").to_owned(),
        nvrs,
        channels,
        issued: parts.next().unwrap_or("").to_owned(),
        licence_id: parts.next().unwrap_or("").to_owned(),
    };
    let Ok(file) = issue(&k, &fields) else {
        let sane = (UNLICENSED_NVRS..=MAX_NVRS).contains(&nvrs)
            && CHANNEL_SIZES.contains(&channels)
            && sane_text(&fields.box_id)
            && sane_text(&fields.licence_id)
            && humantime::parse_rfc3339(&fields.issued).is_ok();
        assert!(!sane, "issue refused sane values {fields:?}");
        return;
    };
    let lic = Licence::parse(&file, ORIGIN).unwrap_or_else(|e| panic!("issued licence does not parse: {e}\n{file}"));
    assert_eq!((lic.box_id.as_str(), lic.nvrs, lic.channels), (fields.box_id.as_str(), u64::from(nvrs), u64::from(channels)));
    let cap = lic.verify_with(&fields.box_id, &trusted(&k)).unwrap_or_else(|e| panic!("issued licence does not verify: {e}"));
    assert_eq!((cap.nvrs, cap.channels), (nvrs, channels));
    let other = format!("{}x", fields.box_id);
    assert!(lic.verify_with(&other, &trusted(&k)).is_err(), "licence for {:?} verified for {other:?}", fields.box_id);
    parse_and_verify(&file, &k);
});
