//! The consumer's callbacks: rebalances are recorded for the processing loop
//! to act on between batches (restore state, drop revoked work); statistics
//! feed the per-partition lag gauge; client errors (a lost broker) are logged
//! and counted while librdkafka reconnects with backoff.

use crate::telemetry::Telemetry;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::ClientContext;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// Partition changes since the loop last looked.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    pub assigned: Vec<i32>,
    pub revoked: Vec<i32>,
}

pub(crate) struct ConsumerEvents {
    topic: String,
    changes: Mutex<Changes>,
    telemetry: Arc<Telemetry>,
}

impl ConsumerEvents {
    pub fn new(topic: &str, telemetry: Arc<Telemetry>) -> ConsumerEvents {
        ConsumerEvents {
            topic: topic.to_owned(),
            changes: Mutex::default(),
            telemetry,
        }
    }

    pub fn take_changes(&self) -> Changes {
        self.changes
            .lock()
            .map(|mut changes| std::mem::take(&mut *changes))
            .unwrap_or_default()
    }

    fn partitions(&self, list: &TopicPartitionList) -> Vec<i32> {
        list.elements_for_topic(&self.topic)
            .iter()
            .map(|element| element.partition())
            .collect()
    }
}

impl ClientContext for ConsumerEvents {
    /// Lag = the fetch high watermark − the position handed to us. Not
    /// librdkafka's own `consumer_lag`: that counts from the committed
    /// offset, which the transactions move without the consumer knowing.
    fn stats_raw(&self, statistics: &[u8]) {
        let Ok(statistics) = serde_json::from_slice::<Value>(statistics) else {
            return;
        };
        let partitions = statistics["topics"][self.topic.as_str()]["partitions"].as_object();
        for (partition, stats) in partitions.into_iter().flatten() {
            // librdkafka lists partition -1 (its internal UA partition) too.
            let (Ok(partition), Some(high), Some(position)) = (
                partition.parse::<i32>(),
                stats["hi_offset"].as_i64(),
                stats["app_offset"].as_i64(),
            ) else {
                continue;
            };
            let known = high >= 0 && position >= 0;
            if partition >= 0 && known && stats["desired"].as_bool() == Some(true) {
                let lag = (high - position).max(0);
                self.telemetry.consumer_lag.set(&self.topic, partition, lag);
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "kafka consumer: retrying");
    }
}

impl ConsumerContext for ConsumerEvents {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Ok(mut changes) = self.changes.lock() else {
            return;
        };
        match rebalance {
            Rebalance::Assign(list) => {
                let assigned = self.partitions(list);
                tracing::info!(?assigned, "partitions assigned");
                changes.assigned.extend(assigned);
            }
            Rebalance::Revoke(list) => {
                let revoked = self.partitions(list);
                tracing::info!(?revoked, "partitions revoked");
                for partition in &revoked {
                    self.telemetry.consumer_lag.forget(&self.topic, *partition);
                }
                changes.revoked.extend(revoked);
            }
            Rebalance::Error(error) => tracing::warn!(%error, "rebalance failed"),
        }
    }
}
