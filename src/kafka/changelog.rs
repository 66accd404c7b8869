//! The state changelog: one compacted record per customer, keyed by
//! customer_id, in the partition of the input that owns the customer, written
//! in the same transaction as the decisions (as Kafka Streams does).
//!
//! Each record carries `through`: the input offset its transaction committed
//! up to. On restore only records with `through` ≤ the group's committed
//! offset count, newest last. That ignores records of aborted or unfinished
//! transactions even where the broker shows them to read_committed readers
//! (tansu does): an aborted batch is always decided again, and its customers
//! written again, by a later transaction before the offset can pass it.

use super::KafkaError;
use crate::state::{keys, CustomerState, StateStore};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use thiserror::Error;

const VERSION: u8 = 1;
const HEADER: usize = 9;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ChangelogError {
    #[error("changelog record of {len} bytes is shorter than its {HEADER}-byte header")]
    Short { len: usize },
    #[error("changelog record version {0} is not {VERSION}")]
    Version(u8),
    #[error("changelog state does not decode: {0}")]
    State(String),
    #[error("changelog {topic}: not read to its end within {seconds} s")]
    Timeout { topic: String, seconds: u64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangelogEntry {
    /// The input offset the writing transaction committed up to.
    pub through: i64,
    pub state: CustomerState,
}

impl ChangelogEntry {
    pub fn encode(through: i64, state: &CustomerState) -> Result<Vec<u8>, ChangelogError> {
        let mut out = Vec::with_capacity(HEADER + 400);
        ChangelogEntry::encode_into(through, state, &mut out)?;
        Ok(out)
    }

    /// As `encode`, appending to `out`.
    pub fn encode_into(
        through: i64,
        state: &CustomerState,
        out: &mut Vec<u8>,
    ) -> Result<(), ChangelogError> {
        out.push(VERSION);
        out.extend_from_slice(&through.to_be_bytes());
        bincode::serialize_into(out, state)
            .map_err(|error| ChangelogError::State(error.to_string()))
    }

    pub fn decode(bytes: &[u8]) -> Result<ChangelogEntry, ChangelogError> {
        if bytes.len() < HEADER {
            return Err(ChangelogError::Short { len: bytes.len() });
        }
        if bytes[0] != VERSION {
            return Err(ChangelogError::Version(bytes[0]));
        }
        let mut through = [0u8; 8];
        through.copy_from_slice(&bytes[1..HEADER]);
        let state = bincode::deserialize(&bytes[HEADER..])
            .map_err(|error| ChangelogError::State(error.to_string()))?;
        Ok(ChangelogEntry {
            through: i64::from_be_bytes(through),
            state,
        })
    }
}

/// Reads `partitions` (partition → the group's committed input offset) of
/// the changelog to their end and puts each customer's newest committed
/// state into `state`. Returns how many customers were restored.
pub(crate) fn restore(
    reader_config: &ClientConfig,
    topic: &str,
    partitions: &BTreeMap<i32, i64>,
    state: &StateStore,
    timeout: Duration,
) -> Result<usize, KafkaError> {
    if partitions.is_empty() {
        return Ok(0);
    }
    let mut config = reader_config.clone();
    // librdkafka wants a group id even for assign(); it never joins nor commits.
    let group = format!("{topic}-restore");
    config
        .set("group.id", &group)
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest");
    let reader: BaseConsumer = config.create()?;
    let mut assignment = TopicPartitionList::new();
    for partition in partitions.keys() {
        assignment.add_partition_offset(topic, *partition, Offset::Beginning)?;
    }
    reader.assign(&assignment)?;
    let latest = read_to_end(&reader, topic, partitions, timeout)?;
    let restored = latest.len();
    for (customer_id, customer) in latest {
        **state.customer_mut(keys::key(&customer_id)) = customer;
    }
    Ok(restored)
}

fn read_to_end(
    reader: &BaseConsumer,
    topic: &str,
    partitions: &BTreeMap<i32, i64>,
    timeout: Duration,
) -> Result<HashMap<String, CustomerState>, KafkaError> {
    let deadline = Instant::now() + timeout;
    let mut open: Vec<i32> = partitions.keys().copied().collect();
    let mut latest = HashMap::new();
    while !open.is_empty() {
        if Instant::now() > deadline {
            return Err(ChangelogError::Timeout {
                topic: topic.to_owned(),
                seconds: timeout.as_secs(),
            }
            .into());
        }
        match reader.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                open.retain(|open| *open != partition);
            }
            Some(Err(error)) => tracing::warn!(%error, topic, "changelog read: retrying"),
            Some(Ok(message)) => {
                let committed = partitions.get(&message.partition()).copied();
                let (Some(key), Some(value)) = (message.key(), message.payload()) else {
                    continue;
                };
                match ChangelogEntry::decode(value) {
                    Ok(entry) if committed.is_some_and(|offset| entry.through <= offset) => {
                        latest.insert(String::from_utf8_lossy(key).into_owned(), entry.state);
                    }
                    Ok(_) => {} // from an aborted or unfinished transaction
                    Err(error) => tracing::warn!(%error, topic, "skipping a changelog record"),
                }
            }
        }
    }
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_reject_damage() {
        let state = CustomerState {
            newest_event: 1_700_000_000,
            ..CustomerState::default()
        };
        let bytes = ChangelogEntry::encode(42, &state).unwrap();
        let entry = ChangelogEntry::decode(&bytes).unwrap();
        assert_eq!((entry.through, entry.state), (42, state));
        assert_eq!(
            ChangelogEntry::decode(&bytes[..4]),
            Err(ChangelogError::Short { len: 4 })
        );
        let mut wrong = bytes.clone();
        wrong[0] = 9;
        assert_eq!(
            ChangelogEntry::decode(&wrong),
            Err(ChangelogError::Version(9))
        );
        assert!(matches!(
            ChangelogEntry::decode(&bytes[..bytes.len() - 3]),
            Err(ChangelogError::State(_))
        ));
    }
}
