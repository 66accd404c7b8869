//! With an agent, an escalated transaction teaches the customer's profile
//! nothing until the agent's final action is APPROVE: a device the agent
//! blocks never becomes "familiar", and one it clears does, even where the
//! engine said REVIEW. An escalated APPROVE also carries a case for the
//! agent's record.

use fraud_detector::domain::{Action, ReasonCode, Transaction};
use fraud_detector::engine::{Engine, FixedClock, Outcome};
use std::sync::Arc;
use std::time::Instant;

const NOW: i64 = 1_764_616_434_000; // 2025-12-01T19:13:54Z

fn transaction(id: &str, device: &str, minute: u32) -> Transaction {
    purchase(id, device, minute, 25.0)
}

fn purchase(id: &str, device: &str, minute: u32, amount: f64) -> Transaction {
    serde_json::from_str(&format!(
        r#"{{"transaction_id": "{id}", "customer_id": "C-900", "amount": {amount}, "merchant": "Corner Cafe",
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

#[test]
fn a_review_the_agent_lowers_to_approve_is_learned_then() {
    let engine = Engine::with_defaults(Arc::new(FixedClock(NOW)))
        .with_escalation(Arc::new(|action, _| action != Action::Block));
    for (minute, id) in [(0, "T1"), (5, "T2")] {
        let home = decide(&engine, &transaction(id, "dev-home", minute));
        engine.learn_deferred(&home.deferred_learning.expect("held back"));
    }
    let odd = decide(&engine, &purchase("T3", "dev-new", 10, 4_800.0));
    assert_eq!(odd.decision.action, Action::Review, "{:#?}", odd.decision);
    assert!(new_device(&odd), "{:#?}", odd.decision);
    let held = odd.deferred_learning.expect("held back for the agent");

    // Until the agent clears it, the device stays new ...
    let before = decide(&engine, &transaction("T4", "dev-new", 20));
    assert!(new_device(&before), "{:#?}", before.decision);
    // ... and once it lowers the REVIEW to APPROVE, it is the customer's.
    engine.learn_deferred(&held);
    let after = decide(&engine, &transaction("T5", "dev-new", 30));
    assert!(!new_device(&after), "{:#?}", after.decision);
}
