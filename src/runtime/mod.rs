//! Runs a topology: source threads → router → worker threads (one per
//! share of customers) → sink tasks, with bounded channels between them.
//!
//! CPU-bound stages (decoding, deciding, encoding) run on plain threads;
//! tokio runs the sinks, timers and signal handling. SIGINT/SIGTERM stop the
//! sources; everything already read is decided, written and flushed, state
//! is snapshotted, and the run returns normally.

mod barrier;
mod escalating;
mod model_reloads;
mod router;
mod shutdown;
mod work;
mod worker;

pub use barrier::Barrier;
pub use escalating::{AgentLink, OwnRuntime};
pub use router::{Closed, DeadLetterOutput, Router};
pub use shutdown::Shutdown;
pub use work::Work;
pub(crate) use worker::record_outcome;
pub use worker::{OutputPort, Pending, Worker, WorkerError, WorkerOutputs};

use crate::engine::{Engine, Outcome, SystemClock};
use crate::model::ModelSlot;
use crate::sinks::{Output, RecordBatch, SinkConfig, SinkError, SinkReport};
use crate::sources::{SourceContext, SourceError, SourceReport, TruthBook};
use crate::state::{SnapshotConfig, SnapshotError, SnapshotStats, StateError, StateStore};
use crate::telemetry::{self, Counters, CountersSnapshot, Telemetry};
use crate::topology::Topology;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// Sees every outcome as it is made (the demo's scoring, feature taps).
pub trait Observer: Send + Sync {
    fn on_outcome(&self, outcome: &Outcome);
}

#[derive(Default, Clone)]
pub struct RunOptions {
    pub observer: Option<Arc<dyn Observer>>,
    pub truth: Option<Arc<TruthBook>>,
    /// Set it to stop the run as a signal would.
    pub shutdown: Shutdown,
    /// Listen for SIGINT and SIGTERM.
    pub handle_signals: bool,
    /// Shared with the caller, to watch progress.
    pub counters: Option<Arc<Counters>>,
    /// Serve /healthz, /readyz and /metrics here.
    pub http: Option<std::net::SocketAddr>,
    /// Shared with the caller (tests read the bound address through it).
    pub telemetry: Option<Arc<Telemetry>>,
    /// Compute the model's feature vector with every decision (for observers).
    pub features: bool,
    /// Serve the analyst console beside the probes (needs `http`).
    pub console: Option<Arc<crate::console::Console>>,
}

#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("{0}")]
    Snapshot(#[from] SnapshotError),
    #[error("rules: {}", .0.join("; "))]
    Rules(Vec<String>),
    #[error("source: {0}")]
    Source(#[from] SourceError),
    #[error("sink: {0}")]
    Sink(#[from] SinkError),
    #[error("worker: {0}")]
    Worker(#[from] WorkerError),
    #[error("{0}")]
    Http(#[from] crate::telemetry::HttpError),
    #[error("{0}")]
    Traces(#[from] crate::telemetry::TracesError),
    #[error("model: {0}")]
    Model(#[from] crate::model::ModelError),
    #[error("{0}")]
    Agent(#[from] crate::agent::AgentError),
    #[error("a pipeline thread panicked: {0}")]
    Panicked(String),
    #[error("cannot start thread {0}: {1}")]
    Spawn(String, String),
    #[error("{0}")]
    Kafka(#[from] crate::kafka::KafkaError),
}

#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub counters: CountersSnapshot,
    pub elapsed: Duration,
    pub sources: Vec<(String, SourceReport)>,
    pub sinks: Vec<(&'static str, SinkReport)>,
    pub restored: Option<SnapshotStats>,
    pub snapshot: Option<SnapshotStats>,
}

pub async fn run(topology: &Topology, options: RunOptions) -> Result<RunReport, RuntimeError> {
    if crate::kafka::kafka_source(topology).is_some() {
        return crate::kafka::run(topology, options).await;
    }
    let started = Instant::now();
    let options = RunOptions {
        observer: crate::console::observer_with(options.observer.clone(), options.console.as_ref()),
        ..options
    };
    let telemetry = options.telemetry.clone().unwrap_or_else(|| {
        Arc::new(Telemetry::with_counters(
            options.counters.clone().unwrap_or_default(),
        ))
    });
    let counters = telemetry.counters.clone();
    let state = Arc::new(StateStore::new(topology.state.clone())?);
    telemetry.attach_state(state.clone());
    if let Some(address) = options.http {
        let console = options.console.clone().map(crate::console::router);
        telemetry::serve_with(address, telemetry.clone(), console.unwrap_or_default()).await?;
    }
    let snapshot_config = topology.state.snapshot.clone();
    let restored = match &snapshot_config {
        Some(config) => restore(&state, config).await?,
        None => None,
    };
    let mut engine = Engine::new(state.clone(), topology.rules.clone(), Arc::new(SystemClock))
        .map_err(RuntimeError::Rules)?
        .with_features(options.features);
    let model = load_model(topology).await?;
    if let Some(model) = &model {
        telemetry.attach_model(model.clone());
        engine = engine.with_model(model.clone());
    }
    let engine = Arc::new(with_escalation(engine, topology));
    if let Some(console) = &options.console {
        console.attach_engine(engine.clone());
    }

    let agent = start_agent(topology, &engine, &telemetry).await?;
    if let (Some(console), Some(agent)) = (&options.console, &agent) {
        console.attach_agent(agent.escalator.clone());
    }
    let (outputs, mut sinks) = start_sinks(topology)?;
    let (worker_inputs, workers) = start_workers(
        topology,
        &engine,
        &outputs,
        &telemetry,
        &options,
        agent.as_ref(),
    )?;
    let dead_letters = DeadLetterOutput {
        sender: outputs.dead_letters.sender.clone(),
        codec: outputs.dead_letters.codec.clone(),
        delivery: outputs.dead_letters.delivery.clone(),
    };
    if let Some(console) = &options.console {
        console.attach_outputs(outputs.clone(), telemetry.clone());
    }
    drop(outputs);
    let traces = match &topology.telemetry.traces {
        Some(config) => Some(telemetry::Traces::start(config)?),
        None => None,
    };
    let context = SourceContext {
        truth: options.truth.clone(),
    };
    let links = SourceLinks {
        workers: &worker_inputs,
        dead_letters: &dead_letters,
        telemetry: &telemetry,
        sampler: traces.as_ref().map(telemetry::Traces::sampler),
    };
    let sources = start_sources(topology, &context, links, &options.shutdown)?;
    drop((worker_inputs, dead_letters));

    let (stop_maintenance, maintenance) = start_maintenance(state.clone(), snapshot_config.clone());
    let reloads = model.map(|model| {
        model_reloads::start(model, options.handle_signals, stop_maintenance.subscribe())
    });
    if options.handle_signals {
        tokio::spawn(stop_on_signal(options.shutdown.clone(), telemetry.clone()));
    }
    telemetry.set_ready(true);
    let source_reports = join_threads(sources).await;
    telemetry.set_ready(false);
    if let Some(console) = &options.console {
        console.detach_outputs();
    }
    let worker_results = join_threads(workers).await;
    let mut sink_reports = Vec::new();
    while let Some(joined) = sinks.join_next().await {
        let (output, report) = joined.map_err(|error| RuntimeError::Panicked(error.to_string()))?;
        sink_reports.push((output.key(), report?));
    }
    let _ = stop_maintenance.send(true);
    let _ = maintenance.await;
    if let Some(reloads) = reloads {
        let _ = reloads.await;
    }

    // Report the first failure, but only after everything read was drained.
    let mut sources_done = Vec::new();
    for (name, result) in source_reports {
        sources_done.push((name, result??));
    }
    for (_, result) in worker_results {
        result??;
    }
    if let Some(traces) = traces {
        // The exporter's HTTP client blocks: flush off the async threads.
        let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    }
    let snapshot = match &snapshot_config {
        Some(config) => Some(write_snapshot(state.clone(), config.clone()).await?),
        None => None,
    };
    Ok(RunReport {
        counters: counters.snapshot(),
        elapsed: started.elapsed(),
        sources: sources_done,
        sinks: sink_reports,
        restored,
        snapshot,
    })
}

/// Loads, checks and warms the topology's model before any transaction is
/// read: a missing runtime library or a mismatched model fails the start.
pub(crate) async fn load_model(
    topology: &Topology,
) -> Result<Option<Arc<ModelSlot>>, RuntimeError> {
    let Some(config) = topology.model.clone() else {
        return Ok(None);
    };
    let thresholds = topology.rules.thresholds;
    let sessions = topology.engine.workers.max(1);
    let slot = tokio::task::spawn_blocking(move || {
        ModelSlot::load(&config, (thresholds.review, thresholds.block), sessions)
    })
    .await
    .map_err(|error| RuntimeError::Panicked(error.to_string()))??;
    let set = slot.current();
    tracing::info!(
        version = %set.primary.version(),
        shadow = set.shadow.as_ref().map(|shadow| shadow.version().to_string()),
        "model loaded"
    );
    Ok(Some(Arc::new(slot)))
}

type SinkTasks = JoinSet<(Output, Result<SinkReport, SinkError>)>;

fn start_sinks(topology: &Topology) -> Result<(WorkerOutputs, SinkTasks), RuntimeError> {
    let mut tasks = JoinSet::new();
    let capacity = topology.engine.queue_batches;
    let mut start = |output: Output, config: &SinkConfig| -> Result<OutputPort, RuntimeError> {
        let sink = config.build(output)?;
        let (sender, receiver) = mpsc::channel::<RecordBatch>(capacity);
        let delivery = Arc::new(crate::sinks::Delivery::default());
        let counted = delivery.clone();
        tasks.spawn(async move { (output, sink.run_counted(receiver, counted).await) });
        Ok(OutputPort {
            output,
            sender,
            codec: config.codec(),
            delivery,
        })
    };
    let sinks = &topology.sinks;
    let outputs = WorkerOutputs {
        decisions: start(Output::Decisions, &sinks.decisions)?,
        alerts: sinks
            .alerts
            .as_ref()
            .map(|config| start(Output::Alerts, config))
            .transpose()?,
        cases: sinks
            .cases
            .as_ref()
            .map(|config| start(Output::Cases, config))
            .transpose()?,
        dead_letters: start(Output::DeadLetters, &sinks.dead_letters)?,
        labels: sinks
            .labels
            .as_ref()
            .map(|config| start(Output::Labels, config))
            .transpose()?,
    };
    Ok((outputs, tasks))
}

/// With an agent, the engine holds back what escalated approvals would
/// teach a profile until the agent approves them too.
pub(crate) fn with_escalation(engine: Engine, topology: &Topology) -> Engine {
    match &topology.agent {
        Some(agent) => {
            let escalate = agent.escalate.clone();
            engine.with_escalation(Arc::new(move |action, risk_score| {
                crate::agent::policy::escalates(&escalate, action, risk_score)
            }))
        }
        None => engine,
    }
}

/// The LLM agent and, if configured, its MCP server, when the topology has an `agent:` section.
pub(crate) async fn start_agent(
    topology: &Topology,
    engine: &Arc<Engine>,
    telemetry: &Arc<Telemetry>,
) -> Result<Option<AgentLink>, RuntimeError> {
    let Some(config) = &topology.agent else {
        return Ok(None);
    };
    let escalator = Arc::new(crate::agent::Escalator::new(
        config,
        engine.clone(),
        telemetry.clone(),
    )?);
    if let Some(mcp) = &config.mcp {
        crate::agent::mcp::serve(mcp, escalator.clone())
            .await
            .map_err(crate::agent::AgentError::from)?;
    }
    let own_runtime = match config.threads {
        Some(threads) => Some(Arc::new(
            OwnRuntime::start(threads).map_err(crate::agent::AgentError::from)?,
        )),
        None => None,
    };
    let runtime = own_runtime
        .as_ref()
        .and_then(|own| own.handle())
        .unwrap_or_else(tokio::runtime::Handle::current);
    Ok(Some(AgentLink {
        escalator,
        runtime,
        own_runtime,
    }))
}

type Threads<T> = Vec<(String, JoinHandle<T>)>;
type WorkerInputs = Vec<mpsc::Sender<Vec<Work>>>;

fn start_workers(
    topology: &Topology,
    engine: &Arc<Engine>,
    outputs: &WorkerOutputs,
    telemetry: &Arc<Telemetry>,
    options: &RunOptions,
    agent: Option<&AgentLink>,
) -> Result<(WorkerInputs, Threads<Result<(), WorkerError>>), RuntimeError> {
    let mut inputs = Vec::new();
    let mut threads = Vec::new();
    for index in 0..topology.engine.workers.max(1) {
        let (sender, receiver) = mpsc::channel(topology.engine.queue_batches);
        let worker = Worker {
            engine: engine.clone(),
            outputs: outputs.clone(),
            telemetry: telemetry.clone(),
            observer: options.observer.clone(),
            agent: agent.cloned(),
        };
        let name = format!("worker-{index}");
        let handle = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || worker.run(receiver))
            .map_err(|error| RuntimeError::Spawn(name.clone(), error.to_string()))?;
        inputs.push(sender);
        threads.push((name, handle));
    }
    Ok((inputs, threads))
}

/// What every source's router connects to.
struct SourceLinks<'a> {
    workers: &'a [mpsc::Sender<Vec<Work>>],
    dead_letters: &'a DeadLetterOutput,
    telemetry: &'a Arc<Telemetry>,
    sampler: Option<telemetry::Sampler>,
}

fn start_sources(
    topology: &Topology,
    context: &SourceContext,
    links: SourceLinks,
    shutdown: &Shutdown,
) -> Result<Threads<Result<SourceReport, SourceError>>, RuntimeError> {
    let mut threads = Vec::new();
    for (name, config) in &topology.sources {
        let source = config.build(context)?;
        let router = Router::new(
            name,
            links.workers.to_vec(),
            topology.engine.batch_size,
            links.dead_letters.clone(),
            links.telemetry.clone(),
        );
        let mut router = router.with_sampler(links.sampler.clone());
        let shutdown = shutdown.clone();
        let handle = std::thread::Builder::new()
            .name(format!("source-{name}"))
            .spawn(move || source.run(&mut router, &shutdown))
            .map_err(|error| RuntimeError::Spawn(name.clone(), error.to_string()))?;
        threads.push((name.clone(), handle));
    }
    Ok(threads)
}

async fn join_threads<T: Send + 'static>(
    threads: Threads<T>,
) -> Vec<(String, Result<T, RuntimeError>)> {
    let mut results = Vec::new();
    for (name, handle) in threads {
        let joined = tokio::task::spawn_blocking(move || handle.join()).await;
        let result = match joined {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(RuntimeError::Panicked(name.clone())),
            Err(error) => Err(RuntimeError::Panicked(format!("{name}: {error}"))),
        };
        results.push((name, result));
    }
    results
}

async fn restore(
    state: &Arc<StateStore>,
    config: &SnapshotConfig,
) -> Result<Option<SnapshotStats>, RuntimeError> {
    let (state, config) = (state.clone(), config.clone());
    let restored =
        tokio::task::spawn_blocking(move || state.restore_snapshot(&config.path, config.keep))
            .await
            .map_err(|error| RuntimeError::Panicked(error.to_string()))??;
    if let Some(stats) = &restored {
        tracing::info!(
            customers = stats.customers,
            devices = stats.devices,
            terminals = stats.terminals,
            "state restored"
        );
    }
    Ok(restored)
}

async fn write_snapshot(
    state: Arc<StateStore>,
    config: SnapshotConfig,
) -> Result<SnapshotStats, RuntimeError> {
    let stats =
        tokio::task::spawn_blocking(move || state.write_snapshot(&config.path, config.keep))
            .await
            .map_err(|error| RuntimeError::Panicked(error.to_string()))??;
    tracing::info!(
        customers = stats.customers,
        bytes = stats.bytes,
        "state snapshot written"
    );
    Ok(stats)
}

/// Expires idle customers every minute and snapshots on the configured interval.
fn start_maintenance(
    state: Arc<StateStore>,
    snapshot: Option<SnapshotConfig>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let expiry_every = Duration::from_secs(60);
        let snapshot_every = snapshot.as_ref().map(|config| config.interval.as_std());
        let mut last_snapshot = Instant::now();
        loop {
            let wait = snapshot_every.unwrap_or(expiry_every).min(expiry_every);
            tokio::select! {
                _ = stopped.changed() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let expired = tokio::task::block_in_place(|| state.expire_idle());
            if expired > 0 {
                tracing::info!(expired, "idle customers expired");
            }
            if let (Some(config), Some(every)) = (&snapshot, snapshot_every) {
                if last_snapshot.elapsed() >= every {
                    last_snapshot = Instant::now();
                    if let Err(error) = write_snapshot(state.clone(), config.clone()).await {
                        tracing::error!(%error, "periodic snapshot failed; the previous one is kept");
                    }
                }
            }
        }
    });
    (stop, task)
}

pub(crate) async fn stop_on_signal(shutdown: Shutdown, telemetry: Arc<Telemetry>) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT: draining"),
        _ = terminate => tracing::info!("SIGTERM: draining"),
    }
    telemetry.set_ready(false);
    shutdown.trigger();
}
