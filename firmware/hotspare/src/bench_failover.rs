//! `hotspare bench-failover`: failover latency and re-insertion throughput
//! on a loopback site in the fast profile (run by `scripts/bench-failover`).
//!
//! Per trial: kill the NVR (SIGKILL to it and its recorder), then measure
//! detection (kill → takeover decision) and takeover (decision → first frame
//! recorded on the spare, per camera, by the frame's wall-clock time), then
//! bring the NVR back and wait for failback and re-insertion. The last
//! trial's outage is longer, to measure re-insertion throughput in MB/s.

use std::time::Duration;

use crate::cli::BenchFailoverArgs;
use crate::site::Site;
use crate::CliError;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

pub async fn run(a: BenchFailoverArgs) -> Result<(), CliError> {
    let dir =
        a.dir.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("hotspare-bench-{}", std::process::id())));
    let (mut detect, mut takeover, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let mut throughput = Vec::new();
    let mut site = Site::start(&dir, &a.clip, 1, a.cameras).await?;
    site.wait_healthy().await?;
    for trial in 0..a.trials {
        let outage = if trial + 1 == a.trials { a.long_outage } else { Duration::from_secs(3) };
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let killed = site.kill_nvr(0);
        let v = site.wait_takeover(0).await?;
        let decided = v.since_us.unwrap_or(killed);
        let d = (decided - killed) as f64 / 1e6;
        let firsts: Vec<f64> =
            v.first_frame_us.values().map(|f| (f.unwrap_or(decided) - decided) as f64 / 1e6).collect();
        let t = max(&firsts);
        println!(
            "trial {:>2}: detection {d:.3} s, takeover {t:.3} s (per camera: {})",
            trial + 1,
            firsts.iter().map(|f| format!("{f:.3}")).collect::<Vec<_>>().join(" ")
        );
        detect.push(d);
        takeover.extend(firsts.iter().copied());
        total.extend(firsts.iter().map(|f| d + f));
        tokio::time::sleep(outage).await;
        site.restart_nvr(0)?;
        let v = site.wait_failback(0).await?;
        if let Some(end) = v.reinsert.finished_us {
            let secs = (end - v.reinsert.started_us) as f64 / 1e6;
            let mb = v.reinsert.bytes_done as f64 / 1e6;
            if trial + 1 == a.trials {
                println!("re-insertion: {mb:.1} MB in {} segments in {secs:.2} s", v.reinsert.segments_done);
                throughput.push(mb / secs.max(1e-6));
            }
        }
        site.wait_healthy().await?;
    }
    site.stop();
    println!("\n| metric (fast profile, {} trials, {} cameras) | median | max |", a.trials, a.cameras);
    println!("|---|---|---|");
    println!(
        "| detection: NVR killed → takeover decision (s) | {:.3} | {:.3} |",
        median(&mut detect.clone()),
        max(&detect)
    );
    println!(
        "| takeover: decision → first frame on the spare, per camera (s) | {:.3} | {:.3} |",
        median(&mut takeover.clone()),
        max(&takeover)
    );
    println!(
        "| total: NVR killed → first frame on the spare (s) | {:.3} | {:.3} |",
        median(&mut total.clone()),
        max(&total)
    );
    if let Some(t) = throughput.first() {
        println!("| re-insertion throughput, loopback (MB/s) | {t:.1} | |");
    }
    Ok(())
}
