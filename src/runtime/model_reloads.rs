//! When the running model is reloaded: on SIGHUP, when its files change on
//! disk (`model.watch`), or on `POST /admin/model/reload`. Each reload loads,
//! checks and warms the new model off the hot path, then swaps it in.

use crate::model::{reload_off_hot_path, ModelSlot};
use std::sync::Arc;
use tokio::sync::watch;

pub fn start(
    slot: Arc<ModelSlot>,
    handle_signals: bool,
    mut stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut hangups = hangup_signals(handle_signals);
        let watch_every = slot
            .config()
            .watch
            .then(|| slot.config().watch_interval.as_std());
        loop {
            let poll = async {
                match watch_every {
                    Some(every) => tokio::time::sleep(every).await,
                    None => std::future::pending().await,
                }
            };
            let hangup = async {
                match hangups.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stopped.changed() => return,
                _ = hangup => {
                    tracing::info!("SIGHUP: reloading the model");
                    let _ = reload_off_hot_path(slot.clone()).await;
                }
                _ = poll => {
                    if slot.changed_on_disk() {
                        tracing::info!("model files changed: reloading");
                        let _ = reload_off_hot_path(slot.clone()).await;
                    }
                }
            }
        }
    })
}

#[cfg(unix)]
fn hangup_signals(enabled: bool) -> Option<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{signal, SignalKind};
    if !enabled {
        return None;
    }
    signal(SignalKind::hangup())
        .inspect_err(|error| tracing::warn!(%error, "cannot listen for SIGHUP"))
        .ok()
}

#[cfg(not(unix))]
fn hangup_signals(_enabled: bool) -> Option<()> {
    None
}
