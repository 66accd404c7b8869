//! The agent's cost, against an instant local OpenAI-compatible server (the
//! replay server of the tests, answering a verdict at once):
//!
//!     cargo bench --bench agent              # full run
//!     cargo bench --bench agent -- --quick   # small smoke run
//!
//! 1. Our overhead per escalation: `Escalator::review` end to end (prompt,
//!    HTTP round trip on loopback, parsing, bounds, records), p50/p99.
//! 2. The pipeline (generator → 2 workers → blackhole sinks) with and
//!    without escalations: main-path throughput and escalations per second.
//!
//! The detector runs on CPU 0 and the replay server on CPU 1, as vLLM would
//! run on its own machine; so both pipeline runs have one core. Then the
//! same two runs with the runtime's threads (the agent's work, the sinks)
//! moved to CPU 1 beside the replay server: the main path's own core.

#[path = "../tests/support.rs"]
mod support;
#[path = "../tests/vllm_replay/mod.rs"]
mod vllm_replay;

use fraud_detector::agent::{AgentConfig, Escalator};
use fraud_detector::domain::Transaction;
use fraud_detector::engine::{Engine, SystemClock};
use fraud_detector::runtime::{self, RunOptions};
use fraud_detector::telemetry::Telemetry;
use fraud_detector::topology::Topology;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use vllm_replay::{verdict_turn, Reply, VllmReplay};

const HIGH_RISK: &str = r#"{"transaction_id": "TXN-20251201-191354", "customer_id": "C-12345", "amount": 4500.00, "merchant": "CRYPTO-EXCHANGE-XX", "merchant_category": "Cryptocurrency", "location": "Moscow, Russia", "card_present": false, "device_id": "dev-unknown", "ip_address": "185.220.101.5", "previous_location": "New York, NY", "time_since_last_transaction": "30 minutes ago"}"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|arg| arg == "--quick") || !args.iter().any(|arg| arg == "--bench");
    // vLLM runs on its own machine: the replay server gets the second core,
    // the detector (this thread and every thread it starts) the first.
    let server = std::thread::spawn(|| {
        pin_to_cpu(1);
        VllmReplay::start(|_, _| {
            Reply::Message(verdict_turn("instant", "BLOCK", 95, "impossible travel"))
        })
    })
    .join()
    .expect("the replay server starts");
    let pinned = pin_to_cpu(0);
    println!(
        "{}",
        if pinned {
            "detector pinned to CPU 0, replay server to CPU 1"
        } else {
            "not pinned (fewer than 2 CPUs?): the replay server shares the detector's cores"
        }
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let cases = tempfile::tempdir().expect("a temporary directory");
    overhead(
        &runtime,
        &server,
        cases.path(),
        if quick { 200 } else { 3_000 },
    );
    let transactions = if quick { 20_000 } else { 400_000 };
    let agent = format!(
        "agent:\n  base_url: {}\n  concurrency: 32\n  queue: 4096\n  escalate: {{actions: [BLOCK, REVIEW]}}\n  tools: {{case_dir: {}}}\n",
        server.base_url(),
        cases.path().display()
    );
    println!("one core for everything: the agent's work takes the main path's CPU");
    main_path_drop(&runtime, &agent, transactions);
    println!("main path and sinks on CPU 0; the agent's own runtime (threads: 1) on CPU 1 beside the replay server");
    let stop = Arc::new(AtomicBool::new(false));
    let pinning = keep_pinning("agent", 1, stop.clone());
    main_path_drop(&runtime, &format!("{agent}  threads: 1\n"), transactions);
    stop.store(true, Ordering::Relaxed);
    let _ = pinning.join();
    drop(runtime);
    // The main path's threads (source, workers) are started by the thread
    // that runs the pipeline (CPU 0); the runtime's threads, which run the
    // agent and the sinks, start on CPU 1 beside the replay server.
    let beside = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(|| {
            pin_to_cpu(1);
        })
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!("main path on CPU 0; agent, sinks and replay server on CPU 1");
    main_path_drop(&beside, &agent, transactions);
}

/// The pipeline without and with the agent: the main path's throughput drop.
fn main_path_drop(runtime: &tokio::runtime::Runtime, agent: &str, transactions: u64) {
    let plain = pipeline(runtime, None, transactions);
    let escalating = pipeline(runtime, Some(agent), transactions);
    let drop = 100.0 * (1.0 - escalating.0 / plain.0);
    println!(
        "pipeline: {:.0} tx/s without the agent, {:.0} tx/s with {} escalations ({:.0} escalations/s): throughput drop {drop:.1} %",
        plain.0, escalating.0, escalating.1, escalating.2
    );
}

/// Until `stop`, pins every thread named `name` to `cpu` as it appears: the
/// agent's own runtime starts its threads inside the pipeline's run.
fn keep_pinning(
    name: &'static str,
    cpu: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            for thread in std::fs::read_dir("/proc/self/task")
                .into_iter()
                .flatten()
                .flatten()
            {
                let comm = std::fs::read_to_string(thread.path().join("comm")).unwrap_or_default();
                let tid = thread.file_name().to_string_lossy().parse::<libc::pid_t>();
                if let (true, Ok(tid)) = (comm.trim() == name, tid) {
                    pin_thread(tid, cpu);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    })
}

/// Pins the calling thread, and the threads it starts from now on, to `cpu`.
fn pin_to_cpu(cpu: usize) -> bool {
    pin_thread(0, cpu)
}

/// Pins thread `tid` (0: the calling one) to `cpu`.
fn pin_thread(tid: libc::pid_t, cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is the empty set; sched_setaffinity only
    // reads it, for thread `tid` of this process (0: the calling one).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

fn config(server: &VllmReplay, cases: &std::path::Path) -> AgentConfig {
    let mut config = AgentConfig {
        base_url: Some(server.base_url()),
        ..AgentConfig::default()
    };
    config.tools.case_dir = cases.to_owned();
    config
}

fn overhead(
    runtime: &tokio::runtime::Runtime,
    server: &VllmReplay,
    cases: &std::path::Path,
    count: u64,
) {
    let engine = Arc::new(Engine::with_defaults(Arc::new(SystemClock)));
    let telemetry = Arc::new(Telemetry::default());
    let escalator = Escalator::new(&config(server, cases), engine.clone(), telemetry)
        .expect("the agent starts");
    let transaction: Transaction = serde_json::from_str(HIGH_RISK).expect("valid JSON");
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds");
    for round in 0..count {
        let mut transaction = transaction.clone();
        transaction.transaction_id = format!("TXN-{round}");
        let outcome = engine.decide(&transaction, 1_764_616_434_000, Instant::now());
        let started = Instant::now();
        let settled = runtime.block_on(escalator.review(transaction, outcome));
        let _ = latency.record(started.elapsed().as_nanos() as u64);
        assert!(settled.decision.agent.is_some());
    }
    let request_bytes = server
        .requests()
        .last()
        .map_or(0, |request| request.to_string().len());
    println!("each escalation's request: {request_bytes} bytes of JSON");
    println!(
        "overhead per escalation (one model turn, instant server, loopback HTTP): p50 {:.3} ms, p99 {:.3} ms, mean {:.3} ms over {count}",
        latency.value_at_quantile(0.5) as f64 / 1e6,
        latency.value_at_quantile(0.99) as f64 / 1e6,
        latency.mean() / 1e6,
    );
}

/// (transactions/s, escalations, escalations/s) for one pipeline run.
fn pipeline(
    runtime: &tokio::runtime::Runtime,
    agent: Option<&str>,
    transactions: u64,
) -> (f64, u64, f64) {
    let yaml = format!(
        "sources:\n  tx: {{type: generator, seed: 7, customers: 20000, transactions: {transactions}}}\n\
         sinks:\n  decisions: {{type: blackhole}}\n  alerts: {{type: blackhole}}\n  cases: {{type: blackhole}}\n  dead_letters: {{type: blackhole}}\n\
         engine: {{workers: 2}}\n{}",
        agent.unwrap_or("")
    );
    let topology =
        Topology::parse(&yaml, std::path::Path::new("bench.yaml")).expect("a valid topology");
    let telemetry = Arc::new(Telemetry::default());
    let options = RunOptions {
        telemetry: Some(telemetry.clone()),
        ..RunOptions::default()
    };
    let before = support::cpu_by_thread();
    let report = runtime
        .block_on(runtime::run(&topology, options))
        .expect("the pipeline runs");
    println!("  CPU by thread: {}", support::cpu_by_thread_since(&before));
    let seconds = report.elapsed.as_secs_f64();
    let escalations = telemetry.agent.escalations.load(Ordering::Relaxed);
    (
        report.counters.decisions() as f64 / seconds,
        escalations,
        escalations as f64 / seconds,
    )
}
