//! The six tools of seed 003, with real implementations: the engine's state
//! and rules, the gazetteer, Amazon SES, the case store and reports. The
//! vLLM tool loop and the MCP server share this one toolbox.

mod email;
mod geo;
mod identity;
mod logger;
mod risk;

pub use email::Mailer;

use super::case_archive::CaseArchive;
use super::case_store::CaseStore;
use super::config::ToolsConfig;
use super::report;
use super::session::Session;
use crate::engine::Engine;
use crate::geo::Gazetteer;
use serde_json::{json, Value};
use std::sync::Arc;
use thiserror::Error;

pub const TOOL_NAMES: [&str; 6] = [
    "transaction-risk",
    "identity-verifier",
    "geolocation-checker",
    "email-alerts",
    "fraud-logger",
    "report-generator",
];

#[derive(Debug, Error)]
pub enum ToolError {
    #[error("unknown tool {0:?}")]
    Unknown(String),
    #[error("arguments are not a JSON object: {0}")]
    BadArguments(String),
    #[error("{0}")]
    Failed(String),
}

pub struct Toolbox {
    engine: Arc<Engine>,
    cases: CaseStore,
    archive: Option<CaseArchive>,
    mailer: Mailer,
}

impl Toolbox {
    pub fn new(engine: Arc<Engine>, config: &ToolsConfig) -> Result<Toolbox, ToolError> {
        let cases = CaseStore::open(&config.case_dir)
            .map_err(|error| ToolError::Failed(error.to_string()))?;
        Ok(Toolbox {
            engine,
            cases,
            archive: config.case_archive.clone().map(CaseArchive::new),
            mailer: Mailer::new(config.email.clone()),
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn cases(&self) -> &CaseStore {
        &self.cases
    }

    /// Where closed cases are copied, if anywhere.
    pub fn archive(&self) -> Option<&CaseArchive> {
        self.archive.as_ref()
    }

    /// Runs one tool. `arguments` is the model's JSON text; it may be malformed.
    pub async fn call(
        &self,
        name: &str,
        arguments: &str,
        session: &mut Session,
    ) -> Result<Value, ToolError> {
        let arguments = parse_arguments(arguments)?;
        let escalation = session.escalation.clone();
        match name {
            "transaction-risk" => Ok(risk::assess(&escalation)),
            "identity-verifier" => Ok(identity::verify(self.engine.state(), &escalation)),
            "geolocation-checker" => Ok(geo::check(
                Gazetteer::embedded(),
                self.engine.rules().config(),
                &escalation,
            )),
            "email-alerts" => self.mailer.alert(&escalation, &arguments).await,
            "fraud-logger" => logger::log(&self.cases, session, &arguments),
            "report-generator" => self.report(session, &arguments),
            other => Err(ToolError::Unknown(other.into())),
        }
    }

    fn report(&self, session: &mut Session, arguments: &Value) -> Result<Value, ToolError> {
        let case_id = logger::ensure_case(&self.cases, session)?;
        let built = report::build(session, arguments["summary"].as_str());
        report::store(&self.cases, &case_id, &built)
            .map_err(|error| ToolError::Failed(error.to_string()))?;
        Ok(json!({
            "case_id": case_id,
            "formats": ["report.md", "report.json"],
            "tool_calls_recorded": built["tool_calls"].as_array().map_or(0, Vec::len),
        }))
    }
}

fn parse_arguments(arguments: &str) -> Result<Value, ToolError> {
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => Err(ToolError::BadArguments(format!("got {other}"))),
        Err(error) => Err(ToolError::BadArguments(error.to_string())),
    }
}

/// The tools in OpenAI function-calling form, for vLLM's `tools` field.
/// `transaction_id` is optional here (the escalated transaction is implied)
/// and required over MCP.
pub fn definitions() -> Value {
    let tools: Vec<Value> = TOOL_NAMES
        .iter()
        .map(|name| {
            json!({
                "type": "function",
                "function": {
                    "name": name,
                    "description": description(name),
                    "parameters": parameters(name),
                }
            })
        })
        .collect();
    Value::Array(tools)
}

pub fn description(name: &str) -> &'static str {
    match name {
        "transaction-risk" => "The engine's risk assessment: rule hits with evidence, risk score, model score, top signals.",
        "identity-verifier" => "The customer's known devices and IPs with first/last seen, and whether this device is new or shared.",
        "geolocation-checker" => "Distance, elapsed time and implied speed since the customer's previous place; impossible travel.",
        "email-alerts" => "Sends an e-mail alert about this transaction to the fraud team (Amazon SES).",
        "fraud-logger" => "Opens a fraud case (FRD-<year>-<n>) in the case store with the evidence and a summary.",
        "report-generator" => "Writes the compliance report (Markdown and JSON) beside the case: evidence, decision, reasoning summary, tool calls.",
        _ => "",
    }
}

pub fn parameters(name: &str) -> Value {
    let id = json!({"type": "string", "description": "The escalated transaction's id."});
    let mut properties = serde_json::Map::new();
    properties.insert("transaction_id".into(), id);
    let text = |about: &str| json!({"type": "string", "description": about});
    match name {
        "email-alerts" => {
            properties.insert(
                "severity".into(),
                json!({"type": "string", "enum": ["LOW", "MEDIUM", "HIGH", "CRITICAL"]}),
            );
            properties.insert("message".into(), text("A short note for the fraud team."));
        }
        "fraud-logger" => {
            properties.insert(
                "severity".into(),
                json!({"type": "string", "enum": ["LOW", "MEDIUM", "HIGH", "CRITICAL"]}),
            );
            properties.insert("summary".into(), text("What the case is about."));
        }
        "report-generator" => {
            properties.insert(
                "summary".into(),
                text("A summary of the reasoning behind the decision."),
            );
        }
        _ => {}
    }
    json!({"type": "object", "properties": properties})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_arguments_are_an_error_not_a_panic() {
        assert!(matches!(
            parse_arguments("{\"a\":"),
            Err(ToolError::BadArguments(_))
        ));
        assert!(matches!(
            parse_arguments("[1]"),
            Err(ToolError::BadArguments(_))
        ));
        assert_eq!(parse_arguments("").unwrap(), json!({}));
    }

    #[test]
    fn six_tool_definitions() {
        let definitions = definitions();
        let names: Vec<&str> = definitions
            .as_array()
            .unwrap()
            .iter()
            .map(|tool| tool["function"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, TOOL_NAMES);
    }
}
