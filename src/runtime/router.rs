//! Sends each source's records to the worker that owns their customer.
//!
//! One customer always hashes to the same worker and each worker decides in
//! arrival order, so per-customer order holds end to end. Records travel in
//! batches to amortise channel costs; a full channel blocks the source
//! (backpressure all the way to the reader).

use super::work::Work;
use crate::codecs::Codec;
use crate::domain::{DeadLetter, Label, Millis, RejectKind, Transaction};
use crate::sinks::{Record, RecordBatch};
use crate::state::keys;
use crate::telemetry::{Counters, Sampler, Stage, Telemetry, STAGE_SAMPLE_EVERY};
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;
use tokio::sync::mpsc;

#[derive(Debug, Error)]
#[error("the pipeline has shut down")]
pub struct Closed;

/// The dead-letter output as a source sees it.
#[derive(Clone)]
pub struct DeadLetterOutput {
    pub sender: mpsc::Sender<RecordBatch>,
    pub codec: Codec,
    pub delivery: Arc<crate::sinks::Delivery>,
}

impl DeadLetterOutput {
    pub fn encode(&self, letter: &DeadLetter) -> Record {
        let mut payload = Vec::with_capacity(256);
        if let Err(error) = self.codec.encode(letter, &mut payload) {
            // A dead letter that cannot be encoded still must not vanish.
            tracing::error!(%error, "dead letter encoding failed; writing it as JSON");
            payload = serde_json::to_vec(letter).unwrap_or_default();
        }
        Record {
            key: letter.source.clone(),
            payload,
        }
    }
}

pub struct Router {
    source: String,
    workers: Vec<mpsc::Sender<Vec<Work>>>,
    pending: Vec<Vec<Work>>,
    batch_size: usize,
    dead_letters: DeadLetterOutput,
    pending_dead: RecordBatch,
    counters: Arc<Counters>,
    read_here: Arc<std::sync::atomic::AtomicU64>,
    telemetry: Arc<Telemetry>,
    sampler: Option<Sampler>,
}

impl Router {
    pub fn new(
        source: &str,
        workers: Vec<mpsc::Sender<Vec<Work>>>,
        batch_size: usize,
        dead_letters: DeadLetterOutput,
        telemetry: Arc<Telemetry>,
    ) -> Router {
        let counters = telemetry.counters.clone();
        Router {
            source: source.to_owned(),
            pending: workers
                .iter()
                .map(|_| Vec::with_capacity(batch_size))
                .collect(),
            workers,
            batch_size: batch_size.max(1),
            dead_letters,
            pending_dead: Vec::new(),
            read_here: counters.source_counter(source),
            counters,
            telemetry,
            sampler: None,
        }
    }

    /// Traces a sample of this source's transactions.
    pub fn with_sampler(mut self, sampler: Option<Sampler>) -> Router {
        self.sampler = sampler;
        self
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    pub fn transaction(
        &mut self,
        transaction: Transaction,
        ingested_at: Millis,
        started: Instant,
    ) -> Result<(), Closed> {
        Counters::incr(&self.counters.transactions_in);
        let read = self
            .read_here
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if read.is_multiple_of(STAGE_SAMPLE_EVERY) {
            // `started` was taken before decoding: this is the decode stage.
            self.telemetry
                .stage(Stage::Decode)
                .record_ns(started.elapsed().as_nanos() as u64);
        }
        let worker = self.worker_for(&transaction.customer_id);
        let trace = self
            .sampler
            .as_ref()
            .and_then(|sampler| sampler.begin(&self.source, started));
        self.route(
            worker,
            Work::Transaction {
                transaction,
                ingested_at,
                started,
                trace,
            },
        )
    }

    pub fn label(&mut self, label: Label) -> Result<(), Closed> {
        Counters::incr(&self.counters.labels_in);
        let owner = label
            .customer_id
            .as_deref()
            .unwrap_or(&label.transaction_id);
        let worker = self.worker_for(owner);
        self.route(worker, Work::Label(label))
    }

    /// A record that could not be decoded or validated: counted as read, then dead-lettered.
    pub fn reject(
        &mut self,
        carries_labels: bool,
        position: String,
        kind: RejectKind,
        reason: String,
        payload: &[u8],
    ) -> Result<(), Closed> {
        let letter = DeadLetter::new(&self.source, position, kind, reason, payload);
        self.dead_letter(carries_labels, letter)
    }

    /// A record too large to read whole: `kept` is its head, `length` its full size.
    pub fn reject_oversize(
        &mut self,
        carries_labels: bool,
        position: String,
        length: usize,
        limit: usize,
        kept: &[u8],
    ) -> Result<(), Closed> {
        let reason = format!("record of {length} bytes exceeds the {limit}-byte limit");
        let mut letter =
            DeadLetter::new(&self.source, position, RejectKind::Oversize, reason, kept);
        letter.payload_len = length as i64;
        self.dead_letter(carries_labels, letter)
    }

    fn dead_letter(&mut self, carries_labels: bool, letter: DeadLetter) -> Result<(), Closed> {
        if carries_labels {
            Counters::incr(&self.counters.labels_in);
        } else {
            Counters::incr(&self.counters.transactions_in);
            Counters::incr(&self.read_here);
        }
        self.counters.dead_lettered(letter.kind);
        self.pending_dead.push(self.dead_letters.encode(&letter));
        if self.pending_dead.len() >= self.batch_size {
            self.flush_dead_letters()?;
        }
        Ok(())
    }

    fn worker_for(&self, customer_id: &str) -> usize {
        (keys::key(customer_id) % self.workers.len() as u64) as usize
    }

    fn route(&mut self, worker: usize, work: Work) -> Result<(), Closed> {
        self.pending[worker].push(work);
        if self.pending[worker].len() >= self.batch_size {
            self.flush_worker(worker)?;
        }
        Ok(())
    }

    fn flush_worker(&mut self, worker: usize) -> Result<(), Closed> {
        let batch = std::mem::replace(
            &mut self.pending[worker],
            Vec::with_capacity(self.batch_size),
        );
        if batch.is_empty() {
            return Ok(());
        }
        self.workers[worker]
            .blocking_send(batch)
            .map_err(|_| Closed)
    }

    fn flush_dead_letters(&mut self) -> Result<(), Closed> {
        if self.pending_dead.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending_dead);
        self.dead_letters.delivery.queue(batch.len());
        self.dead_letters
            .sender
            .blocking_send(batch)
            .map_err(|_| Closed)
    }

    /// Flushes, then passes a barrier through every worker: wait on it to
    /// know that all routed so far is decided and written.
    pub fn barrier(&mut self) -> Result<Arc<super::Barrier>, Closed> {
        self.flush()?;
        let barrier = super::Barrier::new(self.workers.len());
        for worker in &self.workers {
            worker
                .blocking_send(vec![Work::Barrier(barrier.clone())])
                .map_err(|_| Closed)?;
        }
        Ok(barrier)
    }

    /// Sends every partial batch: call when the input is idle or ends.
    pub fn flush(&mut self) -> Result<(), Closed> {
        for worker in 0..self.workers.len() {
            self.flush_worker(worker)?;
        }
        self.flush_dead_letters()
    }
}
