//! `demo`: the generator through the full pipeline, then how well the
//! engine found the frauds the generator injected.

use fraud_detector::domain::Action;
use fraud_detector::engine::Outcome;
use fraud_detector::generator::Scenario;
use fraud_detector::runtime::{self, Observer, RunOptions, RunReport};
use fraud_detector::sources::{SourceConfig, TruthBook};
use fraud_detector::telemetry::Counters;
use fraud_detector::topology::{Topology, EMBEDDED_DEMO};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(clap::Args)]
pub struct DemoArgs {
    #[arg(long)]
    transactions: Option<u64>,
    #[arg(long)]
    customers: Option<u32>,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    workers: Option<usize>,
    /// Transactions per second (default: as fast as the pipeline goes, where
    /// latency is mostly time spent queued behind the batches ahead).
    #[arg(long)]
    rate: Option<f64>,
    /// Where decisions, alerts, cases and dead letters are written.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Use this topology instead of the embedded demo (its first source must be a generator).
    #[arg(long, short)]
    topology: Option<PathBuf>,
    /// Score with this ONNX model as well as the rules (e.g. models/fraud-gbt-v1.onnx).
    #[arg(long, env = "FD_MODEL")]
    model: Option<PathBuf>,
    /// Serve /healthz, /readyz, /metrics (and the console) on this address.
    #[arg(long, env = "FD_HTTP")]
    http: Option<std::net::SocketAddr>,
    #[command(flatten)]
    console: super::console_args::ConsoleArgs,
}

pub fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let topology = demo_topology(&args)?;
    let planned = match topology.sources.values().next() {
        Some(SourceConfig::Generator(config)) => config.generator.transactions.unwrap_or(0),
        _ => anyhow::bail!("the demo needs a generator source"),
    };
    let truth = Arc::new(TruthBook::default());
    let score = Arc::new(Score::new(truth.clone()));
    let counters = Arc::new(Counters::default());
    let options = RunOptions {
        observer: Some(score.clone()),
        truth: Some(truth.clone()),
        handle_signals: true,
        counters: Some(counters.clone()),
        http: args.http,
        console: args.console.build(args.http)?,
        ..RunOptions::default()
    };
    let progress = progress_bar(planned, counters.clone());
    let report = super::runtime()?.block_on(runtime::run(&topology, options))?;
    progress.finish_and_clear();
    print_summary(&report, &score, &truth, &args.out);
    Ok(if report.counters.balanced() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn demo_topology(args: &DemoArgs) -> anyhow::Result<Topology> {
    let out = args.out.to_string_lossy().into_owned();
    let overrides = [
        ("FD_SEED", args.seed.map(|value| value.to_string())),
        (
            "FD_CUSTOMERS",
            args.customers.map(|value| value.to_string()),
        ),
        (
            "FD_TRANSACTIONS",
            args.transactions.map(|value| value.to_string()),
        ),
        ("FD_OUT", Some(out)),
    ];
    let lookup = |name: &str| {
        overrides
            .iter()
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.clone())
            .or_else(|| std::env::var(name).ok())
    };
    let (text, file) = match &args.topology {
        Some(path) => (std::fs::read_to_string(path)?, path.clone()),
        None => (
            EMBEDDED_DEMO.to_owned(),
            PathBuf::from("(embedded demo.yaml)"),
        ),
    };
    let mut topology = Topology::parse_with(&text, Path::new(&file), lookup)?;
    if let Some(model) = &args.model {
        topology.model = Some(fraud_detector::model::ModelConfig::at(model));
    }
    if let Some(workers) = args.workers {
        topology.engine.workers = workers;
    }
    if let (Some(rate), Some(SourceConfig::Generator(generator))) =
        (args.rate, topology.sources.values_mut().next())
    {
        generator.rate = Some(rate);
    }
    Ok(topology)
}

pub(super) fn progress_bar(planned: u64, counters: Arc<Counters>) -> ProgressBar {
    let bar = ProgressBar::new(planned);
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} transactions  {per_sec}  {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    let ticker = bar.clone();
    std::thread::spawn(move || {
        while !ticker.is_finished() {
            ticker.set_position(counters.snapshot().decisions());
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    bar
}

/// Tallies decisions against the generator's ground truth as they happen.
struct Score {
    truth: Arc<TruthBook>,
    flagged: AtomicU64,
    blocked: AtomicU64,
    flagged_frauds: [AtomicU64; 5],
    blocked_frauds: [AtomicU64; 5],
    latency_us: Mutex<Histogram<u64>>,
}

impl Score {
    fn new(truth: Arc<TruthBook>) -> Score {
        Score {
            truth,
            flagged: AtomicU64::new(0),
            blocked: AtomicU64::new(0),
            flagged_frauds: Default::default(),
            blocked_frauds: Default::default(),
            latency_us: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3)
                    .expect("one hour in microseconds is a valid bound"),
            ),
        }
    }
}

fn scenario_index(scenario: Scenario) -> usize {
    Scenario::ALL
        .iter()
        .position(|&candidate| candidate == scenario)
        .unwrap_or(0)
}

impl Observer for Score {
    fn on_outcome(&self, outcome: &Outcome) {
        let decision = &outcome.decision;
        if let Ok(mut histogram) = self.latency_us.lock() {
            histogram.saturating_record(decision.latency_us.max(0) as u64);
        }
        if decision.action == Action::Approve {
            return;
        }
        let blocked = decision.action == Action::Block;
        self.flagged.fetch_add(1, Ordering::Relaxed);
        self.blocked.fetch_add(blocked as u64, Ordering::Relaxed);
        if let Some(scenario) = self.truth.scenario_of(&decision.transaction_id) {
            let index = scenario_index(scenario);
            self.flagged_frauds[index].fetch_add(1, Ordering::Relaxed);
            self.blocked_frauds[index].fetch_add(blocked as u64, Ordering::Relaxed);
        }
    }
}

fn ratio(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.3}", part as f64 / whole as f64)
    }
}

fn print_summary(report: &RunReport, score: &Score, truth: &TruthBook, out: &Path) {
    let counters = &report.counters;
    let seconds = report.elapsed.as_secs_f64().max(1e-9);
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    println!(
        "fraud-detector demo: {} transactions in {seconds:.2}s ({:.0} tx/s)",
        counters.transactions_in,
        counters.decisions() as f64 / seconds
    );
    println!();
    println!(
        "  decisions     {:>9}   approve {}  review {}  block {}",
        counters.decisions(),
        counters.approve,
        counters.review,
        counters.block
    );
    println!(
        "  alerts        {:>9}   cases {}",
        counters.alerts, counters.cases
    );
    println!(
        "  labels        {:>9}   applied {}",
        counters.labels_in, counters.labels_applied
    );
    println!(
        "  dead letters  {:>9}   late events {}",
        counters.dead_letters(),
        counters.late_events
    );
    if let Ok(histogram) = score.latency_us.lock() {
        println!(
            "  latency       p50 {} µs   p99 {} µs   max {} µs (read → decided)",
            histogram.value_at_quantile(0.5),
            histogram.value_at_quantile(0.99),
            histogram.max()
        );
    }
    println!();
    println!(
        "  {:<22} {:>8} {:>9} {:>8} {:>10}",
        "injected scenario", "frauds", "flagged", "recall", "blocked"
    );
    let mut frauds_total = 0;
    let mut flagged_frauds_total = 0;
    for (scenario, frauds) in truth.frauds_by_scenario() {
        let index = scenario_index(scenario);
        let flagged = load(&score.flagged_frauds[index]);
        let blocked = load(&score.blocked_frauds[index]);
        frauds_total += frauds;
        flagged_frauds_total += flagged;
        println!(
            "  {:<22} {frauds:>8} {flagged:>9} {:>8} {blocked:>10}",
            scenario.as_str(),
            ratio(flagged, frauds)
        );
    }
    let flagged = load(&score.flagged);
    let blocked_frauds: u64 = score.blocked_frauds.iter().map(load).sum();
    println!(
        "  {:<22} {frauds_total:>8} {flagged_frauds_total:>9} {:>8} {blocked_frauds:>10}",
        "all",
        ratio(flagged_frauds_total, frauds_total)
    );
    println!();
    println!(
        "  precision (REVIEW+BLOCK) {}   precision (BLOCK) {}   recall {}",
        ratio(flagged_frauds_total, flagged),
        ratio(blocked_frauds, load(&score.blocked)),
        ratio(flagged_frauds_total, frauds_total)
    );
    println!(
        "  outputs in {}/ (decisions.jsonl, alerts.jsonl, cases.jsonl, dead_letters.jsonl)",
        out.display()
    );
    if !counters.balanced() {
        println!("  WARNING: records in != decisions + dead letters");
    }
}
