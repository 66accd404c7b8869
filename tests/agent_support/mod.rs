//! What the agent tests share: a topology around the replayed vLLM, moto's
//! SES as the mail server, and readers for what a run left behind.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};

/// Seed 003's high-risk transaction (Moscow 30 minutes after New York).
pub const SEED_HIGH_RISK: &str = r#"{"transaction_id": "TXN-20251201-191354", "customer_id": "C-12345", "amount": 4500.00, "merchant": "CRYPTO-EXCHANGE-XX", "merchant_category": "Cryptocurrency", "location": "Moscow, Russia", "card_present": false, "device_id": "dev-unknown", "ip_address": "185.220.101.5", "previous_location": "New York, NY", "time_since_last_transaction": "30 minutes ago", "timestamp": "2025-12-01T19:13:54Z"}"#;

/// A low-risk transaction of another customer (never escalated).
pub fn low_risk(id: &str, customer: &str) -> String {
    format!(
        r#"{{"transaction_id": "{id}", "customer_id": "{customer}", "amount": 25.0, "merchant": "Corner Cafe", "merchant_category": "Restaurants", "location": "Seattle, WA", "card_present": true, "timestamp": "2025-12-01T19:14:00Z"}}"#
    )
}

pub const SENDER: &str = "fraud-alerts@example.com";
pub const RECIPIENT: &str = "security-team@example.com";

/// Credentials for moto (any value works there); set once per test process.
pub fn aws_test_environment() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::remove_var("AWS_PROFILE");
    });
}

pub struct AgentRun {
    pub dir: tempfile::TempDir,
}

impl AgentRun {
    pub fn new(transactions: &[String]) -> AgentRun {
        let dir = tempfile::tempdir().unwrap();
        let text: String = transactions
            .iter()
            .map(|line| format!("{line}\n"))
            .collect();
        std::fs::write(dir.path().join("tx.jsonl"), text).unwrap();
        AgentRun { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A file-to-file topology with `agent` (YAML lines under `agent:`).
    pub fn topology(&self, agent: &str, rules: &str) -> String {
        let out = self.dir.path().display();
        let mut agent: String = agent.lines().map(|line| format!("  {line}\n")).collect();
        if !agent.contains("  tools:") {
            agent.push_str(&format!("  tools:\n    case_dir: {out}/cases\n"));
        }
        format!(
            "sources:\n  tx: {{type: file, path: {out}/tx.jsonl}}\n\
             sinks:\n  decisions: {{type: file, path: {out}/decisions.jsonl}}\n  alerts: {{type: file, path: {out}/alerts.jsonl}}\n  \
             cases: {{type: file, path: {out}/cases.jsonl}}\n  dead_letters: {{type: file, path: {out}/dead.jsonl}}\n\
             engine: {{workers: 2, batch_size: 16}}\n{rules}\
             agent:\n{agent}"
        )
    }

    pub fn decisions(&self) -> Vec<Value> {
        crate::support::read_json_lines(&self.path("decisions.jsonl"))
    }

    pub fn cases(&self) -> Vec<Value> {
        crate::support::read_json_lines(&self.path("cases.jsonl"))
    }

    pub fn decision(&self, transaction_id: &str) -> Value {
        self.decisions()
            .into_iter()
            .find(|decision| decision["transaction_id"] == transaction_id)
            .unwrap_or_else(|| panic!("no decision for {transaction_id}"))
    }
}

/// Verifies the sender with moto's SES (v1 query API), as an operator would
/// before sending: SES refuses mail from unverified identities.
pub fn verify_sender(moto_url: &str) {
    let response = reqwest::blocking::Client::new()
        .post(format!("{moto_url}/"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20251201/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("Action=VerifyEmailIdentity&Version=2010-12-01&EmailAddress={SENDER}"))
        .send()
        .unwrap();
    assert!(response.status().is_success(), "{:?}", response.text());
}

/// Every message moto's SES accepted, from its inspection endpoint.
pub fn sent_mail(moto_url: &str) -> Vec<Value> {
    let data: Value = reqwest::blocking::get(format!("{moto_url}/moto-api/data.json"))
        .unwrap()
        .json()
        .unwrap();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}
