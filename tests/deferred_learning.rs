//! With an agent, an escalated APPROVE teaches the customer's profile
//! nothing until the agent approves it too: a device the agent blocks never
//! becomes "familiar". Such an APPROVE also carries a case for the agent's
//! record.

use fraud_detector::domain::{Action, ReasonCode, Transaction};
use fraud_detector::engine::{Engine, FixedClock, Outcome};
use std::sync::Arc;
use std::time::Instant;

const NOW: i64 = 1_764_616_434_000; // 2025-12-01T19:13:54Z

fn transaction(id: &str, device: &str, minute: u32) -> Transaction {
    serde_json::from_str(&format!(
        r#"{{"transaction_id": "{id}", "customer_id": "C-900", "amount": 25.0, "merchant": "Corner Cafe",
            "merchant_category": "Restaurants", "location": "Seattle, WA", "card_present": true,
            "device_id": "{device}", "timestamp": "2025-12-01T18:{minute:02}:00Z"}}"#
    ))
    .unwrap()
}

fn decide(engine: &Engine, transaction: &Transaction) -> Outcome {
    engine.decide(transaction, NOW, Instant::now())
}

fn new_device(outcome: &Outcome) -> bool {
    outcome.decision.has_reason(ReasonCode::NewDevice)
}

#[test]
fn an_escalated_approval_is_learned_only_once_the_agent_approves_it() {
    let engine = Engine::with_defaults(Arc::new(FixedClock(NOW)))
        .with_escalation(Arc::new(|action, _| action == Action::Approve));
    let home = decide(&engine, &transaction("T1", "dev-home", 0));
    engine.learn_deferred(&home.deferred_learning.expect("held back"));

    let first = decide(&engine, &transaction("T2", "dev-new", 10));
    assert_eq!(
        first.decision.action,
        Action::Approve,
        "{:#?}",
        first.decision
    );
    assert!(new_device(&first), "{:#?}", first.decision);
    assert!(first.alert.is_none(), "no alert for an APPROVE");
    assert!(first.case.is_some(), "a case for the agent's record");
    let held = first.deferred_learning.expect("held back for the agent");

    // The agent has not approved T2 yet: its device is still unknown.
    let second = decide(&engine, &transaction("T3", "dev-new", 20));
    assert!(new_device(&second), "{:#?}", second.decision);

    // The agent approves T2 (or T3): now the device is the customer's.
    engine.learn_deferred(&held);
    let third = decide(&engine, &transaction("T4", "dev-new", 30));
    assert!(!new_device(&third), "{:#?}", third.decision);
}

#[test]
fn without_escalation_an_approval_is_learned_at_once() {
    let engine = Engine::with_defaults(Arc::new(FixedClock(NOW)));
    let home = decide(&engine, &transaction("T1", "dev-home", 0));
    assert!(home.deferred_learning.is_none() && home.case.is_none());
    let first = decide(&engine, &transaction("T2", "dev-new", 10));
    assert!(new_device(&first));
    let again = decide(&engine, &transaction("T3", "dev-new", 20));
    assert!(!new_device(&again), "{:#?}", again.decision);
}
