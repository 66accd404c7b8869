//! What the detector tells its operators: counters, a latency histogram,
//! readiness, and the HTTP endpoints that expose them (`/healthz`,
//! `/readyz`, `/metrics` in Prometheus text format). Metric names live in
//! `metrics.rs` and nowhere else; labels are bounded (actions, reject kinds,
//! source names), never a customer or transaction id.

mod counters;
mod histogram;
mod http;
mod metrics;
mod traces;

pub use counters::{Counters, CountersSnapshot};
pub use histogram::LatencyHistogram;
pub use http::{serve, HttpError};
pub use metrics::render;
pub use traces::{Sampler, Traces, TracesConfig, TracesError, TransactionTrace};

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

/// Everything the endpoints read, shared with the pipeline.
#[derive(Default)]
pub struct Telemetry {
    pub counters: Arc<Counters>,
    pub decision_latency: LatencyHistogram,
    ready: AtomicBool,
    state: OnceLock<Arc<StateStore>>,
}

impl Telemetry {
    pub fn with_counters(counters: Arc<Counters>) -> Telemetry {
        Telemetry {
            counters,
            ..Telemetry::default()
        }
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
}
