//! `hotspare demo`: a whole site on loopback with no set-up. A camera
//! simulator, two NVRs (`hotspare nvr`, each with its recorder process) and
//! one spare (`hotspare failover`, fast profile). It shows a live status
//! table, kills one NVR, shows the takeover, brings the NVR back, shows the
//! failback and re-insertion, prints the NVR's timeline with the failover
//! spans in light blue, checks the re-inserted video with ffprobe and exits
//! 0 with a summary (detection time, gap per camera, frames re-inserted).

use std::path::{Path, PathBuf};
use std::process::Command;

use hotspare::kit::NvrSpec;
use hotspare_api::{RecordingSpan, Source};

use crate::cli::DemoArgs;
use crate::site::{Http, Site};
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
    let now = hotspare_base::clock::now_us();
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
    println!("Hotspare demo in {}", dir.display());
    let mut site = Site::start(&dir, &a.clip, 2, 2).await?;
    println!("camera simulator with 4 cameras (clip {}, GOP 1 s); 2 NVRs with 2 cameras each;", a.clip.display());
    println!("1 spare in the fast profile (checks every 1 s, takeover after 3 misses)");
    println!("paired over TLS by certificate fingerprint:");
    for n in &site.nvrs {
        println!("  {:<5} {}", n.id, n.fingerprint.map(|f| f.to_string()).unwrap_or_default());
    }
    println!("  spare {}\n", site.spare_fingerprint);
    let t0 = hotspare_base::clock::now_us();
    let (http, spare) = (site.http.clone(), site.spare.clone());

    // 1. Everything healthy and the spare holds both NVRs' settings.
    site.wait_healthy().await?;
    print_table(&http, &spare, &site.nvrs, t0).await;
    tokio::time::sleep(a.duration / 2).await;
    print_table(&http, &spare, &site.nvrs, t0).await;

    // 2. Kill nvr1 (the process and its recorder: a power cut).
    println!("\n>>> killing nvr1 (SIGKILL to the NVR and its recorder process)\n");
    let killed_us = site.kill_nvr(0);
    let view = site.wait_takeover(0).await?;
    let decided_us = view.since_us.unwrap_or(killed_us);
    let first_frames: Vec<(String, i64)> =
        view.first_frame_us.iter().map(|(c, f)| (c.clone(), f.unwrap_or(decided_us))).collect();
    print_table(&http, &spare, &site.nvrs, t0).await;
    println!(
        "\n    detection: {:.2} s after the kill; first frame on the spare: {}",
        secs(decided_us - killed_us),
        first_frames.iter().map(|(c, f)| format!("{c} +{:.2} s", secs(f - decided_us))).collect::<Vec<_>>().join(", ")
    );
    tokio::time::sleep(a.duration).await;
    print_table(&http, &spare, &site.nvrs, t0).await;

    // 3. nvr1 comes back with its original address and settings.
    println!("\n>>> restarting nvr1\n");
    let back_us = site.restart_nvr(0)?;
    let view = site.wait_failback(0).await?;
    let failback_us = view.takeovers.last().and_then(|t| t.failback_us).unwrap_or(back_us);
    print_table(&http, &spare, &site.nvrs, t0).await;
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
    let nvr1 = &site.nvrs[0];
    println!("\nnvr1 timeline ({LIGHT_BLUE}light blue{RESET} = recorded by the spare, now in the NVR):");
    for (cam, _) in &nvr1.cams {
        let rec = http.recordings(&nvr1.url(), cam).await.map_err(CliError::new)?;
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
        let gap = largest_gap(&rec.spans, killed_us - 2_000_000, hotspare_base::clock::now_us());
        let failover_frames: u64 = rec.spans.iter().filter(|s| s.source == Source::Failover).map(|s| s.frames).sum();
        ok &= failover_frames > 0;
        // Playback of the outage window from the NVR, re-inserted video included.
        let (from, to) = (killed_us - 2_000_000, back_us + 2_000_000);
        let url = format!("{}{}/{cam}.mp4?from={from}&to={to}", nvr1.url(), hotspare_api::api_path!("/recordings"));
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
    site.stop();
    if !ok {
        return Err(CliError::new("demo finished with errors (see above)"));
    }
    Ok(())
}
