//! Backpressure on the input: while the producer's queue is full, the
//! consumer's partitions are paused, so librdkafka stops fetching records
//! the loop cannot take yet; they resume when the batch's transaction ends.
//!
//! Pausing does not poll the consumer, so no rebalance can land inside the
//! open transaction. librdkafka drops what it had prefetched for a paused
//! partition and, on resume, fetches again from the position after the last
//! record the loop polled: nothing is skipped or read twice.

use super::context::ConsumerEvents;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::TopicPartitionList;
use std::sync::atomic::{AtomicU64, Ordering};

/// Pauses the assignment at most once per transaction; resumes on drop.
pub(super) struct InputPause<'a> {
    consumer: &'a BaseConsumer<ConsumerEvents>,
    pauses: &'a AtomicU64,
    paused: Option<TopicPartitionList>,
}

impl<'a> InputPause<'a> {
    pub fn new(consumer: &'a BaseConsumer<ConsumerEvents>, pauses: &'a AtomicU64) -> Self {
        InputPause {
            consumer,
            pauses,
            paused: None,
        }
    }

    /// The producer's queue is full: stop fetching until the batch is written.
    pub fn producer_full(&mut self) {
        if self.paused.is_some() {
            return;
        }
        let assignment = match self.consumer.assignment() {
            Ok(assignment) if assignment.count() > 0 => assignment,
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(%error, "kafka: no assignment to pause");
                return;
            }
        };
        match self.consumer.pause(&assignment) {
            Ok(()) => {
                self.pauses.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    partitions = assignment.count(),
                    "producer queue full: input paused"
                );
                self.paused = Some(assignment);
            }
            Err(error) => tracing::warn!(%error, "kafka: pausing the input failed"),
        }
    }
}

impl Drop for InputPause<'_> {
    fn drop(&mut self) {
        if let Some(assignment) = self.paused.take() {
            if let Err(error) = self.consumer.resume(&assignment) {
                tracing::error!(%error, "kafka: resuming the paused input failed");
            }
        }
    }
}
