//! Sources: where transactions and labels come from.
//!
//! A source reads on its own thread, decodes with its codec, validates, and
//! hands each record to the router, or rejects it as a dead letter with the
//! reason. Kafka and Kinesis plug in here behind the same trait.

mod file;
mod generator;
pub mod kinesis;
mod lines;
mod stdin;

pub use file::FileSourceConfig;
pub use generator::{GeneratorSourceConfig, TruthBook};
pub use kinesis::KinesisSourceConfig;
pub use stdin::StdinSourceConfig;

use crate::codecs::Codec;
use crate::domain::{now_millis, Label, RejectKind, Transaction};
use crate::runtime::{Closed, Router, Shutdown};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

/// What a source's records are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    #[default]
    Transactions,
    /// Fraud feedback (chargebacks, confirmed frauds).
    Labels,
}

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("{source_name}: cannot read {what}: {detail}")]
    Io {
        source_name: String,
        what: String,
        detail: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the pipeline shut down before the source finished")]
    Closed(#[from] Closed),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceReport {
    pub records: u64,
}

/// Things the runtime gives sources beyond their own config.
#[derive(Clone, Default)]
pub struct SourceContext {
    /// Where the generator records its ground truth (the demo's scoring).
    pub truth: Option<Arc<TruthBook>>,
}

pub trait Source: Send {
    /// Reads until the input ends or `shutdown` is set. Runs on its own thread.
    fn run(
        self: Box<Self>,
        router: &mut Router,
        shutdown: &Shutdown,
    ) -> Result<SourceReport, SourceError>;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceConfig {
    /// A local file: JSON lines or an Avro object container file.
    File(FileSourceConfig),
    /// JSON lines on standard input.
    Stdin(StdinSourceConfig),
    /// The built-in generator: customers, habits and labelled fraud scenarios.
    Generator(GeneratorSourceConfig),
    /// A Kafka consumer group, decided exactly once (see `crate::kafka`).
    Kafka(crate::kafka::KafkaSourceConfig),
    /// A Kinesis data stream, shards shared across replicas through DynamoDB leases.
    Kinesis(Box<KinesisSourceConfig>),
}

impl SourceConfig {
    pub fn problems(&self) -> Vec<String> {
        match self {
            SourceConfig::File(config) => config.problems(),
            SourceConfig::Stdin(config) => config.problems(),
            SourceConfig::Generator(config) => config.problems(),
            SourceConfig::Kafka(config) => config.problems(),
            SourceConfig::Kinesis(config) => config.problems(),
        }
    }

    pub fn build(&self, context: &SourceContext) -> Result<Box<dyn Source>, SourceError> {
        match self {
            SourceConfig::File(config) => Ok(Box::new(config.build()?)),
            SourceConfig::Stdin(config) => Ok(Box::new(config.build())),
            SourceConfig::Generator(config) => Ok(Box::new(config.build(context)?)),
            // `runtime::run` hands Kafka topologies to `kafka::run` before building sources.
            SourceConfig::Kafka(_) => Err(SourceError::Invalid(
                "a Kafka source runs in the Kafka loop, not the thread pipeline".into(),
            )),
            SourceConfig::Kinesis(config) => Ok(Box::new(config.build()?)),
        }
    }
}

/// Decodes and validates one transaction; a failure says which check failed and why.
pub fn decode_transaction(
    codec: &Codec,
    payload: &[u8],
) -> Result<Transaction, (RejectKind, String)> {
    let transaction = codec
        .decode::<Transaction>(payload)
        .map_err(|error| (error.kind(), error.to_string()))?;
    transaction
        .validate()
        .map_err(|error| (RejectKind::Validation, error.to_string()))?;
    Ok(transaction)
}

/// Decodes one framed record and routes it, or dead-letters it with the
/// reason. Returns the state key of a routed transaction's customer.
pub(crate) fn ingest(
    router: &mut Router,
    codec: &Codec,
    stream: Stream,
    payload: &[u8],
    position: impl FnOnce() -> String,
) -> Result<Option<u64>, Closed> {
    let started = Instant::now();
    match stream {
        Stream::Transactions => match decode_transaction(codec, payload) {
            Ok(transaction) => {
                let customer = crate::state::keys::key(&transaction.customer_id);
                router.transaction(transaction, now_millis(), started)?;
                Ok(Some(customer))
            }
            Err((kind, reason)) => router
                .reject(false, position(), kind, reason, payload)
                .map(|()| None),
        },
        Stream::Labels => match codec.decode::<Label>(payload) {
            Ok(label) if label.transaction_id.trim().is_empty() => router.reject(
                true,
                position(),
                RejectKind::Validation,
                "required field `transaction_id` is empty".into(),
                payload,
            ),
            Ok(label) => router.label(label),
            Err(error) => router.reject(true, position(), error.kind(), error.to_string(), payload),
        }
        .map(|()| None),
    }
}
