//! Licences: how many NVRs a spare may monitor and how many cameras it may
//! record at once, as a signed file bound to one box.
//!
//! # Capacity
//! Unlicensed, a spare monitors **4 NVRs** and records **16 channels**. A
//! licence raises that to `nvrs` in `4..=16` and `channels` in
//! {16, 20, 32, 36, 64} ([`CHANNEL_SIZES`]).
//!
//! # The file
//! TOML (what [`issue`] writes) or the same keys as a JSON object:
//!
//! ```toml
//! # Hotspare licence. Changing any value invalidates the signature.
//! box_id = "HS-0001"
//! nvrs = 16
//! channels = 64
//! issued = "2025-03-01T09:30:00Z"
//! licence_id = "L-20250301-4f2a9c1e"
//! key = "5b0e6c1d9a3f7e21"
//! signature = "base64 of 64 bytes"
//! ```
//!
//! `key` is the fingerprint of the signing key (first 8 bytes of the SHA-256
//! of the ed25519 public key, hex); it lets verification tell "signed by a
//! key this firmware does not trust" apart from "altered after signing".
//!
//! # What is signed (the canonical encoding)
//! The signature is ed25519 over the **postcard encoding of
//! [`SignedFields`]**: the domain string `hotspare-licence-v1`, then
//! `box_id`, `nvrs` (u8), `channels` (u16), `issued` (the exact string in the
//! file), `licence_id`, `key` — in that order. The signed bytes depend only on
//! the values, not on the text layout: comments, key order, whitespace and
//! TOML-vs-JSON do not matter, any changed value does.
//!
//! # Trusted keys
//! [`trusted_keys`] is the built-in list: the vendor key ([`VENDOR_PUBLIC_KEY`];
//! its private half is kept offline by the vendor and is never in the image)
//! and, only with the crate feature `dev-keys` (off by default: the default
//! build is the production firmware; tests and development enable it), the
//! development key whose private seed is committed in
//! `fixtures/licence/dev.key` for tests. Both are `static`s, so a binary
//! holds exactly the keys it trusts; `scripts/test` checks that the
//! production aarch64 binary contains the vendor key and not the
//! development key.
//!
//! # The box a licence is bound to
//! [`box_identity`]: an identity the user cannot edit, never the
//! configuration. First found of: the factory-provisioned id file on the
//! read-only factory partition ([`BOX_ID_FILES`]), the DMI product serial,
//! the device-tree (SoC) serial number, the serial of the soldered boot eMMC
//! ([`HARDWARE_IDS`]; hardware ids are prefixed `dmi-`, `soc-`, `emmc-`).
//! The recording disks are not used: they are hot-swapped RAID members, and
//! replacing a failed disk must not void the licence. `hotspare licence
//! box-id` prints it. Only development builds (feature `dev-keys`) accept an
//! override (`spare.box_id` in `failover.toml`, for tests); production
//! firmware refuses that key.
//!
//! # Key files
//! A signing key file (`licence keygen`) is text: `#` comment lines and one
//! line with the 32-byte ed25519 seed in hex.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// NVRs monitored without a licence.
pub const UNLICENSED_NVRS: u8 = 4;
/// Cameras recorded at once without a licence.
pub const UNLICENSED_CHANNELS: u16 = 16;
/// Most NVRs a licence may allow.
pub const MAX_NVRS: u8 = 16;
/// The channel licence sizes that exist.
pub const CHANNEL_SIZES: [u16; 5] = [16, 20, 32, 36, 64];

/// Domain separation of the signed bytes (bump when [`SignedFields`] changes).
pub const SIGNATURE_DOMAIN: &str = "hotspare-licence-v1";

/// The vendor's licence-signing public key (ed25519). The private key is
/// kept offline by the vendor; it is never in the firmware or the repository.
/// Fingerprint `ec7daae43e286294`.
pub static VENDOR_PUBLIC_KEY: [u8; 32] = [
    0xfc, 0x46, 0xb2, 0xd3, 0x83, 0x4d, 0x76, 0x7c, 0xf6, 0x70, 0xe8, 0x1c, 0xf9, 0x40, 0xf8, 0xdf, 0x72, 0x45, 0xad,
    0x8b, 0xf9, 0xba, 0xc8, 0x6b, 0x30, 0xcf, 0x43, 0x0e, 0x2a, 0xab, 0x13, 0xc8,
];

/// The development public key; its private seed is `fixtures/licence/dev.key`.
/// Trusted only with the `dev-keys` feature (never in production images).
/// Fingerprint `a892eba168e43902`.
pub static DEV_PUBLIC_KEY: [u8; 32] = [
    0xba, 0x9f, 0x2b, 0x57, 0xb9, 0x9b, 0x94, 0xa7, 0x85, 0x9a, 0x42, 0xb3, 0x8e, 0x3f, 0xee, 0xbc, 0x21, 0x5c, 0x03,
    0x30, 0xc1, 0x45, 0x57, 0x92, 0xa1, 0xce, 0x34, 0xd6, 0x37, 0xc0, 0xe6, 0xd6,
];

/// The factory-provisioned box id: written at manufacturing on the factory
/// partition, mounted read-only. Looked at first by [`box_identity`].
pub const BOX_ID_FILES: [&str; 1] = ["/factory/box-id"];

/// Hardware identities [`box_identity`] falls back to, in order.
pub const HARDWARE_IDS: [HardwareId; 3] = [
    HardwareId { path: "/sys/class/dmi/id/product_serial", prefix: "dmi", what: "DMI product serial" },
    HardwareId { path: "/proc/device-tree/serial-number", prefix: "soc", what: "device-tree serial number" },
    HardwareId { path: "/sys/block/mmcblk0/device/serial", prefix: "emmc", what: "boot eMMC serial" },
];

/// A hardware serial number readable from a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HardwareId {
    pub path: &'static str,
    /// Put before the value (`dmi-…`) so ids of different kinds never collide.
    pub prefix: &'static str,
    pub what: &'static str,
}

/// This box's licence identity and where it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoxIdentity {
    pub id: String,
    /// E.g. `/factory/box-id` or `DMI product serial (/sys/class/dmi/id/product_serial)`.
    pub source: String,
}

/// What a spare may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// NVRs it may monitor.
    pub nvrs: u8,
    /// Cameras it may record at once.
    pub channels: u16,
    pub source: LicenceSource,
}

/// Where a [`Capacity`] comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LicenceSource {
    Unlicensed,
    Licensed { id: String },
}

impl Capacity {
    /// 4 NVRs, 16 channels.
    pub fn unlicensed() -> Capacity {
        Capacity { nvrs: UNLICENSED_NVRS, channels: UNLICENSED_CHANNELS, source: LicenceSource::Unlicensed }
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} NVRs, {} channels", self.nvrs, self.channels)?;
        match &self.source {
            LicenceSource::Unlicensed => write!(f, " (unlicensed)"),
            LicenceSource::Licensed { id } => write!(f, " (licence {id})"),
        }
    }
}

/// A trusted licence-signing public key.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    /// `vendor` or `development`.
    pub name: &'static str,
    pub key: VerifyingKey,
}

impl TrustedKey {
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.key)
    }
}

/// The keys this build trusts: the vendor key, plus the development key when
/// the `dev-keys` feature is on.
pub fn trusted_keys() -> Vec<TrustedKey> {
    let mut keys = Vec::new();
    let mut push = |name, bytes: &[u8; 32]| match VerifyingKey::from_bytes(bytes) {
        Ok(key) => keys.push(TrustedKey { name, key }),
        Err(e) => log::error!("built-in {name} licence key is invalid: {e}"),
    };
    push("vendor", &VENDOR_PUBLIC_KEY);
    #[cfg(feature = "dev-keys")]
    push("development", &DEV_PUBLIC_KEY);
    keys
}

/// Fingerprint of a public key: the first 8 bytes of its SHA-256, hex.
pub fn fingerprint(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..8])
}

/// Everything that can go wrong with a licence or a key file.
#[derive(Debug, thiserror::Error)]
pub enum LicenceError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("licence {origin}: malformed{}: {problem}", at_line(*.line))]
    Malformed { origin: String, line: Option<usize>, problem: String },
    #[error(
        "licence {origin}: the signature does not match the contents (the file was altered after it was \
         signed by the {key_name} key {key})"
    )]
    Tampered { origin: String, key: String, key_name: &'static str },
    #[error("licence {origin}: signed by unknown key {key} (this firmware trusts: {trusted})")]
    UnknownKey { origin: String, key: String, trusted: String },
    #[error("licence {origin}: issued for box {licensed} but this box is {this}")]
    WrongBox { origin: String, licensed: String, this: String },
    #[error("licence {origin}: nvrs = {value} is out of range (allowed {UNLICENSED_NVRS}..={MAX_NVRS})")]
    NvrsOutOfRange { origin: String, value: u64 },
    #[error("licence {origin}: channels = {value} is not a licence size (allowed 16, 20, 32, 36 or 64)")]
    ChannelsOutOfRange { origin: String, value: u64 },
    #[error("key file {path}: {problem}")]
    KeyFile { path: PathBuf, problem: String },
    #[error("no box id: {0}")]
    BoxId(String),
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
}

/// The values of a licence, before signing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenceFields {
    pub box_id: String,
    pub nvrs: u8,
    pub channels: u16,
    /// RFC 3339 UTC (`2025-03-01T09:30:00Z`).
    pub issued: String,
    pub licence_id: String,
}

impl LicenceFields {
    /// Fields issued now, with a fresh licence id.
    pub fn new(box_id: &str, nvrs: u8, channels: u16) -> Result<LicenceFields, LicenceError> {
        let now = SystemTime::now();
        Ok(LicenceFields {
            box_id: box_id.to_owned(),
            nvrs,
            channels,
            issued: humantime::format_rfc3339_seconds(now).to_string(),
            licence_id: new_licence_id(now)?,
        })
    }
}

/// Exactly the bytes that are signed: postcard of this struct.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedFields {
    /// Always [`SIGNATURE_DOMAIN`].
    pub domain: String,
    pub box_id: String,
    pub nvrs: u8,
    pub channels: u16,
    pub issued: String,
    pub licence_id: String,
    /// Fingerprint of the signing key.
    pub key: String,
}

impl SignedFields {
    /// The canonical encoding the signature covers.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // postcard of strings and integers cannot fail (alloc flavour).
        postcard::to_allocvec(self).unwrap_or_default()
    }
}

/// The file layout (TOML or JSON). Integers are read wide so that an out of
/// range value gets a licence error, not a parse error.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenceFile {
    box_id: String,
    nvrs: u64,
    channels: u64,
    issued: String,
    licence_id: String,
    key: String,
    signature: String,
}

/// A parsed (not yet verified) licence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Licence {
    /// Where it came from (path or description), for messages.
    pub origin: String,
    pub box_id: String,
    pub nvrs: u64,
    pub channels: u64,
    pub issued: String,
    pub licence_id: String,
    /// Fingerprint of the signing key.
    pub key: String,
    pub signature: Vec<u8>,
}

fn check_ranges(origin: &str, nvrs: u64, channels: u64) -> Result<(u8, u16), LicenceError> {
    let n = u8::try_from(nvrs)
        .ok()
        .filter(|n| (UNLICENSED_NVRS..=MAX_NVRS).contains(n))
        .ok_or_else(|| LicenceError::NvrsOutOfRange { origin: origin.to_owned(), value: nvrs })?;
    let c = u16::try_from(channels)
        .ok()
        .filter(|c| CHANNEL_SIZES.contains(c))
        .ok_or_else(|| LicenceError::ChannelsOutOfRange { origin: origin.to_owned(), value: channels })?;
    Ok((n, c))
}

fn check_text_field(origin: &str, name: &str, value: &str) -> Result<(), LicenceError> {
    let ok = !value.is_empty() && value.len() <= 128 && value.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(LicenceError::Malformed {
            origin: origin.to_owned(),
            line: None,
            problem: format!("{name} = {value:?}: must be 1..=128 printable ASCII characters without spaces"),
        })
    }
}

fn check_issued(origin: &str, issued: &str) -> Result<(), LicenceError> {
    hotspare_base::time::parse_rfc3339_strict_us(issued).map(|_| ()).map_err(|e| LicenceError::Malformed {
        origin: origin.to_owned(),
        line: None,
        problem: format!("issued = {e}"),
    })
}

/// Signs `fields` and returns the licence file text (TOML). Refuses values
/// a licence cannot carry.
pub fn issue(signing_key: &SigningKey, fields: &LicenceFields) -> Result<String, LicenceError> {
    let origin = format!("for box {}", fields.box_id);
    check_ranges(&origin, fields.nvrs.into(), fields.channels.into())?;
    check_text_field(&origin, "box_id", &fields.box_id)?;
    check_text_field(&origin, "licence_id", &fields.licence_id)?;
    check_issued(&origin, &fields.issued)?;
    let signed = SignedFields {
        domain: SIGNATURE_DOMAIN.to_owned(),
        box_id: fields.box_id.clone(),
        nvrs: fields.nvrs,
        channels: fields.channels,
        issued: fields.issued.clone(),
        licence_id: fields.licence_id.clone(),
        key: fingerprint(&signing_key.verifying_key()),
    };
    let signature = signing_key.sign(&signed.canonical_bytes());
    Ok(render(&signed, &signature))
}

/// The TOML text of a signed licence (also used by tests to build bad files).
pub fn render(signed: &SignedFields, signature: &Signature) -> String {
    let file = LicenceFile {
        box_id: signed.box_id.clone(),
        nvrs: signed.nvrs.into(),
        channels: signed.channels.into(),
        issued: signed.issued.clone(),
        licence_id: signed.licence_id.clone(),
        key: signed.key.clone(),
        signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
    };
    let body = toml::to_string(&file).unwrap_or_default();
    format!("# Hotspare licence. Changing any value invalidates the signature.\n{body}")
}

impl Licence {
    /// Reads, verifies and checks the binding to `box_id` against
    /// [`trusted_keys`].
    pub fn load(path: &Path, box_id: &str) -> Result<Capacity, LicenceError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| LicenceError::Read { path: path.to_owned(), source })?;
        Licence::parse(&text, &path.display().to_string())?.verify(box_id)
    }

    /// Parses TOML or JSON text (JSON when it starts with `{`). `origin`
    /// names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Licence, LicenceError> {
        let malformed = |line, problem| LicenceError::Malformed { origin: origin.to_owned(), line, problem };
        let file: LicenceFile = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| malformed(Some(e.line()), e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| {
                let line = e.span().map(|s| line_of(text, s.start));
                malformed(line, e.message().to_owned())
            })?
        };
        check_text_field(origin, "box_id", &file.box_id)?;
        check_text_field(origin, "licence_id", &file.licence_id)?;
        check_issued(origin, &file.issued)?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(file.signature.trim())
            .ok()
            .filter(|s| s.len() == 64)
            .ok_or_else(|| malformed(None, "signature: not base64 of 64 bytes".to_owned()))?;
        Ok(Licence {
            origin: origin.to_owned(),
            box_id: file.box_id,
            nvrs: file.nvrs,
            channels: file.channels,
            issued: file.issued,
            licence_id: file.licence_id,
            key: file.key,
            signature,
        })
    }

    /// Checks signature and values against [`trusted_keys`], without the box
    /// binding. Returns the name of the key that signed it.
    pub fn check(&self) -> Result<&'static str, LicenceError> {
        self.check_with(&trusted_keys())
    }

    /// [`Licence::check`] against an explicit key list.
    pub fn check_with(&self, keys: &[TrustedKey]) -> Result<&'static str, LicenceError> {
        let trusted = keys.iter().find(|k| k.fingerprint() == self.key).ok_or_else(|| LicenceError::UnknownKey {
            origin: self.origin.clone(),
            key: self.key.clone(),
            trusted: keys.iter().map(|k| format!("{} {}", k.name, k.fingerprint())).collect::<Vec<_>>().join(", "),
        })?;
        let tampered =
            || LicenceError::Tampered { origin: self.origin.clone(), key: self.key.clone(), key_name: trusted.name };
        // Values that do not fit the signed types cannot have been signed.
        let nvrs = u8::try_from(self.nvrs).map_err(|_| tampered())?;
        let channels = u16::try_from(self.channels).map_err(|_| tampered())?;
        let signed = SignedFields {
            domain: SIGNATURE_DOMAIN.to_owned(),
            box_id: self.box_id.clone(),
            nvrs,
            channels,
            issued: self.issued.clone(),
            licence_id: self.licence_id.clone(),
            key: self.key.clone(),
        };
        let bytes: [u8; 64] = self.signature.as_slice().try_into().map_err(|_| tampered())?;
        trusted.key.verify_strict(&signed.canonical_bytes(), &Signature::from_bytes(&bytes)).map_err(|_| tampered())?;
        check_ranges(&self.origin, self.nvrs, self.channels)?;
        Ok(trusted.name)
    }

    /// Full verification against [`trusted_keys`] for this box.
    pub fn verify(&self, box_id: &str) -> Result<Capacity, LicenceError> {
        self.verify_with(box_id, &trusted_keys())
    }

    /// Full verification against an explicit key list.
    pub fn verify_with(&self, box_id: &str, keys: &[TrustedKey]) -> Result<Capacity, LicenceError> {
        self.check_with(keys)?;
        if self.box_id != box_id.trim() {
            return Err(LicenceError::WrongBox {
                origin: self.origin.clone(),
                licensed: self.box_id.clone(),
                this: box_id.trim().to_owned(),
            });
        }
        let (nvrs, channels) = check_ranges(&self.origin, self.nvrs, self.channels)?;
        Ok(Capacity { nvrs, channels, source: LicenceSource::Licensed { id: self.licence_id.clone() } })
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|&&b| b == b'\n').count() + 1
}

/// This box's licence id (see [`box_identity`]).
pub fn box_id() -> Result<String, LicenceError> {
    box_identity().map(|b| b.id)
}

/// This box's identity: [`BOX_ID_FILES`], else [`HARDWARE_IDS`].
pub fn box_identity() -> Result<BoxIdentity, LicenceError> {
    let files: Vec<&Path> = BOX_ID_FILES.iter().map(Path::new).collect();
    box_identity_from(&files, &HARDWARE_IDS)
}

/// [`box_identity`] from explicit places: the first id file holding a
/// valid id, else the first hardware serial that is not a placeholder. The
/// error lists what was tried and why each failed.
pub fn box_identity_from(files: &[&Path], hardware: &[HardwareId]) -> Result<BoxIdentity, LicenceError> {
    let mut tried = Vec::new();
    for p in files {
        match read_id(p) {
            Ok(raw) if valid_box_id(raw.trim()) => {
                return Ok(BoxIdentity { id: raw.trim().to_owned(), source: p.display().to_string() })
            }
            Ok(raw) => {
                tried.push(format!("{}: {:?} is not 1..=128 printable ASCII characters", p.display(), raw.trim()))
            }
            Err(e) => tried.push(format!("{}: {e}", p.display())),
        }
    }
    for h in hardware {
        match read_id(Path::new(h.path)) {
            Ok(raw) => match hardware_serial(&raw) {
                Some(serial) => {
                    return Ok(BoxIdentity {
                        id: format!("{}-{serial}", h.prefix),
                        source: format!("{} ({})", h.what, h.path),
                    })
                }
                None => tried.push(format!("{} {}: {:?} is not a serial number", h.what, h.path, raw.trim())),
            },
            Err(e) => tried.push(format!("{} {}: {e}", h.what, h.path)),
        }
    }
    Err(LicenceError::BoxId(format!("no factory id or hardware serial found ({})", tried.join("; "))))
}

/// [`box_identity_from`] id files only; returns just the id.
pub fn box_id_from(paths: &[&Path]) -> Result<String, LicenceError> {
    box_identity_from(paths, &[]).map(|b| b.id)
}

/// Reads an id file: small, text (device-tree strings end in NUL).
fn read_id(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut buf = Vec::new();
    std::fs::File::open(path)?.take(4096).read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_owned())
}

/// What a licence's `box_id` may be.
fn valid_box_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_graphic())
}

/// A hardware serial as a box id part: inner spaces become `_`; `None` for
/// placeholders firmware vendors leave in (`To Be Filled By O.E.M.`, `0`,
/// all zeros...) and for anything that is not printable ASCII.
fn hardware_serial(raw: &str) -> Option<String> {
    const PLACEHOLDERS: [&str; 10] = [
        "to be filled by o.e.m.",
        "default string",
        "system serial number",
        "not specified",
        "not applicable",
        "none",
        "n/a",
        "unknown",
        "0123456789",
        "serial",
    ];
    let s: String = raw.split_whitespace().collect::<Vec<_>>().join("_");
    let lower = s.to_ascii_lowercase().replace('_', " ");
    let filler = s.chars().all(|c| matches!(c, '0' | 'f' | 'F' | 'x' | 'X' | '-' | '_' | '.' | ':'));
    if s.len() > 100 || filler || PLACEHOLDERS.contains(&lower.as_str()) || !valid_box_id(&s) {
        return None;
    }
    Some(s)
}

/// `L-YYYYMMDD-<8 random hex>`.
pub fn new_licence_id(now: SystemTime) -> Result<String, LicenceError> {
    let r = random_bytes::<4>()?;
    let date: String =
        humantime::format_rfc3339_seconds(now).to_string().chars().take(10).filter(|c| *c != '-').collect();
    Ok(format!("L-{date}-{}", hex::encode(r)))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], LicenceError> {
    use std::io::Read as _;
    let path = Path::new("/dev/urandom");
    let mut buf = [0u8; N];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|source| LicenceError::Read { path: path.to_owned(), source })?;
    Ok(buf)
}

/// A fresh signing key from the OS random source.
pub fn generate_key() -> Result<SigningKey, LicenceError> {
    Ok(SigningKey::from_bytes(&random_bytes::<32>()?))
}

/// Reads a signing key file (`#` comments, one line of 64 hex digits).
pub fn read_signing_key(path: &Path) -> Result<SigningKey, LicenceError> {
    let text = std::fs::read_to_string(path).map_err(|source| LicenceError::Read { path: path.to_owned(), source })?;
    let bad = |problem: String| LicenceError::KeyFile { path: path.to_owned(), problem };
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines.next().ok_or_else(|| bad("no key line (64 hex digits)".to_owned()))?;
    if lines.next().is_some() {
        return Err(bad("more than one key line".to_owned()));
    }
    let bytes = hex::decode(line).map_err(|e| bad(format!("key is not hex: {e}")))?;
    let seed: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| bad(format!("key is {} bytes, not 32", b.len())))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a new signing key file (mode 0600; refuses to overwrite).
pub fn write_signing_key(path: &Path, key: &SigningKey) -> Result<(), LicenceError> {
    let write_err = |source| LicenceError::Write { path: path.to_owned(), source };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(write_err)?;
    let text = format!(
        "# Hotspare licence signing key (ed25519 seed). Keep offline; never put it in an image.\n\
         # public key: {}\n# fingerprint: {}\n{}\n",
        hex::encode(key.verifying_key().as_bytes()),
        fingerprint(&key.verifying_key()),
        hex::encode(key.to_bytes())
    );
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(write_err)
}

#[cfg(test)]
mod identity_tests {
    use super::*;

    const DMI: HardwareId = HardwareId { path: "", prefix: "dmi", what: "DMI product serial" };

    #[test]
    fn factory_file_first_then_hardware_serials() {
        let dir = tempfile::tempdir().unwrap();
        let factory = dir.path().join("box-id");
        let dmi = dir.path().join("product_serial");
        let soc = dir.path().join("serial-number");
        std::fs::write(&dmi, "To Be Filled By O.E.M.\n").unwrap();
        std::fs::write(&soc, b"10000000 8c3f\0").unwrap();
        let leak = |p: &Path| -> &'static str { Box::leak(p.display().to_string().into_boxed_str()) };
        let hw = [
            HardwareId { path: leak(&dmi), ..DMI },
            HardwareId { path: leak(&soc), prefix: "soc", what: "device-tree serial number" },
        ];
        // No factory file: the DMI placeholder is skipped, the SoC serial is used.
        let b = box_identity_from(&[&factory], &hw).unwrap();
        assert_eq!(b.id, "soc-10000000_8c3f");
        assert!(b.source.contains("device-tree serial number"), "{b:?}");
        // A real DMI serial comes before it.
        std::fs::write(&dmi, "  CZ1234 5678 \n").unwrap();
        assert_eq!(box_identity_from(&[&factory], &hw).unwrap().id, "dmi-CZ1234_5678");
        // The factory id wins, as written.
        std::fs::write(&factory, "HS-0042\n").unwrap();
        let b = box_identity_from(&[&factory], &hw).unwrap();
        assert_eq!((b.id.as_str(), b.source.as_str()), ("HS-0042", factory.to_str().unwrap()));
    }

    #[test]
    fn no_identity_is_an_error_naming_every_place_tried() {
        let dir = tempfile::tempdir().unwrap();
        let factory = dir.path().join("missing-box-id");
        let dmi = dir.path().join("product_serial");
        std::fs::write(&dmi, "0000000000").unwrap();
        let hw = [HardwareId { path: Box::leak(dmi.display().to_string().into_boxed_str()), ..DMI }];
        let e = box_identity_from(&[&factory], &hw).unwrap_err().to_string();
        assert!(e.contains("missing-box-id") && e.contains("DMI product serial") && e.contains("0000000000"), "{e}");
    }

    #[test]
    fn placeholders_are_not_serials() {
        for p in ["", "0", "00000000", "FFFFFFFF", "Default string", "System Serial Number", "n/a", "x\u{7f}y"] {
            assert_eq!(hardware_serial(p), None, "{p:?}");
        }
        assert_eq!(hardware_serial("0x1a2b3c4d").as_deref(), Some("0x1a2b3c4d"));
    }
}

/// The default (production) feature set: what the shipped binary does with
/// a licence signed by the development key, whose private half is public.
#[cfg(all(test, not(feature = "dev-keys")))]
mod production_tests {
    use super::*;

    fn dev_signing_key() -> SigningKey {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/licence/dev.key");
        read_signing_key(&path).expect("dev key fixture")
    }

    #[test]
    fn production_trusts_only_the_vendor_key() {
        let keys = trusted_keys();
        assert_eq!(keys.iter().map(|k| k.name).collect::<Vec<_>>(), ["vendor"]);
        assert_eq!(keys[0].key.to_bytes(), VENDOR_PUBLIC_KEY);
    }

    #[test]
    fn production_rejects_a_dev_signed_licence() {
        let dev = dev_signing_key();
        assert_eq!(dev.verifying_key().to_bytes(), DEV_PUBLIC_KEY, "fixture is the development key");
        let fields = LicenceFields {
            box_id: "HS-0001".into(),
            nvrs: 16,
            channels: 64,
            issued: "2025-03-01T09:30:00Z".into(),
            licence_id: "L-dev".into(),
        };
        let text = issue(&dev, &fields).expect("issue");
        let licence = Licence::parse(&text, "dev.toml").expect("parses");
        let e = licence.verify("HS-0001").expect_err("a dev-signed licence must not verify in production");
        assert!(matches!(e, LicenceError::UnknownKey { .. }), "{e:?}");
        assert!(e.to_string().contains("signed by unknown key a892eba168e43902"), "{e}");
    }
}
