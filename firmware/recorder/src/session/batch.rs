//! Handing a session's completed frames to the store: when a batch is due
//! (the crash bound, [`flush_due`]), the one vectored write of its pieces,
//! and making room in the receive buffer.

use std::io::IoSlice;

use hotspare_media::depacketize::Piece;

use super::{flush_due, Pipeline};
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
