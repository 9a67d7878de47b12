//! `hotspare demo`: a site on loopback with no set-up. Starts the camera
//! simulator, records every camera, shows a live status table, exports each
//! camera to MP4 and checks it with ffprobe when it is installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hotspare_recorder::{CameraConfig, CameraState, RecorderOptions};
use hotspare_store::{Store, StoreConfig};

use crate::cli::DemoArgs;
use crate::record::Recording;
use crate::CliError;

fn work_dir(dir: Option<PathBuf>) -> Result<PathBuf, CliError> {
    let d = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("hotspare-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&d).map_err(|e| CliError::new(format!("creating {}: {e}", d.display())))?;
    Ok(d)
}

/// Frames and codec of a file per ffprobe, or why that could not be read.
pub fn ffprobe_frames(path: &Path) -> Result<(u64, String), String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .map_err(|e| format!("ffprobe not runnable: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !err.trim().is_empty() {
        return Err(format!("ffprobe reports: {}", err.trim()));
    }
    let mut parts = text.trim().split(',');
    let codec = parts.next().unwrap_or("").to_string();
    let frames = parts.next().and_then(|f| f.trim().parse().ok()).ok_or_else(|| format!("ffprobe said {text:?}"))?;
    Ok((frames, codec))
}

pub async fn run(a: DemoArgs) -> Result<(), CliError> {
    let dir = work_dir(a.dir)?;
    let sim = hotspare_sim::bind(hotspare_sim::SimConfig {
        listen: "127.0.0.1:0".parse().map_err(|_| CliError::new("bad listen address"))?,
        streams: a.cameras,
        clip: a.clip.clone(),
        fps: 25,
        user: None,
        password: None,
        audio: true,
    })
    .await
    .map_err(|e| CliError::new(format!("camera simulator: {e}")))?;
    let addr = sim.local_addr();
    let sim_task = tokio::spawn(sim.serve());
    println!("camera simulator: {} cameras at rtsp://{addr}/cam0.. (clip {})", a.cameras, a.clip.display());

    let store_dir = dir.join("store");
    let store = Store::open(&store_dir, StoreConfig { segment_duration: Duration::from_secs(4), ..Default::default() })
        .map_err(|e| CliError::new(e.to_string()))?;
    let cams: Vec<CameraConfig> = (0..a.cameras)
        .map(|i| CameraConfig { id: format!("cam{i}"), url: format!("rtsp://{addr}/cam{i}"), credentials: None })
        .collect();
    let rec = Recording::start(store.clone(), cams, RecorderOptions::default());
    let t0 = tokio::time::Instant::now();
    while t0.elapsed() < a.duration {
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!("{:>6.1}s  {:<6} {:<10} {:>7} {:>11} {:>5}", t0.elapsed().as_secs_f32(), "camera", "state", "frames", "bytes", "lost");
        for (cam, status, _) in &rec.cameras {
            let s = status.get();
            let state = match s.state {
                CameraState::Recording => "recording",
                CameraState::Connecting => "connecting",
                CameraState::Retrying { .. } => "retrying",
                CameraState::Stopped => "stopped",
            };
            println!("{:>7} {:<6} {:<10} {:>7} {:>11} {:>5}", "", cam.id, state, s.frames, s.bytes, s.lost_packets);
        }
    }
    let done = rec.stop().await?;
    sim_task.abort();

    let mut ok = true;
    println!("\nsummary (store {}):", store_dir.display());
    for (cam, s) in &done {
        let out = dir.join(format!("{}.mp4", cam.id));
        let plan = store.export_mp4(&cam.id, None, None).map_err(|e| CliError::new(e.to_string()))?;
        let mut f = std::fs::File::create(&out).map_err(|e| CliError::new(format!("{}: {e}", out.display())))?;
        plan.write_to(&mut f).map_err(|e| CliError::new(e.to_string()))?;
        let check = match ffprobe_frames(&out) {
            Ok((n, codec)) if n == plan.frames as u64 => format!("ffprobe: {codec}, {n} frames, ok"),
            Ok((n, codec)) => {
                ok = false;
                format!("ffprobe: {codec}, {n} frames, expected {}", plan.frames)
            }
            Err(e) if e.starts_with("ffprobe not runnable") => e,
            Err(e) => {
                ok = false;
                e
            }
        };
        println!(
            "  {}: {} frames recorded, {} segments, {} lost packets -> {} ({})",
            cam.id,
            s.frames,
            store.segments(&cam.id).map(|v| v.len()).unwrap_or(0),
            s.lost_packets,
            out.display(),
            check
        );
        ok &= s.frames > 0;
    }
    if !ok {
        return Err(CliError::new("demo finished with errors (see summary)"));
    }
    Ok(())
}
