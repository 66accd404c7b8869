//! The audit trail of one investigation: prompts, the model's reasoning and
//! tool calls, every tool result with its timing, and the verdict. It goes to
//! the case log and the case store with personal data already masked.

use super::protocol::ToolCall;
use super::verdict::AgentVerdict;
use crate::domain::Millis;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub transaction_id: String,
    pub model: String,
    pub started_at: Millis,
    pub steps: Vec<Step>,
    pub verdict: Option<AgentVerdict>,
    /// Why the investigation ended without a verdict.
    pub error: Option<String>,
    pub elapsed_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    Prompt {
        role: String,
        content: String,
    },
    Model {
        reasoning: Option<String>,
        content: Option<String>,
        tool_calls: Vec<ToolCall>,
        elapsed_ms: f64,
    },
    Tool {
        name: String,
        call_id: String,
        arguments: String,
        ok: bool,
        result: Value,
        elapsed_ms: f64,
    },
}

impl Transcript {
    pub fn tool_calls(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|step| matches!(step, Step::Tool { .. }))
    }

    /// All reasoning the model showed, in order.
    pub fn reasoning(&self) -> String {
        let parts: Vec<&str> = self
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::Model {
                    reasoning: Some(reasoning),
                    ..
                } => Some(reasoning.as_str()),
                _ => None,
            })
            .collect();
        parts.join("\n")
    }
}
