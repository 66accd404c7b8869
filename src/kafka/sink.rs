//! A Kafka sink for the thread pipeline (a file or generator source feeding
//! Kafka topics): an idempotent producer, records keyed by customer_id.
//! With a Kafka source the transactional loop writes the topics itself.

use super::client::{client_config, Properties, PRODUCER_DEFAULTS};
use super::KafkaSinkConfig;
use crate::sinks::{BoxFuture, RecordBatch, Sink, SinkError, SinkReport};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::time::Duration;
use tokio::sync::mpsc;

pub struct KafkaSink {
    topic: String,
    producer: BaseProducer,
}

/// The producer the sinks and `produce` use (see [`PRODUCER_DEFAULTS`]).
pub fn idempotent_producer(
    bootstrap_servers: &str,
    properties: &Properties,
) -> Result<BaseProducer, KafkaError> {
    client_config(bootstrap_servers, PRODUCER_DEFAULTS, properties).create()
}

impl KafkaSink {
    pub fn new(config: &KafkaSinkConfig) -> Result<KafkaSink, SinkError> {
        let producer = idempotent_producer(&config.bootstrap_servers, &config.properties).map_err(
            |error| SinkError::Io {
                sink: config.topic.clone(),
                detail: error.to_string(),
            },
        )?;
        Ok(KafkaSink {
            topic: config.topic.clone(),
            producer,
        })
    }

    fn write(&self, batch: &RecordBatch) -> Result<u64, SinkError> {
        let mut bytes = 0;
        for record in batch {
            send(
                &self.producer,
                &self.topic,
                None,
                &record.key,
                &record.payload,
                None,
            )
            .map_err(|error| self.error(error))?;
            bytes += record.payload.len() as u64;
        }
        self.producer.poll(Duration::ZERO);
        Ok(bytes)
    }

    fn error(&self, error: KafkaError) -> SinkError {
        SinkError::Io {
            sink: self.topic.clone(),
            detail: error.to_string(),
        }
    }
}

impl Sink for KafkaSink {
    fn run(
        self: Box<Self>,
        mut input: mpsc::Receiver<RecordBatch>,
    ) -> BoxFuture<Result<SinkReport, SinkError>> {
        Box::pin(async move {
            // librdkafka's calls block: keep them off the async threads.
            tokio::task::spawn_blocking(move || {
                let mut report = SinkReport::default();
                while let Some(batch) = input.blocking_recv() {
                    report.bytes += self.write(&batch)?;
                    report.records += batch.len() as u64;
                }
                self.producer
                    .flush(Duration::from_secs(60))
                    .map_err(|error| self.error(error))?;
                Ok(report)
            })
            .await
            .map_err(|error| SinkError::Io {
                sink: "kafka".into(),
                detail: error.to_string(),
            })?
        })
    }
}

/// Enqueues one record, waiting while the producer's queue is full (the
/// backpressure that slows the stage before it).
pub fn send(
    producer: &BaseProducer,
    topic: &str,
    partition: Option<i32>,
    key: &str,
    payload: &[u8],
    traceparent: Option<&str>,
) -> Result<(), KafkaError> {
    loop {
        let mut record = BaseRecord::to(topic).key(key).payload(payload);
        if let Some(partition) = partition {
            record = record.partition(partition);
        }
        if let Some(traceparent) = traceparent {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: "traceparent",
                value: Some(traceparent),
            }));
        }
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                producer.poll(Duration::from_millis(20));
            }
            Err((error, _)) => return Err(error),
        }
    }
}
