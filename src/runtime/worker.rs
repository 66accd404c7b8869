//! A worker decides the transactions of the customers it owns, in order,
//! encodes what they produce and passes it to the sinks.

use super::work::Work;
use super::{Barrier, Observer};
use crate::codecs::{Codec, Record as Encodable};
use crate::domain::{Action, DeadLetter, Label, Millis, RejectKind, Transaction};
use crate::engine::{Assessment, Engine, Outcome};
use crate::sinks::{Delivery, Output, Record, RecordBatch};
use crate::state::{keys, LabelEffect, StateError};
use crate::telemetry::{Counters, Stage, Telemetry, TransactionTrace, STAGE_SAMPLE_EVERY};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
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
    /// Analysts' verdicts: only the console writes here.
    pub labels: Option<OutputPort>,
}

impl WorkerOutputs {
    pub(super) fn deliveries(&self) -> impl Iterator<Item = &Arc<Delivery>> {
        [
            Some(&self.decisions),
            self.alerts.as_ref(),
            self.cases.as_ref(),
            self.labels.as_ref(),
        ]
        .into_iter()
        .flatten()
        .chain([&self.dead_letters])
        .map(|port| &port.delivery)
    }
}

#[derive(Default)]
pub struct Pending {
    decisions: RecordBatch,
    actions: Vec<Action>,
    alerts: RecordBatch,
    cases: RecordBatch,
    dead_letters: RecordBatch,
    labels: RecordBatch,
}

pub struct Worker {
    pub engine: Arc<Engine>,
    pub outputs: WorkerOutputs,
    pub telemetry: Arc<Telemetry>,
    pub observer: Option<Arc<dyn Observer>>,
    /// Escalate risky decisions to the LLM agent (the topology's `agent:`).
    pub agent: Option<super::AgentLink>,
}

/// Where a batch's outcomes go once decided: straight to the sinks
/// ([`Sinks`]), or first to the agent (`escalating`).
pub(super) trait Outlet {
    /// One outcome, in input order. `scoring` spans the model call that
    /// scored it, when there was one.
    fn outcome(
        &mut self,
        transaction: &Transaction,
        outcome: Outcome,
        trace: Option<TransactionTrace>,
        scoring: Option<(SystemTime, SystemTime)>,
        pending: &mut Pending,
    ) -> Result<(), WorkerError>;

    /// A checkpoint barrier, once everything read before it has been decided.
    fn barrier(&mut self, barrier: &Arc<Barrier>, pending: &mut Pending)
        -> Result<(), WorkerError>;
}

/// The outlet of a worker without an agent.
struct Sinks<'w>(&'w Worker);

impl Outlet for Sinks<'_> {
    fn outcome(
        &mut self,
        _: &Transaction,
        outcome: Outcome,
        trace: Option<TransactionTrace>,
        scoring: Option<(SystemTime, SystemTime)>,
        pending: &mut Pending,
    ) -> Result<(), WorkerError> {
        self.0.emit(&outcome, trace, scoring, pending)
    }

    fn barrier(
        &mut self,
        barrier: &Arc<Barrier>,
        pending: &mut Pending,
    ) -> Result<(), WorkerError> {
        // A barrier promises that everything read before it is written.
        self.0.send(std::mem::take(pending))?;
        barrier.arrive(self.0.outputs.deliveries());
        Ok(())
    }
}

/// Transactions of distinct customers, assessed and waiting to be scored
/// together: a customer's next transaction closes the round, because it must
/// see what this one taught the profile. One round serves a whole batch.
/// Without a model nothing is gained by waiting: each transaction is
/// concluded as soon as it is assessed, and rounds stay empty.
struct Round<'a> {
    assessments: Vec<Assessment<'a>>,
    transactions: Vec<(&'a Transaction, Option<TransactionTrace>)>,
    customers: HashSet<u64>,
    assess_time: Duration,
    /// Transactions of the round that the stage metrics sample.
    sampled: u64,
}

impl Round<'_> {
    fn with_capacity(capacity: usize) -> Self {
        Round {
            assessments: Vec::with_capacity(capacity),
            transactions: Vec::with_capacity(capacity),
            customers: HashSet::with_capacity(capacity),
            assess_time: Duration::ZERO,
            sampled: 0,
        }
    }
}

impl Worker {
    /// Runs until every router has hung up, then returns.
    pub fn run(self, mut input: mpsc::Receiver<Vec<Work>>) -> Result<(), WorkerError> {
        if let Some(link) = self.agent.clone() {
            return self.run_escalating(input, link);
        }
        let mut decided = 0u64;
        while let Some(mut batch) = input.blocking_recv() {
            let mut pending = Pending::default();
            self.decide_batch(&mut batch, &mut decided, &mut Sinks(&self), &mut pending)?;
            self.send(pending)?;
        }
        self.release_remaining_labels()
    }

    /// Decides a batch in order and hands each outcome to `outlet`; labels
    /// are applied between the transactions around them. `decided` counts
    /// the worker's decisions, for the stage metrics' sample.
    pub(super) fn decide_batch(
        &self,
        batch: &mut [Work],
        decided: &mut u64,
        outlet: &mut impl Outlet,
        pending: &mut Pending,
    ) -> Result<(), WorkerError> {
        let scored = self.engine.model().is_some();
        let traces: Vec<Option<TransactionTrace>> = batch.iter_mut().map(take_trace).collect();
        let mut round = Round::with_capacity(if scored { batch.len() } else { 0 });
        for (work, trace) in batch.iter().zip(traces) {
            match work {
                Work::Transaction {
                    transaction,
                    ingested_at,
                    started,
                    ..
                } => {
                    // A replay decides now: what the round holds goes first.
                    let before = |pending: &mut Pending| self.conclude(&mut round, outlet, pending);
                    if self.decided_before(
                        transaction,
                        (*ingested_at, *started),
                        pending,
                        before,
                    )? {
                        continue;
                    }
                    let customer = scored.then(|| keys::key(&transaction.customer_id));
                    if customer.is_some_and(|customer| round.customers.contains(&customer)) {
                        self.conclude(&mut round, outlet, pending)?;
                    }
                    *decided += 1;
                    let sampled = decided.is_multiple_of(STAGE_SAMPLE_EVERY);
                    let begun = Instant::now();
                    let assess = || self.engine.assess(transaction, *ingested_at, *started);
                    let assessment = match &trace {
                        Some(trace) => trace.stage("decide", assess),
                        None => assess(),
                    };
                    let assessed = begun.elapsed();
                    match customer {
                        None => {
                            let sampled = sampled.then_some(assessed);
                            // As in a round, encoding counts from the end of assessing.
                            let concluding = sampled.map(|_| Instant::now());
                            let outcome = self.engine.conclude(assessment, None);
                            outlet.outcome(transaction, outcome, trace, None, pending)?;
                            if let (Some(assessed), Some(concluding)) = (sampled, concluding) {
                                let stages = [
                                    (Stage::Decide, assessed),
                                    (Stage::Encode, concluding.elapsed()),
                                ];
                                self.record_stages(&stages, 1, 1);
                            }
                        }
                        Some(customer) => {
                            round.sampled += sampled as u64;
                            round.assess_time += assessed;
                            round.customers.insert(customer);
                            round.assessments.push(assessment);
                            round.transactions.push((transaction, trace));
                        }
                    }
                    self.release_due_labels(pending)?;
                }
                Work::Label(label) => {
                    // A label lands between the transactions around it.
                    self.conclude(&mut round, outlet, pending)?;
                    self.apply_label(label.clone(), pending)?;
                }
                Work::Barrier(barrier) => {
                    self.conclude(&mut round, outlet, pending)?;
                    outlet.barrier(barrier, pending)?;
                }
            }
        }
        self.conclude(&mut round, outlet, pending)
    }

    /// The first worker to finish applies the labels still waiting for a
    /// report time that no transaction reached: none may be lost.
    pub(super) fn release_remaining_labels(&self) -> Result<(), WorkerError> {
        let mut pending = Pending::default();
        for released in self.engine.release_all_labels() {
            self.count_label(released, &mut pending)?;
        }
        self.send(pending)
    }

    /// Scores the round in one model call, then hands each outcome to the
    /// outlet in order; the round is left empty for the next.
    fn conclude(
        &self,
        round: &mut Round,
        outlet: &mut impl Outlet,
        pending: &mut Pending,
    ) -> Result<(), WorkerError> {
        let count = round.assessments.len();
        if count == 0 {
            return Ok(());
        }
        let began = (SystemTime::now(), Instant::now());
        let outcomes = self.engine.conclude_all(round.assessments.drain(..));
        let scored = (SystemTime::now(), Instant::now());
        for (outcome, (transaction, trace)) in outcomes.zip(round.transactions.drain(..)) {
            let scoring = Some((began.0, scored.0));
            outlet.outcome(transaction, outcome, trace, scoring, pending)?;
        }
        // Stages are timed per round; each sampled transaction of the round
        // counts once, with the round's time per transaction.
        if round.sampled > 0 {
            let stages = [
                (Stage::Decide, round.assess_time),
                (Stage::Score, scored.1 - began.1),
                (Stage::Encode, scored.1.elapsed()),
            ];
            self.record_stages(&stages, count, round.sampled);
        }
        round.customers.clear();
        round.assess_time = Duration::ZERO;
        round.sampled = 0;
        Ok(())
    }

    /// Passes an outcome's records to the sinks; a traced transaction ends
    /// there, with the model call's span (`scoring`) when there was one.
    fn emit(
        &self,
        outcome: &Outcome,
        trace: Option<TransactionTrace>,
        scoring: Option<(SystemTime, SystemTime)>,
        pending: &mut Pending,
    ) -> Result<(), WorkerError> {
        let Some(trace) = trace else {
            return self.collect(outcome, pending);
        };
        if let Some((began, scored)) = scoring {
            trace.record("score", began, scored);
        }
        trace.stage("encode", || self.collect(outcome, pending))?;
        // A traced transaction ends once its records are in the sinks' queues.
        let decision = &outcome.decision;
        trace.finish(
            &decision.transaction_id,
            decision.action.as_str(),
            decision.risk_score,
        );
        Ok(())
    }

    /// Records stage times spent on `count` transactions, as the time per
    /// transaction, once for each of the `sampled` ones.
    fn record_stages(&self, stages: &[(Stage, Duration)], count: usize, sampled: u64) {
        for &(stage, elapsed) in stages {
            let per_transaction = elapsed.as_nanos() as u64 / count as u64;
            self.telemetry
                .stage(stage)
                .record_ns_times(per_transaction, sampled);
        }
    }

    /// True if `transaction` was decided before, and is dead-lettered as a
    /// duplicate: by another replica (read back at a takeover; folded into
    /// state here, after `before_replay`) or by this engine (skipped).
    pub(super) fn decided_before(
        &self,
        transaction: &Transaction,
        (ingested_at, started): (Millis, Instant),
        pending: &mut Pending,
        before_replay: impl FnOnce(&mut Pending) -> Result<(), WorkerError>,
    ) -> Result<bool, WorkerError> {
        let reason = if self.engine.decided_elsewhere(transaction) {
            before_replay(pending)?;
            self.engine.replay(transaction, ingested_at, started)
        } else {
            match self.engine.already_decided(transaction) {
                Some(reason) => reason,
                None => return Ok(false),
            }
        };
        let payload = serde_json::to_vec(transaction).unwrap_or_default();
        let position = format!("customer {}", transaction.customer_id);
        let letter = DeadLetter::new("engine", position, RejectKind::Duplicate, reason, &payload);
        self.telemetry.counters.dead_lettered(RejectKind::Duplicate);
        pending.add_dead_letter(&self.outputs, &letter)?;
        Ok(true)
    }

    pub(super) fn apply_label(
        &self,
        label: Label,
        pending: &mut Pending,
    ) -> Result<(), WorkerError> {
        if let Some(applied) = self.engine.accept_label(label) {
            self.count_label(applied, pending)?;
        }
        Ok(())
    }

    /// Labels wait for their report time; the watermark a transaction moved may
    /// release some. Checked after every transaction (one atomic load when
    /// none is due), so the order matches the `features` replay exactly.
    pub(super) fn release_due_labels(&self, pending: &mut Pending) -> Result<(), WorkerError> {
        for released in self.engine.release_due_labels() {
            self.count_label(released, pending)?;
        }
        Ok(())
    }

    /// Encodes an outcome's records into `pending`. By reference: an
    /// outcome is 656 bytes, and moving it in cost a copy per transaction.
    pub(super) fn collect(
        &self,
        outcome: &Outcome,
        pending: &mut Pending,
    ) -> Result<(), WorkerError> {
        let records = self.outputs.encode_outcome(outcome)?;
        self.collect_encoded(outcome, records, pending);
        Ok(())
    }

    /// As `collect`, for an outcome whose records were encoded elsewhere.
    pub(super) fn collect_encoded(
        &self,
        outcome: &Outcome,
        records: OutcomeRecords,
        pending: &mut Pending,
    ) {
        pending.add_records(records);
        record_outcome(&self.telemetry, outcome);
        if let Some(observer) = &self.observer {
            observer.on_outcome(outcome);
        }
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
                pending.add_dead_letter(&self.outputs, &letter)?;
            }
        }
        Ok(())
    }

    pub(super) fn send(&self, pending: Pending) -> Result<(), WorkerError> {
        pending.send(&self.outputs, &self.telemetry)
    }
}

/// The latency and lateness of a decision, as the metrics see them.
pub(crate) fn record_outcome(telemetry: &Telemetry, outcome: &Outcome) {
    telemetry
        .decision_latency
        .record_ns(outcome.decision.latency_us.max(0) as u64 * 1_000);
    if outcome.decision.late {
        Counters::incr(&telemetry.counters.late_events);
    }
}

/// A decision, and the alert and case that go with it, encoded for their sinks.
pub struct OutcomeRecords {
    decision: Record,
    action: Action,
    alert: Option<Record>,
    case: Option<Record>,
}

impl WorkerOutputs {
    pub fn encode_outcome(&self, outcome: &Outcome) -> Result<OutcomeRecords, WorkerError> {
        let key = &outcome.decision.customer_id;
        Ok(OutcomeRecords {
            decision: encode(&self.decisions, key, &outcome.decision)?,
            action: outcome.decision.action,
            alert: encode_optional(&self.alerts, key, outcome.alert.as_deref())?,
            case: encode_optional(&self.cases, key, outcome.case.as_deref())?,
        })
    }
}

impl Pending {
    /// Encodes a decision and the alert and case that go with it.
    pub fn add_outcome(
        &mut self,
        outputs: &WorkerOutputs,
        outcome: &Outcome,
    ) -> Result<(), WorkerError> {
        self.add_records(outputs.encode_outcome(outcome)?);
        Ok(())
    }

    pub fn add_records(&mut self, records: OutcomeRecords) {
        self.decisions.push(records.decision);
        self.actions.push(records.action);
        self.alerts.extend(records.alert);
        self.cases.extend(records.case);
    }

    pub fn add_dead_letter(
        &mut self,
        outputs: &WorkerOutputs,
        letter: &DeadLetter,
    ) -> Result<(), WorkerError> {
        self.dead_letters
            .push(encode(&outputs.dead_letters, &letter.source, letter)?);
        Ok(())
    }

    /// Encodes an analyst's verdict, when the topology keeps them.
    pub fn add_label(&mut self, outputs: &WorkerOutputs, label: &Label) -> Result<(), WorkerError> {
        if let Some(port) = &outputs.labels {
            let key = label.customer_id.as_deref().unwrap_or_default();
            self.labels.push(encode(port, key, label)?);
        }
        Ok(())
    }

    /// Sends what was collected, then counts it: a record is counted once it
    /// is in its sink's queue. Blocks while a sink's queue is full.
    pub fn send(self, outputs: &WorkerOutputs, telemetry: &Telemetry) -> Result<(), WorkerError> {
        let Pending {
            decisions,
            actions,
            alerts,
            cases,
            dead_letters,
            labels,
        } = self;
        let (alert_count, case_count) = (alerts.len() as u64, cases.len() as u64);
        send_batch(&outputs.decisions, decisions)?;
        if let Some(port) = &outputs.alerts {
            send_batch(port, alerts)?;
        }
        if let Some(port) = &outputs.cases {
            send_batch(port, cases)?;
        }
        send_batch(&outputs.dead_letters, dead_letters)?;
        if let Some(port) = &outputs.labels {
            send_batch(port, labels)?;
        }
        for action in actions {
            telemetry.counters.decided(action);
        }
        telemetry
            .counters
            .alerts
            .fetch_add(alert_count, Ordering::Relaxed);
        telemetry
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

/// A record for an output the topology may not have, of a value that may be absent.
fn encode_optional<T: Encodable>(
    port: &Option<OutputPort>,
    key: &str,
    value: Option<&T>,
) -> Result<Option<Record>, WorkerError> {
    match (port, value) {
        (Some(port), Some(value)) => encode(port, key, value).map(Some),
        _ => Ok(None),
    }
}

fn take_trace(work: &mut Work) -> Option<TransactionTrace> {
    match work {
        Work::Transaction { trace, .. } => trace.take(),
        Work::Label(_) | Work::Barrier(_) => None,
    }
}
