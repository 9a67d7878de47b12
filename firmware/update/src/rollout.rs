//! Staged rollout: which boxes take a version when.
//!
//! Each box falls in a bucket 0–99 for each version, from the SHA-256 of its box id and the
//! version: stable across restarts and polls (a box never flips in and out of a stage), not
//! chosen by anyone, and different per version (the same boxes are not always first). A box
//! takes the version once the current stage's percentage is above its bucket.

use crate::manifest::Stage;
use sha2::{Digest, Sha256};

/// This box's bucket (0–99) for `version`.
pub fn bucket(box_id: &str, version: &str) -> u8 {
    let d = Sha256::new().chain_update(box_id).chain_update([0u8]).chain_update(version).finalize();
    (u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) % 100) as u8
}

/// The percentage rolled out at wall time `now_us` (no stages: 100).
pub fn percent_at(stages: &[Stage], now_us: i64) -> u8 {
    if stages.is_empty() {
        return 100;
    }
    stages.iter().take_while(|s| s.at_us <= now_us).last().map_or(0, |s| s.percent)
}

/// Whether a box in `bucket` takes the version at `now_us`; if not, when it will (the start
/// of the first stage that includes it), or `None` if no stage ever does.
pub fn eligible(stages: &[Stage], bucket: u8, now_us: i64) -> Result<(), Option<i64>> {
    if percent_at(stages, now_us) > bucket {
        return Ok(());
    }
    Err(stages.iter().find(|s| s.at_us > now_us && s.percent > bucket).map(|s| s.at_us))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    #[test]
    fn buckets_are_stable_spread_and_per_version() {
        assert_eq!(bucket("box-1", "2"), bucket("box-1", "2"));
        let per_version: Vec<u8> = (0..20).map(|v| bucket("box-1", &v.to_string())).collect();
        assert!(per_version.iter().any(|&b| b != per_version[0]), "{per_version:?}");
        // 10,000 boxes: each tenth of the range holds roughly a tenth of them.
        let mut tenths = [0u32; 10];
        for i in 0..10_000 {
            tenths[usize::from(bucket(&format!("HS-{i:06}"), "2026.12.2") / 10)] += 1;
        }
        assert!(tenths.iter().all(|&n| (850..1150).contains(&n)), "{tenths:?}");
    }

    #[test]
    fn stages_open_in_time() {
        let stages = [Stage { at_us: DAY, percent: 10 }, Stage { at_us: 2 * DAY, percent: 100 }];
        assert_eq!(percent_at(&stages, 0), 0);
        assert_eq!(percent_at(&stages, DAY), 10);
        assert_eq!(percent_at(&stages, 3 * DAY), 100);
        assert_eq!(percent_at(&[], 0), 100);
        assert_eq!(eligible(&stages, 5, 0), Err(Some(DAY)));
        assert_eq!(eligible(&stages, 5, DAY), Ok(()));
        assert_eq!(eligible(&stages, 50, DAY), Err(Some(2 * DAY)));
        assert_eq!(eligible(&stages, 99, 2 * DAY), Ok(()));
        let paused = [Stage { at_us: DAY, percent: 10 }];
        assert_eq!(eligible(&paused, 50, 2 * DAY), Err(None), "a rollout held at 10% never reaches bucket 50");
        assert_eq!(eligible(&[Stage { at_us: DAY, percent: 0 }], 0, 2 * DAY), Err(None));
    }
}
