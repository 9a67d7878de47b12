//! Retention: [`Store::recycle`] deletes segments past `max_age`, then the
//! oldest closed segments of any camera while the volume is above the
//! high-water mark, and reports [`RecycleState`].

use crate::contract::RecycleState;
use crate::segment::SegmentId;
use crate::Store;
use hotspare_base::LockExt;

/// Volume usage of the filesystem holding `path`, as `(used_blocks, total_blocks)`.
pub(crate) fn volume_usage(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    let st = rustix::fs::statvfs(path)?;
    Ok((st.f_blocks.saturating_sub(st.f_bfree), st.f_blocks))
}

impl Store {
    /// One retention pass (see the crate docs). Never deletes an open segment. Returns the new
    /// state, also kept for [`Store::recycle_state`].
    pub fn recycle(&self) -> RecycleState {
        if self.read_only {
            return self.recycle_state();
        }
        let _pass = self.recycle_lock.lock_or_recover();
        // Segments imported by another process become ordinary closed segments.
        if let Err(e) = self.refresh() {
            log::warn!("retention: rescanning the store: {e}");
        }
        if let Some(max_age) = self.cfg.max_age {
            let now_us = self.cfg.clock.now_us();
            let cutoff = now_us.saturating_sub(max_age.as_micros().min(i64::MAX as u128) as i64);
            let old: Vec<(String, SegmentId)> = self
                .catalog
                .lock_or_recover()
                .iter()
                .flat_map(|(cam, segs)| {
                    segs.iter()
                        .filter(|(id, m)| {
                            !m.open
                                && id.start_wall_us.saturating_add(crate::segment::ticks_to_us(m.duration_90k)) < cutoff
                        })
                        .map(move |(id, _)| (cam.clone(), *id))
                })
                .collect();
            for (cam, id) in old {
                self.remove_segment(&cam, id);
            }
        }
        let hw = u64::from(self.cfg.high_water_percent.min(100));
        let state = loop {
            let (used, total) = match volume_usage(&self.root) {
                Ok(u) => u,
                Err(e) => break RecycleState::Failing { reason: format!("{}: statvfs: {e}", self.root.display()) },
            };
            if total == 0 || used * 100 <= hw * total {
                break RecycleState::Ok;
            }
            let oldest = self
                .catalog
                .lock_or_recover()
                .iter()
                .flat_map(|(cam, segs)| {
                    segs.iter().filter(|(_, m)| !m.open).map(move |(id, _)| (id.start_wall_us, id.seq, cam))
                })
                .min()
                .map(|(start, seq, cam)| (cam.clone(), SegmentId { start_wall_us: start, seq }));
            let Some((cam, id)) = oldest else {
                break RecycleState::Failing {
                    reason: format!(
                        "{}: volume {}% used, above the {hw}% mark, and no closed segment left to delete",
                        self.root.display(),
                        used * 100 / total
                    ),
                };
            };
            if !self.remove_segment(&cam, id) {
                break RecycleState::Failing {
                    reason: format!("{}: cannot delete segment {cam}/{id}", self.root.display()),
                };
            }
        };
        if let RecycleState::Failing { reason } = &state {
            log::warn!("retention failing: {reason}");
        }
        self.set_state(state.clone());
        state
    }

    /// Removes a segment from the catalog and the disk (sample first, then index, then the
    /// audio files, then the origin sidecar). Returns false if the files could not be removed.
    pub(crate) fn remove_segment(&self, camera: &str, id: SegmentId) -> bool {
        if let Some(segs) = self.catalog.lock_or_recover().get_mut(camera) {
            segs.remove(&id);
        }
        let dir = self.camera_dir(camera);
        let mut ok = true;
        for p in [
            id.sample_path(&dir),
            id.index_path(&dir),
            id.audio_path(&dir),
            id.audio_index_path(&dir),
            id.origin_path(&dir),
        ] {
            if let Err(e) = std::fs::remove_file(&p) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    log::error!("{}: delete: {e}", p.display());
                    ok = false;
                }
            }
        }
        log::info!("deleted segment {camera}/{id}");
        ok
    }
}
