//! Keeps this replica's leases alive from a thread of its own, as KCL's
//! lease renewer does. The coordinator thread also waits at checkpoint
//! barriers, writes snapshots and routes into full queues; if renewals
//! waited behind that, a slow but live replica would look dead, another
//! would take its shards, and both would decide the same records.

use super::leases::{LeaseConfig, LeaseTable};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Shard id → the lease counter this replica last wrote.
type Held = Arc<Mutex<BTreeMap<String, u64>>>;

pub struct Renewer {
    held: Held,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Renewer {
    /// Renews every held lease a third of a lease's duration apart, on a
    /// new thread with a runtime and a DynamoDB client of its own (a client
    /// shared with the coordinator's runtime would wait for that thread).
    pub fn start(config: &LeaseConfig) -> std::io::Result<Renewer> {
        let held = Held::default();
        let stop = Arc::new(AtomicBool::new(false));
        let rt = crate::aws::source_runtime()?;
        let table = rt.block_on(LeaseTable::open(config));
        let every = config.lease_duration.as_std() / 3;
        let thread = std::thread::Builder::new()
            .name("lease-renewer".into())
            .spawn({
                let (held, stop) = (held.clone(), stop.clone());
                move || renew_until_stopped(&rt, &table, &held, &stop, every)
            })?;
        Ok(Renewer {
            held,
            stop,
            thread: Some(thread),
        })
    }

    /// Starts renewing `shard`, whose counter this replica just wrote or read.
    pub fn hold(&self, shard: &str, counter: u64) {
        lock(&self.held).insert(shard.to_owned(), counter);
    }

    /// The counter of a lease still held: None once a renewal found it taken.
    pub fn counter(&self, shard: &str) -> Option<u64> {
        lock(&self.held).get(shard).copied()
    }

    /// Stops renewing `shard` (lost, finished or released).
    pub fn forget(&self, shard: &str) {
        lock(&self.held).remove(shard);
    }

    /// Ends the thread after its current renewal.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Renewer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A poisoned lock only means a renewal panicked; the map is still whole.
fn lock(held: &Held) -> MutexGuard<'_, BTreeMap<String, u64>> {
    held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn renew_until_stopped(
    rt: &tokio::runtime::Runtime,
    table: &LeaseTable,
    held: &Held,
    stop: &AtomicBool,
    every: Duration,
) {
    while !stop.load(Ordering::Relaxed) {
        let due = Instant::now() + every;
        let leases: Vec<(String, u64)> = lock(held)
            .iter()
            .map(|(shard, counter)| (shard.clone(), *counter))
            .collect();
        for (shard, counter) in leases {
            let renewed = rt.block_on(table.renew(&shard, counter));
            let mut held = lock(held);
            // The coordinator may have forgotten or re-taken it meanwhile.
            if held.get(&shard) != Some(&counter) {
                continue;
            }
            match renewed {
                Ok(true) => {
                    held.insert(shard, counter + 1);
                }
                Ok(false) => {
                    tracing::warn!(%shard, "lease taken by another replica while held");
                    held.remove(&shard);
                }
                Err(error) => tracing::warn!(%shard, %error, "lease not renewed; retrying"),
            }
        }
        while !stop.load(Ordering::Relaxed) && Instant::now() < due {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
