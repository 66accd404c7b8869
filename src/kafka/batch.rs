//! One batch of input records turned into the records of one transaction:
//! decisions, alerts, cases and dead letters (encoded with each output's
//! codec), plus the changelog state of every customer the batch touched.

use crate::codecs::{Codec, Record as Encodable};
use crate::domain::{now_millis, Action, DeadLetter, RejectKind, Text, Transaction};
use crate::engine::{Engine, Outcome};
use crate::runtime::AgentLink;
use crate::sinks::Output;
use crate::sources::decode_transaction;
use crate::state::keys;
use crate::telemetry::{Sampler, TransactionTrace};
use std::collections::{BTreeMap, HashSet};
use std::time::{Instant, SystemTime};

/// An input record, copied out of the consumer's buffer.
#[derive(Debug, Clone)]
pub(crate) struct Polled {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub started: Instant,
    /// The W3C `traceparent` header the producer sent, if any.
    pub traceparent: Option<String>,
}

/// Byte buffers kept from one batch to the next, so that copying a polled
/// record out of the consumer does not allocate.
#[derive(Default)]
pub(crate) struct Buffers(Vec<Vec<u8>>);

/// A buffer this large (a rare huge record) is freed rather than kept.
const LARGEST_KEPT: usize = 64 * 1024;

impl Buffers {
    pub fn copy(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut buffer = self.0.pop().unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(bytes);
        buffer
    }

    /// Takes back a finished batch's buffers.
    pub fn recycle(&mut self, batch: Vec<Polled>) {
        for polled in batch {
            self.0.extend(polled.key);
            self.0.push(polled.payload);
        }
        self.0.retain(|buffer| buffer.capacity() <= LARGEST_KEPT);
    }
}

/// Where one output goes and how it is encoded.
#[derive(Debug, Clone)]
pub(crate) struct OutputTopic {
    pub output: Output,
    pub topic: String,
    pub codec: Codec,
}

/// One record to produce: to `partition` when set, else by key. Borrowed:
/// the producer copies it, so one scratch buffer serves the whole batch.
#[derive(Debug)]
pub(crate) struct Produced<'a> {
    pub topic: &'a str,
    pub partition: Option<i32>,
    pub key: &'a str,
    pub payload: &'a [u8],
    /// Written as the `traceparent` header.
    pub traceparent: Option<&'a str>,
}

/// What `decide` hands each record to.
pub(crate) type Emit<'e> = dyn FnMut(Produced<'_>) -> Result<(), String> + 'e;

/// Where a batch comes from: the source's name, its codec and its trace sampler.
pub(crate) struct Origin<'a> {
    pub source: &'a str,
    pub codec: &'a Codec,
    pub sampler: Option<&'a Sampler>,
    /// The LLM agent escalations go to, if the topology has one.
    pub agent: Option<&'a AgentLink>,
}

/// What a committed batch adds to the counters.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub records: u64,
    pub actions: Vec<Action>,
    pub alerts: u64,
    pub cases: u64,
    pub dead: Vec<RejectKind>,
    pub late: u64,
}

pub(crate) struct Outputs {
    pub decisions: OutputTopic,
    pub alerts: Option<OutputTopic>,
    pub cases: Option<OutputTopic>,
    pub dead_letters: OutputTopic,
    pub changelog: String,
}

/// Decides `batch` in order and hands every record to `emit`. Returns the
/// tally, the next input offset per partition, and the customers touched
/// per partition (whose state the caller must reset if the transaction fails).
pub(crate) struct Decided {
    pub tally: Tally,
    pub next_offsets: BTreeMap<i32, i64>,
    pub touched: Touched,
}

/// The customers a batch touched, per partition, each once, in the order
/// first touched. A set of state keys finds repeats: a sorted set of the
/// ids compared strings on every insert (3 % of the Kafka loop).
#[derive(Default)]
pub(crate) struct Touched {
    by_partition: BTreeMap<i32, Vec<Text>>,
    seen: HashSet<(i32, u64)>,
}

impl Touched {
    fn add(&mut self, partition: i32, customer_id: &Text) {
        if self.seen.insert((partition, keys::key(customer_id))) {
            let customers = self.by_partition.entry(partition).or_default();
            customers.push(customer_id.clone());
        }
    }

    pub fn customers(&self) -> impl Iterator<Item = &Text> {
        self.by_partition.values().flatten()
    }
}

pub(crate) fn decide(
    engine: &Engine,
    origin: &Origin<'_>,
    outputs: &Outputs,
    batch: &[Polled],
    emit: &mut Emit<'_>,
) -> Result<Decided, String> {
    let mut decided = Decided {
        tally: Tally::default(),
        next_offsets: BTreeMap::new(),
        touched: Touched::default(),
    };
    for polled in batch {
        decided.tally.records += 1;
        decided
            .next_offsets
            .insert(polled.partition, polled.offset + 1);
    }
    let mut judged = match engine.model() {
        Some(_) => judge_in_rounds(engine, origin, batch),
        None => batch
            .iter()
            .map(|polled| judge(engine, origin, polled))
            .collect(),
    };
    if let Some(agent) = origin.agent {
        review(agent, &mut judged);
    }
    // Every record is encoded here and copied by the producer: glibc's
    // allocator, leaving its fast path under a batch's live records, was a
    // quarter of the Kafka loop's CPU.
    let mut scratch = Vec::with_capacity(4096);
    for (polled, judgement) in batch.iter().zip(judged) {
        match judgement {
            Judgement::Decided(judged) => {
                emit_decided(outputs, judged, polled, &mut decided, &mut scratch, emit)?
            }
            Judgement::Rejected(kind, reason) => {
                let position = format!("partition {} offset {}", polled.partition, polled.offset);
                let letter =
                    DeadLetter::new(origin.source, position, kind, reason, &polled.payload);
                let key = polled
                    .key
                    .as_deref()
                    .map_or_else(|| origin.source.into(), String::from_utf8_lossy);
                let traceparent = polled.traceparent.as_deref();
                let record = Encoded::new(&outputs.dead_letters, &key, traceparent);
                record.emit(&letter, &mut scratch, emit)?;
                decided.tally.dead.push(kind);
            }
        }
    }
    for (partition, customers) in &decided.touched.by_partition {
        let through = decided.next_offsets.get(partition).copied().unwrap_or(0);
        for customer_id in customers {
            // Encoded under the shard's read lock: no copy of the state.
            scratch.clear();
            match engine.state().customer(keys::key(customer_id)) {
                Some(state) => super::ChangelogEntry::encode_into(through, &state, &mut scratch),
                None => {
                    super::ChangelogEntry::encode_into(through, &Default::default(), &mut scratch)
                }
            }
            .map_err(|error| error.to_string())?;
            emit(Produced {
                topic: &outputs.changelog,
                partition: Some(*partition),
                key: customer_id,
                payload: &scratch,
                traceparent: None,
            })?;
        }
    }
    Ok(decided)
}

/// One input record after the engine: decided, or why it was rejected.
enum Judgement {
    Decided(Box<Judged>),
    Rejected(RejectKind, String),
}

struct Judged {
    transaction: Transaction,
    outcome: Outcome,
    trace: Option<TransactionTrace>,
}

fn judge(engine: &Engine, origin: &Origin<'_>, polled: &Polled) -> Judgement {
    let transaction = match decode_transaction(origin.codec, &polled.payload) {
        Ok(transaction) => transaction,
        Err((kind, reason)) => return Judgement::Rejected(kind, reason),
    };
    if let Some(reason) = engine.already_decided(&transaction) {
        return Judgement::Rejected(RejectKind::Duplicate, reason);
    }
    let trace = origin.sampler.and_then(|sampler| {
        sampler.begin_from(origin.source, polled.started, polled.traceparent.as_deref())
    });
    let decide = || engine.decide(&transaction, now_millis(), polled.started);
    let outcome = match &trace {
        Some(trace) => trace.stage("decide", decide),
        None => decide(),
    };
    Judgement::Decided(Box::new(Judged {
        transaction,
        outcome,
        trace,
    }))
}

/// Transactions one model call scores together at most.
const MODEL_ROUND: usize = 256;

/// As `judge` for every record, with the model scoring rounds of up to
/// `MODEL_ROUND` transactions in one call. A customer's next transaction
/// starts a new round: its profile learns only once the first is concluded.
fn judge_in_rounds(engine: &Engine, origin: &Origin<'_>, batch: &[Polled]) -> Vec<Judgement> {
    let decoded: Vec<Result<Transaction, (RejectKind, String)>> = batch
        .iter()
        .map(|polled| decode_transaction(origin.codec, &polled.payload))
        .collect();
    let mut outcomes: Vec<Option<(Outcome, Option<TransactionTrace>)>> =
        batch.iter().map(|_| None).collect();
    let mut rejected: Vec<Option<(RejectKind, String)>> = batch.iter().map(|_| None).collect();
    let mut round: Vec<usize> = Vec::with_capacity(MODEL_ROUND);
    let mut customers: HashSet<&str> = HashSet::with_capacity(MODEL_ROUND);
    for (index, transaction) in decoded.iter().enumerate() {
        let transaction = match transaction {
            Ok(transaction) => transaction,
            Err(reason) => {
                rejected[index] = Some(reason.clone());
                continue;
            }
        };
        if round.len() == MODEL_ROUND || customers.contains(transaction.customer_id.as_str()) {
            conclude_round(engine, origin, batch, &decoded, &mut round, &mut outcomes);
            customers.clear();
        }
        match engine.already_decided(transaction) {
            Some(reason) => rejected[index] = Some((RejectKind::Duplicate, reason)),
            None => {
                customers.insert(transaction.customer_id.as_str());
                round.push(index);
            }
        }
    }
    conclude_round(engine, origin, batch, &decoded, &mut round, &mut outcomes);
    decoded
        .into_iter()
        .zip(outcomes)
        .zip(rejected)
        .map(
            |((transaction, outcome), rejected)| match (transaction, outcome) {
                (Ok(transaction), Some((outcome, trace))) => Judgement::Decided(Box::new(Judged {
                    transaction,
                    outcome,
                    trace,
                })),
                // Every decoded transaction is either rejected or concluded (one
                // outcome per assessment); a gap would be a bug, and still goes
                // to the dead letters rather than vanish.
                (_, _) => {
                    let (kind, reason) = rejected.unwrap_or((
                        RejectKind::Validation,
                        "internal error: the engine returned no outcome".into(),
                    ));
                    Judgement::Rejected(kind, reason)
                }
            },
        )
        .collect()
}

/// Assesses the round's transactions (already checked for duplicates), in
/// order, scores them in one model call and keeps each outcome at its index.
fn conclude_round(
    engine: &Engine,
    origin: &Origin<'_>,
    batch: &[Polled],
    decoded: &[Result<Transaction, (RejectKind, String)>],
    round: &mut Vec<usize>,
    outcomes: &mut [Option<(Outcome, Option<TransactionTrace>)>],
) {
    let mut assessments = Vec::with_capacity(round.len());
    let mut traces = Vec::with_capacity(round.len());
    for &index in round.iter() {
        let Ok(transaction) = &decoded[index] else {
            continue;
        };
        let polled = &batch[index];
        let trace = origin.sampler.and_then(|sampler| {
            sampler.begin_from(origin.source, polled.started, polled.traceparent.as_deref())
        });
        // The clock is read only for a sampled transaction's span.
        let began = trace.as_ref().map(|_| SystemTime::now());
        traces.push((index, began, trace));
        assessments.push(engine.assess(transaction, now_millis(), polled.started));
    }
    let concluded = engine.conclude_all(assessments.drain(..));
    for ((index, began, trace), outcome) in traces.into_iter().zip(concluded) {
        if let (Some(trace), Some(began)) = (&trace, began) {
            trace.record("decide", began, SystemTime::now());
        }
        outcomes[index] = Some((outcome, trace));
    }
    round.clear();
}

/// Sends the batch's escalations to the agent, all at once, and waits for
/// their final outcomes (each bounded by the agent's own deadline, after
/// which it falls back to the engine's decision). Outputs keep input order.
fn review(agent: &AgentLink, judged: &mut [Judgement]) {
    let mut reviews = Vec::new();
    for (index, judgement) in judged.iter().enumerate() {
        if let Judgement::Decided(decided) = judgement {
            if agent.escalator.wants(&decided.outcome) {
                let escalator = agent.escalator.clone();
                let (transaction, outcome) = (decided.transaction.clone(), decided.outcome.clone());
                let began = SystemTime::now();
                let review = agent
                    .runtime
                    // Boxed: the review's large future is built on the agent's thread.
                    .spawn(async move { Box::pin(escalator.review(transaction, outcome)).await });
                reviews.push((index, began, review));
            }
        }
    }
    for (index, began, review) in reviews {
        let Judgement::Decided(decided) = &mut judged[index] else {
            continue;
        };
        match agent.runtime.block_on(review) {
            Ok(outcome) => decided.outcome = outcome,
            // A panicked review keeps the engine's decision: never lost.
            Err(error) => tracing::error!(%error, "agent review failed"),
        }
        if let Some(trace) = &decided.trace {
            trace.record("agent", began, SystemTime::now());
        }
    }
}

/// Produces a decided transaction's decision, alert and case.
fn emit_decided(
    outputs: &Outputs,
    mut judged: Box<Judged>,
    polled: &Polled,
    decided: &mut Decided,
    scratch: &mut Vec<u8>,
    emit: &mut Emit<'_>,
) -> Result<(), String> {
    // Read in place: moving a judgement out of its box copies over a kilobyte.
    let trace = judged.trace.take();
    let Judged {
        transaction,
        outcome,
        ..
    } = &*judged;
    let sampled = trace.as_ref().map(TransactionTrace::traceparent);
    let traceparent = sampled.as_deref().or(polled.traceparent.as_deref());
    let key = outcome.decision.customer_id.as_str();
    let alert = outcome.alert.as_deref().zip(outputs.alerts.as_ref());
    let case = outcome.case.as_deref().zip(outputs.cases.as_ref());
    let mut produce = |emit: &mut Emit<'_>| -> Result<(), String> {
        Encoded::new(&outputs.decisions, key, traceparent).emit(
            &outcome.decision,
            scratch,
            emit,
        )?;
        if let Some((alert, port)) = alert {
            Encoded::new(port, key, traceparent).emit(alert, scratch, emit)?;
        }
        if let Some((case, port)) = case {
            Encoded::new(port, key, traceparent).emit(case, scratch, emit)?;
        }
        Ok(())
    };
    match &trace {
        Some(trace) => trace.stage("produce", || produce(emit))?,
        None => produce(emit)?,
    }
    decided.tally.alerts += u64::from(alert.is_some());
    decided.tally.cases += u64::from(case.is_some());
    decided.tally.actions.push(outcome.decision.action);
    decided.tally.late += u64::from(outcome.decision.late);
    if let Some(trace) = trace {
        trace.finish_decision(&outcome.decision);
    }
    decided
        .touched
        .add(polled.partition, &transaction.customer_id);
    Ok(())
}

/// A record for an output topic, keyed, before its value is encoded.
struct Encoded<'a> {
    port: &'a OutputTopic,
    key: &'a str,
    traceparent: Option<&'a str>,
}

impl<'a> Encoded<'a> {
    fn new(port: &'a OutputTopic, key: &'a str, traceparent: Option<&'a str>) -> Encoded<'a> {
        Encoded {
            port,
            key,
            traceparent,
        }
    }

    /// Encodes `value` into `scratch` with the port's codec and emits it.
    fn emit<T: Encodable>(
        self,
        value: &T,
        scratch: &mut Vec<u8>,
        emit: &mut Emit<'_>,
    ) -> Result<(), String> {
        scratch.clear();
        self.port
            .codec
            .encode(value, scratch)
            .map_err(|error| format!("encoding a {} record: {error}", self.port.output.key()))?;
        emit(Produced {
            topic: &self.port.topic,
            partition: None,
            key: self.key,
            payload: scratch,
            traceparent: self.traceparent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codecs::CodecKind;
    use crate::engine::SystemClock;
    use std::sync::Arc;

    fn topic(output: Output, name: &str) -> OutputTopic {
        OutputTopic {
            output,
            topic: name.into(),
            codec: Codec::new(CodecKind::Json),
        }
    }

    #[test]
    fn decides_in_order_dead_letters_bad_records_and_writes_touched_state() {
        let engine = Engine::with_defaults(Arc::new(SystemClock));
        let outputs = Outputs {
            decisions: topic(Output::Decisions, "decisions"),
            alerts: None,
            cases: None,
            dead_letters: topic(Output::DeadLetters, "dlq"),
            changelog: "changelog".into(),
        };
        let record = |partition, offset, payload: &str| Polled {
            partition,
            offset,
            key: Some(b"c1".to_vec()),
            payload: payload.as_bytes().to_vec(),
            started: Instant::now(),
            traceparent: None,
        };
        let batch = [
            record(
                0,
                10,
                r#"{"transaction_id":"t1","customer_id":"c1","amount":5}"#,
            ),
            record(0, 11, "{not json"),
            record(
                1,
                3,
                r#"{"transaction_id":"t2","customer_id":"c2","amount":7}"#,
            ),
        ];
        let mut produced = Vec::new();
        let decided = decide(
            &engine,
            &Origin {
                source: "tx",
                codec: &Codec::new(CodecKind::Json),
                sampler: None,
                agent: None,
            },
            &outputs,
            &batch,
            &mut |record| {
                produced.push((
                    record.topic.to_owned(),
                    record.partition,
                    record.key.to_owned(),
                ));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(decided.next_offsets, BTreeMap::from([(0, 12), (1, 4)]));
        assert_eq!(decided.tally.actions.len(), 2);
        assert_eq!(decided.tally.dead, vec![RejectKind::Decode]);
        let topics: Vec<&str> = produced.iter().map(|(topic, ..)| topic.as_str()).collect();
        assert_eq!(
            topics,
            ["decisions", "dlq", "decisions", "changelog", "changelog"]
        );
        assert_eq!(produced[3].1, Some(0));
        assert_eq!(produced[4], ("changelog".into(), Some(1), "c2".into()));
    }

    #[test]
    fn touched_keeps_each_customer_once_per_partition_in_first_touch_order() {
        let mut touched = Touched::default();
        for (partition, customer) in [(0, "c2"), (0, "c1"), (0, "c2"), (1, "c2"), (0, "c1")] {
            touched.add(partition, &Text::from(customer));
        }
        let ids: Vec<&str> = touched.customers().map(Text::as_str).collect();
        assert_eq!(ids, ["c2", "c1", "c2"]);
        assert_eq!(touched.by_partition[&1], [Text::from("c2")]);
    }

    /// With a model, rounds scored together decide exactly as one record at
    /// a time would: same actions, scores and reasons, a customer's repeat
    /// seeing its first transaction, duplicates and bad records rejected.
    #[test]
    fn rounds_scored_by_the_model_decide_as_one_at_a_time() {
        if crate::model::runtime_library(None).is_err() {
            panic!("needs ONNX Runtime (FD_ONNXRUNTIME or scripts/install-onnxruntime.sh)");
        }
        let model = || {
            let config = crate::model::ModelConfig::at(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/models/fraud-gbt-v1.onnx"
            ));
            let slot = crate::model::ModelSlot::load(&config, (40, 80), 1).unwrap();
            Engine::with_defaults(Arc::new(crate::engine::FixedClock(1_764_616_434_000)))
                .with_model(Arc::new(slot))
        };
        let json = Codec::new(CodecKind::Json);
        let mut batch: Vec<Polled> = (0..600)
            .map(|n| {
                let payload = format!(
                    r#"{{"transaction_id":"t{n}","customer_id":"c{}","amount":{}.5,"location":"New York, NY","device_id":"d{}","timestamp":"2025-12-01T18:{:02}:00Z"}}"#,
                    n % 250,
                    10 + n * 7 % 900,
                    n % 300,
                    n / 20
                );
                Polled {
                    partition: 0,
                    offset: n,
                    key: None,
                    payload: payload.into_bytes(),
                    started: Instant::now(),
                    traceparent: None,
                }
            })
            .collect();
        batch[7].payload = b"{not json".to_vec();
        batch[300].payload = batch[299].payload.clone(); // a producer's retry
        let origin = Origin {
            source: "tx",
            codec: &json,
            sampler: None,
            agent: None,
        };
        let summary = |judged: Vec<Judgement>| -> Vec<String> {
            judged
                .into_iter()
                .map(|judgement| match judgement {
                    Judgement::Decided(judged) => {
                        let decision = &judged.outcome.decision;
                        format!(
                            "{:?} {} {:?} {:?}",
                            decision.action,
                            decision.risk_score,
                            decision.model_score,
                            decision.reasons
                        )
                    }
                    Judgement::Rejected(kind, _) => format!("{kind:?}"),
                })
                .collect()
        };
        let one_engine = model();
        let one_at_a_time = summary(
            batch
                .iter()
                .map(|polled| judge(&one_engine, &origin, polled))
                .collect(),
        );
        let rounds = summary(judge_in_rounds(&model(), &origin, &batch));
        assert_eq!(rounds, one_at_a_time);
        assert_eq!(rounds[7], "Decode");
        assert_eq!(rounds[300], "Duplicate");
        assert!(
            rounds
                .iter()
                .filter(|summary| summary.contains("Some("))
                .count()
                > 500
        );
    }
}
