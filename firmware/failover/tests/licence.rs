//! Licences: issue with the development key, verify, and every way a
//! licence file can be wrong.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer as _, SigningKey};
use hotspare_failover::licence::{
    self, fingerprint, issue, Capacity, Licence, LicenceError, LicenceFields, LicenceSource, SignedFields,
    SIGNATURE_DOMAIN,
};

fn dev_key_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/licence/dev.key")
}

fn dev_key() -> SigningKey {
    licence::read_signing_key(&dev_key_path()).expect("dev key")
}

fn fields(nvrs: u8, channels: u16) -> LicenceFields {
    LicenceFields {
        box_id: "HS-0001".into(),
        nvrs,
        channels,
        issued: "2025-03-01T09:30:00Z".into(),
        licence_id: "L-20250301-test".into(),
    }
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write");
    p
}

/// Signs arbitrary values (bypassing `issue`'s checks) to build bad files.
fn sign_raw(key: &SigningKey, nvrs: u8, channels: u16) -> String {
    let signed = SignedFields {
        domain: SIGNATURE_DOMAIN.into(),
        box_id: "HS-0001".into(),
        nvrs,
        channels,
        issued: "2025-03-01T09:30:00Z".into(),
        licence_id: "L-raw".into(),
        key: fingerprint(&key.verifying_key()),
    };
    let sig = key.sign(&signed.canonical_bytes());
    licence::render(&signed, &sig)
}

#[test]
#[cfg_attr(not(feature = "dev-keys"), ignore = "needs the dev-keys feature")]
fn dev_fixture_matches_the_built_in_dev_key() {
    assert_eq!(dev_key().verifying_key().to_bytes(), licence::DEV_PUBLIC_KEY);
    let names: Vec<_> = licence::trusted_keys().iter().map(|k| k.name).collect();
    assert_eq!(names, ["vendor", "development"]);
}

#[test]
#[cfg_attr(not(feature = "dev-keys"), ignore = "needs the dev-keys feature")]
fn issue_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let text = issue(&dev_key(), &fields(16, 64)).expect("issue");
    let p = write(&dir, "licence.toml", &text);
    let cap = Licence::load(&p, "HS-0001").expect("verifies");
    assert_eq!(
        cap,
        Capacity { nvrs: 16, channels: 64, source: LicenceSource::Licensed { id: "L-20250301-test".into() } }
    );
    assert_eq!(cap.to_string(), "16 NVRs, 64 channels (licence L-20250301-test)");
    // Comments and whitespace are not signed; values are.
    let p2 = write(&dir, "reformatted.toml", &format!("# installer's note\n\n{}", text.replace(" = ", "=")));
    assert!(Licence::load(&p2, "HS-0001").is_ok());
}

#[test]
#[cfg_attr(not(feature = "dev-keys"), ignore = "needs the dev-keys feature")]
fn json_form_verifies_too() {
    let dir = tempfile::tempdir().unwrap();
    let text = issue(&dev_key(), &fields(8, 32)).unwrap();
    let value: toml::Value = toml::from_str(&text).unwrap();
    let p = write(&dir, "licence.json", &serde_json::to_string_pretty(&value).unwrap());
    assert_eq!(Licence::load(&p, "HS-0001").expect("json verifies").channels, 32);
}

#[test]
#[cfg_attr(not(feature = "dev-keys"), ignore = "needs the dev-keys feature")]
fn tampered_channels_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let text = issue(&dev_key(), &fields(4, 16)).unwrap();
    let p = write(&dir, "licence.toml", &text.replace("channels = 16", "channels = 64"));
    let e = Licence::load(&p, "HS-0001").expect_err("tampered");
    assert!(matches!(e, LicenceError::Tampered { .. }), "{e:?}");
    assert!(e.to_string().contains("altered"), "{e}");
    // So is a changed box id (moving a licence to another box).
    let p = write(&dir, "moved.toml", &text.replace("HS-0001", "HS-0002"));
    assert!(matches!(Licence::load(&p, "HS-0002"), Err(LicenceError::Tampered { .. })));
}

#[test]
#[cfg_attr(not(feature = "dev-keys"), ignore = "needs the dev-keys feature")]
fn wrong_box_names_both_ids() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "licence.toml", &issue(&dev_key(), &fields(4, 16)).unwrap());
    let e = Licence::load(&p, "HS-0999").expect_err("wrong box").to_string();
    assert!(e.contains("HS-0001") && e.contains("HS-0999"), "{e}");
}

#[test]
#[cfg_attr(not(feature = "dev-keys"), ignore = "needs the dev-keys feature")]
fn unknown_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stranger = licence::generate_key().unwrap();
    let p = write(&dir, "licence.toml", &issue(&stranger, &fields(16, 64)).unwrap());
    let e = Licence::load(&p, "HS-0001").expect_err("unknown key");
    assert!(matches!(e, LicenceError::UnknownKey { .. }), "{e:?}");
    assert!(e.to_string().contains(&fingerprint(&stranger.verifying_key())), "{e}");
    // Even when the file claims a trusted key's fingerprint, the signature fails.
    let dev_fp = fingerprint(&dev_key().verifying_key());
    let text = issue(&stranger, &fields(16, 64)).unwrap();
    let forged = text.replace(&fingerprint(&stranger.verifying_key()), &dev_fp);
    let p = write(&dir, "forged.toml", &forged);
    assert!(matches!(Licence::load(&p, "HS-0001"), Err(LicenceError::Tampered { .. })));
}

#[test]
#[cfg_attr(not(feature = "dev-keys"), ignore = "needs the dev-keys feature")]
fn out_of_range_values_are_refused_at_issue_and_verify() {
    let key = dev_key();
    let e = issue(&key, &fields(17, 64)).expect_err("nvrs 17");
    assert!(e.to_string().contains("nvrs = 17"), "{e}");
    assert!(issue(&key, &fields(3, 16)).is_err());
    let e = issue(&key, &fields(16, 24)).expect_err("channels 24");
    assert!(e.to_string().contains("channels = 24"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "n17.toml", &sign_raw(&key, 17, 64));
    let e = Licence::load(&p, "HS-0001").expect_err("nvrs 17 at verify");
    assert!(matches!(e, LicenceError::NvrsOutOfRange { value: 17, .. }), "{e:?}");
    let p = write(&dir, "c24.toml", &sign_raw(&key, 16, 24));
    let e = Licence::load(&p, "HS-0001").expect_err("channels 24 at verify");
    assert!(matches!(e, LicenceError::ChannelsOutOfRange { value: 24, .. }), "{e:?}");
}

#[test]
#[cfg_attr(not(feature = "dev-keys"), ignore = "needs the dev-keys feature")]
fn malformed_files_name_line_or_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = issue(&dev_key(), &fields(4, 16)).unwrap();
    let p = write(&dir, "unknown.toml", &format!("{good}extra = 1\n"));
    let e = Licence::load(&p, "HS-0001").expect_err("unknown key").to_string();
    assert!(e.contains("malformed at line 9") && e.contains("extra"), "{e}");
    let p =
        write(&dir, "nosig.toml", &good.lines().filter(|l| !l.starts_with("signature")).collect::<Vec<_>>().join("\n"));
    let e = Licence::load(&p, "HS-0001").expect_err("no signature").to_string();
    assert!(e.contains("signature"), "{e}");
    let p = write(&dir, "date.toml", &good.replace("2025-03-01T09:30:00Z", "yesterday"));
    let e = Licence::load(&p, "HS-0001").expect_err("bad date").to_string();
    assert!(e.contains("issued"), "{e}");
    let p = write(&dir, "garbage.toml", "\u{0}\u{1}not toml");
    assert!(matches!(Licence::load(&p, "HS-0001"), Err(LicenceError::Malformed { .. })));
    let e = Licence::load(&dir.path().join("missing.toml"), "HS-0001").expect_err("missing").to_string();
    assert!(e.contains("missing.toml"), "{e}");
}

#[test]
fn box_id_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("box-id");
    let b = write(&dir, "machine-id", "0123abcd\n");
    assert_eq!(licence::box_id_from(&[&a, &b]).unwrap(), "0123abcd");
    std::fs::write(&a, "HS-0042\n").unwrap();
    assert_eq!(licence::box_id_from(&[&a, &b]).unwrap(), "HS-0042");
    let e = licence::box_id_from(&[&dir.path().join("x"), &dir.path().join("y")]).expect_err("none").to_string();
    assert!(e.contains("/x") && e.contains("/y"), "{e}");
}

/// What `hotspare licence keygen / issue / verify` do, through files.
#[test]
#[cfg_attr(not(feature = "dev-keys"), ignore = "needs the dev-keys feature")]
fn cli_round_trip_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("vendor.key");
    let key = licence::generate_key().unwrap();
    licence::write_signing_key(&key_path, &key).unwrap();
    assert!(licence::write_signing_key(&key_path, &key).is_err(), "keygen never overwrites");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let read = licence::read_signing_key(&key_path).unwrap();
    assert_eq!(read.to_bytes(), key.to_bytes());

    let f = LicenceFields::new("HS-0007", 12, 36).unwrap();
    assert!(f.licence_id.starts_with("L-"), "{}", f.licence_id);
    let lic = dir.path().join("licence.toml");
    std::fs::write(&lic, issue(&dev_key(), &f).unwrap()).unwrap();
    let cap = Licence::load(&lic, "HS-0007").unwrap();
    assert_eq!((cap.nvrs, cap.channels), (12, 36));
    let parsed = Licence::parse(&std::fs::read_to_string(&lic).unwrap(), "licence.toml").unwrap();
    assert_eq!(parsed.check().unwrap(), "development");
    // A key from keygen that the firmware does not trust.
    std::fs::write(&lic, issue(&read, &f).unwrap()).unwrap();
    assert!(matches!(Licence::load(&lic, "HS-0007"), Err(LicenceError::UnknownKey { .. })));

    let bad = write(&dir, "bad.key", "# comment\nnot-hex\n");
    assert!(licence::read_signing_key(&bad).unwrap_err().to_string().contains("bad.key"));
}

#[test]
fn unlicensed_capacity() {
    let c = Capacity::unlicensed();
    assert_eq!((c.nvrs, c.channels, c.source), (4, 16, LicenceSource::Unlicensed));
}

#[test]
fn vendor_key_is_built_in() {
    let keys = licence::trusted_keys();
    assert_eq!(keys[0].name, "vendor");
    assert_eq!(keys[0].fingerprint(), "ec7daae43e286294");
}

/// The production image (`--no-default-features`) must not trust the
/// development key, whose private half is in the repository.
#[test]
#[cfg(not(feature = "dev-keys"))]
fn production_build_does_not_trust_the_dev_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "licence.toml", &issue(&dev_key(), &fields(16, 64)).unwrap());
    let e = Licence::load(&p, "HS-0001").expect_err("dev key not trusted");
    assert!(matches!(e, LicenceError::UnknownKey { .. }), "{e:?}");
    assert_eq!(licence::trusted_keys().len(), 1);
}
