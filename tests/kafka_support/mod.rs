//! Helpers for the Kafka tests: tansu on a free loopback port, topics, a
//! producer, and a reader of the raw log that judges transactions by the
//! log's own COMMIT/ABORT markers (tansu shows aborted records to
//! read_committed consumers, so rdkafka's read_committed cannot judge
//! exactly-once there).
#![allow(dead_code)]

pub mod log;

use crate::support::{free_port, installed_tool, LocalServer};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tansu {
    pub server: LocalServer,
}

impl Tansu {
    /// A fresh broker with in-memory storage.
    pub fn start() -> Tansu {
        let program = installed_tool("FD_TANSU", "scripts/install-tansu.sh");
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let mut command = Command::new(program);
        command.args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "memory://tansu/",
        ]);
        Tansu {
            server: LocalServer::start(command, port, "tansu"),
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.server.port)
    }

    pub fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .unwrap();
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(-1));
        let results = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(admin.create_topics(&[topic], &AdminOptions::new()))
            .unwrap();
        for result in results {
            result.unwrap_or_else(|error| panic!("creating {name}: {error:?}"));
        }
    }

    pub fn produce(&self, topic: &str, records: &[(String, Vec<u8>)]) {
        produce(&self.bootstrap(), topic, records);
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }
}

/// Produces `records` (key, payload) in order with an idempotent producer
/// and Java's partitioner, as the detector's own producers do.
pub fn produce(bootstrap: &str, topic: &str, records: &[(String, Vec<u8>)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for (key, payload) in records {
        loop {
            match producer.send(BaseRecord::to(topic).key(key).payload(payload)) {
                Ok(()) => break,
                Err((_, _)) => producer.poll(Duration::from_millis(20)),
            }
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

/// Client properties for tests: a short group session (tansu's first join
/// takes about half of it).
pub const TEST_PROPERTIES: &str =
    "{session.timeout.ms: 6000, heartbeat.interval.ms: 1000, topic.metadata.refresh.interval.ms: 2000}";

/// A topology reading `input` and writing the four outputs to `<prefix>-…` topics.
pub fn topology_yaml(bootstrap: &str, input: &str, prefix: &str, codec: &str) -> String {
    let schema = |id: u32| {
        if codec == "confluent_avro" {
            format!(", schema_id: {id}")
        } else {
            String::new()
        }
    };
    format!(
        "sources:
  transactions:
    type: kafka
    bootstrap_servers: {bootstrap}
    topic: {input}
    group_id: {prefix}-group
    transactional_id: {prefix}-${{FD_REPLICA:-0}}
    codec: {codec}
    max_wait_ms: 50
    properties: {TEST_PROPERTIES}
sinks:
  decisions: {{type: kafka, bootstrap_servers: {bootstrap}, topic: {prefix}-decisions, codec: {codec}{}}}
  alerts: {{type: kafka, bootstrap_servers: {bootstrap}, topic: {prefix}-alerts, codec: {codec}{}}}
  cases: {{type: kafka, bootstrap_servers: {bootstrap}, topic: {prefix}-cases, codec: {codec}{}}}
  dead_letters: {{type: kafka, bootstrap_servers: {bootstrap}, topic: {prefix}-dead-letters}}
",
        schema(11),
        schema(12),
        schema(13)
    )
}

/// The committed records of `topic`, decoded as JSON.
pub fn committed_json<T: fraud_detector::codecs::Record>(
    broker: &Tansu,
    topic: &str,
    partitions: i32,
) -> Vec<T> {
    let json = fraud_detector::codecs::Codec::new(fraud_detector::codecs::CodecKind::Json);
    log::committed(broker.port(), topic, partitions)
        .iter()
        .map(|record| json.decode(record.value.as_deref().unwrap()).unwrap())
        .collect()
}

/// Waits for `done`; on a timeout fails with what `logs` returns (the detectors' logs).
pub fn wait_for(
    what: &str,
    seconds: u64,
    logs: impl Fn() -> String,
    mut done: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}; logs:\n{}", logs());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}
