//! A marker a source sends through every worker: once each worker has passed
//! it on and each output has written as far as the workers had queued, all
//! the source routed before the barrier is decided and written.

use crate::sinks::Delivery;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Barrier {
    workers_left: AtomicUsize,
    marks: Mutex<Vec<(Arc<Delivery>, u64)>>,
}

impl Barrier {
    pub(crate) fn new(workers: usize) -> Arc<Barrier> {
        Arc::new(Barrier {
            workers_left: AtomicUsize::new(workers),
            marks: Mutex::new(Vec::new()),
        })
    }

    /// A worker has sent everything before the barrier to its outputs.
    pub(crate) fn arrive<'a>(&self, outputs: impl Iterator<Item = &'a Arc<Delivery>>) {
        if let Ok(mut marks) = self.marks.lock() {
            marks.extend(outputs.map(|delivery| (delivery.clone(), delivery.queued())));
        }
        self.workers_left.fetch_sub(1, Ordering::SeqCst);
    }

    /// True once everything before the barrier is written; false on timeout.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        // Checkpoints are seconds apart: polling costs nothing worth a condvar.
        let pause = Duration::from_millis(2);
        while self.workers_left.load(Ordering::SeqCst) > 0 {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(pause);
        }
        let marks = match self.marks.lock() {
            Ok(marks) => marks.clone(),
            Err(_) => return false,
        };
        for (delivery, mark) in marks {
            while delivery.written() < mark {
                if Instant::now() > deadline {
                    return false;
                }
                std::thread::sleep(pause);
            }
        }
        true
    }
}
