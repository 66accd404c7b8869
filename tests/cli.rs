//! The command line as users run it: score, validate, generate, run with
//! stdin and Avro container files, tail.

mod support;

use fraud_detector::codecs::write_container;
use fraud_detector::domain::{Decision, Transaction};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const SEEDS: &str = include_str!("fixtures/seed_003.jsonl");

fn fraud_detector(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fraud-detector"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn actions(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn score_decides_seed_003_in_input_order() {
    let output = fraud_detector(&["score"], SEEDS.as_bytes());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(actions(&output.stdout), ["APPROVE", "BLOCK", "REVIEW"]);
}

#[test]
fn score_reports_rejects_on_stderr_and_exit_code() {
    let input = format!(
        "{}\n{{\"transaction_id\": \"T\", \"amount\": 5}}\n",
        SEEDS.lines().next().unwrap()
    );
    let output = fraud_detector(&["score"], input.as_bytes());
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(actions(&output.stdout), ["APPROVE"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let letter: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(letter["position"], "line 2");
    assert!(
        letter["reason"].as_str().unwrap().contains("customer_id"),
        "{letter}"
    );
}

#[test]
fn validate_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "sources:\n  tx: {type: stdin}\nsinks:\n  decisions: {type: stdout}\n  dead_letters: {type: stdout}\nrules:\n  velocity:\n    limits:\n      - {window: 2h, max_count: 3}\n").unwrap();
    let output = fraud_detector(&["validate", "--topology", path.to_str().unwrap()], b"");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.yaml:9: rules.velocity.limits.window"),
        "{stderr}"
    );
    assert!(stderr.contains("no window named `2h`"), "{stderr}");
    let good = fraud_detector(&["validate", "--topology", "topologies/demo.yaml"], b"");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
}

#[test]
fn run_reads_stdin_and_writes_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipe.yaml");
    std::fs::write(&path, "sources:\n  tx: {type: stdin}\nsinks:\n  decisions: {type: stdout}\n  dead_letters: {type: stdout}\nengine: {workers: 1}\n").unwrap();
    let output = fraud_detector(
        &["run", "--topology", path.to_str().unwrap()],
        SEEDS.as_bytes(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(actions(&output.stdout), ["APPROVE", "BLOCK", "REVIEW"]);
}

#[test]
fn generated_files_run_through_the_file_topology() {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let generated = fraud_detector(
        &[
            "generate",
            "--count",
            "5000",
            "--customers",
            "300",
            "--output",
            &out("tx.jsonl"),
            "--labels",
            &out("labels.jsonl"),
            "--truth",
            &out("truth.csv"),
        ],
        b"",
    );
    assert!(generated.status.success());
    let output = Command::new(env!("CARGO_BIN_EXE_fraud-detector"))
        .args(["run", "--topology", "topologies/file.yaml"])
        .env("FD_INPUT", out("tx.jsonl"))
        .env("FD_LABELS", out("labels.jsonl"))
        .env("FD_OUT", out("results"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let decisions = support::read_json_lines(&dir.path().join("results/decisions.jsonl"));
    assert_eq!(decisions.len(), 5_000);
    assert!(dir.path().join("results/state.snapshot").exists());

    let tail = fraud_detector(
        &["tail", "--file", &out("results/decisions.jsonl"), "-n", "3"],
        b"",
    );
    let printed = String::from_utf8_lossy(&tail.stdout);
    assert_eq!(printed.lines().count(), 3, "{printed}");
    assert!(
        printed.lines().all(|line| line.contains("TX-")),
        "{printed}"
    );
}

fn seed_transactions() -> Vec<Transaction> {
    SEEDS
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn avro_container_files_in_and_out() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tx.avro");
    write_container(&seed_transactions(), std::fs::File::create(&input).unwrap()).unwrap();
    let out = dir.path().display();
    let topology = support::topology(&format!(
        "sources:\n  tx: {{type: file, path: {}, codec: avro}}\nsinks:\n  decisions: {{type: file, path: {out}/decisions.avro, codec: avro}}\n  dead_letters: {{type: file, path: {out}/dead.jsonl}}\nengine: {{workers: 1}}\n",
        input.display()
    ));
    let report = support::run(&topology, Default::default());
    assert_eq!(report.counters.decisions(), 3);
    let decisions: Vec<Decision> = read_avro(&dir.path().join("decisions.avro"));
    let actions: Vec<&str> = decisions.iter().map(|d| d.action.as_str()).collect();
    assert_eq!(actions, ["APPROVE", "BLOCK", "REVIEW"]);
}

fn read_avro<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    apache_avro::set_serde_human_readable(false);
    let reader = apache_avro::Reader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader
        .map(|value| apache_avro::from_value(&value.unwrap()).unwrap())
        .collect()
}

#[test]
fn score_history_makes_a_device_familiar() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.jsonl");
    let earlier = r#"{"transaction_id": "H1", "customer_id": "C-12345", "amount": 120.0, "timestamp": "2025-11-20T10:00:00Z", "location": "Seattle, WA", "device_id": "dev-abc123", "ip_address": "192.168.1.100"}"#;
    std::fs::write(&history, format!("{earlier}\n")).unwrap();
    let seattle = SEEDS.lines().next().unwrap();
    let without = fraud_detector(&["score"], seattle.as_bytes());
    let with = fraud_detector(
        &["score", "--history", history.to_str().unwrap()],
        seattle.as_bytes(),
    );
    let codes =
        |output: &Output| -> String { String::from_utf8_lossy(&output.stdout).into_owned() };
    assert!(codes(&without).contains("NEW_DEVICE"));
    assert!(!codes(&with).contains("NEW_DEVICE"), "{}", codes(&with));
    assert_eq!(
        actions(&with.stdout),
        ["APPROVE"],
        "history decisions are not printed"
    );
}

#[test]
fn produce_writes_the_requested_count_at_a_rate() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stream.jsonl");
    let started = std::time::Instant::now();
    let output = fraud_detector(
        &[
            "produce",
            "--file",
            file.to_str().unwrap(),
            "--count",
            "300",
            "--rate",
            "1000",
        ],
        b"",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(250),
        "300 records at 1000/s take ~0.3 s"
    );
    let lines = support::read_json_lines(&file);
    assert_eq!(lines.len(), 300);
    assert!(lines.iter().all(|line| line["transaction_id"].is_string()));
}

#[test]
fn the_console_is_refused_with_a_kafka_source() {
    // Refused before any broker is contacted: nothing listens on this port.
    let output = Command::new(env!("CARGO_BIN_EXE_fraud-detector"))
        .args(["run", "--topology", "topologies/kafka.yaml"])
        .args(["--http", "127.0.0.1:0", "--console"])
        .env("FD_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("console (--console) is not available with a Kafka source"),
        "{stderr}"
    );
}
