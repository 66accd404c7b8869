//! A submission is a transaction like any other: the console is one more
//! input of the pipeline. What it decides is written to the topology's
//! outputs (decision, alert, case), a refused submission to its dead
//! letters, and both are counted under the source `console`, so that
//! downstream consumers and the run's books see every decision.

use crate::domain::{DeadLetter, Label};
use crate::engine::Outcome;
use crate::runtime::{Pending, WorkerError, WorkerOutputs};
use crate::telemetry::{Counters, Telemetry};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// The source name submissions are counted under.
pub const SOURCE: &str = "console";

/// The pipeline's outputs while it accepts input.
#[derive(Default)]
pub struct Outputs {
    open: Mutex<Option<Port>>,
    /// Set once attached: no port before it means "starting", after it "draining".
    opened: std::sync::atomic::AtomicBool,
}

/// A submission's way out. Holding one keeps the sinks open: a pipeline
/// that drains waits for submissions already taken in.
#[derive(Clone)]
pub struct Port {
    outputs: WorkerOutputs,
    telemetry: Arc<Telemetry>,
    read: Arc<AtomicU64>,
}

impl Outputs {
    pub fn attach(&self, outputs: WorkerOutputs, telemetry: Arc<Telemetry>) {
        let read = telemetry.counters.source_counter(SOURCE);
        *self.lock() = Some(Port {
            outputs,
            telemetry,
            read,
        });
        self.opened
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether the pipeline has attached its outputs yet.
    pub fn has_opened(&self) -> bool {
        self.opened.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The pipeline drains: no new submission is taken, and the sinks close
    /// once the ones taken in are written.
    pub fn detach(&self) {
        self.lock().take();
    }

    /// Takes a submission in (counted as read), unless the pipeline drains.
    pub fn take_in(&self) -> Option<Port> {
        let port = self.port()?;
        Counters::incr(&port.telemetry.counters.transactions_in);
        Counters::incr(&port.read);
        Some(port)
    }

    /// The way out while the pipeline runs.
    pub fn port(&self) -> Option<Port> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Port>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Port {
    /// Writes a decision with its alert and case.
    pub async fn decided(self, outcome: Outcome) -> Result<(), WorkerError> {
        crate::runtime::record_outcome(&self.telemetry, &outcome);
        self.write(move |outputs, pending| pending.add_outcome(outputs, &outcome))
            .await
    }

    /// Writes a refused submission to the dead letters.
    pub async fn refused(self, letter: DeadLetter) -> Result<(), WorkerError> {
        self.telemetry.counters.dead_lettered(letter.kind);
        self.write(move |outputs, pending| pending.add_dead_letter(outputs, &letter))
            .await
    }

    /// Writes an analyst's verdict to the labels output, if there is one.
    pub async fn verdict(self, label: Label) -> Result<(), WorkerError> {
        self.write(move |outputs, pending| pending.add_label(outputs, &label))
            .await
    }

    async fn write(
        self,
        collect: impl FnOnce(&WorkerOutputs, &mut Pending) -> Result<(), WorkerError> + Send + 'static,
    ) -> Result<(), WorkerError> {
        // A full sink queue blocks the sender: keep that off the async threads.
        tokio::task::spawn_blocking(move || {
            let mut pending = Pending::default();
            collect(&self.outputs, &mut pending)?;
            pending.send(&self.outputs, &self.telemetry)
        })
        .await
        .unwrap_or(Err(WorkerError::SinkGone("console")))
    }
}
