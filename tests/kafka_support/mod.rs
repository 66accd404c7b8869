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
    /// The S3 endpoint of durable storage (moto), if any.
    s3: Option<String>,
}

impl Tansu {
    /// A fresh broker with in-memory storage.
    pub fn start() -> Tansu {
        let port = free_port();
        Tansu {
            server: LocalServer::start(tansu_command(port, None), port, "tansu"),
            s3: None,
        }
    }

    /// A broker whose topics, records and offsets live in a bucket of the
    /// S3 emulator at `endpoint`, so they survive a broker restart.
    pub fn start_durable(endpoint: &str) -> Tansu {
        create_bucket(endpoint, "tansu");
        let port = free_port();
        Tansu {
            server: LocalServer::start(tansu_command(port, Some(endpoint)), port, "tansu"),
            s3: Some(endpoint.to_owned()),
        }
    }

    /// SIGKILL, then a new broker on the same port and storage.
    pub fn kill_and_restart(&mut self) {
        self.server.kill();
        let port = self.server.port;
        self.server = LocalServer::start(tansu_command(port, self.s3.as_deref()), port, "tansu");
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

fn tansu_command(port: u16, s3: Option<&str>) -> Command {
    let program = installed_tool("FD_TANSU", "scripts/install-tansu.sh");
    let url = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new(program);
    command.args([
        "broker",
        "--listener-url",
        &url,
        "--advertised-listener-url",
        &url,
    ]);
    match s3 {
        None => command.args(["--storage-engine", "memory://tansu/"]),
        // Pinned to the local emulator: tansu must never reach for real AWS.
        Some(endpoint) => command
            .args(["--storage-engine", "s3://tansu/"])
            .env("AWS_ENDPOINT", endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "x")
            .env("AWS_SECRET_ACCESS_KEY", "x")
            .env("AWS_DEFAULT_REGION", "us-east-1"),
    };
    command
}

/// PUT /BUCKET on the S3 emulator.
fn create_bucket(endpoint: &str, bucket: &str) {
    use std::io::{Read, Write};
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "creating the bucket: {response}"
    );
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

/// `fraud-detector run --topology TOPOLOGY` as replica `replica`, its
/// stderr appended to `log`.
pub fn spawn_detector(
    topology: &std::path::Path,
    log: &std::path::Path,
    replica: usize,
) -> std::process::Child {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_fraud-detector"))
        .args(["run", "--log-json", "--topology"])
        .arg(topology)
        .env("FD_REPLICA", replica.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// SIGTERM, then the exit status.
pub fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    child.wait().unwrap()
}
