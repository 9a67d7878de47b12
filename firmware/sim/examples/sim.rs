//! Stand-alone simulator for manual tests and benchmarks (the product entry
//! point is `hotspare sim-camera`):
//! `cargo run --example sim -p hotspare-sim -- CLIP [STREAMS] [PORT] [--audio] [--auth USER:PASS]`.

use hotspare_sim::SimConfig;

#[tokio::main]
async fn main() {
    env_logger::builder().filter_level(log::LevelFilter::Info).parse_default_env().init();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let audio = args.iter().any(|a| a == "--audio");
    args.retain(|a| a != "--audio");
    let mut auth = None;
    if let Some(i) = args.iter().position(|a| a == "--auth") {
        auth = args.get(i + 1).and_then(|v| v.split_once(':')).map(|(u, p)| (u.to_owned(), p.to_owned()));
        args.drain(i..(i + 2).min(args.len()));
    }
    let Some(clip) = args.first() else {
        eprintln!("usage: sim CLIP [STREAMS] [PORT] [--audio] [--auth USER:PASS]");
        std::process::exit(2);
    };
    let streams = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let port: u16 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(8554);
    let mut cfg = SimConfig::new(([127, 0, 0, 1], port).into(), clip);
    cfg.streams = streams;
    cfg.audio = audio;
    if let Some((u, p)) = auth {
        cfg.user = Some(u);
        cfg.password = Some(p);
    }
    if let Err(e) = hotspare_sim::run(cfg).await {
        eprintln!("sim: {e}");
        std::process::exit(1);
    }
}
