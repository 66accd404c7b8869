//! Topics the detector writes: created at start when missing, with the
//! input's partition count (the changelog must match it: partition p of the
//! changelog holds the state of input partition p's customers).

use super::KafkaError;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The input topic's partition count, waiting for it to exist.
pub(crate) fn partition_count<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> Result<usize, KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT)?;
    let count = metadata
        .topics()
        .iter()
        .find(|found| found.name() == topic && found.error().is_none())
        .map_or(0, |found| found.partitions().len());
    if count == 0 {
        return Err(KafkaError::Setup(format!(
            "input topic {topic} does not exist (or has no partitions)"
        )));
    }
    Ok(count)
}

/// Creates the missing ones among `topics` (name, compacted).
pub(crate) fn ensure_topics(
    config: &ClientConfig,
    topics: &[(String, bool)],
    partitions: usize,
) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = config.create()?;
    let new_topics: Vec<NewTopic> = topics
        .iter()
        .map(|(name, compacted)| {
            let topic = NewTopic::new(name, partitions as i32, TopicReplication::Fixed(-1));
            if *compacted {
                topic.set("cleanup.policy", "compact")
            } else {
                topic
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|error| KafkaError::Setup(format!("admin runtime: {error}")))?;
    let results = runtime.block_on(admin.create_topics(&new_topics, &options))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::Setup(format!(
                    "cannot create topic {topic}: {code}"
                )))
            }
        }
    }
    Ok(())
}
