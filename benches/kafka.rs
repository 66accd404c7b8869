//! End to end through a real broker (tansu): preload N transactions into a
//! topic, run the exactly-once Kafka loop until it has committed them all,
//! and report throughput and the CPU seconds per transaction of the detector
//! (this process) beside the broker's (from /proc/PID/stat).
//!
//!     FD_TANSU=$(scripts/install-tansu.sh) cargo bench --bench kafka            # 1 M
//!     FD_KAFKA_BENCH_N=200000 cargo bench --bench kafka                          # fewer
//!     FD_KAFKA_BENCH_PROPERTIES='linger.ms: 50' cargo bench --bench kafka       # try librdkafka settings
//!
//! `cargo test` runs it without `--bench` as a 5,000-record smoke run.

#[path = "../tests/kafka_support/mod.rs"]
mod kafka_support;
#[path = "../tests/support.rs"]
mod support;

use fraud_detector::codecs::{Codec, CodecKind};
use fraud_detector::generator::{Generated, Generator, GeneratorConfig};
use fraud_detector::runtime::{RunOptions, Shutdown};
use fraud_detector::telemetry::Counters;
use kafka_support::Tansu;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 4;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = !args.iter().any(|arg| arg == "--bench");
    let count: u64 = match std::env::var("FD_KAFKA_BENCH_N") {
        Ok(value) => value.parse().expect("FD_KAFKA_BENCH_N is a number"),
        Err(_) if smoke => 5_000,
        Err(_) => 1_000_000,
    };
    let broker = Tansu::start();
    broker.create_topic("bench-tx", PARTITIONS);
    let preload_started = Instant::now();
    preload(&broker, count);
    let preload_seconds = preload_started.elapsed().as_secs_f64();

    let measured = run_detector(&broker, count);
    println!(
        "kafka end to end: {count} transactions ({PARTITIONS} partitions) preloaded in {preload_seconds:.1}s; \
         after the group join, {} decided exactly once in {:.2}s = {:.0} tx/s",
        measured.records,
        measured.seconds,
        measured.records as f64 / measured.seconds
    );
    println!(
        "  CPU per transaction: detector {:.2} µs, broker (tansu) {:.2} µs",
        measured.detector_cpu * 1e6 / measured.records as f64,
        measured.broker_cpu * 1e6 / measured.records as f64
    );
}

/// From the first committed transaction to the last: the group join and
/// topic setup are left out.
struct Measured {
    records: u64,
    seconds: f64,
    detector_cpu: f64,
    broker_cpu: f64,
}

fn preload(broker: &Tansu, count: u64) {
    let config = GeneratorConfig {
        seed: 3,
        customers: 50_000,
        transactions: Some(count),
        ..GeneratorConfig::default()
    };
    let json = Codec::new(CodecKind::Json);
    let mut chunk = Vec::with_capacity(10_000);
    for event in Generator::new(config).expect("generator") {
        if let Generated::Transaction { transaction, .. } = event {
            let mut payload = Vec::with_capacity(400);
            json.encode(&transaction, &mut payload).expect("encode");
            chunk.push((transaction.customer_id.to_string(), payload));
            if chunk.len() == 10_000 {
                broker.produce("bench-tx", &chunk);
                chunk.clear();
            }
        }
    }
    broker.produce("bench-tx", &chunk);
}

/// Runs the Kafka loop in this process until `count` records are committed.
fn run_detector(broker: &Tansu, count: u64) -> Measured {
    // FD_KAFKA_BENCH_MAX_BATCH: records per Kafka transaction (1,000 unless set).
    let max_batch = std::env::var("FD_KAFKA_BENCH_MAX_BATCH")
        .ok()
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(1_000);
    let mut yaml = kafka_support::topology_yaml(&broker.bootstrap(), "bench-tx", "bench", "json")
        .replace(
            "max_wait_ms: 50",
            &format!("max_wait_ms: 100\n    max_batch: {max_batch}"),
        );
    // Extra librdkafka properties for the source's clients, as YAML map entries.
    let extra = std::env::var("FD_KAFKA_BENCH_PROPERTIES").unwrap_or_default();
    if !extra.trim().is_empty() {
        yaml = yaml.replacen("properties: {", &format!("properties: {{{extra}, "), 1);
    }
    let topology = support::topology(&yaml);
    let counters = Arc::new(Counters::default());
    let shutdown = Shutdown::default();
    let options = RunOptions {
        counters: Some(counters.clone()),
        shutdown: shutdown.clone(),
        ..RunOptions::default()
    };
    let runner = std::thread::spawn(move || support::run(&topology, options));
    let deadline = Instant::now() + Duration::from_secs(3_600);
    let wait_until = |target: u64| {
        while counters.snapshot().transactions_in < target {
            assert!(
                Instant::now() < deadline && !runner.is_finished(),
                "stalled"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_until(1);
    let first = counters.snapshot().transactions_in;
    let own = cpu_seconds(std::process::id());
    let broker_before = cpu_seconds(broker.server.pid());
    let threads_before = support::cpu_by_thread();
    let started = Instant::now();
    wait_until(count);
    println!(
        "  detector CPU by thread: {}",
        support::cpu_by_thread_since(&threads_before)
    );
    let measured = Measured {
        records: counters.snapshot().transactions_in - first,
        seconds: started.elapsed().as_secs_f64(),
        detector_cpu: cpu_seconds(std::process::id()) - own,
        broker_cpu: cpu_seconds(broker.server.pid()) - broker_before,
    };
    shutdown.trigger();
    runner.join().expect("detector thread");
    measured
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let after = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ is 100 on Linux
}
