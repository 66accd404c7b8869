//! Turns the rules' verdict into the records the engine emits.

use super::Engine;
use crate::domain::{
    Action, Alert, CaseLog, CustomerSummary, Decision, Millis, Reason, Severity, Text, TimeSource,
    Transaction, WindowSummary,
};
use crate::model::{FeatureVector, ModelOpinion};
use crate::rules::{Signals, Verdict};
use crate::state::time::to_millis;
use crate::state::{History, Observation};
use chrono::{DateTime, Datelike};
use std::time::Instant;
use xxhash_rust::xxh3::xxh3_64;

/// Everything one transaction produces: always a decision; an alert and a
/// case for REVIEW and BLOCK.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub decision: Decision,
    /// Boxed, as is the case: most outcomes have neither, and an outcome
    /// is moved several times between the engine and the sinks.
    pub alert: Option<Box<Alert>>,
    pub case: Option<Box<CaseLog>>,
    /// The model's input vector, when the engine computes it.
    pub features: Option<FeatureVector>,
    /// A hard-block rule fired (an escalation may never lower this BLOCK).
    pub hard_block: bool,
    /// An APPROVE going to the agent: the profile learns from it only if
    /// the agent's final action is APPROVE too ([`Engine::learn_deferred`]).
    pub deferred_learning: Option<DeferredLearning>,
}

/// What a customer's profile would have learned from an escalated APPROVE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeferredLearning {
    pub(super) customer_key: u64,
    pub(super) observation: Observation,
}

pub(super) struct Inputs<'a> {
    pub transaction: &'a Transaction,
    pub signals: &'a Signals<'a>,
    pub verdict: Verdict,
    pub history: &'a History,
    pub event_time: Millis,
    pub started: Instant,
    pub features: Option<FeatureVector>,
    pub model: Option<ModelOpinion>,
    /// Goes to the agent: an APPROVE gets a case too, for the agent's record.
    pub escalated: bool,
}

pub(super) fn assemble(engine: &Engine, mut inputs: Inputs) -> Outcome {
    let reasons = std::mem::take(&mut inputs.verdict.reasons);
    let decision = decision(engine, &inputs, reasons);
    let features = inputs.features;
    let hard_block = inputs.verdict.hard_block;
    let approved = decision.action == Action::Approve;
    let alert = (!approved).then(|| Box::new(alert_for(&decision)));
    let case = (!approved || inputs.escalated).then(|| Box::new(case(engine, &inputs, &decision)));
    Outcome {
        decision,
        alert,
        case,
        features,
        hard_block,
        deferred_learning: None,
    }
}

fn decision(engine: &Engine, inputs: &Inputs, reasons: Vec<Reason>) -> Decision {
    let transaction = inputs.transaction;
    let decided_at = engine.now();
    let model = inputs.model.as_ref();
    Decision {
        decision_id: decision_id(&transaction.transaction_id),
        transaction_id: transaction.transaction_id.clone(),
        customer_id: transaction.customer_id.clone(),
        action: inputs.verdict.action,
        risk_score: inputs.verdict.risk_score,
        reasons,
        amount: transaction.amount,
        currency: transaction.currency.clone(),
        event_time: inputs.event_time,
        time_source: if transaction.timestamp.is_some() {
            TimeSource::Event
        } else {
            TimeSource::Ingestion
        },
        late: inputs.signals.late,
        decided_at,
        latency_us: inputs.started.elapsed().as_micros().min(i64::MAX as u128) as i64,
        rules_version: engine.rules().version().into(),
        model_score: model.map(|opinion| round4(opinion.score as f64)),
        model_version: model.map(|opinion| Text::from(&**opinion.model.version())),
        model_risk: model.map(|opinion| opinion.risk),
        model_contributions: model.map_or_else(Vec::new, |opinion| opinion.contributions.clone()),
        shadow_score: model.and_then(|opinion| Some(round4(opinion.shadow.as_ref()?.0 as f64))),
        shadow_version: model.and_then(|opinion| Some(opinion.shadow.as_ref()?.1.to_string())),
        agent: None,
    }
}

/// `dec-<transaction id>`, inline for ids up to 20 bytes (`format!` would
/// cost a tenth of `decision`).
fn decision_id(transaction_id: &str) -> Text {
    let mut id = Text::with_capacity(4 + transaction_id.len());
    id.push_str("dec-");
    id.push_str(transaction_id);
    id
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

fn severity(decision: &Decision) -> Severity {
    match (decision.action, decision.risk_score) {
        (Action::Block, score) if score >= 90 => Severity::Critical,
        (Action::Block, _) => Severity::High,
        (_, score) if score >= 60 => Severity::Medium,
        _ => Severity::Low,
    }
}

/// The alert for a REVIEW or BLOCK decision.
pub fn alert_for(decision: &Decision) -> Alert {
    Alert {
        alert_id: format!("alr-{}", decision.transaction_id),
        decision_id: decision.decision_id.to_string(),
        transaction_id: decision.transaction_id.to_string(),
        customer_id: decision.customer_id.to_string(),
        action: decision.action,
        severity: severity(decision),
        risk_score: decision.risk_score,
        reason_codes: decision.reason_codes(),
        summary: summary(decision),
        created_at: decision.decided_at,
    }
}

/// "BLOCK, risk 100: IMPOSSIBLE_TRAVEL (7510 km ...); NEW_DEVICE (...)".
fn summary(decision: &Decision) -> String {
    let mut parts: Vec<String> = decision
        .reasons
        .iter()
        .filter(|reason| reason.points != 0)
        .map(|reason: &Reason| format!("{} ({})", reason.code.as_str(), reason.detail))
        .collect();
    if let (Some(score), Some(risk)) = (decision.model_score, decision.model_risk) {
        let drivers: Vec<&str> = decision
            .model_contributions
            .iter()
            .filter(|contribution| contribution.contribution > 0.0)
            .map(|contribution| contribution.feature.as_str())
            .collect();
        let drivers = if drivers.is_empty() {
            String::new()
        } else {
            format!(", driven by {}", drivers.join(", "))
        };
        parts.push(format!(
            "MODEL (fraud probability {score:.2}, risk {risk}{drivers})"
        ));
    }
    format!(
        "{}, risk {}: {}",
        decision.action.as_str(),
        decision.risk_score,
        if parts.is_empty() {
            "hard rule".to_owned()
        } else {
            parts.join("; ")
        }
    )
}

/// FRD-<year of the event>-<10 hex digits of the transaction id's hash>:
/// unique per transaction and the same on every replay.
pub fn case_id(transaction_id: &str, event_time: Millis) -> String {
    let year = DateTime::from_timestamp_millis(event_time).map_or(0, |time| time.year());
    format!(
        "FRD-{year}-{:010X}",
        xxh3_64(transaction_id.as_bytes()) >> 24
    )
}

fn case(engine: &Engine, inputs: &Inputs, decision: &Decision) -> CaseLog {
    CaseLog {
        case_id: case_id(&decision.transaction_id, inputs.event_time),
        decision_id: decision.decision_id.to_string(),
        status: "OPEN".into(),
        opened_at: decision.decided_at,
        action: decision.action,
        risk_score: decision.risk_score,
        transaction: inputs.transaction.clone(),
        reasons: decision.reasons.clone(),
        customer: customer_summary(engine, inputs),
        rules_version: decision.rules_version.to_string(),
        agent_transcript: None,
    }
}

fn customer_summary(engine: &Engine, inputs: &Inputs) -> CustomerSummary {
    let layout = engine.state().layout();
    let signals = inputs.signals;
    let history = inputs.history;
    let windows = (0..layout.len())
        .map(|window| WindowSummary {
            window: layout.name(window).to_owned(),
            count: signals.windows[window].count as i64,
            sum: signals.windows[window].sum,
            max: signals.windows[window].max,
        })
        .collect();
    let previous = history.previous_place;
    CustomerSummary {
        windows,
        transactions_seen: history.transactions_seen as i64,
        mean_amount: history.mean_amount,
        stddev_amount: history.stddev_amount,
        known_devices: history.known_devices as i32,
        known_ips: history.known_ips as i32,
        last_location_latitude: previous.map(|place| place.latitude as f64),
        last_location_longitude: previous.map(|place| place.longitude as f64),
        last_location_time: previous.map(|place| to_millis(place.at)),
        distinct_merchants_24h: signals.merchants_24h as i32,
        distinct_countries_24h: signals.countries_24h as i32,
        device_customers_24h: signals.device_customers_24h as i32,
        compromised: signals.compromised_since.is_some(),
    }
}
