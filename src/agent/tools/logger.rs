//! fraud-logger: opens the case (id FRD-<year>-<n>) in the case store with
//! the transaction, the engine's decision, the state behind it and the
//! agent's summary. The case-log stream gets the case with the final decision
//! and the full transcript when the investigation ends.

use super::super::case_store::CaseStore;
use super::super::mask::mask_text;
use super::super::session::Session;
use super::ToolError;
use serde_json::{json, Value};

/// The session's case id, allocating one on first use.
pub fn ensure_case(cases: &CaseStore, session: &mut Session) -> Result<String, ToolError> {
    if let Some(case_id) = &session.case_id {
        return Ok(case_id.clone());
    }
    let case_id = cases
        .allocate(session.escalation.year())
        .map_err(|error| ToolError::Failed(error.to_string()))?;
    session.case_id = Some(case_id.clone());
    Ok(case_id)
}

pub fn log(
    cases: &CaseStore,
    session: &mut Session,
    arguments: &Value,
) -> Result<Value, ToolError> {
    let case_id = ensure_case(cases, session)?;
    let escalation = &session.escalation;
    let summary = arguments["summary"].as_str().map(mask_text);
    let severity = arguments["severity"].as_str().unwrap_or("HIGH");
    let record = json!({
        "case_id": case_id,
        "status": "OPEN",
        "severity": severity,
        "opened_at": crate::domain::format_millis(crate::domain::now_millis()),
        "summary": summary,
        "transaction": escalation.transaction,
        "engine_decision": escalation.decision,
        "hard_block": escalation.hard_block,
        "engine_case": escalation.case,
    });
    let bytes = serde_json::to_vec_pretty(&record).unwrap_or_default();
    let path = cases
        .write(&case_id, "case.json", &bytes)
        .map_err(|error| ToolError::Failed(error.to_string()))?;
    Ok(json!({
        "case_id": case_id,
        "status": "OPEN",
        "stored": path.file_name().map(|name| name.to_string_lossy().into_owned()),
    }))
}
