//! One batch of input records turned into the records of one transaction:
//! decisions, alerts, cases and dead letters (encoded with each output's
//! codec), plus the changelog state of every customer the batch touched.

use crate::codecs::{Codec, Record as Encodable};
use crate::domain::{now_millis, Action, DeadLetter, RejectKind, Transaction};
use crate::engine::{Engine, Outcome};
use crate::runtime::AgentLink;
use crate::sinks::Output;
use crate::sources::decode_transaction;
use crate::state::keys;
use crate::telemetry::{Sampler, TransactionTrace};
use std::collections::{BTreeMap, BTreeSet};
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

/// Where one output goes and how it is encoded.
#[derive(Debug, Clone)]
pub(crate) struct OutputTopic {
    pub output: Output,
    pub topic: String,
    pub codec: Codec,
}

/// One record to produce: to `partition` when set, else by key.
#[derive(Debug)]
pub(crate) struct Produced<'a> {
    pub topic: &'a str,
    pub partition: Option<i32>,
    pub key: String,
    pub payload: Vec<u8>,
    /// Written as the `traceparent` header.
    pub traceparent: Option<String>,
}

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
    pub touched: BTreeMap<i32, BTreeSet<String>>,
}

pub(crate) fn decide<'o>(
    engine: &Engine,
    origin: &Origin<'_>,
    outputs: &'o Outputs,
    batch: &[Polled],
    emit: &mut dyn FnMut(Produced<'o>) -> Result<(), String>,
) -> Result<Decided, String> {
    let mut decided = Decided {
        tally: Tally::default(),
        next_offsets: BTreeMap::new(),
        touched: BTreeMap::new(),
    };
    let mut judged = Vec::with_capacity(batch.len());
    for polled in batch {
        decided.tally.records += 1;
        decided
            .next_offsets
            .insert(polled.partition, polled.offset + 1);
        judged.push(judge(engine, origin, polled));
    }
    if let Some(agent) = origin.agent {
        review(agent, &mut judged);
    }
    for (polled, judgement) in batch.iter().zip(judged) {
        match judgement {
            Judgement::Decided(decision) => {
                emit_decided(outputs, *decision, polled, &mut decided, emit)?
            }
            Judgement::Rejected(kind, reason) => {
                let position = format!("partition {} offset {}", polled.partition, polled.offset);
                let letter =
                    DeadLetter::new(origin.source, position, kind, reason, &polled.payload);
                let key = polled.key.as_deref().map_or_else(
                    || origin.source.to_owned(),
                    |key| String::from_utf8_lossy(key).into(),
                );
                let mut record = encode(&outputs.dead_letters, &key, &letter)?;
                record.traceparent = polled.traceparent.clone();
                emit(record)?;
                decided.tally.dead.push(kind);
            }
        }
    }
    for (partition, customers) in &decided.touched {
        let through = decided.next_offsets.get(partition).copied().unwrap_or(0);
        for customer_id in customers {
            let state = engine
                .state()
                .customer(keys::key(customer_id))
                .map(|state| (**state).clone())
                .unwrap_or_default();
            let payload = super::ChangelogEntry::encode(through, &state)
                .map_err(|error| error.to_string())?;
            emit(Produced {
                topic: &outputs.changelog,
                partition: Some(*partition),
                key: customer_id.clone(),
                payload,
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
                    .spawn(async move { escalator.review(transaction, outcome).await });
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
fn emit_decided<'o>(
    outputs: &'o Outputs,
    judged: Judged,
    polled: &Polled,
    decided: &mut Decided,
    emit: &mut dyn FnMut(Produced<'o>) -> Result<(), String>,
) -> Result<(), String> {
    let Judged {
        transaction,
        outcome,
        trace,
    } = judged;
    let traceparent = trace
        .as_ref()
        .map(TransactionTrace::traceparent)
        .or_else(|| polled.traceparent.clone());
    let key = &outcome.decision.customer_id;
    let mut records = vec![encode(&outputs.decisions, key, &outcome.decision)?];
    if let (Some(alert), Some(port)) = (&outcome.alert, &outputs.alerts) {
        records.push(encode(port, key, alert)?);
        decided.tally.alerts += 1;
    }
    if let (Some(case), Some(port)) = (&outcome.case, &outputs.cases) {
        records.push(encode(port, key, case)?);
        decided.tally.cases += 1;
    }
    let produce = |emit: &mut dyn FnMut(Produced<'o>) -> Result<(), String>| {
        records.into_iter().try_for_each(|mut record| {
            record.traceparent = traceparent.clone();
            emit(record)
        })
    };
    match &trace {
        Some(trace) => trace.stage("produce", || produce(emit))?,
        None => produce(emit)?,
    }
    decided.tally.actions.push(outcome.decision.action);
    decided.tally.late += u64::from(outcome.decision.late);
    if let Some(trace) = trace {
        trace.finish_decision(&outcome.decision);
    }
    decided
        .touched
        .entry(polled.partition)
        .or_default()
        .insert(transaction.customer_id);
    Ok(())
}

fn encode<'o, T: Encodable>(
    port: &'o OutputTopic,
    key: &str,
    value: &T,
) -> Result<Produced<'o>, String> {
    let mut payload = Vec::with_capacity(512);
    port.codec
        .encode(value, &mut payload)
        .map_err(|error| format!("encoding a {} record: {error}", port.output.key()))?;
    Ok(Produced {
        topic: &port.topic,
        partition: None,
        key: key.to_owned(),
        payload,
        traceparent: None,
    })
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
                produced.push((record.topic.to_owned(), record.partition, record.key));
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
}
