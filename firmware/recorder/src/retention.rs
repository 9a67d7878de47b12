//! The periodic retention pass beside a recording: deletes old segments to
//! keep the volume under its high-water mark and logs when recycling starts
//! or stops failing.

use std::sync::Arc;
use std::time::Duration;

use hotspare_store::{RecycleState, Store};
use tokio::task::JoinHandle;

/// Runs `Store::recycle` every `every` (on a blocking thread) until aborted.
pub fn spawn_retention(store: Arc<Store>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = RecycleState::Ok;
        loop {
            let s = tokio::task::spawn_blocking({
                let store = store.clone();
                move || store.recycle()
            })
            .await
            .unwrap_or(RecycleState::Ok);
            if s != last {
                match &s {
                    RecycleState::Ok => log::info!("recycling ok again"),
                    RecycleState::Failing { reason } => log::error!("recycle failure: {reason}"),
                }
                last = s;
            }
            tokio::time::sleep(every).await;
        }
    })
}
