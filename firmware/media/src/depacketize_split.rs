//! Annex B start codes inside RTP-packetized NAL units
//! (`StartCodesInNal::Split`): a camera sends each key frame as one FU-A
//! whose header says SPS, holding SPS, PPS and IDR separated by
//! `00 00 01` / `00 00 00 01`. Such a NAL unit (single, aggregated, or
//! reassembled from fragments) is cut at its start codes into NAL units of
//! their own, each with its own length prefix, so the IDR makes the frame a
//! keyframe and the in-band SPS/PPS are taken as parameter sets.
//!
//! Still zero-copy: a part is a range of the NAL unit's pieces (receive
//! buffer, and the rebuilt FU header in the side buffer), plus a new 4-byte
//! length prefix in the side buffer. Start codes and the zero bytes before
//! them are left out. Bounded: a NAL unit cut into more parts than
//! `Limits::max_pieces` is dropped like any frame over the limits.
//!
//! Cost: only non-VCL NAL units are scanned (parameter sets, SEI, AUD, …,
//! and FUs whose header claims such a type). A conforming slice cannot hold
//! `00 00 01` (emulation prevention) and scanning every byte of every
//! picture would cost CPU on the recorder's hot path; the cameras seen
//! packing a key frame into one NAL unit label it with a non-VCL type, and
//! non-VCL NAL units of a conforming stream are a few bytes.

use hotspare_camera_policy::StartCodesInNal;

use super::{is_param_set, DepacketizeError, Depacketizer, FuState, Piece, MAX_PARAM_SET_BYTES};

/// Appends to `out` the parts of a NAL unit given as consecutive byte
/// chunks, as `(start, end)` offsets into the NAL unit, cut at Annex B start
/// codes (the zero bytes before a start code are dropped too); the whole
/// NAL unit when it holds no start code. Returns false, `out` incomplete,
/// past `max` parts.
pub(super) fn find_parts<'a>(chunks: impl Iterator<Item = &'a [u8]>, out: &mut Vec<(u32, u32)>, max: usize) -> bool {
    out.clear();
    let (mut pos, mut zeros, mut part_start, mut found) = (0u32, 0u32, 0u32, false);
    for chunk in chunks {
        for &b in chunk {
            if b == 0 {
                zeros += 1;
            } else {
                if b == 1 && zeros >= 2 {
                    found = true;
                    let end = pos - zeros;
                    if end > part_start {
                        if out.len() >= max {
                            return false;
                        }
                        out.push((part_start, end));
                    }
                    part_start = pos + 1;
                }
                zeros = 0;
            }
            pos += 1;
        }
    }
    let end = if found { pos - zeros } else { pos };
    if end > part_start {
        if out.len() >= max {
            return false;
        }
        out.push((part_start, end));
    }
    true
}

impl Depacketizer {
    /// Whether a NAL unit of this type is scanned for start codes.
    fn scans(&self, nal_type: u8) -> bool {
        self.start_codes_in_nal == StartCodesInNal::Split && !self.codec.is_vcl_nal(nal_type)
    }

    /// Pieces and sample-file bytes the NAL unit `nal` adds (after
    /// splitting); more pieces than the limit when it splits too much.
    pub(super) fn nal_cost(&mut self, nal: &[u8]) -> (usize, u64) {
        let whole = (2, 4 + nal.len() as u64);
        if !nal.first().is_some_and(|&b| self.scans(self.codec.nal_type(b))) {
            return whole;
        }
        let mut cuts = std::mem::take(&mut self.cuts);
        let cost = if find_parts(std::iter::once(nal), &mut cuts, self.limits.max_pieces) {
            (2 * cuts.len(), cuts.iter().map(|&(s, e)| 4 + u64::from(e - s)).sum())
        } else {
            (self.limits.max_pieces + 1, 0)
        };
        self.cuts = cuts;
        cost
    }

    /// Adds the NAL unit at `buf[off..off + len]`, split at its start codes
    /// when it is scanned; [`Self::nal_cost`] was admitted.
    pub(super) fn add_nal(&mut self, buf: &[u8], off: usize, len: usize) {
        let nal = &buf[off..off + len];
        if !self.scans(self.codec.nal_type(nal[0])) {
            return self.add_whole_nal(buf, off, len);
        }
        let mut cuts = std::mem::take(&mut self.cuts);
        find_parts(std::iter::once(nal), &mut cuts, usize::MAX);
        if cuts.len() != 1 || cuts[0] != (0, len as u32) {
            self.stats.split_nals += 1;
        }
        for &(s, e) in &cuts {
            self.add_whole_nal(buf, off + s as usize, (e - s) as usize);
        }
        self.cuts = cuts;
    }

    /// Ends a fragmented NAL unit (its pieces are `pieces[fu.first_piece..]`,
    /// the first one its length prefix and rebuilt header): split at start
    /// codes when it is scanned and holds any.
    pub(super) fn finish_fu(&mut self, buf: &[u8], fu: FuState) -> Result<(), DepacketizeError> {
        if !self.scans(fu.nal_type) {
            self.finish_whole_fu(buf, fu);
            return Ok(());
        }
        // The NAL unit's bytes as pieces: the header (after the prefix), then the fragments.
        let mut fp = std::mem::take(&mut self.fu_pieces);
        fp.clear();
        fp.push(Piece::Side { start: fu.prefix_pos as u32 + 4, len: self.codec.nal_header_len() as u32 });
        fp.extend_from_slice(&self.pieces[fu.first_piece + 1..]);
        let mut cuts = std::mem::take(&mut self.cuts);
        let side = &self.side;
        let fits = find_parts(fp.iter().map(|p| bytes_of(*p, side, buf)), &mut cuts, self.limits.max_pieces);
        let r = if fits && cuts.len() == 1 && cuts[0] == (0, fu.nal_len) {
            self.finish_whole_fu(buf, fu);
            Ok(())
        } else if fits {
            self.rebuild_parts(buf, fu, &fp, &cuts)
        } else {
            Err(DepacketizeError::TooManyPieces { codec: self.codec, limit: self.limits.max_pieces })
        };
        self.cuts = cuts;
        self.fu_pieces = fp;
        r
    }

    /// Replaces the fragmented NAL unit's pieces by those of its parts.
    fn rebuild_parts(
        &mut self,
        buf: &[u8],
        fu: FuState,
        fp: &[Piece],
        cuts: &[(u32, u32)],
    ) -> Result<(), DepacketizeError> {
        // Pieces each part takes: a prefix, and one per piece it overlaps.
        let (mut new_pieces, mut new_bytes) = (0usize, 0u64);
        walk(fp, cuts, |_| new_pieces += 1);
        new_pieces += cuts.len();
        for &(s, e) in cuts {
            new_bytes += 4 + u64::from(e - s);
        }
        let kept = fu.first_piece;
        if kept + new_pieces > self.limits.max_pieces {
            return Err(DepacketizeError::TooManyPieces { codec: self.codec, limit: self.limits.max_pieces });
        }
        let done = self.au.map_or(0, |a| u64::from(a.len));
        if done + new_bytes > u64::from(self.limits.max_frame_bytes) {
            return Err(DepacketizeError::FrameTooLarge { codec: self.codec, limit: self.limits.max_frame_bytes });
        }
        self.pieces.truncate(kept);
        self.stats.split_nals += 1;
        for &(s, e) in cuts {
            let first = self.pieces.len();
            let pos = self.side.len();
            self.side.extend_from_slice(&(e - s).to_be_bytes());
            self.pieces.push(Piece::Side { start: pos as u32, len: 4 });
            let (pieces, part) = (&mut self.pieces, [(s, e)]);
            walk(fp, &part, |p| pieces.push(p));
            let Some(&head) = self.pieces.get(first + 1) else { continue };
            let nal_type = self.codec.nal_type(bytes_of(head, &self.side, buf)[0]);
            if is_param_set(self.codec, nal_type) && (e - s) as usize <= MAX_PARAM_SET_BYTES {
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                for p in &self.pieces[first + 1..] {
                    scratch.extend_from_slice(bytes_of(*p, &self.side, buf));
                }
                self.note_param_set(nal_type, &scratch);
                self.scratch = scratch;
            }
            self.note_nal(nal_type, 4 + (e - s));
        }
        Ok(())
    }
}

/// The bytes a piece stands for.
fn bytes_of<'a>(p: Piece, side: &'a [u8], buf: &'a [u8]) -> &'a [u8] {
    match p {
        Piece::Side { start, len } => &side[start as usize..][..len as usize],
        Piece::Recv { start, len } => &buf[start as usize..][..len as usize],
    }
}

/// Calls `piece` with each sub-piece of `fp` (the NAL unit's pieces, in
/// order) the parts (sorted, disjoint NAL offsets) cover, part by part.
/// Linear in parts + pieces.
fn walk(fp: &[Piece], cuts: &[(u32, u32)], mut piece: impl FnMut(Piece)) {
    let (mut i, mut at) = (0usize, 0u32);
    for &(s, e) in cuts {
        let len = |p: &Piece| match *p {
            Piece::Side { len, .. } | Piece::Recv { len, .. } => len,
        };
        while i < fp.len() && at + len(&fp[i]) <= s {
            at += len(&fp[i]);
            i += 1;
        }
        let (mut j, mut jat) = (i, at);
        while j < fp.len() && jat < e {
            let l = len(&fp[j]);
            let (lo, hi) = (s.max(jat), e.min(jat + l));
            if hi > lo {
                let sub = match fp[j] {
                    Piece::Side { start, .. } => Piece::Side { start: start + (lo - jat), len: hi - lo },
                    Piece::Recv { start, .. } => Piece::Recv { start: start + (lo - jat), len: hi - lo },
                };
                piece(sub);
            }
            jat += l;
            j += 1;
        }
    }
}
