//! Seed 003's three demo transactions, verbatim, through the real engine:
//! first with no history (the engine relies on the transactions' own hints),
//! then after a plausible history for each customer.

use fraud_detector::domain::{Action, ReasonCode, Transaction};
use fraud_detector::engine::{Engine, FixedClock, Outcome};
use fraud_detector::model::{ModelConfig, ModelSlot};
use std::sync::Arc;
use std::time::Instant;

const SEEDS: &str = include_str!("fixtures/seed_003.jsonl");
const NOW: i64 = 1_764_616_434_000; // 2025-12-01T19:13:54Z

fn seeds() -> Vec<Transaction> {
    SEEDS
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn engine() -> Engine {
    Engine::with_defaults(Arc::new(FixedClock(NOW)))
}

fn decide(engine: &Engine, transaction: &Transaction) -> Outcome {
    transaction.validate().unwrap();
    engine.decide(transaction, NOW, Instant::now())
}

fn assert_low_risk(outcome: &Outcome) {
    assert_eq!(
        outcome.decision.action,
        Action::Approve,
        "{:#?}",
        outcome.decision
    );
    assert!(outcome.alert.is_none() && outcome.case.is_none());
}

fn assert_high_risk(outcome: &Outcome) {
    let decision = &outcome.decision;
    assert_eq!(decision.action, Action::Block, "{decision:#?}");
    assert!(decision.risk_score >= 90, "{decision:#?}");
    for code in [
        ReasonCode::ImpossibleTravel,
        ReasonCode::NewDevice,
        ReasonCode::HighRiskMerchant,
    ] {
        assert!(decision.has_reason(code), "{code:?} missing: {decision:#?}");
    }
    let travel = decision
        .reasons
        .iter()
        .find(|reason| reason.code == ReasonCode::ImpossibleTravel)
        .unwrap();
    let distance = travel.evidence["distance_km"];
    assert!(
        (7_400.0..7_600.0).contains(&distance),
        "New York to Moscow is ~7,500 km, got {distance}"
    );
    assert!(travel.evidence["speed_kmh"] > 10_000.0);
    let case = outcome.case.as_ref().expect("a BLOCK opens a case");
    assert!(case.case_id.starts_with("FRD-2025-"), "{}", case.case_id);
    assert_eq!(case.reasons, decision.reasons);
    assert!(outcome
        .alert
        .as_ref()
        .unwrap()
        .summary
        .contains("IMPOSSIBLE_TRAVEL"));
}

fn assert_medium_risk(outcome: &Outcome) {
    assert_eq!(
        outcome.decision.action,
        Action::Review,
        "{:#?}",
        outcome.decision
    );
    assert!(outcome.case.is_some() && outcome.alert.is_some());
}

/// The committed model beside the rules: seed 003's outcomes must not change.
fn engine_with_model() -> Engine {
    let config = ModelConfig::at("models/fraud-gbt-v1.onnx");
    let slot = ModelSlot::load(&config, (40, 80), 1).unwrap_or_else(|error| panic!("{error}"));
    engine().with_model(Arc::new(slot))
}

#[test]
fn seed_transactions_without_history() {
    without_history(engine);
}

#[test]
fn seed_transactions_without_history_with_the_model() {
    let outcomes = without_history(engine_with_model);
    for outcome in &outcomes {
        let decision = &outcome.decision;
        assert!(decision
            .model_version
            .as_deref()
            .unwrap()
            .starts_with("fraud-gbt-v1@"));
        assert!(decision.risk_score >= decision.model_risk.unwrap());
    }
}

#[test]
fn seed_transactions_after_plausible_history() {
    after_plausible_history(engine);
}

#[test]
fn seed_transactions_after_plausible_history_with_the_model() {
    after_plausible_history(engine_with_model);
}

fn without_history(make: fn() -> Engine) -> Vec<Outcome> {
    let seeds = seeds();
    // Each on a fresh engine: no state at all, only the transactions' hints.
    let outcomes: Vec<Outcome> = seeds.iter().map(|seed| decide(&make(), seed)).collect();
    assert_low_risk(&outcomes[0]);
    assert_high_risk(&outcomes[1]);
    assert_medium_risk(&outcomes[2]);
    for outcome in &outcomes {
        assert!(outcome.decision.has_reason(ReasonCode::IngestionTime));
        assert_eq!(outcome.decision.event_time, NOW);
    }
    let travel = outcomes[1]
        .decision
        .reasons
        .iter()
        .find(|r| r.code == ReasonCode::ImpossibleTravel)
        .unwrap();
    assert!(travel.detail.contains("hint"), "{}", travel.detail);
    outcomes
}

/// A customer's past: `(minutes before the seed, amount, place, device, ip, merchant, category)`.
type Past<'a> = &'a [(i64, f64, &'a str, &'a str, &'a str, &'a str, &'a str)];

fn replay(engine: &Engine, customer: &str, past: Past) {
    for (n, (minutes_ago, amount, place, device, ip, merchant, category)) in past.iter().enumerate()
    {
        let transaction: Transaction = serde_json::from_value(serde_json::json!({
            "transaction_id": format!("HIST-{customer}-{n}"),
            "customer_id": customer,
            "amount": amount,
            "timestamp": fraud_detector::domain::format_millis(NOW - minutes_ago * 60_000),
            "merchant": merchant,
            "merchant_category": category,
            "location": place,
            "card_present": true,
            "device_id": device,
            "ip_address": ip,
        }))
        .unwrap();
        let outcome = decide(engine, &transaction);
        assert!(!outcome.decision.late, "history is in order");
    }
}

const DAY: i64 = 24 * 60;

fn seattle_shopper(engine: &Engine) {
    let past: Vec<_> = (1..=12)
        .rev()
        .map(|day| {
            (
                day * 2 * DAY + 120,
                150.0 + (day % 4) as f64 * 40.0,
                "Seattle, WA",
                "dev-abc123",
                "192.168.1.100",
                "Amazon.com",
                "E-commerce",
            )
        })
        .collect();
    replay(engine, "C-12345", &past);
}

fn after_plausible_history(make: fn() -> Engine) {
    let seeds = seeds();

    let low = make();
    seattle_shopper(&low);
    let outcome = decide(&low, &seeds[0]);
    assert_low_risk(&outcome);
    assert!(
        !outcome.decision.has_reason(ReasonCode::NewDevice),
        "the device is known"
    );

    let high = make();
    seattle_shopper(&high);
    // Then a coffee in New York half an hour before the seed, on the known phone.
    replay(
        &high,
        "C-12345",
        &[(
            30,
            6.5,
            "New York, NY",
            "dev-abc123",
            "192.168.1.100",
            "Blue Bottle",
            "Restaurants",
        )],
    );
    let outcome = decide(&high, &seeds[1]);
    assert_high_risk(&outcome);
    let travel = outcome
        .decision
        .reasons
        .iter()
        .find(|r| r.code == ReasonCode::ImpossibleTravel)
        .unwrap();
    assert!(
        !travel.detail.contains("hint"),
        "state, not the hint, must drive travel: {}",
        travel.detail
    );

    let medium = make();
    let past: Vec<_> = (1..=10)
        .rev()
        .map(|day| {
            (
                day * DAY + 300,
                120.0 + (day % 3) as f64 * 30.0,
                "Los Angeles, CA",
                "dev-xyz789",
                "192.168.1.50",
                "Trader Joe's",
                "Groceries",
            )
        })
        .collect();
    replay(&medium, "C-67890", &past);
    let outcome = decide(&medium, &seeds[2]);
    assert_medium_risk(&outcome);
    assert!(
        outcome.decision.has_reason(ReasonCode::AmountSpike),
        "{:#?}",
        outcome.decision
    );
    assert!(!outcome.decision.has_reason(ReasonCode::NewDevice));
}
