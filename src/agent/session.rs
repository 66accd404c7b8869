//! One investigation's working state: the escalation, the case it opened,
//! the transcript so far and, at the end, the decision that stands.

use super::escalation::Escalation;
use super::transcript::{Step, Transcript};
use crate::domain::Action;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
pub struct FinalDecision {
    pub action: Action,
    pub risk_score: i32,
    /// DECIDED or FALLBACK, with the fallback's reason.
    pub status: String,
    pub explanation: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub escalation: Arc<Escalation>,
    pub case_id: Option<String>,
    pub transcript: Transcript,
    pub outcome: Option<FinalDecision>,
    /// Sees each step as it is recorded (the analyst console streams them).
    pub watcher: Option<tokio::sync::mpsc::UnboundedSender<Step>>,
}

impl Session {
    pub fn new(escalation: Arc<Escalation>, model: &str) -> Session {
        let transcript = Transcript {
            transaction_id: escalation.decision.transaction_id.to_string(),
            model: model.into(),
            started_at: crate::domain::now_millis(),
            ..Transcript::default()
        };
        Session {
            escalation,
            case_id: None,
            transcript,
            outcome: None,
            watcher: None,
        }
    }

    /// Adds a step to the transcript and shows it to the watcher, if any.
    pub fn record(&mut self, step: Step) {
        if let Some(watcher) = &self.watcher {
            // A watcher that went away (a closed page) must not stop the investigation.
            let _ = watcher.send(step.clone());
        }
        self.transcript.steps.push(step);
    }
}
