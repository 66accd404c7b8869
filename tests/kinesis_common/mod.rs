//! Helpers for the Kinesis tests: kinesis-local (kinesis-mock on Node) on a
//! free loopback port, fresh streams, and reading a stream back whole.
#![allow(dead_code)]

pub mod faults;

use crate::support::{free_port, installed_tool, LocalServer};
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::types::{ShardIteratorType, StreamStatus};
use fraud_detector::generator::{Generated, Generator, GeneratorConfig};
use fraud_detector::runtime::{RunOptions, RunReport, Shutdown};
use fraud_detector::telemetry::{CountersSnapshot, Telemetry};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A pipeline running in this process on its own thread.
pub struct Running {
    pub telemetry: Arc<Telemetry>,
    shutdown: Shutdown,
    thread: std::thread::JoinHandle<RunReport>,
}

pub fn start(yaml: &str) -> Running {
    let topology = crate::support::topology(yaml);
    let telemetry = Arc::new(Telemetry::default());
    let shutdown = Shutdown::default();
    let options = RunOptions {
        shutdown: shutdown.clone(),
        telemetry: Some(telemetry.clone()),
        ..RunOptions::default()
    };
    let thread = std::thread::spawn(move || crate::support::run(&topology, options));
    Running {
        telemetry,
        shutdown,
        thread,
    }
}

impl Running {
    /// Waits until the counters satisfy `done`; fails the caller after `seconds`.
    pub fn wait_until(&self, seconds: u64, done: impl Fn(&CountersSnapshot) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let counters = self.telemetry.counters.snapshot();
            if done(&counters) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pipeline stalled at {counters:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops it as SIGTERM would and waits for the drain.
    pub fn stop(self) -> Arc<Telemetry> {
        self.shutdown.trigger();
        self.thread.join().expect("the pipeline ran");
        self.telemetry
    }
}

/// Transaction ids per customer, in the order of `records`, for the ids `keep` accepts.
pub fn per_customer(
    records: &[(String, Vec<u8>)],
    keep: impl Fn(&str) -> bool,
) -> BTreeMap<String, Vec<String>> {
    let mut order: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let customers = field(records, "customer_id");
    for (customer, id) in customers.into_iter().zip(field(records, "transaction_id")) {
        if keep(&id) {
            order.entry(customer).or_default().push(id);
        }
    }
    order
}

/// The credentials every local server accepts, for the detector's standard
/// chain (so it never probes IMDS). Set once, before any pipeline of this
/// process reads the environment: every test calls this first.
pub fn local_credentials() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (name, value) in [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            std::env::set_var(name, value);
        }
    });
}

pub fn kinesis_local() -> LocalServer {
    let main = installed_tool("FD_KINESIS_LOCAL", "scripts/install-kinesis-local.sh");
    let cert = std::path::Path::new(&main).with_file_name("server.json");
    let (port, tls_port) = (free_port(), free_port());
    let mut command = std::process::Command::new("node");
    command
        .arg(&main)
        .env("KINESIS_MOCK_CERT_PATH", cert)
        .env("KINESIS_MOCK_PLAIN_PORT", port.to_string())
        .env("KINESIS_MOCK_TLS_PORT", tls_port.to_string())
        .env("LOG_LEVEL", "WARN")
        .env("CREATE_STREAM_DURATION", "100ms")
        .env("SPLIT_SHARD_DURATION", "100ms");
    LocalServer::start(command, port, "kinesis-local")
}

pub fn client(url: &str) -> aws_sdk_kinesis::Client {
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    aws_sdk_kinesis::Client::from_conf(config)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Creates a stream and waits until it is active.
pub async fn create_stream(client: &aws_sdk_kinesis::Client, name: &str, shards: i32) {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .unwrap();
    wait_active(client, name).await;
}

pub async fn wait_active(client: &aws_sdk_kinesis::Client, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let summary = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .unwrap();
        let status = summary
            .stream_description_summary()
            .map(|s| s.stream_status().clone());
        if status == Some(StreamStatus::Active) {
            return;
        }
        assert!(Instant::now() < deadline, "{name} is not active after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every record of every shard, oldest first per shard, as (shard, data).
/// Every record of stream `name` with its shard id, in order per shard.
pub async fn records(
    client: &aws_sdk_kinesis::Client,
    name: &str,
) -> Vec<(String, aws_sdk_kinesis::types::Record)> {
    let shards = client.list_shards().stream_name(name).send().await.unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(name)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator
            .unwrap();
        loop {
            let page = client
                .get_records()
                .shard_iterator(&iterator)
                .limit(10_000)
                .send()
                .await
                .unwrap();
            for record in page.records() {
                out.push((shard.shard_id().to_owned(), record.clone()));
            }
            let at_tip = page.records().is_empty() && page.millis_behind_latest() == Some(0);
            match page.next_shard_iterator() {
                Some(next) if !at_tip => iterator = next.to_owned(),
                _ => break,
            }
        }
    }
    out
}

/// Every record's data with its shard id.
pub async fn read_all(client: &aws_sdk_kinesis::Client, name: &str) -> Vec<(String, Vec<u8>)> {
    records(client, name)
        .await
        .into_iter()
        .map(|(shard, record)| (shard, record.data().as_ref().to_vec()))
        .collect()
}

/// Shard id → the sequence number of its newest record.
pub async fn last_sequence_numbers(
    client: &aws_sdk_kinesis::Client,
    name: &str,
) -> std::collections::BTreeMap<String, String> {
    records(client, name)
        .await
        .into_iter()
        .map(|(shard, record)| (shard, record.sequence_number().to_owned()))
        .collect()
}

/// Generated transactions as JSON, with their customer ids.
pub fn transactions(seed: u64, count: u64) -> Vec<(String, Vec<u8>)> {
    let config = GeneratorConfig {
        seed,
        customers: 200,
        transactions: Some(count),
        ..GeneratorConfig::default()
    };
    Generator::new(config)
        .unwrap()
        .filter_map(|event| match event {
            Generated::Transaction { transaction, .. } => Some((
                transaction.customer_id.to_string(),
                serde_json::to_vec(&transaction).unwrap(),
            )),
            Generated::Label(_) => None,
        })
        .collect()
}

/// Puts records one PutRecords call at a time (≤ 500), partitioned by key.
pub async fn put(client: &aws_sdk_kinesis::Client, name: &str, records: &[(String, Vec<u8>)]) {
    use aws_sdk_kinesis::primitives::Blob;
    use aws_sdk_kinesis::types::PutRecordsRequestEntry;
    for chunk in records.chunks(500) {
        let entries: Vec<PutRecordsRequestEntry> = chunk
            .iter()
            .map(|(key, data)| {
                PutRecordsRequestEntry::builder()
                    .partition_key(key)
                    .data(Blob::new(data.clone()))
                    .build()
                    .unwrap()
            })
            .collect();
        let output = client
            .put_records()
            .stream_name(name)
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(output.failed_record_count(), Some(0), "test input refused");
    }
}

/// Field `key` of every JSON record in `records`.
pub fn field(records: &[(String, Vec<u8>)], key: &str) -> Vec<String> {
    records
        .iter()
        .map(|(_, data)| {
            let value: serde_json::Value = serde_json::from_slice(data).unwrap();
            value[key].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}
