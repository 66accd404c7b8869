//! No train/serve skew: the features the streaming pipeline computes equal,
//! row by row, the `features` command's replay of the same history.

mod support;

use fraud_detector::engine::Outcome;
use fraud_detector::model::{FeatureVector, FEATURE_NAMES};
use fraud_detector::runtime::{Observer, RunOptions};
use std::process::Command;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct FeatureTap(Mutex<Vec<(String, FeatureVector)>>);

impl Observer for FeatureTap {
    fn on_outcome(&self, outcome: &Outcome) {
        let features = outcome.features.expect("the run computes features");
        self.0
            .lock()
            .unwrap()
            .push((outcome.decision.transaction_id.to_string(), features));
    }
}

const GENERATOR: &str = "seed: 21, customers: 400, transactions: 12000";

/// Both paths take state and rules settings from this one topology.
fn topology_text(dir: &std::path::Path) -> String {
    let out = dir.display();
    format!(
        "sources:\n  tx: {{type: generator, {GENERATOR}}}\n\
         sinks:\n  decisions: {{type: file, path: {out}/d.jsonl}}\n  dead_letters: {{type: file, path: {out}/dl.jsonl}}\n\
         engine: {{workers: 1}}\n\
         rules:\n  ip_denylist: {{networks: [185.220.100.0/22]}}\n"
    )
}

fn command_rows(dir: &std::path::Path) -> Vec<(String, Vec<f32>, u8)> {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let binary = env!("CARGO_BIN_EXE_fraud-detector");
    let generated = Command::new(binary)
        .args([
            "generate",
            "--seed",
            "21",
            "--customers",
            "400",
            "--count",
            "12000",
        ])
        .args([
            "--output",
            &path("tx.jsonl"),
            "--labels",
            &path("labels.jsonl"),
        ])
        .status()
        .unwrap();
    assert!(generated.success());
    let output = Command::new(binary)
        .args([
            "features",
            "--input",
            &path("tx.jsonl"),
            "--labels",
            &path("labels.jsonl"),
            "--output",
            &path("features.csv"),
        ])
        .args(["--topology", &path("topology.yaml")])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = std::fs::read_to_string(dir.join("features.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[2..2 + FEATURE_NAMES.len()], FEATURE_NAMES);
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let features = fields[2..2 + FEATURE_NAMES.len()]
                .iter()
                .map(|value| value.parse().unwrap())
                .collect();
            (
                fields[0].to_owned(),
                features,
                fields.last().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn streaming_features_equal_the_replay_row_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let text = topology_text(dir.path());
    std::fs::write(dir.path().join("topology.yaml"), &text).unwrap();
    let replayed = command_rows(dir.path());
    let topology = support::topology(&text);
    let tap = Arc::new(FeatureTap::default());
    let options = RunOptions {
        observer: Some(tap.clone()),
        features: true,
        ..RunOptions::default()
    };
    support::run(&topology, options);
    let streamed = tap.0.lock().unwrap();

    assert_eq!(streamed.len(), replayed.len());
    for ((stream_id, stream_features), (replay_id, replay_features, _)) in
        streamed.iter().zip(&replayed)
    {
        assert_eq!(stream_id, replay_id);
        for (index, (streamed, replayed)) in stream_features.iter().zip(replay_features).enumerate()
        {
            assert_eq!(
                streamed, replayed,
                "{stream_id}: feature {} differs",
                FEATURE_NAMES[index]
            );
        }
    }
    let frauds = replayed
        .iter()
        .filter(|(_, _, is_fraud)| *is_fraud == 1)
        .count();
    assert!(
        frauds > 50,
        "the target column carries the labels: {frauds}"
    );
}
