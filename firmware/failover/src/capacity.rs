//! Which cameras the spare records when failed NVRs have more cameras than
//! the channel licence allows: NVRs are covered in order of configured
//! priority (lower first, then id), camera by camera, and what does not fit
//! is reported as not covered. Recomputed whenever the set of taken-over
//! NVRs changes, so a higher-priority NVR failing later takes channels from
//! a lower-priority one.

use std::collections::BTreeMap;

/// Cameras a taken-over NVR needs recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Demand {
    pub nvr: String,
    pub priority: u32,
    pub cameras: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allocation {
    pub covered: BTreeMap<String, Vec<String>>,
    pub uncovered: BTreeMap<String, Vec<String>>,
}

pub fn allocate(demands: &[Demand], channels: u16) -> Allocation {
    let mut order: Vec<&Demand> = demands.iter().collect();
    order.sort_by(|a, b| (a.priority, &a.nvr).cmp(&(b.priority, &b.nvr)));
    let mut left = channels as usize;
    let mut out = Allocation::default();
    for d in order {
        let take = d.cameras.len().min(left);
        left -= take;
        out.covered.insert(d.nvr.clone(), d.cameras[..take].to_vec());
        if take < d.cameras.len() {
            out.uncovered.insert(d.nvr.clone(), d.cameras[take..].to_vec());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(nvr: &str, priority: u32, n: usize) -> Demand {
        Demand { nvr: nvr.into(), priority, cameras: (0..n).map(|i| format!("c{i}")).collect() }
    }

    #[test]
    fn everything_fits() {
        let a = allocate(&[d("a", 1, 3), d("b", 2, 4)], 16);
        assert_eq!(a.covered["a"].len() + a.covered["b"].len(), 7);
        assert!(a.uncovered.is_empty());
    }

    #[test]
    fn priority_decides_who_is_covered() {
        let a = allocate(&[d("low", 5, 10), d("high", 1, 10)], 16);
        assert_eq!(a.covered["high"].len(), 10);
        assert_eq!(a.covered["low"].len(), 6);
        assert_eq!(a.uncovered["low"], vec!["c6", "c7", "c8", "c9"]);
        assert!(!a.uncovered.contains_key("high"));
    }
}
