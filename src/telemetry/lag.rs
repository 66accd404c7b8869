//! Consumer lag per input partition, as the broker client last reported it
//! (from the fetch high watermark). Labels are topic and partition: bounded
//! by the topics' partition counts.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct ConsumerLag {
    partitions: Mutex<BTreeMap<(String, i32), i64>>,
    /// Times the source paused its partitions because the producer's queue was full.
    pub pauses: std::sync::atomic::AtomicU64,
}

impl ConsumerLag {
    /// Records the lag of one partition; a negative lag (unknown yet) is not shown.
    pub fn set(&self, topic: &str, partition: i32, lag: i64) {
        if let Ok(mut partitions) = self.partitions.lock() {
            if lag < 0 {
                partitions.remove(&(topic.to_owned(), partition));
            } else {
                partitions.insert((topic.to_owned(), partition), lag);
            }
        }
    }

    /// Forgets a partition this replica no longer owns.
    pub fn forget(&self, topic: &str, partition: i32) {
        self.set(topic, partition, -1);
    }

    pub fn snapshot(&self) -> Vec<(String, i32, i64)> {
        self.partitions
            .lock()
            .map(|partitions| {
                partitions
                    .iter()
                    .map(|((topic, partition), lag)| (topic.clone(), *partition, *lag))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_known_lag_per_partition() {
        let lag = ConsumerLag::default();
        lag.set("tx", 1, 5);
        lag.set("tx", 0, 3);
        lag.set("tx", 1, 7);
        lag.set("tx", 2, -1);
        assert_eq!(
            lag.snapshot(),
            vec![("tx".to_owned(), 0, 3), ("tx".to_owned(), 1, 7)]
        );
        lag.forget("tx", 0);
        assert_eq!(lag.snapshot(), vec![("tx".to_owned(), 1, 7)]);
    }
}
