//! What the update agent asks of RAUC (run as a program, never a shell): the box's
//! `compatible` from RAUC's `system.conf`, `rauc info` (verifies the bundle's signature
//! against the keyring and reads what the bundle says of itself) and `rauc install`.

use std::path::Path;
use std::process::Output;

use hotspare_update::agent::BundleInfo;
use hotspare_update::InstallError;
use tokio::process::Command;

/// `compatible=` of the `[system]` section of RAUC's system.conf.
pub fn compatible(system_conf: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(system_conf).map_err(|e| format!("{}: {e}", system_conf.display()))?;
    let mut section = "";
    for line in text.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s;
        } else if let Some((k, v)) = line.split_once('=') {
            if section == "system" && k.trim() == "compatible" && !v.trim().is_empty() {
                return Ok(v.trim().to_string());
            }
        }
    }
    Err(format!("{}: no compatible= in [system]", system_conf.display()))
}

/// `rauc info`: the signature checked (against the keyring of `system_conf`), then the
/// bundle's compatible and version.
pub async fn info(rauc: &Path, system_conf: &Path, bundle: &Path) -> Result<BundleInfo, String> {
    let conf = format!("--conf={}", system_conf.display());
    let out = run(rauc, &["info", &conf, "--output-format=json"], bundle).await?;
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("rauc info printed no JSON ({e})"))?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    match (field("compatible"), field("version")) {
        (Some(compatible), Some(version)) => Ok(BundleInfo { compatible, version }),
        _ => Err("rauc info: the bundle names no compatible or no version".into()),
    }
}

/// `rauc install`: writes the other slot and makes it the primary one. The client asks
/// RAUC's service over D-Bus: when it cannot (the service not on the bus yet, which happens
/// just after boot, or busy), the error is [`InstallError::Unreachable`] and the agent tries
/// again; anything else is RAUC's verdict on the bundle.
pub async fn install(rauc: &Path, bundle: &Path) -> Result<(), InstallError> {
    match run(rauc, &["install"], bundle).await {
        Ok(_) => Ok(()),
        Err(e) if UNREACHABLE.iter().any(|m| e.contains(m)) => Err(InstallError::Unreachable(e)),
        Err(e) => Err(InstallError::Failed(e)),
    }
}

/// What the rauc client prints when it could not ask the service (RAUC 1.8).
const UNREACHABLE: [&str; 5] = [
    "Error creating proxy",
    "D-Bus error while installing",
    "ServiceUnknown",
    "Could not connect",
    "already in progress",
];

async fn run(rauc: &Path, args: &[&str], bundle: &Path) -> Result<Output, String> {
    let out = Command::new(rauc)
        .args(args)
        .arg(bundle)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("{}: {e}", rauc.display()))?;
    if out.status.success() {
        return Ok(out);
    }
    // RAUC says why on stderr; its last lines are the reason.
    let err = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = err.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let why = tail[tail.len().saturating_sub(3)..].join(" / ");
    Err(format!(
        "{} {} ({}): {}",
        rauc.display(),
        args[0],
        out.status,
        if why.is_empty() { "no message" } else { &why }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatible_is_read_from_the_system_section() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("system.conf");
        std::fs::write(
            &f,
            "[system]\ncompatible = hotspare-qemu-virt\nbootloader=custom\n[slot.rootfs.0]\ncompatible=x\n",
        )
        .unwrap();
        assert_eq!(compatible(&f).unwrap(), "hotspare-qemu-virt");
        std::fs::write(&f, "[keyring]\ncompatible=x\n").unwrap();
        assert!(compatible(&f).unwrap_err().contains("no compatible= in [system]"));
        assert!(compatible(&d.path().join("none")).unwrap_err().contains("No such file"));
    }
}
