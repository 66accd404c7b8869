//! The agent's final answer, requested as structured JSON (vLLM's
//! `response_format: json_schema`) and checked again here: the model's word
//! is input like any other.

use crate::domain::Action;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentVerdict {
    pub action: Action,
    pub risk_score: i32,
    /// One or two sentences for the analyst and the customer-facing team.
    pub explanation: String,
}

/// The `response_format` sent with every call.
pub fn response_format() -> Value {
    json!({
        "type": "json_schema",
        "json_schema": {
            "name": "fraud_verdict",
            "strict": true,
            "schema": {
                "type": "object",
                "properties": {
                    "action": {"type": "string", "enum": ["APPROVE", "REVIEW", "BLOCK"]},
                    "risk_score": {"type": "integer", "minimum": 0, "maximum": 100},
                    "explanation": {"type": "string", "maxLength": 1000}
                },
                "required": ["action", "risk_score", "explanation"],
                "additionalProperties": false
            }
        }
    })
}

/// Reads the verdict from the answer (after any `<think>` part was removed);
/// tolerates a fenced ```json block around it.
pub fn parse(answer: &str) -> Result<AgentVerdict, String> {
    let trimmed = answer.trim();
    let body = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .unwrap_or(trimmed);
    let verdict: AgentVerdict = serde_json::from_str(body.trim())
        .map_err(|error| format!("verdict is not valid: {error}"))?;
    if !(0..=100).contains(&verdict.risk_score) {
        return Err(format!(
            "risk_score {} is outside 0..=100",
            verdict.risk_score
        ));
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_fenced_verdicts_and_rejects_bad_ones() {
        let plain = r#"{"action":"BLOCK","risk_score":95,"explanation":"impossible travel"}"#;
        assert_eq!(parse(plain).unwrap().action, Action::Block);
        assert_eq!(
            parse(&format!("```json\n{plain}\n```")).unwrap().risk_score,
            95
        );
        assert!(parse(r#"{"action":"BLOCK","risk_score":300,"explanation":""}"#).is_err());
        assert!(parse(r#"{"action":"MAYBE","risk_score":3,"explanation":""}"#).is_err());
        assert!(parse("approve it").is_err());
    }
}
