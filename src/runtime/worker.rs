//! A worker decides the transactions of the customers it owns, in order,
//! encodes what they produce and passes it to the sinks.

use super::work::Work;
use super::Observer;
use crate::codecs::{Codec, Record as Encodable};
use crate::domain::{Action, DeadLetter, Label, RejectKind};
use crate::engine::{Engine, Outcome};
use crate::sinks::{Delivery, Output, Record, RecordBatch};
use crate::state::{LabelEffect, StateError};
use crate::telemetry::{Counters, Stage, Telemetry, STAGE_SAMPLE_EVERY};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::mpsc;

#[derive(Debug, Error)]
pub enum WorkerError {
    #[error("the {0} sink stopped before the pipeline finished")]
    SinkGone(&'static str),
    #[error("encoding a {output} record failed: {detail}")]
    Encode {
        output: &'static str,
        detail: String,
    },
}

/// One output's channel and codec; `None` when the topology has no sink for it.
#[derive(Clone)]
pub struct OutputPort {
    pub output: Output,
    pub sender: mpsc::Sender<RecordBatch>,
    pub codec: Codec,
    pub delivery: Arc<Delivery>,
}

#[derive(Clone)]
pub struct WorkerOutputs {
    pub decisions: OutputPort,
    pub alerts: Option<OutputPort>,
    pub cases: Option<OutputPort>,
    pub dead_letters: OutputPort,
}

impl WorkerOutputs {
    fn deliveries(&self) -> impl Iterator<Item = &Arc<Delivery>> {
        [
            Some(&self.decisions),
            self.alerts.as_ref(),
            self.cases.as_ref(),
        ]
        .into_iter()
        .flatten()
        .chain([&self.dead_letters])
        .map(|port| &port.delivery)
    }
}

#[derive(Default)]
struct Pending {
    decisions: RecordBatch,
    actions: Vec<Action>,
    alerts: RecordBatch,
    cases: RecordBatch,
    dead_letters: RecordBatch,
}

pub struct Worker {
    pub engine: Arc<Engine>,
    pub outputs: WorkerOutputs,
    pub telemetry: Arc<Telemetry>,
    pub observer: Option<Arc<dyn Observer>>,
}

impl Worker {
    /// Runs until every router has hung up, then returns.
    pub fn run(self, mut input: mpsc::Receiver<Vec<Work>>) -> Result<(), WorkerError> {
        let mut decided = 0u64;
        while let Some(batch) = input.blocking_recv() {
            let mut pending = Pending::default();
            let mut traced = Vec::new();
            for work in batch {
                match work {
                    Work::Transaction {
                        transaction,
                        ingested_at,
                        started,
                        trace: None,
                    } => {
                        decided += 1;
                        if decided % STAGE_SAMPLE_EVERY == 0 {
                            self.decide_timed(&transaction, ingested_at, started, &mut pending)?;
                        } else {
                            let outcome = self.engine.decide(&transaction, ingested_at, started);
                            self.collect(outcome, &mut pending)?;
                        }
                        self.release_due_labels(&mut pending)?;
                    }
                    Work::Transaction {
                        transaction,
                        ingested_at,
                        started,
                        trace: Some(trace),
                    } => {
                        let outcome = trace.stage("decide", || {
                            self.engine.decide(&transaction, ingested_at, started)
                        });
                        let decided = (
                            outcome.decision.action.as_str(),
                            outcome.decision.risk_score,
                        );
                        trace.stage("encode", || self.collect(outcome, &mut pending))?;
                        traced.push((trace, transaction.transaction_id, decided));
                        self.release_due_labels(&mut pending)?;
                    }
                    Work::Label(label) => {
                        if let Some(applied) = self.engine.accept_label(label) {
                            self.count_label(applied, &mut pending)?;
                        }
                    }
                    Work::Barrier(barrier) => {
                        self.send(std::mem::take(&mut pending))?;
                        barrier.arrive(self.outputs.deliveries());
                    }
                }
            }
            self.send(pending)?;
            // A traced transaction ends once its records are in the sinks' queues.
            for (trace, transaction_id, (action, risk_score)) in traced {
                trace.finish(&transaction_id, action, risk_score);
            }
        }
        // The first worker to finish applies the labels still waiting for a
        // report time that no transaction reached: none may be lost.
        let mut pending = Pending::default();
        for released in self.engine.release_all_labels() {
            self.count_label(released, &mut pending)?;
        }
        self.send(pending)
    }

    /// Labels wait for their report time; the watermark a transaction moved may
    /// release some. Checked after every transaction (one atomic load when
    /// none is due), so the order matches the `features` replay exactly.
    fn release_due_labels(&self, pending: &mut Pending) -> Result<(), WorkerError> {
        for released in self.engine.release_due_labels() {
            self.count_label(released, pending)?;
        }
        Ok(())
    }

    /// Decides as usual, timing the decide and encode stages for the metrics.
    fn decide_timed(
        &self,
        transaction: &crate::domain::Transaction,
        ingested_at: crate::domain::Millis,
        started: std::time::Instant,
        pending: &mut Pending,
    ) -> Result<(), WorkerError> {
        let begun = std::time::Instant::now();
        let outcome = self.engine.decide(transaction, ingested_at, started);
        let decided = std::time::Instant::now();
        self.collect(outcome, pending)?;
        let stage = |stage, nanos: std::time::Duration| {
            self.telemetry
                .stage(stage)
                .record_ns(nanos.as_nanos() as u64)
        };
        stage(Stage::Decide, decided - begun);
        stage(Stage::Encode, decided.elapsed());
        Ok(())
    }

    fn collect(&self, outcome: Outcome, pending: &mut Pending) -> Result<(), WorkerError> {
        let key = &outcome.decision.customer_id;
        let decision_port = &self.outputs.decisions;
        pending
            .decisions
            .push(encode(decision_port, key, &outcome.decision)?);
        pending.actions.push(outcome.decision.action);
        self.telemetry
            .decision_latency
            .record_ns(outcome.decision.latency_us.max(0) as u64 * 1_000);
        if outcome.decision.late {
            Counters::incr(&self.telemetry.counters.late_events);
        }
        if let (Some(alert), Some(port)) = (&outcome.alert, &self.outputs.alerts) {
            pending.alerts.push(encode(port, key, alert)?);
        }
        if let (Some(case), Some(port)) = (&outcome.case, &self.outputs.cases) {
            pending.cases.push(encode(port, key, case)?);
        }
        if let Some(observer) = &self.observer {
            observer.on_outcome(&outcome);
        }
        Ok(())
    }

    fn count_label(
        &self,
        (label, result): (Label, Result<LabelEffect, StateError>),
        pending: &mut Pending,
    ) -> Result<(), WorkerError> {
        match result {
            Ok(_) => Counters::incr(&self.telemetry.counters.labels_applied),
            Err(error) => {
                self.telemetry.counters.label_unmatched();
                let payload = serde_json::to_vec(&label).unwrap_or_default();
                let letter = DeadLetter::new(
                    "labels",
                    format!("label for {}", label.transaction_id),
                    RejectKind::Validation,
                    error.to_string(),
                    &payload,
                );
                pending.dead_letters.push(encode(
                    &self.outputs.dead_letters,
                    &letter.source,
                    &letter,
                )?);
            }
        }
        Ok(())
    }

    /// Sends what the batch produced, then counts it: a record is counted
    /// once it is in its sink's queue.
    fn send(&self, pending: Pending) -> Result<(), WorkerError> {
        let Pending {
            decisions,
            actions,
            alerts,
            cases,
            dead_letters,
        } = pending;
        let (alert_count, case_count) = (alerts.len() as u64, cases.len() as u64);
        send_batch(&self.outputs.decisions, decisions)?;
        if let Some(port) = &self.outputs.alerts {
            send_batch(port, alerts)?;
        }
        if let Some(port) = &self.outputs.cases {
            send_batch(port, cases)?;
        }
        send_batch(&self.outputs.dead_letters, dead_letters)?;
        for action in actions {
            self.telemetry.counters.decided(action);
        }
        self.telemetry
            .counters
            .alerts
            .fetch_add(alert_count, Ordering::Relaxed);
        self.telemetry
            .counters
            .cases
            .fetch_add(case_count, Ordering::Relaxed);
        Ok(())
    }
}

fn send_batch(port: &OutputPort, batch: RecordBatch) -> Result<(), WorkerError> {
    if batch.is_empty() {
        return Ok(());
    }
    port.delivery.queue(batch.len());
    port.sender
        .blocking_send(batch)
        .map_err(|_| WorkerError::SinkGone(port.output.key()))
}

fn encode<T: Encodable>(port: &OutputPort, key: &str, value: &T) -> Result<Record, WorkerError> {
    let mut payload = Vec::with_capacity(512);
    port.codec
        .encode(value, &mut payload)
        .map_err(|error| WorkerError::Encode {
            output: port.output.key(),
            detail: error.to_string(),
        })?;
    Ok(Record {
        key: key.to_owned(),
        payload,
    })
}
