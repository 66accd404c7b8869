//! What the live view shows of one decision.

use super::mask::mask_option;
use crate::domain::{Action, Millis, ReasonCode, Text};
use crate::engine::{locate, Outcome};
use crate::geo::Gazetteer;
use serde::Serialize;

/// Where a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A source of the topology, decided by a worker.
    Stream,
    /// Submitted by an analyst on the console.
    Console,
}

/// One line of the live view. Merchant and place are known for flagged
/// decisions (their case carries the transaction) and for submissions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveDecision {
    pub transaction_id: Text,
    pub customer_id: Text,
    pub action: Action,
    pub risk_score: i32,
    pub reasons: Vec<ReasonCode>,
    pub amount: f64,
    pub currency: Option<Text>,
    pub merchant: Option<Text>,
    pub location: Option<Text>,
    /// Latitude and longitude of the place, when known.
    pub position: Option<(f64, f64)>,
    /// Epoch milliseconds.
    pub event_time: Millis,
    pub decided_at: Millis,
    pub latency_us: i64,
    pub model_score: Option<f64>,
    pub origin: Origin,
}

impl LiveDecision {
    pub fn streamed(outcome: &Outcome) -> LiveDecision {
        LiveDecision::of(outcome, Origin::Stream)
    }

    pub fn of(outcome: &Outcome, origin: Origin) -> LiveDecision {
        let decision = &outcome.decision;
        let transaction = outcome.case.as_ref().map(|case| &case.transaction);
        LiveDecision {
            transaction_id: decision.transaction_id.clone(),
            customer_id: decision.customer_id.clone(),
            action: decision.action,
            risk_score: decision.risk_score,
            reasons: decision.reasons.iter().map(|reason| reason.code).collect(),
            amount: decision.amount,
            currency: decision.currency.clone(),
            merchant: transaction.and_then(|tx| mask_option(&tx.merchant)),
            location: transaction.and_then(|tx| mask_option(&tx.location)),
            position: transaction.and_then(|tx| locate(Gazetteer::embedded(), tx).position),
            event_time: decision.event_time,
            decided_at: decision.decided_at,
            latency_us: decision.latency_us,
            model_score: decision.model_score,
            origin,
        }
    }
}
