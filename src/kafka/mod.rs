//! Kafka: a consumer-group source and sinks through librdkafka (`rdkafka`).
//!
//! A topology whose source is Kafka runs in [`processor`]'s exactly-once
//! loop instead of the thread pipeline: poll a batch, decide it with the
//! same [`crate::engine::Engine`], and write every output, the state
//! changelog and the consumer offsets in one Kafka transaction. Kafka sinks
//! also work on their own (a file source feeding Kafka topics) through the
//! [`crate::sinks::Sink`] trait, with an idempotent producer.

mod admin;
mod batch;
mod changelog;
mod client;
mod config;
mod context;
mod pause;
mod processor;
mod sink;

pub use changelog::{ChangelogEntry, ChangelogError};
pub use client::{Properties, Property};
pub use config::{KafkaSinkConfig, KafkaSourceConfig};
pub use processor::{kafka_source, run, topology_problems, STALLED_EXIT_CODE};
pub use sink::{idempotent_producer, send, Deliveries, IdempotentProducer, KafkaSink};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum KafkaError {
    #[error("kafka client: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    #[error("kafka: {0}")]
    Setup(String),
    /// Another producer with our `transactional.id` took over: this replica
    /// must stop (tansu reports fencing as abortable; it is final either way).
    #[error("kafka: fenced by a newer producer with transactional.id {0}")]
    Fenced(String),
    #[error("{0}")]
    Changelog(#[from] ChangelogError),
}
