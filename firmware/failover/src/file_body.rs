//! An HTTP request body streamed from a byte range of files read one after
//! the other (a segment's index then sample file), in pieces of
//! [`PIECE`] bytes with at most [`QUEUED`] pieces in flight: the memory of an
//! upload does not depend on the size of the segment.

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Bytes read per piece.
pub const PIECE: usize = 256 << 10;
/// Pieces read ahead of the network.
pub const QUEUED: usize = 4;

/// Body of bytes `first..first + len` of the concatenation of some files.
pub struct FileRangeBody {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    left: u64,
}

/// Reads `len` bytes from `first` of `files` (concatenated) on a blocking thread.
pub fn file_range_body(files: Vec<PathBuf>, first: u64, len: u64) -> FileRangeBody {
    let (tx, rx) = mpsc::channel(QUEUED);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = send_range(&files, first, len, &tx) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    FileRangeBody { rx, left: len }
}

fn send_range(
    files: &[PathBuf],
    mut skip: u64,
    mut left: u64,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
) -> std::io::Result<()> {
    for path in files {
        if left == 0 {
            break;
        }
        let mut f =
            std::fs::File::open(path).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let size = f.metadata()?.len();
        if skip >= size {
            skip -= size;
            continue;
        }
        f.seek(SeekFrom::Start(skip))?;
        skip = 0;
        let mut f = f.take(left);
        loop {
            let mut buf = vec![0u8; PIECE];
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            left -= n as u64;
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                return Ok(()); // the request was dropped
            }
        }
    }
    if left > 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("files end {left} bytes early")));
    }
    Ok(())
}

impl http_body::Body for FileRangeBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.left = self.left.saturating_sub(b.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(b))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}
