//! What the detector tells its operators: counters, a latency histogram,
//! readiness, and the HTTP endpoints that expose them (`/healthz`,
//! `/readyz`, `/metrics` in Prometheus text format). Metric names live in
//! `metrics.rs` and nowhere else; labels are bounded (actions, reject kinds,
//! source names), never a customer or transaction id.

mod agent;
mod counters;
mod histogram;
mod http;
mod lag;
mod metrics;
mod model_metrics;
mod shard_lag;
mod traces;

pub use agent::{AgentMetrics, AGENT_BOUNDS_NS, FALLBACK_REASONS};
pub use counters::{Counters, CountersSnapshot};
pub use histogram::{LatencyHistogram, DECISION_BOUNDS_NS, STAGE_BOUNDS_NS};
pub use http::{serve, serve_with, HttpError};
pub use lag::ConsumerLag;
pub use metrics::render;
pub use shard_lag::ShardLag;
pub use traces::{Sampler, Traces, TracesConfig, TracesError, TransactionTrace};

use crate::model::ModelSlot;
use crate::state::StateStore;
use serde::{Deserialize, Serialize};

/// The topology's `telemetry:` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Export sampled per-transaction traces over OTLP.
    #[serde(default)]
    pub traces: Option<TracesConfig>,
}
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Stages timed per transaction (on a sample, see `STAGE_SAMPLE_EVERY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Decode,
    Decide,
    /// The model's batch, per transaction.
    Score,
    Encode,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Decode, Stage::Decide, Stage::Score, Stage::Encode];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Decide => "decide",
            Stage::Score => "score",
            Stage::Encode => "encode",
        }
    }
}

/// Stages are timed on one transaction in this many: two clock reads per
/// stage on every transaction would cost more than some stages do.
pub const STAGE_SAMPLE_EVERY: u64 = 16;

/// Everything the endpoints read, shared with the pipeline.
pub struct Telemetry {
    pub counters: Arc<Counters>,
    pub decision_latency: LatencyHistogram,
    stages: [LatencyHistogram; Stage::ALL.len()],
    /// Escalations to the LLM agent (all zero without an `agent:` section).
    pub agent: AgentMetrics,
    /// Kinesis MillisBehindLatest per shard read here.
    pub shard_lag: ShardLag,
    ready: AtomicBool,
    state: OnceLock<Arc<StateStore>>,
    model: OnceLock<Arc<ModelSlot>>,
    /// Filled by broker sources (Kafka) only.
    pub consumer_lag: ConsumerLag,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::with_counters(Arc::default())
    }
}

impl Telemetry {
    pub fn with_counters(counters: Arc<Counters>) -> Telemetry {
        Telemetry {
            counters,
            decision_latency: LatencyHistogram::new(DECISION_BOUNDS_NS),
            agent: AgentMetrics::default(),
            shard_lag: ShardLag::default(),
            stages: Stage::ALL.map(|_| LatencyHistogram::new(STAGE_BOUNDS_NS)),
            ready: AtomicBool::new(false),
            state: OnceLock::new(),
            model: OnceLock::new(),
            consumer_lag: ConsumerLag::default(),
        }
    }

    pub fn stage(&self, stage: Stage) -> &LatencyHistogram {
        &self.stages[stage as usize]
    }

    /// Ready: sources and sinks are running. Not ready: starting or draining.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// The state whose size the gauges report; set once the run has built it.
    pub fn attach_state(&self, state: Arc<StateStore>) {
        let _ = self.state.set(state);
    }

    pub fn state(&self) -> Option<&Arc<StateStore>> {
        self.state.get()
    }

    /// The model whose version, drift and errors the metrics report.
    pub fn attach_model(&self, model: Arc<ModelSlot>) {
        let _ = self.model.set(model);
    }

    pub fn model(&self) -> Option<&Arc<ModelSlot>> {
        self.model.get()
    }
}
