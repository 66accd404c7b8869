//! A Kafka sink for the thread pipeline (a file or generator source feeding
//! Kafka topics): an idempotent producer, records keyed by customer_id.
//! With a Kafka source the transactional loop writes the topics itself.

use super::client::{client_config, Properties, PRODUCER_DEFAULTS};
use super::KafkaSinkConfig;
use crate::sinks::{BoxFuture, RecordBatch, Sink, SinkError, SinkReport};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;

pub struct KafkaSink {
    topic: String,
    producer: IdempotentProducer,
}

/// A producer that remembers the records the broker never acknowledged.
pub type IdempotentProducer = BaseProducer<Deliveries>;

/// The producer the sinks and `produce` use (see [`PRODUCER_DEFAULTS`]).
pub fn idempotent_producer(
    bootstrap_servers: &str,
    properties: &Properties,
) -> Result<IdempotentProducer, KafkaError> {
    client_config(bootstrap_servers, PRODUCER_DEFAULTS, properties)
        .create_with_context(Deliveries::default())
}

/// librdkafka tells of a record that was never delivered (its
/// `message.timeout.ms` ran out, the topic is gone, ...) only through a
/// delivery callback: counted here, so that the sink fails instead of
/// reporting success for records that vanished.
#[derive(Default)]
pub struct Deliveries {
    failed: AtomicU64,
    first_failure: Mutex<Option<String>>,
}

impl Deliveries {
    /// An error once any record has failed: how many, and the first reason.
    pub fn check(&self) -> Result<(), String> {
        let failed = self.failed.load(Ordering::Relaxed);
        if failed == 0 {
            return Ok(());
        }
        let first = self
            .first_failure
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
            .unwrap_or_default();
        Err(format!(
            "{failed} record(s) were not delivered; the first: {first}"
        ))
    }
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, message)) = result {
            // Logged once: a broker outage fails every queued record, and the
            // count and first reason reach the sink's error anyway.
            if self.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::error!(%error, topic = message.topic(), "a record was not delivered");
                *self
                    .first_failure
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner()) =
                    Some(format!("{error} (topic {})", message.topic()));
            }
        }
    }
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
                &mut || {},
            )
            .map_err(|error| self.error(error))?;
            bytes += record.payload.len() as u64;
        }
        self.producer.poll(Duration::ZERO);
        self.delivered()?;
        Ok(bytes)
    }

    fn delivered(&self) -> Result<(), SinkError> {
        self.producer
            .context()
            .check()
            .map_err(|detail| SinkError::Io {
                sink: self.topic.clone(),
                detail,
            })
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
                self.delivered()?;
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
/// backpressure that slows the stage before it); `on_full` hears of each wait.
pub fn send<C: ProducerContext<DeliveryOpaque = ()>>(
    producer: &BaseProducer<C>,
    topic: &str,
    partition: Option<i32>,
    key: &str,
    payload: &[u8],
    traceparent: Option<&str>,
    on_full: &mut dyn FnMut(),
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
                on_full();
                producer.poll(Duration::from_millis(20));
            }
            Err((error, _)) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::Property;
    use crate::sinks::Record;

    /// A record the broker never takes (nothing listens) must fail the sink
    /// once its delivery times out, not vanish behind a successful report.
    #[tokio::test]
    async fn an_undelivered_record_fails_the_sink() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = closed.local_addr().unwrap();
        drop(closed);
        let config = KafkaSinkConfig {
            bootstrap_servers: address.to_string(),
            topic: "decisions".into(),
            codec: Default::default(),
            schema_id: None,
            properties: [("message.timeout.ms".to_owned(), Property::Integer(300))].into(),
        };
        let sink = Box::new(KafkaSink::new(&config).unwrap());
        let (sender, receiver) = mpsc::channel(1);
        sender
            .send(vec![Record {
                key: "C-1".into(),
                payload: b"{}".to_vec(),
            }])
            .await
            .unwrap();
        drop(sender);
        let error = sink.run(receiver).await.unwrap_err();
        assert!(
            error.to_string().contains("1 record(s) were not delivered"),
            "{error}"
        );
    }
}
