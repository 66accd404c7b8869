//! The model's metrics: which version scores, how often it fails, how the
//! shadow compares and how far the population drifted from training.

use super::metrics::{family, line, sample_line, simple};
use super::Telemetry;
use crate::model::{LoadedModel, ModelSlot, PSI_WARNING};
use std::sync::atomic::Ordering;

pub(super) fn render(out: &mut String, telemetry: &Telemetry) {
    let Some(slot) = telemetry.model() else {
        return;
    };
    let set = slot.current();
    family(
        out,
        "fraud_model_info",
        "gauge",
        "The model scoring traffic (role primary) and its shadow, by version.",
    );
    line(
        out,
        "fraud_model_info",
        &[("role", "primary"), ("version", set.primary.version())],
        1,
    );
    if let Some(shadow) = &set.shadow {
        line(
            out,
            "fraud_model_info",
            &[("role", "shadow"), ("version", shadow.version())],
            1,
        );
    }
    counters(out, slot);
    drift(out, "primary", &set.primary);
    if let Some(shadow) = &set.shadow {
        drift(out, "shadow", shadow);
    }
}

fn counters(out: &mut String, slot: &ModelSlot) {
    let stats = slot.stats();
    let read = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    let counters = [
        (
            "fraud_model_scored_total",
            "Transactions the model scored.",
            read(&stats.scored),
        ),
        (
            "fraud_model_failed_rows_total",
            "Transactions the runtime failed to score: decided by the rules alone.",
            read(&stats.failed_rows),
        ),
        (
            "fraud_model_explained_total",
            "REVIEW and BLOCK decisions given feature contributions.",
            read(&stats.explained),
        ),
        (
            "fraud_model_shadow_scored_total",
            "Transactions the shadow model scored.",
            read(&stats.shadow_scored),
        ),
        (
            "fraud_model_shadow_disagreements_total",
            "Transactions where the shadow's calibrated action differs from the primary's.",
            read(&stats.shadow_disagreements),
        ),
        (
            "fraud_model_swaps_total",
            "Models swapped in while running.",
            slot.swaps(),
        ),
        (
            "fraud_model_reload_failures_total",
            "Reloads refused (the running model stayed).",
            slot.failed_reloads(),
        ),
    ];
    for (name, help, value) in counters {
        simple(out, name, "counter", help, value);
    }
}

fn drift(out: &mut String, role: &str, model: &LoadedModel) {
    let report = model.drift().report();
    if report.is_empty() {
        return;
    }
    let name = "fraud_model_psi";
    family(
        out,
        name,
        "gauge",
        "Population stability index against the training reference, per feature and for the score (score_p_fraud), over the last full drift window.",
    );
    for drift in &report {
        sample_line(
            out,
            name,
            &[("role", role), ("feature", drift.name)],
            &format!("{:.6}", drift.psi),
        );
    }
    let drifted = report
        .iter()
        .filter(|drift| drift.psi > PSI_WARNING)
        .count();
    family(
        out,
        "fraud_model_drifted_features",
        "gauge",
        "Features (and score) with PSI above 0.2.",
    );
    line(
        out,
        "fraud_model_drifted_features",
        &[("role", role)],
        drifted as u64,
    );
}
