//! OpenTelemetry traces over OTLP/HTTP: one trace per sampled transaction,
//! with a span per stage (decode on the source thread, decide and encode on
//! the worker), exported in batches off the hot path.
//!
//! A transaction that arrives with a W3C `traceparent` (a Kafka header)
//! continues its producer's trace, sampled as the producer decided, and its
//! outputs carry the `traceparent` of our span onwards.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Span, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
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

/// `every` of a zero sample ratio: only producer-sampled transactions are traced.
const NEVER: u64 = u64::MAX;

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
            NEVER
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
        self.begin_from(source, started, None)
    }

    /// As [`Sampler::begin`], continuing the trace of a W3C `traceparent`
    /// when one came with the transaction: then the producer's sampled flag
    /// decides, not our ratio.
    pub fn begin_from(
        &self,
        source: &str,
        started: Instant,
        traceparent: Option<&str>,
    ) -> Option<TransactionTrace> {
        let parent = traceparent.map(parent_context).filter(|parent| {
            let span = parent.span();
            span.span_context().is_valid()
        });
        let sampled = match &parent {
            Some(parent) => parent.span().span_context().is_sampled(),
            None => {
                self.every != NEVER
                    && self
                        .seen
                        .fetch_add(1, Ordering::Relaxed)
                        .is_multiple_of(self.every)
            }
        };
        if !sampled {
            return None;
        }
        let began = SystemTime::now() - started.elapsed();
        let builder = self
            .tracer
            .span_builder("transaction")
            .with_start_time(began)
            .with_attributes([KeyValue::new("fraud.source", source.to_owned())]);
        let root = match &parent {
            Some(parent) => builder.start_with_context(&self.tracer, parent),
            None => builder.start(&self.tracer),
        };
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

/// The remote span context of a W3C `traceparent` header value (invalid
/// when the value is malformed).
fn parent_context(traceparent: &str) -> Context {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    TraceContextPropagator::new().extract(&carrier)
}

impl TransactionTrace {
    /// The W3C `traceparent` of this transaction's span, for its outputs.
    pub fn traceparent(&self) -> String {
        let mut carrier: HashMap<String, String> = HashMap::new();
        TraceContextPropagator::new().inject_context(&self.context, &mut carrier);
        carrier.remove("traceparent").unwrap_or_default()
    }

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

    /// Ends the trace with `decision`'s id, action and score.
    pub fn finish_decision(self, decision: &crate::domain::Decision) {
        self.finish(
            &decision.transaction_id,
            decision.action.as_str(),
            decision.risk_score,
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(every: u64) -> Sampler {
        let provider = SdkTracerProvider::builder().build();
        Sampler {
            tracer: provider.tracer("test"),
            every,
            seen: Arc::new(AtomicU64::new(0)),
        }
    }

    const PARENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT_SPAN: &str = "00f067aa0ba902b7";

    #[test]
    fn a_sampled_parent_is_continued_and_passed_on() {
        let parent = format!("00-{PARENT_TRACE}-{PARENT_SPAN}-01");
        // Our own ratio would sample nothing: the producer's flag decides.
        let trace = sampler(NEVER)
            .begin_from("kafka", Instant::now(), Some(&parent))
            .expect("a sampled parent is traced");
        let ours = trace.traceparent();
        let parts: Vec<&str> = ours.split('-').collect();
        assert_eq!(parts.len(), 4, "{ours}");
        assert_eq!(parts[1], PARENT_TRACE, "same trace");
        assert_ne!(parts[2], PARENT_SPAN, "our own span");
        assert_eq!(parts[3], "01");
    }

    #[test]
    fn an_unsampled_parent_is_not_traced_and_garbage_is_ignored() {
        let unsampled = format!("00-{PARENT_TRACE}-{PARENT_SPAN}-00");
        let sampler = sampler(1);
        assert!(sampler
            .begin_from("kafka", Instant::now(), Some(&unsampled))
            .is_none());
        let trace = sampler
            .begin_from("kafka", Instant::now(), Some("not-a-traceparent"))
            .expect("a malformed header falls back to our own sampling");
        assert!(!trace.traceparent().contains(PARENT_TRACE));
    }
}
