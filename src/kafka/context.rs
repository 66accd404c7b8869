//! The consumer's callbacks: rebalances are recorded for the processing loop
//! to act on between batches (restore state, drop revoked work); statistics
//! feed the per-partition lag gauge; client errors (a lost broker) are logged
//! and counted while librdkafka reconnects with backoff.

use crate::telemetry::Telemetry;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::ClientContext;
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
    fn stats(&self, statistics: Statistics) {
        let Some(topic) = statistics.topics.get(&self.topic) else {
            return;
        };
        for (partition, stats) in &topic.partitions {
            // librdkafka lists partition -1 (the internal UA partition) too.
            if *partition >= 0 && stats.desired {
                self.telemetry
                    .consumer_lag
                    .set(&self.topic, *partition, stats.consumer_lag);
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
