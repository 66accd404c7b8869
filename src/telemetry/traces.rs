//! OpenTelemetry traces over OTLP/HTTP: one trace per sampled transaction,
//! with a span per stage (decode on the source thread, decide and encode on
//! the worker), exported in batches off the hot path.

use opentelemetry::trace::{Span, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use thiserror::Error;

/// `telemetry.traces` in the topology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracesConfig {
    /// OTLP/HTTP traces endpoint (JSON encoding), e.g. `http://otel-collector:4318/v1/traces`.
    pub endpoint: String,
    /// Share of transactions traced, 0 to 1: a trace costs more than a decision.
    #[serde(default = "default_sample_ratio")]
    pub sample_ratio: f64,
    #[serde(default = "default_service_name")]
    pub service_name: String,
}

fn default_sample_ratio() -> f64 {
    0.001
}

fn default_service_name() -> String {
    "fraud-detector".into()
}

impl TracesConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            problems.push(format!(
                "sample_ratio: {} is outside 0..=1",
                self.sample_ratio
            ));
        }
        if !self.endpoint.starts_with("http://") {
            problems.push(format!(
                "endpoint: `{}` must be an http:// URL (this build has no TLS; use a local collector)",
                self.endpoint
            ));
        }
        problems
    }
}

#[derive(Debug, Error)]
#[error("cannot start OTLP trace export to {endpoint}: {detail}")]
pub struct TracesError {
    endpoint: String,
    detail: String,
}

/// The exporter for a run; `shutdown` flushes what is still buffered.
pub struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    every: u64,
}

impl Traces {
    pub fn start(config: &TracesConfig) -> Result<Traces, TracesError> {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(config.endpoint.clone())
            .build()
            .map_err(|error| TracesError {
                endpoint: config.endpoint.clone(),
                detail: error.to_string(),
            })?;
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("fraud-detector");
        // Deterministic 1-in-N sampling keeps the cost predictable per source.
        let every = if config.sample_ratio <= 0.0 {
            u64::MAX
        } else {
            (1.0 / config.sample_ratio).round().max(1.0) as u64
        };
        Ok(Traces {
            provider,
            tracer,
            every,
        })
    }

    pub fn sampler(&self) -> Sampler {
        Sampler {
            tracer: self.tracer.clone(),
            every: self.every,
            seen: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Blocks until buffered spans are sent (or the exporter gives up).
    pub fn shutdown(&self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "trace export did not flush cleanly");
        }
    }
}

/// Picks which transactions a source traces.
#[derive(Clone)]
pub struct Sampler {
    tracer: SdkTracer,
    every: u64,
    seen: Arc<AtomicU64>,
}

impl Sampler {
    /// A trace for this transaction if it is sampled: its root span and the
    /// finished decode span, which began at `started`.
    pub fn begin(&self, source: &str, started: Instant) -> Option<TransactionTrace> {
        if !self
            .seen
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(self.every)
        {
            return None;
        }
        let began = SystemTime::now() - started.elapsed();
        let root = self
            .tracer
            .span_builder("transaction")
            .with_start_time(began)
            .with_attributes([KeyValue::new("fraud.source", source.to_owned())])
            .start(&self.tracer);
        let context = Context::new().with_span(root);
        let mut decode = self
            .tracer
            .span_builder("decode")
            .with_start_time(began)
            .start_with_context(&self.tracer, &context);
        decode.end();
        Some(TransactionTrace {
            tracer: self.tracer.clone(),
            context,
        })
    }
}

/// One transaction's trace as it crosses threads.
pub struct TransactionTrace {
    tracer: SdkTracer,
    context: Context,
}

impl std::fmt::Debug for TransactionTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransactionTrace")
    }
}

impl TransactionTrace {
    /// Runs `work` inside a child span named `stage`.
    pub fn stage<T>(&self, stage: &'static str, work: impl FnOnce() -> T) -> T {
        let mut span = self.tracer.start_with_context(stage, &self.context);
        let result = work();
        span.end();
        result
    }

    /// A child span for work done for many transactions at once (a model
    /// batch), placed at the times it ran.
    pub fn record(&self, stage: &'static str, began: SystemTime, ended: SystemTime) {
        let mut span = self
            .tracer
            .span_builder(stage)
            .with_start_time(began)
            .start_with_context(&self.tracer, &self.context);
        span.end_with_timestamp(ended);
    }

    /// Ends the trace with what was decided. No customer data: ids, action and score only.
    pub fn finish(self, transaction_id: &str, action: &str, risk_score: i32) {
        let span = self.context.span();
        span.set_attribute(KeyValue::new(
            "fraud.transaction_id",
            transaction_id.to_owned(),
        ));
        span.set_attribute(KeyValue::new("fraud.action", action.to_owned()));
        span.set_attribute(KeyValue::new("fraud.risk_score", risk_score as i64));
        span.end();
    }
}
