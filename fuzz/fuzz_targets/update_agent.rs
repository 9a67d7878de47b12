//! The update agent: its manifest parser on arbitrary bytes, and the agent driven by an
//! arbitrary sequence of inputs. Invariants: nothing panics; an accepted manifest is valid
//! (size in range, stages in time order with percentages that never go down); the agent
//! never asks to download, install or reboot while it has been told the spare is covering;
//! its memory of refusals stays bounded.
//!
//! Input: `[split: u8]` then the first `split` bytes are a manifest body tried on its own;
//! the rest is a program of `[op][arg]` pairs: `op % 8` = 0 covering on/off (`arg & 1`),
//! 1 time passes (`arg` minutes) and a tick, 2 a manifest (version `arg % 4`, a rollout stage
//! at `arg` minutes from now when `arg >= 128`), 3 the manifest body of the first part,
//! 4 downloaded (ok when `arg` is even), 5 RAUC's check (ok with the offered version when
//! `arg % 3 == 0`, another version when 1, a refusal when 2), 6 installed (ok, failed, or
//! RAUC out of reach, by `arg % 3`), 7 a failed reboot (`arg` odd) or a fetch error.
#![no_main]

use std::path::PathBuf;
use std::time::Duration;

use hotspare_update::agent::BundleInfo;
use hotspare_update::{Agent, AgentConfig, Effect, Input, InstallError, Manifest, Memory, Now};
use libfuzzer_sys::fuzz_target;

const T0: i64 = 1_800_000_000_000_000;

fn manifest(version: u8, stage_in_min: Option<u8>) -> Vec<u8> {
    let rollout = stage_in_min.map_or(String::new(), |m| {
        let at = std::time::UNIX_EPOCH + Duration::from_micros(T0 as u64) + Duration::from_secs(60 * u64::from(m));
        format!(r#","rollout":[{{"at":"{}","percent":50}}]"#, humantime::format_rfc3339_seconds(at))
    });
    format!(
        r#"{{"compatible":"c","version":"{version}","bundle":"b.raucb","sha256":"{}","size":10{rollout}}}"#,
        "ab".repeat(32)
    )
    .into_bytes()
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let (body, program) = rest.split_at(usize::from(split).min(rest.len()));
    if let Ok(m) = Manifest::parse(body) {
        assert!(m.size > 0 && m.size <= hotspare_update::manifest::MAX_BUNDLE_BYTES);
        assert!(m.rollout.windows(2).all(|w| w[0].at_us < w[1].at_us && w[0].percent <= w[1].percent));
        assert!(m.rollout.iter().all(|s| s.percent <= 100));
    }
    let cfg = AgentConfig {
        manifest_url: "http://fleet/m.json".into(),
        compatible: "c".into(),
        box_id: Some("HS-1".into()),
        check_every: Duration::from_secs(3600),
        retry_min: Duration::from_secs(60),
    };
    let mut now = Now { mono: Duration::ZERO, wall_us: T0 };
    let memory = Memory { attempted: Some("2".into()), refused: Vec::new() };
    let (mut agent, _) = Agent::new(cfg, "1".into(), memory, now);
    let mut covering = false;
    let mut offered = String::from("0");
    for op in program.chunks_exact(2) {
        let (code, arg) = (op[0] % 8, op[1]);
        let input = match code {
            0 => {
                covering = arg & 1 == 1;
                Input::Covering(covering)
            }
            1 => {
                let d = Duration::from_secs(60 * u64::from(arg));
                now = Now { mono: now.mono + d, wall_us: now.wall_us + d.as_micros() as i64 };
                Input::Tick
            }
            2 => {
                offered = (arg % 4).to_string();
                Input::Manifest(Ok(manifest(arg % 4, arg.checked_sub(128))))
            }
            3 => Input::Manifest(Ok(body.to_vec())),
            4 => Input::Downloaded(if arg % 2 == 0 { Ok(PathBuf::from("/b")) } else { Err("cut".into()) }),
            5 => Input::Checked(match arg % 3 {
                0 => Ok(BundleInfo { compatible: "c".into(), version: offered.clone() }),
                1 => Ok(BundleInfo { compatible: "c".into(), version: "9".into() }),
                _ => Err("signature verification failed".into()),
            }),
            6 => Input::Installed(match arg % 3 {
                0 => Ok(()),
                1 => Err(InstallError::Failed("no space".into())),
                _ => Err(InstallError::Unreachable("ServiceUnknown".into())),
            }),
            _ if arg & 1 == 1 => Input::RebootFailed("exited 1".into()),
            _ => Input::Manifest(Err("refused".into())),
        };
        for e in agent.handle(now, input) {
            if covering {
                assert!(
                    !matches!(e, Effect::Download { .. } | Effect::Install { .. } | Effect::Reboot),
                    "{e:?} while covering; status {:?}",
                    agent.status()
                );
            }
        }
        assert!(agent.memory().refused.len() <= 16);
        if let Some(at) = agent.poll_at() {
            assert!(at <= now.mono + Duration::from_secs(3600), "wakes no later than the interval");
        }
    }
});
