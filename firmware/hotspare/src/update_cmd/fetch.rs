//! The update agent's HTTP: the manifest (a bounded body) and the bundle, downloaded to
//! `<dir>/bundle-<SHA-256 prefix>.part` with bounded memory, resumed by offset (`Range`) after
//! an interruption or a restart (only a part of the same bundle: the part of a bundle the
//! manifest no longer offers is deleted, not resumed into), and renamed to `bundle.raucb` only
//! once its size and SHA-256 are the manifest's. Errors say what went wrong in words the
//! status file shows.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hotspare_update::manifest::MAX_MANIFEST_BYTES;
use reqwest::{header, Client, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Without a byte for this long, a transfer is given up (and resumed at the next try).
const STALL: Duration = Duration::from_secs(60);
pub const BUNDLE: &str = "bundle.raucb";

pub fn client() -> Result<Client, String> {
    Client::builder().connect_timeout(Duration::from_secs(10)).build().map_err(|e| format!("HTTP client: {e}"))
}

/// The manifest's body (200 only, at most [`MAX_MANIFEST_BYTES`]).
pub async fn manifest(client: &Client, url: &str) -> Result<Vec<u8>, String> {
    let get = async {
        let mut resp = client.get(url).send().await.map_err(|e| format!("GET {url}: {}", chain(&e)))?;
        if resp.status() != StatusCode::OK {
            return Err(format!("GET {url}: {}", resp.status()));
        }
        let mut body = Vec::new();
        while let Some(c) = resp.chunk().await.map_err(|e| format!("GET {url}: {}", chain(&e)))? {
            if body.len() + c.len() > MAX_MANIFEST_BYTES {
                return Err(format!("GET {url}: more than {MAX_MANIFEST_BYTES} bytes: not a manifest"));
            }
            body.extend_from_slice(&c);
        }
        Ok(body)
    };
    tokio::time::timeout(Duration::from_secs(30), get).await.map_err(|_| format!("GET {url}: no answer within 30 s"))?
}

/// Downloads the bundle into `dir`; returns the path of the complete, checked bundle.
pub async fn bundle(client: &Client, url: &str, dir: &Path, sha256: [u8; 32], size: u64) -> Result<PathBuf, String> {
    tokio::fs::create_dir_all(dir).await.map_err(|e| format!("{}: {e}", dir.display()))?;
    let part = dir.join(part_name(&sha256));
    let done = dir.join(BUNDLE);
    let _ = tokio::fs::remove_file(&done).await;
    remove_other_parts(dir, &part).await;
    let (mut file, mut hash, mut have) = resume(&part, size).await?;
    if have < size {
        let mut req = client.get(url);
        if have > 0 {
            req = req.header(header::RANGE, format!("bytes={have}-"));
        }
        let mut resp = req.send().await.map_err(|e| format!("GET {url}: {}", chain(&e)))?;
        match resp.status() {
            StatusCode::PARTIAL_CONTENT if have > 0 => log::info!("update: resuming {url} at byte {have}"),
            StatusCode::OK => {
                if have > 0 {
                    log::info!("update: {url} cannot be resumed (the server sent it whole): starting again");
                    (file, hash, have) = restart(&part).await?;
                }
            }
            s => return Err(format!("GET {url}: {s}")),
        }
        loop {
            let chunk = tokio::time::timeout(STALL, resp.chunk())
                .await
                .map_err(|_| format!("GET {url}: nothing received for {} s (kept {have} bytes)", STALL.as_secs()))?
                .map_err(|e| format!("GET {url}: {} (kept {have} bytes)", chain(&e)))?;
            let Some(c) = chunk else { break };
            have += c.len() as u64;
            if have > size {
                drop(file);
                let _ = tokio::fs::remove_file(&part).await;
                return Err(format!("GET {url}: more than the manifest's {size} bytes"));
            }
            hash.update(&c);
            file.write_all(&c).await.map_err(|e| format!("{}: {e}", part.display()))?;
        }
    }
    file.sync_all().await.map_err(|e| format!("{}: {e}", part.display()))?;
    drop(file);
    if have != size {
        return Err(format!("GET {url}: the body ended at {have} of {size} bytes (kept, resumed next time)"));
    }
    let got: [u8; 32] = hash.finalize().into();
    if got != sha256 {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(format!(
            "{url}: SHA-256 {} is not the manifest's {} (download discarded)",
            hex::encode(got),
            hex::encode(sha256)
        ));
    }
    tokio::fs::rename(&part, &done).await.map_err(|e| format!("{}: {e}", done.display()))?;
    Ok(done)
}

/// The partial download of the bundle whose SHA-256 is `sha256`.
fn part_name(sha256: &[u8; 32]) -> String {
    format!("bundle-{}.part", &hex::encode(sha256)[..16])
}

/// Deletes the partial downloads of other bundles (a version withdrawn or replaced meanwhile).
async fn remove_other_parts(dir: &Path, keep: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return };
    while let Ok(Some(e)) = entries.next_entry().await {
        let p = e.path();
        if p != keep && p.extension().is_some_and(|x| x == "part") {
            log::info!("update: {} is of another bundle: deleted", p.display());
            let _ = tokio::fs::remove_file(&p).await;
        }
    }
}

/// The partial download and the hash of what it holds (a part longer than the bundle, or
/// unreadable, starts again).
async fn resume(part: &Path, size: u64) -> Result<(tokio::fs::File, Sha256, u64), String> {
    let Ok(mut f) = tokio::fs::File::open(part).await else { return restart(part).await };
    let mut hash = Sha256::new();
    let mut have = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match f.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                hash.update(&buf[..n]);
                have += n as u64;
            }
            Err(_) => return restart(part).await,
        }
    }
    if have > size {
        return restart(part).await;
    }
    let file =
        tokio::fs::OpenOptions::new().append(true).open(part).await.map_err(|e| format!("{}: {e}", part.display()))?;
    Ok((file, hash, have))
}

async fn restart(part: &Path) -> Result<(tokio::fs::File, Sha256, u64), String> {
    let file = tokio::fs::File::create(part).await.map_err(|e| format!("{}: {e}", part.display()))?;
    Ok((file, Sha256::new(), 0))
}

/// An error with its causes (reqwest's top line alone says little: "error sending request").
fn chain(e: &reqwest::Error) -> String {
    hotspare_base::error_chain::join(e, ": ")
}
