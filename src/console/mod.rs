//! The analyst console: a web page served by the detector's own HTTP server
//! (`/console`, with its JSON and server-sent-event API under `/api`).
//!
//! It watches decisions as the workers make them (an [`Observer`]), decides
//! transactions an analyst submits with the running engine, shows what the
//! engine's state holds for one customer, and turns an analyst's verdict into
//! a [`Label`](crate::domain::Label). Assets are compiled into the binary: no
//! Node build, nothing else to deploy.

mod access;
mod assets;
mod cases;
mod customer;
mod live;
mod mask;
mod outputs;
mod routes;
mod stats;
mod submit;
mod verdict;
mod view;

pub use access::{AccessConfig, Analyst};
pub use live::Filter;
pub use view::LiveDecision;

use crate::agent::Escalator;
use crate::engine::{Engine, Outcome};
use crate::runtime::Observer;
use crate::telemetry::Telemetry;
use std::sync::{Arc, OnceLock};

/// The console's settings (`--console`, `--console-token`, `--console-trusted-header`).
#[derive(Debug, Clone, Default)]
pub struct ConsoleConfig {
    pub access: AccessConfig,
    /// Decisions kept for the live view and the customer view.
    pub ring: usize,
    /// A case store to show under Cases (default: the agent's `tools.case_dir`).
    pub cases: Option<std::path::PathBuf>,
}

/// Shared by the HTTP handlers and the pipeline's workers.
pub struct Console {
    access: access::Access,
    feed: live::Feed,
    stats: stats::Stats,
    engine: OnceLock<Arc<Engine>>,
    agent: OnceLock<Arc<Escalator>>,
    cases: Option<std::path::PathBuf>,
    outputs: outputs::Outputs,
}

impl Console {
    pub fn new(config: ConsoleConfig) -> Arc<Console> {
        let ring = if config.ring == 0 {
            live::DEFAULT_RING
        } else {
            config.ring
        };
        Arc::new(Console {
            access: access::Access::new(config.access),
            feed: live::Feed::new(ring),
            stats: stats::Stats::default(),
            engine: OnceLock::new(),
            agent: OnceLock::new(),
            cases: config.cases,
            outputs: outputs::Outputs::default(),
        })
    }

    /// The token analysts sign in with (generated when none was configured).
    pub fn token(&self) -> &str {
        self.access.token()
    }

    /// The running engine: submissions, customer views and verdicts need it.
    pub fn attach_engine(&self, engine: Arc<Engine>) {
        let _ = self.engine.set(engine);
    }

    fn engine(&self) -> Option<&Arc<Engine>> {
        self.engine.get()
    }

    /// The pipeline's outputs: submissions are written there while it runs.
    pub fn attach_outputs(
        &self,
        outputs: crate::runtime::WorkerOutputs,
        telemetry: Arc<Telemetry>,
    ) {
        self.outputs.attach(outputs, telemetry);
    }

    /// The pipeline drains: submissions are refused from now on, and the
    /// sinks close once those already taken in are written.
    pub fn detach_outputs(&self) {
        self.outputs.detach();
    }

    /// The LLM agent: submissions it wants are escalated, its cases listed.
    pub fn attach_agent(&self, agent: Arc<Escalator>) {
        let _ = self.agent.set(agent);
    }

    fn agent(&self) -> Option<&Arc<Escalator>> {
        self.agent.get()
    }

    /// The configured case store, else the agent's.
    fn cases_root(&self) -> Option<std::path::PathBuf> {
        self.cases.clone().or_else(|| {
            self.agent()
                .map(|agent| agent.toolbox().cases().root().to_owned())
        })
    }

    /// The most recent decisions the live view holds that match `filter`.
    pub fn recent(&self, filter: &Filter) -> Vec<Arc<LiveDecision>> {
        self.feed.recent(filter)
    }
}

impl Observer for Console {
    fn on_outcome(&self, outcome: &Outcome) {
        self.stats.record(&outcome.decision);
        self.feed
            .offer(outcome.decision.action, || LiveDecision::streamed(outcome));
    }
}

/// Both observers see every outcome (the demo's scoring and the console).
pub struct Fanout(pub Vec<Arc<dyn Observer>>);

impl Observer for Fanout {
    fn on_outcome(&self, outcome: &Outcome) {
        for observer in &self.0 {
            observer.on_outcome(outcome);
        }
    }
}

/// The observer a run should use: the caller's, the console's, or both.
pub fn observer_with(
    observer: Option<Arc<dyn Observer>>,
    console: Option<&Arc<Console>>,
) -> Option<Arc<dyn Observer>> {
    match (observer, console) {
        (None, None) => None,
        (Some(observer), None) => Some(observer),
        (None, Some(console)) => Some(console.clone()),
        (Some(observer), Some(console)) => Some(Arc::new(Fanout(vec![observer, console.clone()]))),
    }
}

pub use routes::router;
