//! The LLM agent behind a Kafka source: a high-risk transaction is
//! escalated inside its batch's transaction, the agent's tool calls run
//! against the detector's state, and the decision written to the topic
//! carries the agent's review; a low-risk one is not escalated, and the
//! outputs keep the input order. vLLM is the replayed double.

mod agent_support;
mod kafka_support;
mod support;
mod vllm_replay;

use agent_support::{low_risk, SEED_HIGH_RISK};
use fraud_detector::domain::{Action, AgentStatus, Decision};
use kafka_support::{wait_for, Tansu};
use serde_json::Value;
use vllm_replay::{one_tool_then, verdict_turn, Reply, VllmReplay};

fn investigation(request: &Value, _: usize) -> Reply {
    Reply::Message(one_tool_then(
        request,
        "transaction-risk",
        verdict_turn(
            "Impossible travel on an unknown device at a crypto exchange.",
            "BLOCK",
            96,
            "Impossible travel New York to Moscow in 30 minutes, unknown device.",
        ),
    ))
}

#[test]
fn escalations_are_reviewed_inside_the_kafka_transaction() {
    let broker = Tansu::start();
    broker.create_topic("tx", 1);
    let records: Vec<(String, Vec<u8>)> = [
        low_risk("TXN-BEFORE", "C-12345"),
        SEED_HIGH_RISK.to_owned(),
        low_risk("TXN-OTHER", "C-777"),
    ]
    .into_iter()
    .map(|json| {
        let value: Value = serde_json::from_str(&json).unwrap();
        (
            value["customer_id"].as_str().unwrap().to_owned(),
            json.into_bytes(),
        )
    })
    .collect();
    broker.produce("tx", &records);
    let vllm = VllmReplay::start(investigation);
    let cases = tempfile::tempdir().unwrap();
    let yaml = kafka_support::topology_yaml(&broker.bootstrap(), "tx", "k", "json")
        + &format!(
            "agent:\n  base_url: {}\n  deadline: 10s\n  tools:\n    case_dir: {}\n",
            vllm.base_url(),
            cases.path().display()
        );
    let detector = support::Background::run(&yaml);
    let decided = || kafka_support::committed_json::<Decision>(&broker, "k-decisions", 1);
    wait_for("three decisions", 120, String::new, || decided().len() >= 3);
    detector.stop();

    let decisions = decided();
    let ids: Vec<&str> = decisions
        .iter()
        .map(|d| d.transaction_id.as_str())
        .collect();
    assert_eq!(ids, ["TXN-BEFORE", "TXN-20251201-191354", "TXN-OTHER"]);
    let reviewed = &decisions[1];
    assert_eq!(reviewed.action, Action::Block);
    let review = reviewed.agent.as_ref().expect("the agent reviewed it");
    assert_eq!(review.status, AgentStatus::Decided, "{review:?}");
    assert!(review
        .explanation
        .as_deref()
        .is_some_and(|text| text.contains("Moscow")));
    assert!(decisions[0].agent.is_none() && decisions[2].agent.is_none());
    let requests = vllm.requests();
    assert_eq!(requests.len(), 2, "one tool turn, then the verdict");
    let tool_result = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|message| message["role"] == "tool")
        .unwrap()
        .to_string();
    assert!(
        tool_result.contains("IMPOSSIBLE_TRAVEL"),
        "the tool read the detector's own state: {tool_result}"
    );
}
