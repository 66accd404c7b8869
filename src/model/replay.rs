//! Replays a history through the engine in event-time order, labels applied
//! when they were reported: the same code path as streaming, so the features
//! a model trains on are the features it will be served.

use super::FeatureVector;
use crate::domain::{Action, Label, Millis, Transaction};
use crate::engine::Engine;
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum ReplayError {
    #[error("transaction `{0}` has no timestamp: a replay needs event time")]
    NoTimestamp(String),
}

/// One transaction's features and the rules' verdict on it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRow {
    pub transaction_id: String,
    pub event_time: Millis,
    pub features: FeatureVector,
    pub action: Action,
    pub risk_score: i32,
}

/// Stable-sorts both streams by time, then interleaves them: a label goes in
/// before the first transaction later than its report. `engine` must compute
/// features (`Engine::with_features(true)`).
pub fn replay(
    engine: &Engine,
    mut transactions: Vec<Transaction>,
    mut labels: Vec<Label>,
) -> Result<Vec<ReplayRow>, ReplayError> {
    if let Some(untimed) = transactions
        .iter()
        .find(|transaction| transaction.timestamp.is_none())
    {
        return Err(ReplayError::NoTimestamp(untimed.transaction_id.to_string()));
    }
    transactions.sort_by_key(|transaction| transaction.timestamp);
    labels.sort_by_key(|label| label.reported_at);
    let mut labels = labels.into_iter().peekable();
    let mut rows = Vec::with_capacity(transactions.len());
    for transaction in &transactions {
        let at = transaction.timestamp.unwrap_or_default();
        while let Some(label) = labels.next_if(|label| label.reported_at < at) {
            engine.accept_label(label);
        }
        let outcome = engine.decide(transaction, at, Instant::now());
        engine.release_due_labels();
        if let Some(features) = outcome.features {
            rows.push(ReplayRow {
                transaction_id: transaction.transaction_id.to_string(),
                event_time: at,
                features,
                action: outcome.decision.action,
                risk_score: outcome.decision.risk_score,
            });
        }
    }
    for label in labels {
        engine.accept_label(label);
    }
    engine.release_all_labels();
    Ok(rows)
}
