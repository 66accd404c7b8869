//! The topology's `type: kafka` source and sinks.

use super::client::Properties;
use crate::codecs::{Codec, CodecKind};
use serde::{Deserialize, Serialize};

/// A consumer group reading transactions, decided exactly once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceConfig {
    /// `host:port[,host:port...]`.
    pub bootstrap_servers: String,
    /// The input topic, keyed by customer_id.
    pub topic: String,
    /// The consumer group; replicas with the same group share the partitions.
    pub group_id: String,
    /// `json`, `avro` (bare datums) or `confluent_avro`.
    #[serde(default)]
    pub codec: CodecKind,
    /// With `confluent_avro`: reject messages written with another schema id.
    #[serde(default)]
    pub schema_id: Option<u32>,
    /// Must stay the same across restarts of one replica (and differ between
    /// replicas): a restart fences and aborts its predecessor's open
    /// transaction. Default `<group_id>-0`; use `${FD_REPLICA}` per replica.
    #[serde(default)]
    pub transactional_id: Option<String>,
    /// Compacted topic, partitioned like the input, holding each customer's
    /// state. Default `<group_id>-changelog`.
    #[serde(default)]
    pub changelog_topic: Option<String>,
    /// Records decided per transaction at most.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// How long a transaction waits to fill its batch, in milliseconds.
    #[serde(default = "default_max_wait_ms")]
    pub max_wait_ms: u64,
    /// A transaction still open after this many seconds means librdkafka is
    /// wedged (seen after a broker restart): the process exits with code 75
    /// so the orchestrator restarts it, and the restart aborts the transaction.
    #[serde(default = "default_stall_timeout_s")]
    pub stall_timeout_s: u64,
    /// Create missing output and changelog topics at start.
    #[serde(default = "default_true")]
    pub create_topics: bool,
    /// Passed to librdkafka as written, for the consumer and the producer.
    #[serde(default)]
    pub properties: Properties,
}

fn default_max_batch() -> usize {
    2_000
}

fn default_max_wait_ms() -> u64 {
    100
}

fn default_stall_timeout_s() -> u64 {
    300
}

fn default_true() -> bool {
    true
}

impl KafkaSourceConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = endpoint_problems(&self.bootstrap_servers, &self.topic);
        if self.group_id.trim().is_empty() {
            problems.push("group_id: must not be empty".into());
        }
        if self.max_batch == 0 {
            problems.push("max_batch: must be at least 1".into());
        }
        if self.stall_timeout_s == 0 {
            problems.push("stall_timeout_s: must be at least 1".into());
        }
        problems
    }

    pub fn codec(&self) -> Codec {
        with_schema_id(Codec::new(self.codec), self.schema_id)
    }

    pub fn transactional_id(&self) -> String {
        self.transactional_id
            .clone()
            .unwrap_or_else(|| format!("{}-0", self.group_id))
    }

    pub fn changelog_topic(&self) -> String {
        self.changelog_topic
            .clone()
            .unwrap_or_else(|| format!("{}-changelog", self.group_id))
    }
}

/// One output topic, keyed by customer_id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    pub bootstrap_servers: String,
    pub topic: String,
    /// `json`, `avro` (bare datums) or `confluent_avro` (needs `schema_id`).
    #[serde(default)]
    pub codec: CodecKind,
    /// The schema registry's id for this output's schema (Confluent wire format).
    #[serde(default)]
    pub schema_id: Option<u32>,
    /// Passed to librdkafka as written.
    #[serde(default)]
    pub properties: Properties,
}

impl KafkaSinkConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = endpoint_problems(&self.bootstrap_servers, &self.topic);
        if self.codec == CodecKind::ConfluentAvro && self.schema_id.is_none() {
            problems.push("schema_id: codec confluent_avro needs the schema's registry id".into());
        }
        problems
    }

    pub fn codec(&self) -> Codec {
        with_schema_id(Codec::new(self.codec), self.schema_id)
    }
}

/// What a source and a sink both need: a cluster and a topic.
fn endpoint_problems(bootstrap_servers: &str, topic: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if bootstrap_servers.trim().is_empty() {
        problems.push("bootstrap_servers: must name at least one broker".into());
    }
    if topic.trim().is_empty() {
        problems.push("topic: must not be empty".into());
    }
    problems
}

fn with_schema_id(codec: Codec, schema_id: Option<u32>) -> Codec {
    match schema_id {
        Some(id) => codec.with_schema_id(id),
        None => codec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_problems() {
        let source: KafkaSourceConfig = serde_yaml::from_str(
            "bootstrap_servers: b:9092\ntopic: tx\ngroup_id: fd\nproperties: {session.timeout.ms: 6000}\n",
        )
        .unwrap();
        assert!(source.problems().is_empty());
        assert_eq!(source.transactional_id(), "fd-0");
        assert_eq!(source.changelog_topic(), "fd-changelog");
        let sink: KafkaSinkConfig = serde_yaml::from_str(
            "bootstrap_servers: b:9092\ntopic: decisions\ncodec: confluent_avro\n",
        )
        .unwrap();
        assert_eq!(sink.problems().len(), 1, "{:?}", sink.problems());
    }
}
