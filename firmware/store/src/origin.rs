//! Where a segment came from: recorded here ([`Origin::Local`]) or imported
//! from a failover spare ([`Origin::Imported`]). Local segments have no
//! sidecar; an imported one has `<stem>.origin` next to its sample and index
//! files: a CRC-framed postcard record (the index record framing) of
//! [`OriginRecord`], written and fsynced before the segment's files are
//! renamed into place.

use crate::error::StoreError;
use crate::index::{encode_record, RECORD_HEADER_LEN};
use crate::segment::SegmentId;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// File extension of the origin sidecar.
pub const ORIGIN_EXT: &str = "origin";

/// Provenance of a segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Origin {
    /// Recorded by this store's own writer.
    Local,
    /// Re-inserted from a failover spare; `uid` is the spare's stable id of the segment.
    Imported { uid: String },
}

/// Content of a `.origin` sidecar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginRecord {
    pub origin: Origin,
    /// SHA-256 (lower-case hex) of the imported index bytes followed by the sample bytes.
    pub sha256: String,
}

impl SegmentId {
    pub fn origin_path(&self, camera_dir: &Path) -> PathBuf {
        camera_dir.join(format!("{self}.{ORIGIN_EXT}"))
    }
}

/// Reads the sidecar of `id`: `Ok(None)` when there is none (a local segment) or it is damaged
/// (logged; the segment is then treated as local).
pub(crate) fn read_origin(dir: &Path, id: SegmentId) -> Result<Option<OriginRecord>, StoreError> {
    let path = id.origin_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(&path, "read origin", e)),
    };
    match decode(&bytes) {
        Some(r) => Ok(Some(r)),
        None => {
            log::error!("{}: damaged origin sidecar ignored", path.display());
            Ok(None)
        }
    }
}

fn decode(bytes: &[u8]) -> Option<OriginRecord> {
    let len = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
    let payload = bytes.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN.checked_add(len)?)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    postcard::from_bytes(payload).ok()
}

/// Creates the sidecar of `id` exclusively (`O_EXCL`: this also claims the segment name) and
/// fsyncs it. `Ok(false)` when the name is taken.
pub(crate) fn create_origin(dir: &Path, id: SegmentId, rec: &OriginRecord) -> Result<bool, StoreError> {
    let path = id.origin_path(dir);
    let mut buf = Vec::new();
    encode_record(rec, &mut buf).map_err(|e| StoreError::io(&path, "encode origin", std::io::Error::other(e)))?;
    let mut f = match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(StoreError::io(&path, "create origin", e)),
    };
    let r = f.write_all(&buf).and_then(|_| f.sync_all());
    if let Err(e) = r {
        drop(f);
        let _ = std::fs::remove_file(&path);
        return Err(StoreError::io(&path, "write origin", e));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let id = SegmentId { start_wall_us: 1_700_000_000_000_000, seq: 2 };
        let rec = OriginRecord { origin: Origin::Imported { uid: "spare1/cam0/42".into() }, sha256: "ab".repeat(32) };
        assert_eq!(read_origin(dir.path(), id).unwrap(), None);
        assert!(create_origin(dir.path(), id, &rec).unwrap());
        assert!(!create_origin(dir.path(), id, &rec).unwrap());
        assert_eq!(read_origin(dir.path(), id).unwrap(), Some(rec));
        let p = id.origin_path(dir.path());
        let mut b = std::fs::read(&p).unwrap();
        let n = b.len();
        b[n - 1] ^= 1;
        std::fs::write(&p, b).unwrap();
        assert_eq!(read_origin(dir.path(), id).unwrap(), None);
    }
}
