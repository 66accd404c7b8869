//! End-to-end in-process harness: JSON bytes → decode → state → rules →
//! encode, on one core, then the memory of 1 M active customers.
//!
//!     cargo bench --bench pipeline              # full run
//!     cargo bench --bench pipeline -- --quick   # small smoke run
//!     cargo bench --bench pipeline -- model     # one phase only (to profile it):
//!                                               # memory, rules, runtime, model
//!
//! To profile only the timed loops (not the data generation before them):
//!
//!     mkfifo /tmp/ctl && FD_PERF_CTL=/tmp/ctl perf record -D -1 \
//!         --control=fifo:/tmp/ctl target/release/deps/pipeline-* --bench model
//!
//! Prints tx/s per core, p50/p99 per transaction, and RSS per customer.

use fraud_detector::codecs::{Codec, CodecKind};
use fraud_detector::domain::Transaction;
use fraud_detector::engine::{Engine, FixedClock, Outcome};
use fraud_detector::generator::{Generated, Generator, GeneratorConfig};
use fraud_detector::model::{ModelConfig, ModelSlot};
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test` runs bench targets without `--bench`: keep that a smoke run.
    let quick = args.iter().any(|arg| arg == "--quick") || !args.iter().any(|arg| arg == "--bench");
    let (transactions, customers) = if quick {
        (20_000, 20_000)
    } else {
        (1_000_000, 1_000_000)
    };
    let phases = ["memory", "rules", "runtime", "model"];
    let chosen: Vec<&str> = phases
        .into_iter()
        .filter(|phase| args.iter().any(|arg| arg == phase))
        .collect();
    let runs = |phase: &str| chosen.is_empty() || chosen.contains(&phase);
    // Memory first, in a process that has allocated nothing else yet.
    if runs("memory") {
        memory(customers);
    }
    if runs("rules") {
        throughput(transactions);
    }
    let runtime_transactions = if quick { 20_000 } else { 500_000 };
    if runs("runtime") {
        runtime_cpu(runtime_transactions, None);
    }
    if !(runs("model") || runs("runtime")) {
        return;
    }
    match fraud_detector::model::runtime_library(None) {
        Ok(_) => {
            if runs("model") {
                throughput_with_model(transactions.min(500_000));
            }
            if runs("runtime") {
                runtime_cpu(runtime_transactions, Some("models/fraud-gbt-v1.onnx"))
            }
        }
        Err(error) => println!("runtime with the model: skipped ({error})"),
    }
}

/// Transactions a model call scores together at most.
const MODEL_ROUND: usize = 256;

/// As `throughput`, with the committed model: decode a round of up to
/// `MODEL_ROUND` transactions (a customer's second transaction starts the
/// next round, since its profile learns only once the first is concluded),
/// assess each, score the round in one model call, conclude and encode.
fn throughput_with_model(count: u64) {
    let lines = encoded_transactions(count, 50_000);
    let mut config = ModelConfig::at("models/fraud-gbt-v1.onnx");
    // FD_BENCH_EXPLAIN_TOP=0 measures the run without explanations.
    if let Some(top) = std::env::var("FD_BENCH_EXPLAIN_TOP")
        .ok()
        .and_then(|top| top.parse().ok())
    {
        config.explain_top = top;
    }
    let slot = ModelSlot::load(&config, (40, 80), 1).unwrap_or_else(|error| panic!("{error}"));
    let engine = engine().with_model(Arc::new(slot));
    let codec = Codec::new(CodecKind::Json);
    let mut out = Vec::with_capacity(4096);
    let (mut decided, mut rounds) = (0usize, 0usize);
    let profiling = Profiling::start();
    let started = Instant::now();
    let mut rest = &lines[..];
    while !rest.is_empty() {
        let mut customers = std::collections::HashSet::with_capacity(MODEL_ROUND);
        let round: Vec<Transaction> = rest
            .iter()
            .take(MODEL_ROUND)
            .map(|line| codec.decode(line).expect("generated transactions decode"))
            // Keyed as the runtime's rounds are: no string copies.
            .take_while(|transaction: &Transaction| {
                customers.insert(fraud_detector::state::keys::key(&transaction.customer_id))
            })
            .collect();
        rest = &rest[round.len()..];
        let now = Instant::now();
        let mut assessments: Vec<_> = round.iter().map(|tx| engine.assess(tx, 0, now)).collect();
        for outcome in engine.conclude_all(assessments.drain(..)) {
            encode_outcome(&codec, &outcome, &mut out);
            decided += 1;
        }
        rounds += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(profiling);
    println!(
        "pipeline with the model: {decided} transactions on one core in {seconds:.2}s = {:.0} tx/s ({:.0} per model call on average)",
        decided as f64 / seconds,
        decided as f64 / rounds as f64,
    );
}

/// The real runtime (file source → router → one worker → blackhole sinks),
/// rules alone or with the model: wall-clock tx/s and the process's CPU
/// time per transaction, which is what "per core" means once several
/// threads (source, worker, sinks) share the work.
fn runtime_cpu(count: u64, model: Option<&str>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let input = dir.path().join("tx.jsonl");
    let mut text = Vec::new();
    for line in encoded_transactions(count, 50_000) {
        text.extend_from_slice(&line);
        text.push(b'\n');
    }
    std::fs::write(&input, text).expect("the input is written");
    let model_section = model.map_or(String::new(), |path| format!("model: {{path: {path}}}\n"));
    let yaml = format!(
        "sources:\n  tx: {{type: file, path: {}}}\n\
         sinks:\n  decisions: {{type: blackhole}}\n  alerts: {{type: blackhole}}\n  cases: {{type: blackhole}}\n  dead_letters: {{type: blackhole}}\n\
         engine: {{workers: 1}}\n{model_section}",
        input.display()
    );
    let topology =
        fraud_detector::topology::Topology::parse(&yaml, std::path::Path::new("bench.yaml"))
            .unwrap_or_else(|error| panic!("{error}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let cpu_before = cpu_seconds();
    let report = runtime
        .block_on(fraud_detector::runtime::run(&topology, Default::default()))
        .unwrap_or_else(|error| panic!("{error}"));
    let cpu = cpu_seconds() - cpu_before;
    let decided = report.counters.decisions();
    println!(
        "runtime ({}): {decided} transactions in {:.2}s = {:.0} tx/s wall; {:.2} µs CPU per transaction = {:.0} tx per CPU-second",
        if model.is_some() { "rules + model" } else { "rules" },
        report.elapsed.as_secs_f64(),
        decided as f64 / report.elapsed.as_secs_f64(),
        cpu * 1e6 / decided as f64,
        decided as f64 / cpu,
    );
}

/// Turns `perf record --control=fifo:$FD_PERF_CTL` on for its lifetime.
struct Profiling(Option<std::fs::File>);

impl Profiling {
    fn start() -> Profiling {
        let control = std::env::var_os("FD_PERF_CTL")
            .and_then(|path| std::fs::OpenOptions::new().write(true).open(path).ok());
        let mut profiling = Profiling(control);
        profiling.send("enable");
        profiling
    }

    fn send(&mut self, command: &str) {
        if let Some(fifo) = &mut self.0 {
            use std::io::Write;
            let _ = writeln!(fifo, "{command}");
        }
    }
}

impl Drop for Profiling {
    fn drop(&mut self) {
        self.send("disable");
    }
}

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ") ".
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map_or(Vec::new(), |(_, rest)| rest.split(' ').collect());
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (1-based), 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn engine() -> Engine {
    Engine::with_defaults(Arc::new(FixedClock(1_764_000_000_000)))
}

fn encoded_transactions(count: u64, customers: u32) -> Vec<Vec<u8>> {
    let config = GeneratorConfig {
        customers,
        transactions: Some(count),
        ..GeneratorConfig::default()
    };
    Generator::new(config)
        .expect("valid generator settings")
        .filter_map(|event| match event {
            Generated::Transaction { transaction, .. } => {
                Some(serde_json::to_vec(&transaction).expect("transactions serialize"))
            }
            Generated::Label(_) => None,
        })
        .collect()
}

fn throughput(count: u64) {
    let lines = encoded_transactions(count, 50_000);
    let engine = engine();
    let codec = Codec::new(CodecKind::Json);
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds");
    let mut out = Vec::with_capacity(4096);
    let mut output_bytes = 0usize;
    let profiling = Profiling::start();
    let started = Instant::now();
    for line in &lines {
        let begun = Instant::now();
        let transaction: Transaction = codec.decode(line).expect("generated transactions decode");
        let outcome = engine.decide(&transaction, 0, begun);
        encode_outcome(&codec, &outcome, &mut out);
        output_bytes += out.len();
        latency.saturating_record(begun.elapsed().as_nanos() as u64);
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(profiling);
    println!(
        "pipeline: {} transactions on one core in {seconds:.2}s = {:.0} tx/s; per transaction p50 {:.2} µs, p99 {:.2} µs, max {:.1} µs; {:.0} output bytes/tx",
        lines.len(),
        lines.len() as f64 / seconds,
        latency.value_at_quantile(0.50) as f64 / 1_000.0,
        latency.value_at_quantile(0.99) as f64 / 1_000.0,
        latency.max() as f64 / 1_000.0,
        output_bytes as f64 / lines.len() as f64,
    );
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// One transaction for each of `customers` distinct customers, each on its
/// own device, through the engine; RSS before and after.
fn memory(customers: u32) {
    let engine = engine();
    let base = rss_bytes();
    let template: Transaction = serde_json::from_str(
        r#"{"transaction_id":"T","customer_id":"C","amount":42.5,"timestamp":"2025-12-01T12:00:00Z","merchant":"Shop","merchant_category":"Groceries","location":"Paris, France","card_present":true,"device_id":"D","ip_address":"10.0.0.1","terminal_id":"TERM-1"}"#,
    )
    .expect("the template parses");
    for n in 0..customers {
        let mut tx = template.clone();
        tx.transaction_id = format!("T{n}").into();
        tx.customer_id = format!("C{n}").into();
        tx.device_id = Some(format!("D{n}").into());
        engine.decide(&tx, 0, Instant::now());
    }
    let state = engine.state();
    let grown = rss_bytes().saturating_sub(base);
    println!(
        "memory: {} active customers, {} devices; RSS {:.1} MiB in all, +{:.1} MiB for the state = {:.0} bytes per customer (state's own estimate {:.0})",
        state.active_customers(),
        state.active_devices(),
        rss_bytes() as f64 / (1 << 20) as f64,
        grown as f64 / (1 << 20) as f64,
        grown as f64 / customers as f64,
        state.approx_bytes() as f64 / customers as f64,
    );
}

/// The outcome's records as the sinks would write them, into `out`.
fn encode_outcome(codec: &Codec, outcome: &Outcome, out: &mut Vec<u8>) {
    out.clear();
    codec
        .encode(&outcome.decision, out)
        .expect("decisions encode");
    if let Some(alert) = outcome.alert.as_deref() {
        codec.encode(alert, out).expect("alerts encode");
    }
    if let Some(case) = outcome.case.as_deref() {
        codec.encode(case, out).expect("cases encode");
    }
}
