//! Cases: the agent's case store on local disk, one folder per case
//! (`FRD-2025-0001/` with `case.json`, `transcript.json`, `report.md`,
//! `report.json`), read as it is written. The alert e-mail is the
//! `email-alerts` tool call in the transcript: what was sent, as sent.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// Cases listed at most, newest first.
const LISTED: usize = 200;

#[derive(Debug, Serialize)]
pub struct CaseSummary {
    pub case_id: String,
    pub transaction_id: Option<String>,
    pub customer_id: Option<String>,
    pub action: Option<String>,
    pub risk_score: Option<i64>,
    pub opened_at: Option<String>,
    pub severity: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CaseDetail {
    pub case_id: String,
    pub case: Option<Value>,
    pub transcript: Option<Value>,
    pub report_markdown: Option<String>,
    pub report: Option<Value>,
    /// The `email-alerts` tool calls: arguments and what SES answered.
    pub emails: Vec<Value>,
}

/// Only the store's own folder names: nothing else on disk can be asked for.
pub fn valid_case_id(case_id: &str) -> bool {
    let mut parts = case_id.splitn(3, '-');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("FRD"), Some(year), Some(number))
            if year.len() == 4
                && year.bytes().all(|b| b.is_ascii_digit())
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_alphanumeric())
    )
}

pub fn list(root: &std::path::Path) -> Vec<CaseSummary> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| valid_case_id(name))
        .collect();
    // FRD-<year>-<zero-padded number>: the name orders by age.
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.into_iter()
        .take(LISTED)
        .map(|case_id| summary(root, case_id))
        .collect()
}

fn summary(root: &std::path::Path, case_id: String) -> CaseSummary {
    let case = read_json(&root.join(&case_id).join("case.json")).unwrap_or(Value::Null);
    let decision = &case["engine_decision"];
    let text = |value: &Value| value.as_str().map(str::to_owned);
    CaseSummary {
        transaction_id: text(&decision["transaction_id"]),
        customer_id: text(&decision["customer_id"]),
        action: text(&decision["action"]),
        risk_score: decision["risk_score"].as_i64(),
        opened_at: text(&case["opened_at"]),
        severity: text(&case["severity"]),
        case_id,
    }
}

pub fn detail(root: &std::path::Path, case_id: &str) -> Option<CaseDetail> {
    let folder = root.join(case_id);
    if !valid_case_id(case_id) || !folder.is_dir() {
        return None;
    }
    let transcript = read_json(&folder.join("transcript.json"));
    let emails = transcript
        .as_ref()
        .and_then(|transcript| transcript["steps"].as_array())
        .into_iter()
        .flatten()
        .filter(|step| step["kind"] == "tool" && step["name"] == "email-alerts")
        .map(|step| {
            let arguments = serde_json::from_str::<Value>(step["arguments"].as_str().unwrap_or(""))
                .unwrap_or(Value::Null);
            serde_json::json!({"arguments": arguments, "ok": step["ok"], "result": step["result"]})
        })
        .collect();
    Some(CaseDetail {
        case_id: case_id.to_owned(),
        case: read_json(&folder.join("case.json")),
        report_markdown: std::fs::read_to_string(folder.join("report.md"))
            .ok()
            .map(|text| crate::agent::mask::mask_text(&text)),
        report: read_json(&folder.join("report.json")),
        transcript,
        emails,
    })
}

/// Read and masked: what the agent stored may hold a card number in free text.
fn read_json(path: &std::path::Path) -> Option<Value> {
    let mut value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    super::mask::mask_json(&mut value);
    Some(value)
}

fn no_store() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "no case store is configured"})),
    )
        .into_response()
}

pub async fn cases(State(console): State<Arc<super::Console>>) -> Response {
    let Some(root) = console.cases_root() else {
        return no_store();
    };
    match tokio::task::spawn_blocking(move || list(&root)).await {
        Ok(listed) => Json(listed).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub async fn case(
    State(console): State<Arc<super::Console>>,
    Path(case_id): Path<String>,
) -> Response {
    let Some(root) = console.cases_root() else {
        return no_store();
    };
    let found = tokio::task::spawn_blocking(move || detail(&root, &case_id)).await;
    match found {
        Ok(Some(detail)) => Json(detail).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "no such case"})),
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_case_folder_names_are_case_ids() {
        for good in ["FRD-2025-0001", "FRD-2026-0123", "FRD-2025-D46450E2BE"] {
            assert!(valid_case_id(good), "{good}");
        }
        for bad in [
            "../etc",
            "FRD-2025-../x",
            "FRD-25-0001",
            "FRD-2025-",
            "XYZ-2025-0001",
            "FRD-2025-00/1",
        ] {
            assert!(!valid_case_id(bad), "{bad}");
        }
    }

    #[test]
    fn cases_list_newest_first_with_their_email() {
        let dir = tempfile::tempdir().unwrap();
        for (id, tx) in [("FRD-2025-0001", "T1"), ("FRD-2025-0002", "T2")] {
            std::fs::create_dir(dir.path().join(id)).unwrap();
            let case = serde_json::json!({"case_id": id, "severity": "HIGH",
                "engine_decision": {"transaction_id": tx, "customer_id": "C", "action": "BLOCK", "risk_score": 95}});
            std::fs::write(dir.path().join(id).join("case.json"), case.to_string()).unwrap();
        }
        std::fs::create_dir(dir.path().join("not-a-case")).unwrap();
        let transcript = serde_json::json!({"steps": [
            {"kind": "model", "reasoning": "r", "content": null, "tool_calls": [], "elapsed_ms": 1.0},
            {"kind": "tool", "name": "email-alerts", "call_id": "1", "arguments": "{\"severity\":\"HIGH\"}",
             "ok": true, "result": {"message_id": "m-1"}, "elapsed_ms": 2.0}]});
        std::fs::write(
            dir.path().join("FRD-2025-0002/transcript.json"),
            transcript.to_string(),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("FRD-2025-0002/report.md"),
            "# Compliance report",
        )
        .unwrap();

        let listed = list(dir.path());
        let ids: Vec<&str> = listed.iter().map(|case| case.case_id.as_str()).collect();
        assert_eq!(ids, ["FRD-2025-0002", "FRD-2025-0001"]);
        assert_eq!(listed[0].transaction_id.as_deref(), Some("T2"));

        let detail = detail(dir.path(), "FRD-2025-0002").unwrap();
        assert_eq!(
            detail.report_markdown.as_deref(),
            Some("# Compliance report")
        );
        assert_eq!(detail.emails.len(), 1);
        assert_eq!(detail.emails[0]["arguments"]["severity"], "HIGH");
        assert!(super::detail(dir.path(), "FRD-2025-0009").is_none());
    }
}
