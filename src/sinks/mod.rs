//! Sinks: where decisions, alerts, case logs and dead letters go.
//!
//! A sink receives batches of already-encoded records (workers encode, so
//! encoding scales with them) and writes them. Each sink is a config struct,
//! picked by `type:` in the topology, whose `build()` returns the running thing.

mod avro_container;
mod blackhole;
mod delivery;
mod file;
pub mod kinesis;
mod stdout;

pub use avro_container::ContainerWriter;
pub use blackhole::BlackholeSinkConfig;
pub use delivery::Delivery;
pub use file::FileSinkConfig;
pub use kinesis::KinesisSinkConfig;
pub use stdout::StdoutSinkConfig;

use crate::codecs::{Codec, CodecKind};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::mpsc;

/// One encoded output record; `key` (the customer id) partitions it on brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: String,
    pub payload: Vec<u8>,
}

pub type RecordBatch = Vec<Record>;
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The four output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    Decisions,
    Alerts,
    Cases,
    DeadLetters,
    /// Analysts' verdicts from the console, as labels.
    Labels,
}

impl Output {
    pub const ALL: [Output; 5] = [
        Output::Decisions,
        Output::Alerts,
        Output::Cases,
        Output::DeadLetters,
        Output::Labels,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Output::Decisions => "decisions",
            Output::Alerts => "alerts",
            Output::Cases => "cases",
            Output::DeadLetters => "dead_letters",
            Output::Labels => "labels",
        }
    }

    /// The Avro schema of the records this output carries, as JSON.
    pub fn schema_json(self) -> String {
        use crate::codecs::Record as _;
        use crate::domain::{Alert, CaseLog, DeadLetter, Decision, Label};
        let schema = match self {
            Output::Decisions => Decision::schema(),
            Output::Alerts => Alert::schema(),
            Output::Cases => CaseLog::schema(),
            Output::DeadLetters => DeadLetter::schema(),
            Output::Labels => Label::schema(),
        };
        // Not the canonical form: it drops logical types, docs and defaults.
        serde_json::to_string(schema).unwrap_or_else(|_| schema.canonical_form())
    }
}

#[derive(Debug, Error)]
pub enum SinkError {
    #[error("{sink}: {detail}")]
    Io { sink: String, detail: String },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkReport {
    pub records: u64,
    pub bytes: u64,
}

pub trait Sink: Send {
    /// Writes every batch until the channel closes, then flushes.
    fn run(
        self: Box<Self>,
        input: mpsc::Receiver<RecordBatch>,
    ) -> BoxFuture<Result<SinkReport, SinkError>>;

    /// As `run`, counting in `delivery` what is written. Sinks that know when
    /// a write is durable override it; by default a batch counts once the
    /// sink has taken it from its queue.
    fn run_counted(
        self: Box<Self>,
        mut input: mpsc::Receiver<RecordBatch>,
        delivery: Arc<Delivery>,
    ) -> BoxFuture<Result<SinkReport, SinkError>>
    where
        Self: 'static,
    {
        let (relay, relayed) = mpsc::channel(1);
        Box::pin(async move {
            let forward = async move {
                while let Some(batch) = input.recv().await {
                    let records = batch.len();
                    if relay.send(batch).await.is_err() {
                        break;
                    }
                    delivery.wrote(records);
                }
            };
            let ((), result) = tokio::join!(forward, self.run(relayed));
            result
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    /// A local file: JSON lines, or an Avro object container file.
    File(FileSinkConfig),
    /// Standard output, JSON lines.
    Stdout(StdoutSinkConfig),
    /// Counts and discards: for benchmarks.
    Blackhole(BlackholeSinkConfig),
    /// A Kafka topic, keyed by customer_id (see `crate::kafka`).
    Kafka(crate::kafka::KafkaSinkConfig),
    /// A Kinesis data stream, through PutRecords.
    Kinesis(KinesisSinkConfig),
}

impl SinkConfig {
    pub fn codec(&self) -> Codec {
        if let SinkConfig::Kafka(config) = self {
            return config.codec();
        }
        let kind = match self {
            SinkConfig::File(config) => config.codec,
            SinkConfig::Stdout(_) | SinkConfig::Blackhole(_) | SinkConfig::Kafka(_) => {
                CodecKind::Json
            }
            SinkConfig::Kinesis(config) => config.codec,
        };
        Codec::new(kind)
    }

    pub fn problems(&self) -> Vec<String> {
        match self {
            SinkConfig::File(config) => config.problems(),
            SinkConfig::Stdout(_) | SinkConfig::Blackhole(_) => Vec::new(),
            SinkConfig::Kafka(config) => config.problems(),
            SinkConfig::Kinesis(config) => config.problems(),
        }
    }

    pub fn build(&self, output: Output) -> Result<Box<dyn Sink>, SinkError> {
        match self {
            SinkConfig::File(config) => config.build(output),
            SinkConfig::Stdout(_) => Ok(Box::new(stdout::StdoutSink)),
            SinkConfig::Blackhole(_) => Ok(Box::new(blackhole::BlackholeSink)),
            SinkConfig::Kafka(config) => Ok(Box::new(crate::kafka::KafkaSink::new(config)?)),
            SinkConfig::Kinesis(config) => Ok(config.build()),
        }
    }
}
