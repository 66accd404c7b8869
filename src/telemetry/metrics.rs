//! The Prometheus text exposition of every metric, names in one place.

use super::{LatencyHistogram, Stage, Telemetry};
use std::fmt::Write;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Renders every metric in the Prometheus text format (version 0.0.4).
pub fn render(telemetry: &Telemetry) -> String {
    let mut out = String::with_capacity(4096);
    let counters = telemetry.counters.snapshot();
    family(
        &mut out,
        "fraud_build_info",
        "gauge",
        "Build of the running detector.",
    );
    line(&mut out, "fraud_build_info", &[("version", VERSION)], 1);
    family(
        &mut out,
        "fraud_ready",
        "gauge",
        "1 while sources and sinks run, 0 while starting or draining.",
    );
    line(&mut out, "fraud_ready", &[], telemetry.is_ready() as u64);

    family(
        &mut out,
        "fraud_transactions_in_total",
        "counter",
        "Transaction records read, by source (good and rejected).",
    );
    for (source, count) in telemetry.counters.per_source() {
        line(
            &mut out,
            "fraud_transactions_in_total",
            &[("source", &source)],
            count,
        );
    }
    simple(
        &mut out,
        "fraud_labels_in_total",
        "counter",
        "Label records read.",
        counters.labels_in,
    );
    simple(
        &mut out,
        "fraud_labels_applied_total",
        "counter",
        "Labels applied to state.",
        counters.labels_applied,
    );
    family(
        &mut out,
        "fraud_decisions_total",
        "counter",
        "Decisions written, by action.",
    );
    for (action, count) in [
        ("APPROVE", counters.approve),
        ("REVIEW", counters.review),
        ("BLOCK", counters.block),
    ] {
        line(
            &mut out,
            "fraud_decisions_total",
            &[("action", action)],
            count,
        );
    }
    simple(
        &mut out,
        "fraud_alerts_total",
        "counter",
        "Alerts written.",
        counters.alerts,
    );
    simple(
        &mut out,
        "fraud_cases_total",
        "counter",
        "Case logs written.",
        counters.cases,
    );
    family(
        &mut out,
        "fraud_dead_letters_total",
        "counter",
        "Rejected records, by why.",
    );
    let dead = [
        ("DECODE", counters.dead_decode),
        ("VALIDATION", counters.dead_validation),
        ("OVERSIZE", counters.dead_oversize),
        ("DUPLICATE", counters.dead_duplicate),
        ("UNMATCHED_LABEL", counters.dead_unmatched_label),
    ];
    for (kind, count) in dead {
        line(
            &mut out,
            "fraud_dead_letters_total",
            &[("kind", kind)],
            count,
        );
    }
    simple(
        &mut out,
        "fraud_late_events_total",
        "counter",
        "Transactions later than the allowed lateness.",
        counters.late_events,
    );
    latency(&mut out, telemetry);
    state_gauges(&mut out, telemetry);
    super::model_metrics::render(&mut out, telemetry);
    if telemetry
        .agent
        .configured
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        agent(&mut out, &telemetry.agent);
    }
    consumer_lag(&mut out, telemetry);
    shard_lag(&mut out, telemetry);
    out
}

fn consumer_lag(out: &mut String, telemetry: &Telemetry) {
    let lags = telemetry.consumer_lag.snapshot();
    if lags.is_empty() {
        return;
    }
    simple(
        out,
        "fraud_source_pauses_total",
        "counter",
        "Times the input partitions were paused because the producer's queue was full.",
        telemetry
            .consumer_lag
            .pauses
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    // The name the dashboards, alerts and the KEDA trigger query.
    let name = "fraud_source_lag_records";
    family(
        out,
        name,
        "gauge",
        "Records behind the fetch high watermark, per input partition.",
    );
    for (topic, partition, lag) in lags {
        let partition = partition.to_string();
        line(
            out,
            name,
            &[("topic", &topic), ("partition", &partition)],
            lag as u64,
        );
    }
}

fn latency(out: &mut String, telemetry: &Telemetry) {
    let name = "fraud_decision_latency_seconds";
    family(
        out,
        name,
        "histogram",
        "From reading a record to its decision.",
    );
    histogram(out, name, &[], &telemetry.decision_latency);
    let name = "fraud_stage_latency_seconds";
    family(
        out,
        name,
        "histogram",
        "Time in one stage for one transaction, sampled 1 in 16.",
    );
    for stage in Stage::ALL {
        histogram(
            out,
            name,
            &[("stage", stage.as_str())],
            telemetry.stage(stage),
        );
    }
}

fn histogram(out: &mut String, name: &str, labels: &[(&str, &str)], histogram: &LatencyHistogram) {
    let snapshot = histogram.snapshot();
    for (bound, count) in &snapshot.cumulative {
        let bound = bound.to_string();
        let mut with_bound = labels.to_vec();
        with_bound.push(("le", &bound));
        line(out, &format!("{name}_bucket"), &with_bound, *count);
    }
    let mut with_infinity = labels.to_vec();
    with_infinity.push(("le", "+Inf"));
    line(
        out,
        &format!("{name}_bucket"),
        &with_infinity,
        snapshot.count,
    );
    sample_line(
        out,
        &format!("{name}_sum"),
        labels,
        &snapshot.sum_seconds.to_string(),
    );
    line(out, &format!("{name}_count"), labels, snapshot.count);
}

fn agent(out: &mut String, agent: &super::AgentMetrics) {
    use std::sync::atomic::Ordering::Relaxed;
    simple(
        out,
        "fraud_agent_calls_total",
        "counter",
        "Decisions escalated to the LLM agent.",
        agent.escalations.load(Relaxed),
    );
    simple(
        out,
        "fraud_agent_decided_total",
        "counter",
        "Escalations the agent answered in time (its verdict applied within bounds).",
        agent.decided.load(Relaxed),
    );
    simple(
        out,
        "fraud_agent_changed_total",
        "counter",
        "Escalations whose final action differs from the engine's.",
        agent.changed.load(Relaxed),
    );
    family(
        out,
        "fraud_agent_fallbacks_total",
        "counter",
        "Escalations where the engine's decision stood, by reason.",
    );
    for (reason, count) in agent.fallbacks() {
        line(
            out,
            "fraud_agent_fallbacks_total",
            &[("reason", reason)],
            count,
        );
    }
    simple(
        out,
        "fraud_agent_tool_calls_total",
        "counter",
        "Tool calls the agent made.",
        agent.tool_calls.load(Relaxed),
    );
    simple(
        out,
        "fraud_agent_tool_errors_total",
        "counter",
        "Tool calls that failed (malformed arguments included).",
        agent.tool_errors.load(Relaxed),
    );
    simple(
        out,
        "fraud_agent_breaker_state",
        "gauge",
        "vLLM circuit breaker: 0 closed, 1 open, 2 half-open.",
        agent.breaker_state.load(Relaxed),
    );
    simple(
        out,
        "fraud_agent_breaker_open",
        "gauge",
        "1 while the vLLM circuit breaker is open (escalations fall back at once).",
        (agent.breaker_state.load(Relaxed) == 1) as u64,
    );
    family(
        out,
        "fraud_agent_latency_seconds",
        "histogram",
        "Escalation to final decision.",
    );
    histogram(out, "fraud_agent_latency_seconds", &[], &agent.latency);
}

fn shard_lag(out: &mut String, telemetry: &Telemetry) {
    let shards = telemetry.shard_lag.snapshot();
    if shards.is_empty() {
        return;
    }
    // Kinesis reports MillisBehindLatest; the dashboards and KEDA read seconds.
    let name = "fraud_source_iterator_age_seconds";
    family(
        out,
        name,
        "gauge",
        "How far each Kinesis shard's reader is behind the tip of the stream (MillisBehindLatest, in seconds).",
    );
    for ((source, shard), millis) in shards {
        sample_line(
            out,
            name,
            &[("source", &source), ("shard", &shard)],
            &format!("{:.3}", millis as f64 / 1_000.0),
        );
    }
}

fn state_gauges(out: &mut String, telemetry: &Telemetry) {
    let Some(state) = telemetry.state() else {
        return;
    };
    simple(
        out,
        "fraud_active_customers",
        "gauge",
        "Customers held in state.",
        state.active_customers() as u64,
    );
    simple(
        out,
        "fraud_active_devices",
        "gauge",
        "Devices held in state.",
        state.active_devices() as u64,
    );
    simple(
        out,
        "fraud_active_terminals",
        "gauge",
        "Terminals held in state.",
        state.active_terminals() as u64,
    );
    simple(
        out,
        "fraud_state_bytes",
        "gauge",
        "Estimated bytes of keyed state.",
        state.approx_bytes() as u64,
    );
}

pub(super) fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

pub(super) fn simple(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    family(out, name, kind, help);
    line(out, name, &[], value);
}

pub(super) fn line(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    sample_line(out, name, labels, &value.to_string());
}

pub(super) fn sample_line(out: &mut String, name: &str, labels: &[(&str, &str)], value: &str) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
        return;
    }
    let labels: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
        .collect();
    let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
}

/// Label values escape backslash, quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Action;

    #[test]
    fn renders_families_with_help_type_and_bounded_labels() {
        let telemetry = Telemetry::default();
        telemetry
            .counters
            .source_counter("tx")
            .fetch_add(3, std::sync::atomic::Ordering::Relaxed);
        telemetry.counters.decided(Action::Block);
        telemetry.decision_latency.record_ns(40_000);
        telemetry.stage(Stage::Decide).record_ns(1_200);
        let text = render(&telemetry);
        assert!(text.contains("# TYPE fraud_decisions_total counter"));
        assert!(text.contains("fraud_decisions_total{action=\"BLOCK\"} 1"));
        assert!(text.contains("fraud_transactions_in_total{source=\"tx\"} 3"));
        assert!(text.contains("fraud_decision_latency_seconds_bucket{le=\"0.00005\"} 1"));
        assert!(text.contains("fraud_decision_latency_seconds_bucket{le=\"+Inf\"} 1"));
        assert!(text.contains("fraud_ready 0"));
        assert!(
            text.contains(
                "fraud_stage_latency_seconds_bucket{stage=\"decide\",le=\"0.0000025\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("fraud_stage_latency_seconds_count{stage=\"decode\"} 0"));
    }
}
