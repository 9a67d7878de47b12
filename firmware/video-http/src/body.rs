//! Streaming response bodies with bounded memory and no thread parked per
//! request: [`PlanStream`] reads an MP4 plan one [`CHUNK`] at a time, each
//! read a short blocking task started only when the connection asks for the
//! next chunk (a client that stops reading costs one chunk, not a thread);
//! [`ChunkStream`] drains a bounded channel fed by an async task (proxied
//! video).

use axum::body::Bytes;
use hotspare_store::Mp4Plan;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::task::JoinHandle;

/// Chunks of this size are handed to the HTTP connection.
pub const CHUNK: usize = 256 << 10;

pub type Chunk = Result<Bytes, std::io::Error>;

/// The receiving end as a `Stream` for `axum::body::Body::from_stream`.
pub struct ChunkStream(pub mpsc::Receiver<Chunk>);

impl futures_core::Stream for ChunkStream {
    type Item = Chunk;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Chunk>> {
        self.0.poll_recv(cx)
    }
}

/// Bytes `pos..end` of an MP4 plan as a stream of [`CHUNK`]-sized reads. Holds its video slot
/// (a permit of the concurrent-download cap) until it ends or the connection drops it.
pub struct PlanStream {
    plan: Arc<Mp4Plan>,
    pos: u64,
    end: u64,
    reading: Option<JoinHandle<Result<Vec<u8>, hotspare_store::StoreError>>>,
    label: String,
    _slot: Option<OwnedSemaphorePermit>,
}

impl PlanStream {
    pub fn new(plan: Mp4Plan, start: u64, end: u64, label: String, slot: Option<OwnedSemaphorePermit>) -> Self {
        PlanStream { plan: Arc::new(plan), pos: start, end, reading: None, label, _slot: slot }
    }
}

impl futures_core::Stream for PlanStream {
    type Item = Chunk;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Chunk>> {
        let this = &mut *self;
        if this.reading.is_none() {
            if this.pos >= this.end {
                return Poll::Ready(None);
            }
            let (a, b) = (this.pos, this.end.min(this.pos + CHUNK as u64));
            let plan = this.plan.clone();
            this.reading = Some(tokio::task::spawn_blocking(move || {
                let mut out = Vec::with_capacity((b - a) as usize);
                plan.write_range(a, b, &mut out).map(|()| out)
            }));
        }
        let Some(task) = this.reading.as_mut() else { return Poll::Ready(None) };
        let done = match Pin::new(task).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        this.reading = None;
        let e = match done {
            Ok(Ok(bytes)) => {
                this.pos += bytes.len() as u64;
                return Poll::Ready(Some(Ok(Bytes::from(bytes))));
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => format!("read task: {e}"),
        };
        log::error!("mp4 of {}: {e}", this.label);
        // Ends the body short: the connection is aborted, not ended cleanly.
        this.pos = this.end;
        Poll::Ready(Some(Err(std::io::Error::other(e))))
    }
}
