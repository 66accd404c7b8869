//! The runtime end to end: generator and file sources, file sinks, labels,
//! snapshots across restarts, and a SIGTERM drain of the real binary.

mod support;

use fraud_detector::runtime::RunOptions;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn generator_topology(out: &Path, transactions: u64, workers: usize) -> String {
    let out = out.display();
    format!(
        "sources:\n  tx:\n    type: generator\n    seed: 11\n    customers: 2000\n    transactions: {transactions}\n\
         sinks:\n  decisions: {{type: file, path: {out}/decisions.jsonl}}\n  alerts: {{type: file, path: {out}/alerts.jsonl}}\n  \
         cases: {{type: file, path: {out}/cases.jsonl}}\n  dead_letters: {{type: file, path: {out}/dead.jsonl}}\n\
         engine:\n  workers: {workers}\n  batch_size: 64\n"
    )
}

#[test]
fn every_transaction_gets_exactly_one_decision_in_customer_order() {
    let dir = tempfile::tempdir().unwrap();
    let topology = support::topology(&generator_topology(dir.path(), 30_000, 3));
    let report = support::run(&topology, RunOptions::default());
    assert_eq!(report.counters.transactions_in, 30_000);
    assert!(report.counters.balanced(), "{:?}", report.counters);

    let decisions = support::read_json_lines(&dir.path().join("decisions.jsonl"));
    assert_eq!(decisions.len(), 30_000);
    let ids: HashSet<&str> = decisions
        .iter()
        .map(|d| d["transaction_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 30_000, "no transaction decided twice");

    // The generator emits in event-time order, so each customer's decisions
    // must come out in event-time order too.
    let mut last_seen: HashMap<&str, &str> = HashMap::new();
    for decision in &decisions {
        let customer = decision["customer_id"].as_str().unwrap();
        let time = decision["event_time"].as_str().unwrap();
        if let Some(previous) = last_seen.insert(customer, time) {
            assert!(previous <= time, "{customer}: {previous} then {time}");
        }
    }
    let flagged = decisions
        .iter()
        .filter(|d| d["action"] != "APPROVE")
        .count() as u64;
    assert_eq!(report.counters.alerts, flagged);
    assert_eq!(
        support::read_json_lines(&dir.path().join("cases.jsonl")).len() as u64,
        flagged
    );
    assert!(
        report.counters.labels_applied > 0,
        "the generator's labels reach the state"
    );
}

fn file_topology(dir: &Path, input: &Path, labels: Option<&Path>) -> String {
    let out = dir.display();
    let labels = labels
        .map(|path| {
            format!(
                "  labels:\n    type: file\n    path: {}\n    stream: labels\n",
                path.display()
            )
        })
        .unwrap_or_default();
    format!(
        "sources:\n  tx:\n    type: file\n    path: {}\n{labels}\
         sinks:\n  decisions: {{type: file, path: {out}/decisions.jsonl, append: true}}\n  dead_letters: {{type: file, path: {out}/dead.jsonl}}\n\
         engine:\n  workers: 1\n\
         state:\n  snapshot:\n    path: {out}/state/snapshot\n    interval: 1h\n",
        input.display()
    )
}

fn write_lines(path: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    std::fs::write(path, text).unwrap();
}

fn tx(id: &str, time: &str, place: &str) -> Value {
    serde_json::json!({"transaction_id": id, "customer_id": "C-TRAVEL", "amount": 80.0,
        "timestamp": time, "location": place, "device_id": "phone", "card_present": true})
}

#[test]
fn windows_survive_a_restart_through_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.jsonl");
    write_lines(
        &first,
        &[
            tx("T1", "2025-12-01T18:00:00Z", "New York, NY"),
            tx("T2", "2025-12-01T18:40:00Z", "New York, NY"),
        ],
    );
    let report = support::run(
        &support::topology(&file_topology(dir.path(), &first, None)),
        RunOptions::default(),
    );
    assert_eq!(report.snapshot.unwrap().customers, 1);

    // A new process: only the snapshot knows where C-TRAVEL was.
    let second = dir.path().join("second.jsonl");
    write_lines(
        &second,
        &[tx("T3", "2025-12-01T19:10:00Z", "Moscow, Russia")],
    );
    let report = support::run(
        &support::topology(&file_topology(dir.path(), &second, None)),
        RunOptions::default(),
    );
    assert_eq!(report.restored.unwrap().customers, 1);
    let decisions = support::read_json_lines(&dir.path().join("decisions.jsonl"));
    let last = decisions.last().unwrap();
    assert_eq!(last["transaction_id"], "T3");
    let codes: Vec<&str> = last["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"IMPOSSIBLE_TRAVEL"), "{codes:?}");
}

/// A producer's retry (the same transaction again, at once or later) is a
/// dead letter saying so, not a second decision.
#[test]
fn a_transaction_already_decided_is_a_duplicate_not_a_second_decision() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tx.jsonl");
    write_lines(
        &input,
        &[
            tx("T1", "2025-12-01T18:00:00Z", "New York, NY"),
            tx("T1", "2025-12-01T18:00:00Z", "New York, NY"),
            tx("T2", "2025-12-01T18:40:00Z", "New York, NY"),
            tx("T1", "2025-12-01T18:00:00Z", "New York, NY"),
        ],
    );
    let topology = support::topology(&file_topology(dir.path(), &input, None));
    let report = support::run(&topology, RunOptions::default());
    assert_eq!(report.counters.decisions(), 2);
    assert_eq!(report.counters.dead_duplicate, 2);
    assert!(report.counters.balanced(), "{:?}", report.counters);
    let decided: Vec<String> = support::read_json_lines(&dir.path().join("decisions.jsonl"))
        .iter()
        .map(|decision| decision["transaction_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(decided, ["T1", "T2"]);
    let dead = support::read_json_lines(&dir.path().join("dead.jsonl"));
    assert_eq!(dead.len(), 2);
    assert!(
        dead.iter().all(|letter| letter["kind"] == "DUPLICATE"),
        "{dead:?}"
    );
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("already decided"),
        "{dead:?}"
    );
}

#[test]
fn a_fraud_label_marks_the_card_compromised() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.jsonl");
    write_lines(
        &labels,
        &[
            serde_json::json!({"transaction_id": "T1", "is_fraud": true, "reported_at": "2025-12-02T00:00:00Z", "customer_id": "C-TRAVEL"}),
            serde_json::json!({"transaction_id": "T-UNKNOWN", "is_fraud": true, "reported_at": "2025-12-02T00:00:00Z"}),
        ],
    );
    let first = dir.path().join("first.jsonl");
    write_lines(&first, &[tx("T1", "2025-12-01T18:00:00Z", "Paris, France")]);
    let report = support::run(
        &support::topology(&file_topology(dir.path(), &first, Some(&labels))),
        RunOptions::default(),
    );
    assert_eq!(
        (
            report.counters.labels_applied,
            report.counters.dead_unmatched_label
        ),
        (1, 1)
    );
    assert!(report.counters.balanced());
    let dead = support::read_json_lines(&dir.path().join("dead.jsonl"));
    assert!(
        dead[0]["reason"].as_str().unwrap().contains("T-UNKNOWN"),
        "{}",
        dead[0]
    );

    let second = dir.path().join("second.jsonl");
    // On the known phone it would pass: the customer keeps shopping. From a
    // phone never seen, the compromised card must not.
    let mut stranger = tx("T9", "2025-12-03T10:00:00Z", "Paris, France");
    stranger["device_id"] = "burner".into();
    write_lines(&second, &[stranger]);
    support::run(
        &support::topology(&file_topology(dir.path(), &second, None)),
        RunOptions::default(),
    );
    let decisions = support::read_json_lines(&dir.path().join("decisions.jsonl"));
    let last = decisions.last().unwrap();
    assert!(
        last["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "COMPROMISED_CARD"),
        "{last}"
    );
}

#[test]
fn sigterm_drains_flushes_snapshots_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display();
    let topology = format!(
        "sources:\n  tx:\n    type: generator\n    rate: 2000\n    transactions: null\n\
         sinks:\n  decisions: {{type: file, path: {out}/decisions.jsonl}}\n  dead_letters: {{type: file, path: {out}/dead.jsonl}}\n\
         state:\n  snapshot:\n    path: {out}/snapshot\n    interval: 1h\n"
    );
    let path = dir.path().join("endless.yaml");
    std::fs::write(&path, topology).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_fraud-detector"))
        .args(["run", "--topology", path.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // SIGTERM once the run is well under way (its signal handler is set
    // before the first decision): waiting on output, not on the clock, keeps
    // this independent of how loaded the machine is.
    let decisions = dir.path().join("decisions.jsonl");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while support::count_complete_lines(&decisions) <= 1_000 {
        assert!(std::time::Instant::now() < deadline, "no progress in 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert!(!stderr.contains("DO NOT ADD UP"), "{stderr}");
    let decided = support::read_json_lines(&dir.path().join("decisions.jsonl")).len();
    assert!(decided > 1_000, "ran until 1,000 were written: {decided}");
    assert!(
        stderr.contains(&format!("read {decided} transactions")),
        "every transaction read was written: {stderr}"
    );
    assert!(dir.path().join("snapshot").exists());
}
