//! Handing a session's completed frames to the store: when a batch is due
//! (the crash bound, [`flush_due`]), the one vectored write of its pieces,
//! and making room in the receive buffer.

use std::io::IoSlice;

use hotspare_media::depacketize::Piece;

use super::Pipeline;
use crate::RecordError;

impl Pipeline<'_> {
    /// Whether the completed frames must go to the store now (see [`flush_due`]);
    /// the first frames of a session are written at once (a takeover's first
    /// frame must be on disk within a second of the keyframe arriving).
    pub(super) fn batch_due(&self) -> bool {
        match (self.frames.first(), self.frames.last()) {
            (Some(_), Some(_)) if !self.wrote_any => true,
            (Some(a), Some(b)) => {
                flush_due(self.saved_pts.unwrap_or(a.pts_90k), b.pts_90k, self.interval_90k, self.batch_90k)
            }
            _ => false,
        }
    }

    /// Writes completed frames and drops consumed bytes from the buffer.
    pub(super) fn flush(&mut self) -> Result<(), RecordError> {
        if !self.frames.is_empty() {
            self.write_batch()?;
        }
        self.write_audio();
        self.d.clear_completed();
        self.frames.clear();
        let floor = self.d.recv_floor().map(|f| f as usize).unwrap_or(self.pos).min(self.pos);
        if floor > 0 {
            self.buf.copy_within(floor.., 0);
            self.buf.truncate(self.buf.len() - floor);
            self.pos -= floor;
            self.d.rebase(floor as u32);
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), RecordError> {
        let n = self.frames.len() as u64;
        let bytes: u64 = self.frames.iter().map(|f| f.len as u64).sum();
        let last_wall = self.frames.last().map(|f| f.wall_us);
        // Stored, or given up on (no parameter sets, volume full): either way no longer
        // unsaved video that a flush could still save.
        self.saved_pts = self.frames.last().map(|f| f.pts_90k);
        if !self.info.params.is_complete(self.info.codec) {
            self.status.update(|s| s.dropped_frames += n);
            return Ok(());
        }
        let mut iov: Vec<IoSlice<'_>> = std::mem::take(&mut self.iov_storage);
        let side = self.d.side();
        for p in self.d.completed_pieces() {
            iov.push(match *p {
                Piece::Recv { start, len } => IoSlice::new(&self.buf[start as usize..][..len as usize]),
                Piece::Side { start, len } => IoSlice::new(&side[start as usize..][..len as usize]),
            });
        }
        let r = self.writer.write(&self.info, &self.frames, &iov);
        iov.clear();
        // Reuse the allocation: an empty Vec's buffer outlives the borrows.
        self.iov_storage = iov.into_iter().map(|_| IoSlice::new(&[])).collect();
        let stats = self.d.stats();
        match r {
            Ok(()) => self.status.update(|s| {
                self.wrote_any = true;
                s.frames += n;
                s.bytes += bytes;
                s.last_frame_wall_us = last_wall;
                s.lost_packets = stats.lost_packets;
                s.discontinuities = stats.discontinuities;
                s.dropped_frames = stats.dropped_frames;
            }),
            Err(e) if e.is_no_space() => {
                log::error!("{}: {e}; {n} frames not stored", self.camera);
                self.status.update(|s| s.store_failures += 1);
            }
            Err(e) => return Err(RecordError::Store(e)),
        }
        Ok(())
    }

    /// The buffer is nearly full: write what is complete, else grow up to
    /// `max`; a frame in progress that still does not fit is dropped (a
    /// discontinuity), and the session goes on.
    pub(super) fn make_room(&mut self, max: usize) -> Result<(), RecordError> {
        self.flush()?;
        let spare = self.buf.capacity() - self.buf.len();
        if spare < 64 * 1024 {
            let want = (self.buf.capacity() * 2).min(max);
            if want > self.buf.capacity() {
                self.buf.reserve_exact(want - self.buf.len());
            } else if self.d.drop_oversized_in_progress() {
                log::warn!(
                    "{}: a frame of over {} bytes does not fit the receive buffer (max {max} bytes): dropped, recording resumes at the next keyframe",
                    self.camera,
                    self.buf.len()
                );
                self.flush()?;
            }
            if self.buf.capacity() - self.buf.len() < 64 * 1024 {
                return Err(RecordError::FrameTooLarge(self.buf.len()));
            }
        }
        Ok(())
    }
}

/// The crash bound by construction. The video a `kill -9` loses is what
/// reached the recorder but not the store (the store's writes are in the page
/// cache): from the last saved frame (pts `saved_pts`) to the end of the frame
/// in progress. With the newest completed frame at `newest_pts` that is
/// `newest - saved + interval`, and one frame later (before the next check) it
/// grows by another `interval`. So flush now when one more frame would push it
/// past `batch_90k` (1 s): at a steady frame rate the unsaved video never exceeds
/// `batch_90k` at any moment, and batches stay close to it (no flush per frame).
/// A pts going backwards or jumping far ahead flushes at once.
pub(crate) fn flush_due(saved_pts: i64, newest_pts: i64, interval_90k: i64, batch_90k: i64) -> bool {
    let span = newest_pts.saturating_sub(saved_pts);
    span < 0 || span.saturating_add(interval_90k.saturating_mul(2)) > batch_90k
}

#[cfg(test)]
mod tests {
    use super::flush_due;

    /// Frames at `fps` arrive one by one; the policy sees each completed frame. At every
    /// moment the unsaved video (completed frames not yet flushed plus the frame in
    /// progress) is at most 1 s, and batches are not needlessly small.
    fn check(fps: i64) {
        let batch = 90_000;
        let step = 90_000 / fps;
        let mut saved = 0i64; // first frame written at once
        let mut batches = 0;
        for k in 1..(20 * fps) {
            let newest = k * step;
            // Killed after frame k completed, before the check: everything after `saved`
            // up to the end of the frame in progress (k + 1) is lost.
            let before_check = newest + step - saved;
            assert!(before_check <= batch, "fps {fps}: {before_check} ticks unsaved");
            if flush_due(saved, newest, step, batch) {
                saved = newest;
                batches += 1;
            }
        }
        // About one batch per second of video at most rates (no flush per frame).
        assert!(batches < 20 * fps && batches >= 18, "fps {fps}: {batches} batches in 20 s");
        if fps >= 10 {
            assert!(batches <= 24, "fps {fps}: {batches} batches in 20 s");
        }
    }

    #[test]
    fn unsaved_video_stays_under_one_second() {
        for fps in [2, 5, 7, 12, 15, 25, 30, 50, 60] {
            check(fps);
        }
    }

    #[test]
    fn pts_jumps_flush_at_once() {
        assert!(flush_due(1_000_000, 10, 3600, 90_000), "pts went backwards");
        assert!(flush_due(0, 10 * 90_000, 3600, 90_000), "pts jumped 10 s ahead");
        assert!(!flush_due(0, 3600, 3600, 90_000));
        assert!(flush_due(0, 86_400, 3600, 90_000), "24 frames at 25 fps: the 25th would pass 1 s");
    }
}
