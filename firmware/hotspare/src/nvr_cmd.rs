//! `hotspare nvr --config FILE` (the recording server's API process) and the
//! hidden `hotspare nvr-recorder --config FILE` it starts (the recorder
//! process); both live in `hotspare-nvr`.

use std::path::PathBuf;

use crate::CliError;

/// The API process: serves until SIGTERM, supervising the recorder process.
pub async fn run(config: PathBuf) -> Result<(), CliError> {
    let exe = std::env::current_exe().map_err(|e| CliError::new(format!("cannot find the hotspare binary: {e}")))?;
    hotspare_nvr::run_nvr(&config, exe).await.map_err(CliError::wrap)
}

/// `hotspare nvr --config FILE --fingerprint`: prints `sha256:…` of the NVR's certificate.
pub fn fingerprint(config: &std::path::Path) -> Result<(), CliError> {
    let cfg = hotspare_nvr::NvrConfig::load(config).map_err(CliError::wrap)?;
    match hotspare_nvr::tls_identity(&cfg, config).map_err(CliError::wrap)? {
        Some(id) => {
            println!("{}", id.fingerprint);
            Ok(())
        }
        None => Err(CliError::new(format!("{}: [tls] insecure = true: this NVR has no certificate", config.display()))),
    }
}

/// The recorder process (started by `nvr`).
pub async fn run_recorder(config: PathBuf) -> Result<(), CliError> {
    let cfg = hotspare_nvr::NvrConfig::load(&config).map_err(CliError::wrap)?;
    hotspare_nvr::recorder::run_recorder(cfg).await.map_err(CliError::wrap)
}
