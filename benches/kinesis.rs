//! Throughput through a local Kinesis server (kinesis-local), and where the
//! CPU goes: the detector's process against the emulator's.
//!
//!     FD_KINESIS_LOCAL=$(scripts/install-kinesis-local.sh) cargo bench --bench kinesis
//!     ... cargo bench --bench kinesis -- --quick     # small smoke run
//!
//! For plain and KPL-aggregated records (100 per Kinesis record), read by
//! polling, and the plain stream again with enhanced fan-out, prints the
//! produce rate, the rate the detector reads, decides and writes (to a
//! blackhole), and CPU per transaction of each process, from /proc.

#[path = "../tests/kinesis_common/mod.rs"]
mod kinesis_common;
#[path = "../tests/support.rs"]
mod support;

use kinesis_common::*;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test` runs bench targets without `--bench`: keep that a smoke run.
    let quick = args.iter().any(|arg| arg == "--quick") || !args.iter().any(|arg| arg == "--bench");
    let count = if quick { 2_000 } else { 20_000 };
    local_credentials();
    let server = kinesis_local();
    let url = server.url();
    let records = transactions(3, count);
    println!("kinesis-local, 4 shards, {count} transactions, 2 detector workers");
    println!(
        "| records | produce tx/s | detector tx/s | detector CPU µs/tx | emulator CPU µs/tx |"
    );
    println!("|---|---|---|---|---|");
    for aggregate in [1usize, 100] {
        let stream = format!("bench-{aggregate}");
        let produced = produce(&url, &stream, &records, aggregate);
        let consumed = consume(&url, &stream, count, server.pid(), "");
        let name = match aggregate {
            1 => "plain".to_owned(),
            _ => format!("KPL x{aggregate}"),
        };
        let produce_rate = format!("{:.0}", count as f64 / produced.as_secs_f64());
        print_row(&name, &produce_rate, count, &consumed);
    }
    // The plain stream once more, pushed to a registered consumer.
    let fan_out = "enhanced_fan_out: {consumer_name: bench}";
    let consumed = consume(&url, "bench-1", count, server.pid(), fan_out);
    print_row("plain, enhanced fan-out", "(same stream)", count, &consumed);
}

fn print_row(name: &str, produce_rate: &str, count: u64, consumed: &Consumed) {
    println!(
        "| {name} | {produce_rate} | {:.0} | {:.1} | {:.1} |",
        count as f64 / consumed.elapsed.as_secs_f64(),
        consumed.detector_cpu.as_secs_f64() * 1e6 / count as f64,
        consumed.emulator_cpu.as_secs_f64() * 1e6 / count as f64,
    );
}

fn produce(url: &str, stream: &str, records: &[(String, Vec<u8>)], aggregate: usize) -> Duration {
    let client = client(url);
    let rt = runtime();
    rt.block_on(create_stream(&client, stream, 4));
    let started = Instant::now();
    if aggregate > 1 {
        let packed: Vec<(String, Vec<u8>)> = records
            .chunks(aggregate)
            .map(|chunk| {
                let parts: Vec<(&str, &[u8])> = chunk
                    .iter()
                    .map(|(key, data)| (key.as_str(), data.as_slice()))
                    .collect();
                let payload = fraud_detector::sources::kinesis::kpl::aggregate(&parts);
                (chunk[0].0.clone(), payload)
            })
            .collect();
        rt.block_on(put(&client, stream, &packed));
    } else {
        rt.block_on(put(&client, stream, records));
    }
    started.elapsed()
}

struct Consumed {
    elapsed: Duration,
    detector_cpu: Duration,
    emulator_cpu: Duration,
}

/// Reads `stream` with the source `setting` (a YAML line) until `count` decisions.
fn consume(url: &str, stream: &str, count: u64, emulator: u32, setting: &str) -> Consumed {
    let yaml = format!(
        "sources:
  tx:
    type: kinesis
    stream_name: {stream}
    aws: {{endpoint: {url}}}
    max_records: 10000
    poll_interval: 50ms
    {setting}
sinks:
  decisions: {{type: blackhole}}
  dead_letters: {{type: blackhole}}
engine: {{workers: 2, batch_size: 256}}
"
    );
    let (self_before, emulator_before) = (cpu(std::process::id()), cpu(emulator));
    let started = Instant::now();
    let running = start(&yaml);
    running.wait_until(600, |counters| counters.decisions() >= count);
    let elapsed = started.elapsed();
    let (self_after, emulator_after) = (cpu(std::process::id()), cpu(emulator));
    running.stop();
    Consumed {
        elapsed,
        detector_cpu: self_after.saturating_sub(self_before),
        emulator_cpu: emulator_after.saturating_sub(emulator_before),
    }
}

/// User plus system CPU of a process so far, from /proc (clock ticks of 10 ms).
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}
