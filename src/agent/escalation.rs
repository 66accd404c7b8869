//! An escalated transaction, frozen with everything the engine knew when it
//! decided: the tools read this and the live state, never the raw stream.

use crate::domain::{CaseLog, Decision, Transaction};
use crate::engine::Outcome;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Escalation {
    pub transaction: Transaction,
    /// The engine's decision (rules, and model when it joins).
    pub decision: Decision,
    /// A hard-block rule fired: the agent cannot lower this decision.
    pub hard_block: bool,
    /// The engine's case for REVIEW and BLOCK (with the customer's state).
    pub case: Option<CaseLog>,
}

impl Escalation {
    pub fn from_outcome(transaction: Transaction, outcome: &Outcome) -> Escalation {
        Escalation {
            transaction,
            decision: outcome.decision.clone(),
            hard_block: outcome.hard_block,
            case: outcome.case.as_deref().cloned(),
        }
    }

    /// The event time's calendar year, for case ids like FRD-2025-0001.
    pub fn year(&self) -> i32 {
        use chrono::Datelike;
        chrono::DateTime::from_timestamp_millis(self.decision.event_time)
            .map_or(1970, |time| time.year())
    }
}
