//! The model in the running pipeline: every decision names the model version
//! that scored it, a reload under load swaps versions without losing or
//! doubling a decision, a broken model is refused while the old one keeps
//! scoring, and a shadow scores alongside without acting.

mod support;

use fraud_detector::runtime::{self, RunOptions};
use fraud_detector::telemetry::Telemetry;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const MODEL: &str = "models/fraud-gbt-v1";

/// A copy of the committed model under `dir` as `<name>.onnx` + `<name>.json`.
fn copy_model(dir: &Path, name: &str) -> PathBuf {
    for extension in ["onnx", "json"] {
        std::fs::copy(
            format!("{MODEL}.{extension}"),
            dir.join(format!("{name}.{extension}")),
        )
        .unwrap();
    }
    dir.join(format!("{name}.onnx"))
}

/// The same graph with other thresholds: a different version.
fn retune(model: &Path, review: f64, block: f64) {
    let card_path = model.with_extension("json");
    let mut card: Value = serde_json::from_slice(&std::fs::read(&card_path).unwrap()).unwrap();
    card["thresholds"]["review"] = review.into();
    card["thresholds"]["block"] = block.into();
    std::fs::write(&card_path, serde_json::to_vec(&card).unwrap()).unwrap();
}

fn topology(dir: &Path, transactions: u64, model: &str) -> String {
    let out = dir.display();
    format!(
        "sources:\n  tx: {{type: generator, seed: 5, customers: 500, transactions: {transactions}}}\n\
         sinks:\n  decisions: {{type: file, path: {out}/decisions.jsonl}}\n  dead_letters: {{type: file, path: {out}/dl.jsonl}}\n\
         engine: {{workers: 2, batch_size: 64}}\n\
         model:\n{model}"
    )
}

fn decisions(dir: &Path) -> Vec<Value> {
    support::read_json_lines(&dir.join("decisions.jsonl"))
}

fn assert_exactly_once(decisions: &[Value], transactions: u64) {
    let ids: HashSet<&str> = decisions
        .iter()
        .map(|decision| decision["transaction_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        decisions.len() as u64,
        transactions,
        "one decision per transaction"
    );
    assert_eq!(ids.len(), decisions.len(), "no transaction decided twice");
}

#[test]
fn every_decision_carries_the_model_and_flagged_ones_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let model = copy_model(dir.path(), "m");
    let text = topology(
        dir.path(),
        20_000,
        &format!("  path: {}\n", model.display()),
    );
    support::run(&support::topology(&text), RunOptions::default());
    let decisions = decisions(dir.path());
    assert_exactly_once(&decisions, 20_000);
    let mut flagged = 0;
    for decision in &decisions {
        let score = decision["model_score"].as_f64().expect("scored");
        assert!((0.0..=1.0).contains(&score));
        assert!(decision["model_version"]
            .as_str()
            .unwrap()
            .starts_with("fraud-gbt-v1@"));
        let model_risk = decision["model_risk"].as_i64().unwrap();
        assert!(decision["risk_score"].as_i64().unwrap() >= model_risk);
        if decision["action"] != "APPROVE" {
            flagged += 1;
            let contributions = decision["model_contributions"].as_array().unwrap();
            assert!(
                !contributions.is_empty() && contributions.len() <= 3,
                "{decision}"
            );
        } else {
            assert!(decision["model_contributions"]
                .as_array()
                .unwrap()
                .is_empty());
        }
    }
    assert!(
        flagged > 20,
        "the generator injects fraud: {flagged} flagged"
    );
}

/// Rounds scored together by the model decide exactly as one transaction
/// at a time does (a batch of one is a round of one), with or without an
/// agent: the worker that escalates runs the same rounds. One worker, so
/// that state shared across customers (terminals) sees one order.
#[test]
fn rounds_decide_as_one_at_a_time_with_and_without_an_agent() {
    let run = |batch_size: usize, agent: &str| -> Vec<Value> {
        let dir = tempfile::tempdir().unwrap();
        let model = copy_model(dir.path(), "m");
        let out = dir.path().display();
        let text = format!(
            "sources:\n  tx: {{type: generator, seed: 9, customers: 300, transactions: 6000}}\n\
             sinks:\n  decisions: {{type: file, path: {out}/decisions.jsonl}}\n  dead_letters: {{type: file, path: {out}/dl.jsonl}}\n\
             engine: {{workers: 1, batch_size: {batch_size}}}\n\
             model:\n  path: {}\n{agent}",
            model.display()
        );
        support::run(&support::topology(&text), RunOptions::default());
        decisions(dir.path())
    };
    let summary = |decisions: &[Value]| -> Vec<String> {
        let mut decided: Vec<String> = decisions
            .iter()
            .map(|decision| {
                format!(
                    "{} {} {} {} {}",
                    decision["transaction_id"],
                    decision["action"],
                    decision["risk_score"],
                    decision["model_score"],
                    decision["reasons"]
                )
            })
            .collect();
        decided.sort();
        decided
    };
    let one_at_a_time = summary(&run(1, ""));
    assert_eq!(one_at_a_time.len(), 6000);
    assert_eq!(
        summary(&run(128, "")),
        one_at_a_time,
        "rounds without an agent"
    );
    // An agent whose server is unreachable: the default gray band (risk
    // 40-79) escalates, each escalated decision falls back to the engine's,
    // and that customer's next decisions are held behind it meanwhile.
    let agent =
        "agent:\n  base_url: http://127.0.0.1:9/v1\n  retries: 0\n  escalate: {actions: []}\n";
    let with_agent = run(128, agent);
    let fallbacks = with_agent
        .iter()
        .filter(|decision| decision["agent"]["status"] == "FALLBACK")
        .count();
    assert!(fallbacks > 10, "{fallbacks} escalations fell back");
    assert_eq!(summary(&with_agent), one_at_a_time, "rounds with an agent");
}

#[test]
fn a_reload_under_load_swaps_versions_without_losing_a_decision() {
    let dir = tempfile::tempdir().unwrap();
    let model = copy_model(dir.path(), "m");
    let transactions = 120_000;
    let text = topology(
        dir.path(),
        transactions,
        &format!("  path: {}\n", model.display()),
    );
    let topology = support::topology(&text);
    let telemetry = Arc::new(Telemetry::default());
    let options = RunOptions {
        telemetry: Some(telemetry.clone()),
        http: Some("127.0.0.1:0".parse().unwrap()),
        ..RunOptions::default()
    };
    let runtime = support::tokio_runtime();
    let report = runtime.block_on(async {
        let run = tokio::spawn(async move { runtime::run(&topology, options).await });
        wait_for_decisions(&telemetry, 10_000).await;
        // A broken file is refused and the running model keeps scoring.
        std::fs::write(&model, b"not an onnx graph").unwrap();
        let refused =
            fraud_detector::model::reload_off_hot_path(telemetry.model().unwrap().clone()).await;
        assert!(refused.is_err(), "a broken model must be refused");
        // Then a real new version.
        copy_model(dir.path(), "m");
        retune(&model, 0.3, 0.7);
        let swapped =
            fraud_detector::model::reload_off_hot_path(telemetry.model().unwrap().clone())
                .await
                .unwrap();
        assert_ne!(swapped.from, swapped.to);
        let progress = telemetry.counters.snapshot().decisions();
        assert!(
            progress < transactions,
            "the swap happened mid-stream ({progress} decided)"
        );
        run.await.unwrap().unwrap()
    });
    assert_eq!(report.counters.dead_letters(), 0);
    let decisions = decisions(dir.path());
    assert_exactly_once(&decisions, transactions);

    // Per customer, decisions come in order: once a customer's transactions
    // are scored by the new version, none goes back to the old one.
    let mut versions: HashMap<&str, Vec<&str>> = HashMap::new();
    for decision in &decisions {
        versions
            .entry(decision["customer_id"].as_str().unwrap())
            .or_default()
            .push(
                decision["model_version"]
                    .as_str()
                    .expect("every decision is scored"),
            );
    }
    let all: HashSet<&str> = versions.values().flatten().copied().collect();
    assert_eq!(all.len(), 2, "both versions scored traffic: {all:?}");
    for (customer, seen) in &versions {
        let first_new = seen.iter().position(|version| *version != seen[0]);
        if let Some(first_new) = first_new {
            assert!(
                seen[first_new..]
                    .iter()
                    .all(|version| *version == seen[first_new]),
                "{customer} went back to the old model"
            );
        }
    }
    let slot = telemetry.model().unwrap();
    assert_eq!(slot.swaps(), 1);
    assert_eq!(slot.failed_reloads(), 1);
}

async fn wait_for_decisions(telemetry: &Telemetry, at_least: u64) {
    for _ in 0..600 {
        if telemetry.counters.snapshot().decisions() >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the pipeline did not reach {at_least} decisions in 30 s");
}

#[test]
fn a_shadow_scores_alongside_and_never_acts() {
    let dir = tempfile::tempdir().unwrap();
    let model = copy_model(dir.path(), "m");
    let shadow = copy_model(dir.path(), "candidate");
    // The same graph, far stricter thresholds: it would flag much more.
    retune(&shadow, 0.05, 0.1);
    let text = topology(
        dir.path(),
        10_000,
        &format!(
            "  path: {}\n  shadow: {}\n",
            model.display(),
            shadow.display()
        ),
    );
    let telemetry = Arc::new(Telemetry::default());
    let options = RunOptions {
        telemetry: Some(telemetry.clone()),
        ..RunOptions::default()
    };
    support::run(&support::topology(&text), options);
    let decisions = decisions(dir.path());
    assert_exactly_once(&decisions, 10_000);
    for decision in &decisions {
        // Same graph: same probability; only the primary's thresholds act.
        assert_eq!(
            decision["shadow_score"], decision["model_score"],
            "{decision}"
        );
        assert!(decision["shadow_version"]
            .as_str()
            .unwrap()
            .starts_with("fraud-gbt-v1@"));
        assert_ne!(decision["shadow_version"], decision["model_version"]);
    }
    let stats = telemetry.model().unwrap().stats();
    let disagreements = stats
        .shadow_disagreements
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(disagreements > 0, "stricter thresholds disagree somewhere");
    let text = fraud_detector::telemetry::render(&telemetry);
    assert!(text.contains("fraud_model_info{role=\"shadow\""), "{text}");
    assert!(
        text.contains("fraud_model_psi{role=\"primary\",feature=\"score_p_fraud\"}"),
        "{text}"
    );
}

#[test]
fn a_model_trained_on_other_features_fails_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = copy_model(dir.path(), "m");
    let card_path = model.with_extension("json");
    let mut card: Value = serde_json::from_slice(&std::fs::read(&card_path).unwrap()).unwrap();
    card["feature_spec_hash"] = "0000000000000000".into();
    std::fs::write(&card_path, serde_json::to_vec(&card).unwrap()).unwrap();
    let text = topology(dir.path(), 100, &format!("  path: {}\n", model.display()));
    let result = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(runtime::run(
            &support::topology(&text),
            RunOptions::default(),
        ));
    let error = result
        .expect_err("a mismatched model must not start")
        .to_string();
    assert!(error.contains("feature spec 0000000000000000"), "{error}");
    assert!(!dir.path().join("decisions.jsonl").exists() || decisions(dir.path()).is_empty());
}
