//! How far an output got: records handed to its sink, and records the sink
//! has written. A source that must not acknowledge its input before the
//! outputs are durable (a Kinesis checkpoint) waits on these.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Delivery {
    queued: AtomicU64,
    written: AtomicU64,
}

impl Delivery {
    /// Counted before the batch enters the sink's channel, so `queued` read
    /// after a send covers every record sent before it.
    pub fn queue(&self, records: usize) {
        self.queued.fetch_add(records as u64, Ordering::SeqCst);
    }

    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::SeqCst)
    }

    pub fn wrote(&self, records: usize) {
        self.written.fetch_add(records as u64, Ordering::SeqCst);
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }
}
