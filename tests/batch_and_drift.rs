//! `batch` scores whole files through the pipeline (JSON lines and CSV,
//! with the model); `drift` reports PSI against the model's training
//! reference and flags a shifted population.

use std::path::Path;
use std::process::{Command, Output};

const BINARY: &str = env!("CARGO_BIN_EXE_fraud-detector");
const MODEL: &str = "models/fraud-gbt-v1.onnx";

fn detector(args: &[&str]) -> Output {
    let output = Command::new(BINARY).args(args).output().unwrap();
    assert!(
        output.status.code().is_some(),
        "killed by a signal: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn generate(dir: &Path, count: u32) -> String {
    let path = dir.join("tx.jsonl").to_str().unwrap().to_owned();
    let count = count.to_string();
    let args = [
        "generate",
        "--seed",
        "3",
        "--customers",
        "300",
        "--count",
        &count,
        "--output",
        &path,
    ];
    assert!(detector(&args).status.success());
    path
}

#[test]
fn batch_scores_every_json_line_with_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let input = generate(dir.path(), 3_000);
    let output = dir.path().join("decisions.jsonl");
    let result = detector(&[
        "batch",
        "--input",
        &input,
        "--output",
        output.to_str().unwrap(),
        "--model",
        MODEL,
    ]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let text = std::fs::read_to_string(&output).unwrap();
    let decisions: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(decisions.len(), 3_000);
    assert!(decisions
        .iter()
        .all(|decision| decision["model_version"].is_string()));
}

#[test]
fn batch_reads_and_writes_csv_and_dead_letters_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tx.csv");
    std::fs::write(
        &input,
        "transaction_id,customer_id,amount,merchant,merchant_category,location,card_present,device_id,ip_address,previous_location,time_since_last_transaction\n\
         TXN-1,C-12345,250.00,Amazon.com,E-commerce,\"Seattle, WA\",false,dev-abc123,192.168.1.100,\"Seattle, WA\",2 hours ago\n\
         TXN-2,C-99999,4500.00,CRYPTO-EXCHANGE-XX,Cryptocurrency,\"Moscow, Russia\",false,dev-unknown,185.220.101.5,\"New York, NY\",30 minutes ago\n\
         TXN-3,C-67890,not-a-number,Best Buy,Electronics,\"Los Angeles, CA\",true,dev-xyz789,192.168.1.50,,\n\
         TXN-4,C-24680\n",
    )
    .unwrap();
    let output = dir.path().join("decisions.csv");
    let result = detector(&[
        "batch",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let csv = std::fs::read_to_string(&output).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("transaction_id,customer_id,action,risk_score"));
    assert_eq!(rows.len(), 3, "two decisions: {csv}");
    let blocked = rows.iter().find(|row| row.starts_with("TXN-2,")).unwrap();
    assert!(
        blocked.contains(",BLOCK,") && blocked.contains("IMPOSSIBLE_TRAVEL"),
        "{blocked}"
    );
    let mut dead_letters = output.clone().into_os_string();
    dead_letters.push(".dead_letters.jsonl");
    let dead = std::fs::read_to_string(dead_letters).unwrap();
    assert_eq!(dead.lines().count(), 2, "{dead}");
    assert!(
        dead.contains("missing field `amount`"),
        "a short row is a dead letter naming the missing field, not an abort: {dead}"
    );
    assert!(
        dead.contains("amount"),
        "the reason names the field: {dead}"
    );
}

#[test]
fn drift_is_stable_on_like_data_and_flags_a_shifted_population() {
    let dir = tempfile::tempdir().unwrap();
    let input = generate(dir.path(), 8_000);
    let stable = detector(&[
        "drift",
        "--model",
        MODEL,
        "--input",
        &input,
        "--fail-above",
        "0.2",
    ]);
    let report = String::from_utf8_lossy(&stable.stdout);
    assert!(report.contains("score_p_fraud"), "{report}");
    // A shorter, smaller history than training's moves the volume features
    // (history length, terminal counts): real drift, reported as such. The
    // amounts come from the same generator and must not drift.
    let amount = report
        .lines()
        .find(|line| line.starts_with("amount_log"))
        .unwrap();
    assert!(amount.ends_with("stable"), "{report}");

    // Every amount 40 times larger: amounts drift, and the command says so.
    let shifted = dir.path().join("shifted.jsonl");
    let text: String = std::fs::read_to_string(&input)
        .unwrap()
        .lines()
        .map(|line| {
            let mut transaction: serde_json::Value = serde_json::from_str(line).unwrap();
            let amount = transaction["amount"].as_f64().unwrap();
            transaction["amount"] = (amount * 40.0).min(999_999.0).into();
            transaction.to_string() + "\n"
        })
        .collect();
    std::fs::write(&shifted, text).unwrap();
    let drifted = detector(&[
        "drift",
        "--model",
        MODEL,
        "--input",
        shifted.to_str().unwrap(),
        "--fail-above",
        "0.2",
    ]);
    let report = String::from_utf8_lossy(&drifted.stdout);
    assert_eq!(drifted.status.code(), Some(3), "{report}");
    let amount = report
        .lines()
        .find(|line| line.starts_with("amount_log"))
        .unwrap();
    assert!(amount.contains("WARNING"), "{report}");
}
