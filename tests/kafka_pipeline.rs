//! The Kafka source and sinks against a real broker (tansu): N in, exactly
//! N decisions out in customer order, poison records dead-lettered without
//! stalling, the input paused while the producer's queue is full, and Avro
//! in the Confluent wire format both ways.

mod kafka_support;
mod support;

use fraud_detector::codecs::{Codec, CodecKind};
use fraud_detector::domain::{DeadLetter, Decision, Text, Transaction};
use fraud_detector::generator::{Generated, Generator, GeneratorConfig};
use fraud_detector::runtime::{RunOptions, RunReport, Shutdown};
use fraud_detector::telemetry::{render, Telemetry};
use kafka_support::{log, Tansu};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 3;

fn generated(count: u64, customers: u32) -> Vec<Transaction> {
    let config = GeneratorConfig {
        seed: 5,
        customers,
        transactions: Some(count),
        ..GeneratorConfig::default()
    };
    Generator::new(config)
        .unwrap()
        .filter_map(|event| match event {
            Generated::Transaction { transaction, .. } => Some(transaction),
            Generated::Label(_) => None,
        })
        .collect()
}

fn encoded(transactions: &[Transaction], codec: &Codec) -> Vec<(String, Vec<u8>)> {
    transactions
        .iter()
        .map(|transaction| {
            let mut payload = Vec::new();
            codec.encode(transaction, &mut payload).unwrap();
            (transaction.customer_id.to_string(), payload)
        })
        .collect()
}

/// Runs the detector in this process until it has committed `expected`
/// records and `/metrics` shows every partition caught up; returns its
/// report and its `/metrics` once caught up.
fn run_until(yaml: &str, input: &str, expected: u64) -> (RunReport, String) {
    let topology = support::topology(yaml);
    let telemetry = Arc::new(Telemetry::default());
    let counters = telemetry.counters.clone();
    let shutdown = Shutdown::default();
    let options = RunOptions {
        telemetry: Some(telemetry.clone()),
        shutdown: shutdown.clone(),
        ..RunOptions::default()
    };
    let runner = std::thread::spawn(move || support::run(&topology, options));
    let deadline = Instant::now() + Duration::from_secs(150);
    while counters.snapshot().transactions_in < expected {
        assert!(
            Instant::now() < deadline && !runner.is_finished(),
            "only {} of {expected} records committed",
            counters.snapshot().transactions_in
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Lag comes from the client's statistics (fetch high watermark), once a second.
    let caught_up = |metrics: &str| {
        (0..PARTITIONS).all(|partition| {
            metrics.contains(&format!(
                "fraud_source_lag_records{{topic=\"{input}\",partition=\"{partition}\"}} 0\n"
            ))
        })
    };
    let mut metrics = render(&telemetry);
    while !caught_up(&metrics) {
        assert!(
            Instant::now() < deadline,
            "no zero lag per partition in /metrics:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(100));
        metrics = render(&telemetry);
    }
    shutdown.trigger();
    (runner.join().unwrap(), metrics)
}

fn decode_all<T: fraud_detector::codecs::Record>(
    records: &[log::LogRecord],
    codec: &Codec,
) -> Vec<T> {
    records
        .iter()
        .map(|record| codec.decode(record.value.as_deref().unwrap()).unwrap())
        .collect()
}

/// Every transaction decided once, and each customer's in the order produced.
fn assert_exactly_once_in_customer_order(transactions: &[Transaction], decisions: &[Decision]) {
    assert_eq!(decisions.len(), transactions.len(), "exactly N decisions");
    let ids: HashSet<&str> = decisions
        .iter()
        .map(|d| d.transaction_id.as_str())
        .collect();
    assert_eq!(
        ids.len(),
        transactions.len(),
        "no transaction decided twice"
    );

    let produced_order = by_customer(
        transactions
            .iter()
            .map(|t| (t.customer_id.as_str(), t.transaction_id.as_str())),
    );
    let decided_order = by_customer(
        decisions
            .iter()
            .map(|d| (d.customer_id.as_str(), d.transaction_id.as_str())),
    );
    assert_eq!(decided_order, produced_order, "per-customer order kept");
}

/// Transaction ids per customer, in the order given.
fn by_customer<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> HashMap<&'a str, Vec<&'a str>> {
    let mut order: HashMap<&str, Vec<&str>> = HashMap::new();
    for (customer, transaction) in pairs {
        order.entry(customer).or_default().push(transaction);
    }
    order
}

#[test]
fn n_transactions_in_exactly_n_decisions_out_in_customer_order_and_poison_dead_lettered() {
    let broker = Tansu::start();
    broker.create_topic("tx", PARTITIONS);
    let transactions = generated(1_500, 200);
    let json = Codec::new(CodecKind::Json);
    let mut records = encoded(&transactions, &json);
    // Poison between good records: none may stall its partition.
    let poison: [&[u8]; 4] = [
        b"{not json",
        br#"{"transaction_id":"p1","customer_id":"c","amount":-5}"#,
        b"\xff\xfe\x00binary",
        b"",
    ];
    for (index, payload) in poison.iter().enumerate() {
        records.insert(
            index * 300 + 7,
            (format!("poison-{index}"), payload.to_vec()),
        );
    }
    broker.produce("tx", &records);

    let yaml = kafka_support::topology_yaml(&broker.bootstrap(), "tx", "p", "json");
    let (report, _) = run_until(&yaml, "tx", records.len() as u64);
    assert_eq!(report.counters.decisions(), transactions.len() as u64);
    assert_eq!(report.counters.dead_letters(), poison.len() as u64);

    let decisions: Vec<Decision> = decode_all(
        &log::committed(broker.port(), "p-decisions", PARTITIONS),
        &json,
    );
    assert_exactly_once_in_customer_order(&transactions, &decisions);

    let letters: Vec<DeadLetter> = decode_all(
        &log::committed(broker.port(), "p-dead-letters", PARTITIONS),
        &json,
    );
    assert_eq!(letters.len(), poison.len());
    for letter in &letters {
        assert!(letter.position.contains("offset"), "{letter:?}");
        assert!(!letter.reason.is_empty(), "{letter:?}");
    }
    assert!(
        letters
            .iter()
            .any(|letter| letter.reason.contains("amount")),
        "{letters:?}"
    );
}

#[test]
fn confluent_avro_round_trip() {
    let broker = Tansu::start();
    broker.create_topic("tx-avro", PARTITIONS);
    let transactions = generated(300, 50);
    let writer = Codec::new(CodecKind::ConfluentAvro).with_schema_id(10);
    broker.produce("tx-avro", &encoded(&transactions, &writer));

    let yaml = kafka_support::topology_yaml(&broker.bootstrap(), "tx-avro", "a", "confluent_avro");
    let (report, _) = run_until(&yaml, "tx-avro", transactions.len() as u64);
    assert_eq!(report.counters.dead_letters(), 0, "{:?}", report.counters);

    let committed = log::committed(broker.port(), "a-decisions", PARTITIONS);
    for record in &committed {
        let value = record.value.as_deref().unwrap();
        assert_eq!(value[..5], [0, 0, 0, 0, 11], "magic byte and schema id 11");
    }
    let reader = Codec::new(CodecKind::ConfluentAvro).with_schema_id(11);
    let decisions: Vec<Decision> = decode_all(&committed, &reader);
    let decided: HashSet<Text> = decisions.into_iter().map(|d| d.transaction_id).collect();
    let produced: HashSet<Text> = transactions.into_iter().map(|t| t.transaction_id).collect();
    assert_eq!(decided, produced);
}

#[test]
fn produce_and_tail_on_kafka_from_the_command_line() {
    let broker = Tansu::start();
    broker.create_topic("cli-tx", PARTITIONS);
    let binary = env!("CARGO_BIN_EXE_fraud-detector");
    let bootstrap = broker.bootstrap();
    let produced = std::process::Command::new(binary)
        .args(["produce", "--kafka", &bootstrap, "--topic", "cli-tx"])
        .args(["--count", "120", "--rate", "2000"])
        .output()
        .unwrap();
    assert!(produced.status.success(), "{produced:?}");
    let tailed = std::process::Command::new(binary)
        .args(["tail", "--kafka", &bootstrap, "--topic", "cli-tx", "--json"])
        .output()
        .unwrap();
    assert!(tailed.status.success(), "{tailed:?}");
    let json = Codec::new(CodecKind::Json);
    let stdout = String::from_utf8(tailed.stdout).unwrap();
    let transactions: Vec<Transaction> = stdout
        .lines()
        .map(|line| json.decode(line.as_bytes()).unwrap())
        .collect();
    assert_eq!(transactions.len(), 120);
    let keys: Vec<(String, i32)> = log::committed(broker.port(), "cli-tx", PARTITIONS)
        .into_iter()
        .map(|record| {
            let key = String::from_utf8(record.key.unwrap()).unwrap();
            (key, record.partition)
        })
        .collect();
    let mut partition_of: HashMap<String, i32> = HashMap::new();
    for (key, partition) in keys {
        assert_eq!(
            *partition_of.entry(key.clone()).or_insert(partition),
            partition,
            "customer {key} on one partition"
        );
    }
    assert!(partition_of.len() > 1, "keyed by customer_id");
}

/// A producer queue of four records fills again and again while a batch's
/// outputs are written: each time the input partitions are paused, then
/// resumed when the transaction ends, and librdkafka refetches from the
/// position after the last record polled. Every transaction is still
/// decided exactly once, in customer order.
#[test]
fn a_full_producer_queue_pauses_the_input_and_loses_or_repeats_nothing() {
    let broker = Tansu::start();
    broker.create_topic("bp", PARTITIONS);
    let transactions = generated(600, 80);
    let json = Codec::new(CodecKind::Json);
    broker.produce("bp", &encoded(&transactions, &json));

    let yaml = kafka_support::topology_yaml(&broker.bootstrap(), "bp", "bp", "json")
        .replace(
            "properties: {",
            "properties: {queue.buffering.max.messages: 4, ",
        )
        // Small batches: most records are still to be polled when one pauses.
        .replace("max_wait_ms: 50", "max_wait_ms: 50\n    max_batch: 40");
    let (report, metrics) = run_until(&yaml, "bp", transactions.len() as u64);
    assert_eq!(report.counters.decisions(), transactions.len() as u64);
    let pauses: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("fraud_source_pauses_total "))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no fraud_source_pauses_total in /metrics:\n{metrics}"));
    assert!(pauses > 0, "the full queue never paused the input");

    let decisions: Vec<Decision> = decode_all(
        &log::committed(broker.port(), "bp-decisions", PARTITIONS),
        &json,
    );
    assert_exactly_once_in_customer_order(&transactions, &decisions);
}
