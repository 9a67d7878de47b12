//! `hotspare demo`: a whole site on loopback with no set-up. A camera
//! simulator, two NVRs (`hotspare nvr`, each with its recorder process) and
//! one spare (`hotspare failover`, fast profile). It shows a live status
//! table, kills one NVR, shows the takeover, brings the NVR back, shows the
//! failback and re-insertion, prints the NVR's timeline with the failover
//! spans in light blue, checks the re-inserted video with ffprobe and exits
//! 0 with a summary (detection time, gap per camera, frames re-inserted).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hotspare_api::{RecordingSpan, Source};

use crate::cli::DemoArgs;
use crate::site::{free_port, wait_for, write_nvr_config, write_spare_config, Http, NvrSpec, Proc};
use crate::times::format_us;
use crate::CliError;

const LIGHT_BLUE: &str = "\x1b[94m";
const RESET: &str = "\x1b[0m";

fn work_dir(dir: Option<PathBuf>) -> Result<PathBuf, CliError> {
    let d = dir.unwrap_or_else(|| std::env::temp_dir().join(format!("hotspare-demo-{}", std::process::id())));
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

fn secs(us: i64) -> f64 {
    us as f64 / 1e6
}

async fn print_table(http: &Http, spare: &str, nvrs: &[NvrSpec], t0: i64) {
    let now = crate::site_now_us();
    println!("--- t={:>5.1}s ---------------------------------------------------------------", secs(now - t0));
    for n in nvrs {
        match http.nvr(&n.url()).await {
            Ok(s) => {
                let rec = s.cameras.iter().filter(|c| c.recording).count();
                println!(
                    "  {:<5} {:<10} up   recording {rec}/{} cameras, storage {:?}, recycling {}",
                    n.id,
                    s.server_name,
                    s.cameras.len(),
                    s.storage.state,
                    if s.recycling.failing { "FAILING" } else { "ok" }
                );
            }
            Err(_) => println!("  {:<5} {:<10} DOWN (no answer)", n.id, ""),
        }
    }
    match http.spare(spare).await {
        Ok(s) => {
            for v in &s.nvrs {
                let extra = match v.phase.as_str() {
                    "taken_over" => format!(
                        "TAKEN OVER ({}) recording {}",
                        v.reason.clone().unwrap_or_default(),
                        v.recording.join(",")
                    ),
                    _ if v.reinsert.segments_left > 0 || v.reinsert.segments_done > 0 => format!(
                        "watching; re-insertion {} segments done, {} left{}",
                        v.reinsert.segments_done,
                        v.reinsert.segments_left,
                        if v.reinsert.finished { " (finished)" } else { "" }
                    ),
                    _ => format!("watching (misses {})", v.misses),
                };
                println!("  spare -> {:<5} {extra}", v.id);
            }
        }
        Err(e) => println!("  spare: {e}"),
    }
}

/// The largest hole in `spans` between `from` and `to`.
fn largest_gap(spans: &[RecordingSpan], from: i64, to: i64) -> i64 {
    let mut s: Vec<&RecordingSpan> = spans.iter().filter(|s| s.end_us > from && s.start_us < to).collect();
    s.sort_by_key(|s| s.start_us);
    let mut covered_to = match s.first() {
        Some(f) => f.end_us,
        None => return to - from,
    };
    let mut gap = 0;
    for span in &s[1..] {
        gap = gap.max(span.start_us - covered_to);
        covered_to = covered_to.max(span.end_us);
    }
    gap
}

pub async fn run(a: DemoArgs) -> Result<(), CliError> {
    let dir = work_dir(a.dir)?;
    let http = Http::new();
    let sim = hotspare_sim::bind(hotspare_sim::SimConfig {
        listen: "127.0.0.1:0".parse().map_err(|_| CliError::new("bad listen address"))?,
        streams: 4,
        clip: a.clip.clone(),
        fps: 25,
        user: None,
        password: None,
        audio: true,
    })
    .await
    .map_err(|e| CliError::new(format!("camera simulator: {e}")))?;
    let cam_addr = sim.local_addr();
    let sim_task = tokio::spawn(sim.serve());
    println!("Hotspare demo in {}", dir.display());
    println!("camera simulator: 4 cameras at rtsp://{cam_addr}/cam0..cam3 (clip {}, GOP 1 s)", a.clip.display());

    let spare_port = free_port()?;
    let cams = |r: std::ops::Range<u32>| -> Vec<(String, String)> {
        r.map(|i| (format!("cam{i}"), format!("rtsp://{cam_addr}/cam{i}"))).collect()
    };
    let nvrs = vec![
        write_nvr_config(&dir, "nvr1", free_port()?, &cams(0..2), spare_port)?,
        write_nvr_config(&dir, "nvr2", free_port()?, &cams(2..4), spare_port)?,
    ];
    let spare_cfg = write_spare_config(&dir, spare_port, &nvrs)?;
    let spare = format!("http://127.0.0.1:{spare_port}");
    let start_nvr = |n: &NvrSpec| {
        let cfg = n.config.display().to_string();
        Proc::spawn(&n.id, &["nvr", "--config", &cfg], &dir.join(format!("{}.log", n.id)))
    };
    let mut nvr_procs = Vec::new();
    for n in &nvrs {
        nvr_procs.push(start_nvr(n)?);
    }
    let spare_cfg_s = spare_cfg.display().to_string();
    let _spare_proc =
        Proc::spawn("spare", &["failover", "--config", &spare_cfg_s, "--ssdp", "off"], &dir.join("spare.log"))?;
    println!("2 NVRs (2 cameras each) and 1 spare (fast profile: checks every 1 s, takeover after 3 misses)\n");
    let t0 = crate::site_now_us();

    // 1. Everything healthy and the spare holds both NVRs' settings.
    wait_for(Duration::from_secs(30), "the spare to sync both NVRs' settings", || async {
        let s = http.spare(&spare).await.ok()?;
        s.nvrs.iter().all(|n| n.snapshot_us.is_some() && n.phase == "watching").then_some(())
    })
    .await?;
    wait_for(Duration::from_secs(30), "both NVRs to record", || async {
        for n in &nvrs {
            let s = http.nvr(&n.url()).await.ok()?;
            if !s.cameras.iter().all(|c| c.recording) {
                return None;
            }
        }
        Some(())
    })
    .await?;
    print_table(&http, &spare, &nvrs, t0).await;
    tokio::time::sleep(a.duration / 2).await;
    print_table(&http, &spare, &nvrs, t0).await;

    // 2. Kill nvr1 (the process and its recorder: a power cut).
    println!("\n>>> killing nvr1 (SIGKILL to the NVR and its recorder process)\n");
    let killed_us = crate::site_now_us();
    nvr_procs[0].kill_hard();
    let view = wait_for(Duration::from_secs(30), "the takeover of nvr1", || async {
        let s = http.spare(&spare).await.ok()?;
        let v = s.nvrs.into_iter().find(|n| n.id == "nvr1")?;
        (v.phase == "taken_over" && v.first_frame_us.values().all(|f| f.is_some()) && v.recording.len() == 2).then_some(v)
    })
    .await?;
    let decided_us = view.since_us.unwrap_or(killed_us);
    let first_frames: Vec<(String, i64)> =
        view.first_frame_us.iter().map(|(c, f)| (c.clone(), f.unwrap_or(decided_us))).collect();
    print_table(&http, &spare, &nvrs, t0).await;
    println!(
        "\n    detection: {:.2} s after the kill; first frame on the spare: {}",
        secs(decided_us - killed_us),
        first_frames.iter().map(|(c, f)| format!("{c} +{:.2} s", secs(f - decided_us))).collect::<Vec<_>>().join(", ")
    );
    tokio::time::sleep(a.duration).await;
    print_table(&http, &spare, &nvrs, t0).await;

    // 3. nvr1 comes back with its original address and settings.
    println!("\n>>> restarting nvr1\n");
    let back_us = crate::site_now_us();
    nvr_procs[0] = start_nvr(&nvrs[0])?;
    let view = wait_for(Duration::from_secs(60), "failback and re-insertion of nvr1", || async {
        let s = http.spare(&spare).await.ok()?;
        let v = s.nvrs.into_iter().find(|n| n.id == "nvr1")?;
        (v.phase == "watching" && v.reinsert.finished).then_some(v)
    })
    .await?;
    let failback_us = view.takeovers.last().and_then(|t| t.failback_us).unwrap_or(back_us);
    print_table(&http, &spare, &nvrs, t0).await;
    println!(
        "\n    failback {:.2} s after nvr1 came back; re-inserted {} segments, {} frames, {:.1} MB ({} already there)",
        secs(failback_us - back_us),
        view.reinsert.segments_done,
        view.reinsert.frames_done,
        view.reinsert.bytes_done as f64 / 1e6,
        view.reinsert.already_there
    );

    // 4. The NVR's own timeline and playback of the outage.
    let mut ok = true;
    let mut gaps = Vec::new();
    println!("\nnvr1 timeline ({LIGHT_BLUE}light blue{RESET} = recorded by the spare, now in the NVR):");
    for (cam, _) in &nvrs[0].cameras {
        let rec = http.recordings(&nvrs[0].url(), cam).await.map_err(CliError::new)?;
        for s in &rec.spans {
            let (c, r) = if s.source == Source::Failover { (LIGHT_BLUE, RESET) } else { ("", "") };
            println!(
                "  {c}{cam}: {} .. {}  {:>5} frames  {:?} on {:?}{r}",
                format_us(s.start_us),
                format_us(s.end_us),
                s.frames,
                s.source,
                s.location
            );
        }
        let gap = largest_gap(&rec.spans, killed_us - 2_000_000, crate::site_now_us());
        let failover_frames: u64 = rec.spans.iter().filter(|s| s.source == Source::Failover).map(|s| s.frames).sum();
        ok &= failover_frames > 0;
        // Playback of the outage window from the NVR, re-inserted video included.
        let from = killed_us - 2_000_000;
        let to = back_us + 2_000_000;
        let url = format!("{}/api/v1/recordings/{cam}.mp4?from={from}&to={to}", nvrs[0].url());
        let mp4 = dir.join(format!("nvr1-{cam}-outage.mp4"));
        let check = match http.bytes(&url).await {
            Ok(b) => {
                std::fs::write(&mp4, b).map_err(|e| CliError::new(format!("{}: {e}", mp4.display())))?;
                match ffprobe_frames(&mp4) {
                    Ok((n, codec)) => format!("{codec}, {n} frames, ffprobe clean"),
                    Err(e) if e.starts_with("ffprobe not runnable") => e,
                    Err(e) => {
                        ok = false;
                        e
                    }
                }
            }
            Err(e) => {
                ok = false;
                e
            }
        };
        gaps.push((cam.clone(), gap, failover_frames, check, mp4));
    }

    println!("\nsummary:");
    println!("  detection time       {:.2} s (fast profile: 3 checks of 1 s)", secs(decided_us - killed_us));
    for (c, f) in &first_frames {
        println!("  first frame {c:<8} {:.2} s after the decision", secs(f - decided_us));
    }
    for (cam, gap, frames, check, mp4) in &gaps {
        println!(
            "  {cam:<6} largest hole in nvr1's timeline {:.2} s; {frames} failover frames; outage export {} ({check})",
            secs(*gap),
            mp4.display()
        );
    }
    println!("  re-inserted          {} frames in {} segments", view.reinsert.frames_done, view.reinsert.segments_done);
    for p in nvr_procs.iter_mut() {
        p.terminate();
    }
    sim_task.abort();
    if !ok {
        return Err(CliError::new("demo finished with errors (see above)"));
    }
    Ok(())
}
