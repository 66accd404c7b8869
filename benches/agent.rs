//! The agent's cost, against an instant local OpenAI-compatible server (the
//! replay server of the tests, answering a verdict at once):
//!
//!     cargo bench --bench agent              # full run
//!     cargo bench --bench agent -- --quick   # small smoke run
//!
//! 1. Our overhead per escalation: `Escalator::review` end to end (prompt,
//!    HTTP round trip on loopback, parsing, bounds, records), p50/p99.
//! 2. The pipeline (generator → 2 workers → blackhole sinks) with and
//!    without escalations: main-path throughput and escalations per second,
//!    in pairs run in turn (first one half, then the other), since this
//!    machine's speed swings by up to 2× within minutes; the median drop.
//!    Each half's throughput is measured twice: over the whole run (start
//!    and drain included, so the agent's one-time start counts against it)
//!    and sustained, between the moments the source has read 10 % and 90 %
//!    of the transactions (sampled from the pipeline's counters by a thread
//!    on CPU 1).
//!    Beside wall-clock throughput, each half reports the main path's CPU
//!    per transaction: CPU 0's busy time from /proc/stat, with its steal
//!    and idle time, which say whether the main path lost its core to the
//!    host or waited (for the agent, say) rather than worked. The drop in
//!    main-path capacity is 1 − (CPU per transaction without the agent ÷
//!    with it).
//!
//! The main path (source and workers) runs on CPU 0 and the replay server
//! on CPU 1, as vLLM would run on its own machine. Layouts, chosen by name
//! (all by default): `shared` keeps the agent's work on CPU 0 too; `own`
//! gives the agent its own runtime (`threads: 1`) on CPU 1; `beside` moves
//! the pipeline's runtime (agent and sinks) to CPU 1.
//!
//! Options: `--pairs N`, `--transactions N`, `--model` (score with the
//! committed model in both halves), `--escalate '{actions: [BLOCK]}'`,
//! `--deadline 120s` (the agent's; under valgrind the default 1.5 s cuts
//! reviews short), `--no-overhead`, `--only plain|agent` (one half, for a
//! profiler: `scripts/bench-agent-instructions.sh` counts the main path's
//! instructions per escalation that way).

#[path = "../tests/support.rs"]
mod support;
#[path = "../tests/vllm_replay/mod.rs"]
mod vllm_replay;

use fraud_detector::agent::{AgentConfig, Escalator};
use fraud_detector::domain::Transaction;
use fraud_detector::engine::{Engine, SystemClock};
use fraud_detector::runtime::{self, RunOptions};
use fraud_detector::telemetry::{Counters, Telemetry};
use fraud_detector::topology::Topology;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use vllm_replay::{verdict_turn, Reply, VllmReplay};

const HIGH_RISK: &str = r#"{"transaction_id": "TXN-20251201-191354", "customer_id": "C-12345", "amount": 4500.00, "merchant": "CRYPTO-EXCHANGE-XX", "merchant_category": "Cryptocurrency", "location": "Moscow, Russia", "card_present": false, "device_id": "dev-unknown", "ip_address": "185.220.101.5", "previous_location": "New York, NY", "time_since_last_transaction": "30 minutes ago"}"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|arg| arg == "--quick") || !args.iter().any(|arg| arg == "--bench");
    let pairs = option(&args, "--pairs").unwrap_or(if quick { 1 } else { 5 });
    let layouts: Vec<Layout> = Layout::ALL
        .into_iter()
        .filter(|layout| {
            let named = args
                .iter()
                .any(|arg| Layout::ALL.iter().any(|l| l.name() == arg));
            !named || args.iter().any(|arg| arg == layout.name())
        })
        .collect();
    // vLLM runs on its own machine: the replay server gets the second core,
    // the detector (this thread and every thread it starts) the first.
    let server = std::thread::spawn(|| {
        pin_to_cpu(1);
        VllmReplay::start_keeping_last(|_, _| {
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
    let cases = tempfile::tempdir().expect("a temporary directory");
    if !args.iter().any(|arg| arg == "--no-overhead") {
        overhead(
            &shared_runtime(),
            &server,
            cases.path(),
            if quick { 200 } else { 3_000 },
        );
    }
    let transactions =
        option(&args, "--transactions").unwrap_or(if quick { 20_000 } else { 400_000 });
    let escalate = text_option(&args, "--escalate").unwrap_or("{actions: [BLOCK, REVIEW]}");
    let deadline = text_option(&args, "--deadline").unwrap_or("1500ms");
    let agent = format!(
        "agent:\n  base_url: {}\n  concurrency: 32\n  queue: 4096\n  deadline: {deadline}\n  escalate: {escalate}\n  tools: {{case_dir: {}}}\n",
        server.base_url(),
        cases.path().display()
    );
    let plan = Plan {
        transactions,
        pairs,
        // `--only agent` (or `plain`) runs one half of each pair, for a profiler.
        only: text_option(&args, "--only"),
        // `--model` scores with the committed model in both halves.
        model: args
            .iter()
            .any(|arg| arg == "--model")
            .then_some("model: {path: models/fraud-gbt-v1.onnx}\n"),
    };
    for layout in layouts {
        println!("{}", layout.describe());
        layout.measure(&agent, &plan);
    }
}

/// What each layout runs.
struct Plan<'a> {
    transactions: u64,
    pairs: u64,
    only: Option<&'a str>,
    model: Option<&'static str>,
}

/// Where the agent's work runs beside the main path (source and workers),
/// which always has CPU 0.
#[derive(Clone, Copy)]
enum Layout {
    /// Everything on CPU 0: the agent's work takes the main path's CPU.
    Shared,
    /// The agent's own runtime (`threads: 1`) on CPU 1 beside the replay server.
    Own,
    /// The pipeline's runtime (agent and sinks) on CPU 1.
    Beside,
}

impl Layout {
    const ALL: [Layout; 3] = [Layout::Shared, Layout::Own, Layout::Beside];

    fn name(self) -> &'static str {
        match self {
            Layout::Shared => "shared",
            Layout::Own => "own",
            Layout::Beside => "beside",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Layout::Shared => "shared: one core for everything, the agent's work takes the main path's CPU",
            Layout::Own => "own: main path and sinks on CPU 0; the agent's own runtime (threads: 1) on CPU 1 beside the replay server",
            Layout::Beside => "beside: main path on CPU 0; agent, sinks and replay server on CPU 1",
        }
    }

    /// Runs without and with the agent, `pairs` times in turn, so that the
    /// machine's slow swings fall on both halves of a pair alike.
    fn measure(self, agent: &str, plan: &Plan) {
        let runtime = match self {
            Layout::Shared | Layout::Own => shared_runtime(),
            // The runtime's threads, which run the agent and the sinks,
            // start on CPU 1 beside the replay server.
            Layout::Beside => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .on_thread_start(|| {
                    pin_to_cpu(1);
                })
                .enable_all()
                .build()
                .expect("a tokio runtime"),
        };
        let agent = match self {
            Layout::Own => format!("{agent}  threads: 1\n"),
            Layout::Shared | Layout::Beside => agent.to_owned(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let pinning = matches!(self, Layout::Own).then(|| keep_pinning("agent", 1, stop.clone()));
        let mut drops = Vec::new();
        let mut sustained_drops = Vec::new();
        let mut cpu_drops = Vec::new();
        let model = plan.model.unwrap_or("");
        let run = |agent: Option<&str>| {
            let sections = format!("{model}{}", agent.unwrap_or(""));
            pipeline(&runtime, &sections, plan.transactions)
        };
        for _ in 0..plan.pairs {
            if let Some(half) = plan.only {
                let agent = (half == "agent").then_some(agent.as_str());
                let once = run(agent);
                println!(
                    "  {half}: {:.0} tx/s, sustained {:.0} tx/s, {} escalations",
                    once.throughput, once.sustained, once.escalations
                );
                continue;
            }
            // In turn first and second: a run after another one gains
            // (warm caches and heap), which must not count for either half.
            let (plain, escalating) = if drops.len() % 2 == 0 {
                let plain = run(None);
                (plain, run(Some(&agent)))
            } else {
                let escalating = run(Some(&agent));
                (run(None), escalating)
            };
            let drop = 100.0 * (1.0 - escalating.throughput / plain.throughput);
            let sustained_drop = 100.0 * (1.0 - escalating.sustained / plain.sustained);
            let cpu_drop = 100.0 * (1.0 - plain.main_cpu_micros / escalating.main_cpu_micros);
            println!(
                "  {:.0} tx/s without the agent, {:.0} tx/s with {} escalations ({:.0} escalations/s): throughput drop {drop:.1} %",
                plain.throughput, escalating.throughput, escalating.escalations, escalating.escalations_per_second
            );
            println!(
                "  sustained (10-90 % of the input read): {:.0} tx/s without the agent, {:.0} tx/s with it: drop {sustained_drop:.1} %",
                plain.sustained, escalating.sustained
            );
            println!(
                "  main path CPU {:.2} µs/tx without the agent, {:.2} µs/tx with it: capacity drop {cpu_drop:.1} %",
                plain.main_cpu_micros, escalating.main_cpu_micros
            );
            drops.push(drop);
            sustained_drops.push(sustained_drop);
            cpu_drops.push(cpu_drop);
        }
        stop.store(true, Ordering::Relaxed);
        if let Some(pinning) = pinning {
            let _ = pinning.join();
        }
        summarize(self.name(), "throughput drop", drops);
        summarize(self.name(), "sustained throughput drop", sustained_drops);
        summarize(
            self.name(),
            "main-path CPU per transaction: capacity drop",
            cpu_drops,
        );
    }
}

/// Prints the median and quartiles of `drops` (percentages).
fn summarize(layout: &str, what: &str, mut drops: Vec<f64>) {
    if drops.is_empty() {
        return;
    }
    drops.sort_by(f64::total_cmp);
    let at = |quantile: f64| drops[((drops.len() - 1) as f64 * quantile).round() as usize];
    println!(
        "{layout}: {what} median {:.1} % over {} pairs (quartiles {:.1} and {:.1} %, from {:.1} to {:.1} %)",
        at(0.5),
        drops.len(),
        at(0.25),
        at(0.75),
        drops[0],
        drops[drops.len() - 1]
    );
}

/// The runtime of the layouts that keep it on the detector's CPU 0.
fn shared_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The number after `name` on the command line.
fn option(args: &[String], name: &str) -> Option<u64> {
    text_option(args, name)?.parse().ok()
}

/// The argument after `name` on the command line.
fn text_option<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let at = args.iter().position(|arg| arg == name)?;
    args.get(at + 1).map(String::as_str)
}

/// Until `stop`, pins every thread named `name` to `cpu` as it appears: the
/// agent's own runtime starts its threads inside the pipeline's run.
fn keep_pinning(
    name: &'static str,
    cpu: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        // Off the main path's core, whose time is what is measured.
        pin_to_cpu(cpu);
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
        transaction.transaction_id = format!("TXN-{round}").into();
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

/// What one pipeline run measured.
struct Run {
    throughput: f64,
    /// Transactions read per second between 10 % and 90 % of the input.
    sustained: f64,
    escalations: u64,
    escalations_per_second: f64,
    /// CPU 0's busy time (the main path's core) per decision, in µs.
    main_cpu_micros: f64,
}

/// Runs the pipeline once over `transactions` generated transactions.
fn pipeline(runtime: &tokio::runtime::Runtime, sections: &str, transactions: u64) -> Run {
    let yaml = format!(
        "sources:\n  tx: {{type: generator, seed: 7, customers: 20000, transactions: {transactions}}}\n\
         sinks:\n  decisions: {{type: blackhole}}\n  alerts: {{type: blackhole}}\n  cases: {{type: blackhole}}\n  dead_letters: {{type: blackhole}}\n\
         engine: {{workers: 2}}\n{sections}"
    );
    let topology =
        Topology::parse(&yaml, std::path::Path::new("bench.yaml")).expect("a valid topology");
    let telemetry = Arc::new(Telemetry::default());
    let options = RunOptions {
        telemetry: Some(telemetry.clone()),
        ..RunOptions::default()
    };
    let before = support::cpu_by_thread();
    let cpu0_before = CpuTicks::of_cpu(0);
    let steady = SteadyRate::watch(telemetry.counters.clone(), transactions);
    let report = runtime
        .block_on(runtime::run(&topology, options))
        .expect("the pipeline runs");
    let sustained = steady.finish();
    let cpu0 = CpuTicks::of_cpu(0).since(&cpu0_before);
    println!(
        "  CPU by thread: {}; CPU 0 busy {:.2}s, steal {:.2}s, idle {:.2}s",
        support::cpu_by_thread_since(&before),
        cpu0.busy,
        cpu0.steal,
        cpu0.idle
    );
    let seconds = report.elapsed.as_secs_f64();
    let decisions = report.counters.decisions() as f64;
    let escalations = telemetry.agent.escalations.load(Ordering::Relaxed);
    Run {
        throughput: decisions / seconds,
        sustained,
        escalations,
        escalations_per_second: escalations as f64 / seconds,
        main_cpu_micros: cpu0.busy * 1e6 / decisions,
    }
}

/// The source's read rate in the run's steady middle: from the sample at
/// which it had read 10 % of the input to the one at 90 %, so that neither
/// the pipeline's start (the agent's client and runtime included) nor its
/// drain counts.
struct SteadyRate {
    stop: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<f64>,
}

impl SteadyRate {
    fn watch(counters: Arc<Counters>, transactions: u64) -> SteadyRate {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let sampler = std::thread::spawn(move || {
            // Off the main path's core, whose throughput is measured.
            pin_to_cpu(1);
            let (low, high) = (transactions / 10, transactions * 9 / 10);
            let mut first: Option<(Instant, u64)> = None;
            while !stopped.load(Ordering::Relaxed) {
                let read = counters.transactions_in.load(Ordering::Relaxed);
                let now = Instant::now();
                match first {
                    None if read >= low => first = Some((now, read)),
                    Some((since, from)) if read >= high => {
                        return (read - from) as f64 / now.duration_since(since).as_secs_f64();
                    }
                    _ => {}
                }
                std::thread::sleep(std::time::Duration::from_micros(250));
            }
            f64::NAN
        });
        SteadyRate { stop, sampler }
    }

    /// The rate, or NaN when the run ended before the window closed.
    fn finish(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler.join().unwrap_or(f64::NAN)
    }
}

/// One CPU's time from /proc/stat, in seconds.
#[derive(Default)]
struct CpuTicks {
    busy: f64,
    steal: f64,
    idle: f64,
}

impl CpuTicks {
    /// The line `cpuN` of /proc/stat: user nice system idle iowait irq
    /// softirq steal, in USER_HZ (100 per second) ticks.
    fn of_cpu(cpu: usize) -> CpuTicks {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let prefix = format!("cpu{cpu} ");
        let Some(line) = stat.lines().find(|line| line.starts_with(&prefix)) else {
            return CpuTicks::default();
        };
        let ticks: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .map(|field| field.parse::<f64>().unwrap_or(0.0) / 100.0)
            .collect();
        let field = |index: usize| ticks.get(index).copied().unwrap_or(0.0);
        CpuTicks {
            busy: field(0) + field(1) + field(2) + field(5) + field(6),
            steal: field(7),
            idle: field(3) + field(4),
        }
    }

    fn since(&self, earlier: &CpuTicks) -> CpuTicks {
        CpuTicks {
            busy: self.busy - earlier.busy,
            steal: self.steal - earlier.steal,
            idle: self.idle - earlier.idle,
        }
    }
}
