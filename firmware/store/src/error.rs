//! Error types of the store: [`StoreError`] for the public API and
//! [`IndexError`] for decoding index files. Every variant names the file or
//! camera and the problem.

use std::path::PathBuf;
use thiserror::Error;

/// Errors of the public store API.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid camera id {0:?}: expected 1 to 64 characters of [A-Za-z0-9_-]")]
    BadCameraId(String),
    #[error(
        "store {root}: locked by another writing process ({holder}); only one process may write \
         or recover a store, readers open it read-only"
    )]
    Locked { root: PathBuf, holder: String },
    #[error("camera {0}: a writer is already open")]
    WriterBusy(String),
    #[error("camera {camera}: bad batch: {reason}")]
    BadBatch { camera: String, reason: &'static str },
    #[error("camera {camera}: audio refused: {source}")]
    BadAudio {
        camera: String,
        #[source]
        source: crate::audio_index::InvalidAudio,
    },
    #[error("volume full: {0}")]
    Full(String),
    #[error("{path}: bad index: {source}")]
    Index {
        path: PathBuf,
        #[source]
        source: IndexError,
    },
    #[error("{path}: index refers to bytes past the end of the sample file")]
    ShortSample { path: PathBuf },
    #[error("segment {0} not found")]
    NoSegment(String),
    #[error("camera {camera}: nothing to export in the requested range")]
    EmptyExport { camera: String },
    #[error("segment {segment}: cannot build an MP4 sample entry: {reason}")]
    SampleEntry { segment: String, reason: String },
    #[error("store opened read-only: cannot {0}")]
    ReadOnly(&'static str),
    #[error("segment {segment}: still being written")]
    SegmentOpen { segment: String },
    #[error("import {uid}: {reason}")]
    BadImport { uid: String, reason: String },
    #[error("import {uid}: invalid segment: {source}")]
    InvalidImport {
        uid: String,
        #[source]
        source: crate::validate::InvalidSegment,
    },
    #[error("import {uid}: invalid audio: {source}")]
    InvalidImportAudio {
        uid: String,
        #[source]
        source: crate::audio_index::InvalidAudio,
    },
    #[error("import {uid}: a different segment with this uid is already stored")]
    ImportConflict { uid: String },
    #[error("export range {start}..{end} outside 0..{total}")]
    BadRange { start: u64, end: u64, total: u64 },
}

impl From<hotspare_base::fs::FsError> for StoreError {
    fn from(e: hotspare_base::fs::FsError) -> Self {
        StoreError::Io { path: e.path, op: e.op, source: e.source }
    }
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        StoreError::Io { path: path.into(), op, source }
    }

    /// True when the underlying cause is "no space left on device".
    pub fn is_no_space(&self) -> bool {
        match self {
            StoreError::Full(_) => true,
            StoreError::Io { source, .. } => hotspare_base::fs::is_nospc(source),
            _ => false,
        }
    }
}

/// Errors decoding an index file (see [`crate::index::parse_index`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IndexError {
    #[error("empty or truncated before the header record")]
    NoHeader,
    #[error("header record fails its CRC")]
    HeaderCrc,
    #[error("header record does not decode: {0}")]
    HeaderDecode(#[source] postcard::Error),
    #[error("unsupported index version {0}")]
    Version(u16),
}
