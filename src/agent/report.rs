//! The compliance report of a case, in Markdown and JSON, stored beside it:
//! the transaction, the evidence, the decision, the model and rules
//! versions, the agent's reasoning summary, and every tool call with timings.

use super::case_store::{CaseStore, CaseStoreError};
use super::mask::{mask_ipv4, mask_text};
use super::session::Session;
use super::transcript::Step;
use serde_json::{json, Value};
use std::fmt::Write;

/// Reasoning summaries stay short: the full reasoning is in the transcript.
const SUMMARY_CHARS: usize = 1_500;

pub fn build(session: &Session, summary: Option<&str>) -> Value {
    let escalation = &session.escalation;
    let decision = &escalation.decision;
    let transaction = &escalation.transaction;
    let reasoning = summary
        .map(str::to_owned)
        .unwrap_or_else(|| session.transcript.reasoning());
    let reasoning: String = mask_text(&reasoning).chars().take(SUMMARY_CHARS).collect();
    let tools: Vec<Value> = session
        .transcript
        .tool_calls()
        .filter_map(|step| match step {
            Step::Tool {
                name,
                ok,
                elapsed_ms,
                ..
            } => Some(json!({"tool": name, "ok": ok, "elapsed_ms": elapsed_ms})),
            _ => None,
        })
        .collect();
    json!({
        "case_id": session.case_id,
        "generated_at": crate::domain::format_millis(crate::domain::now_millis()),
        "transaction": {
            "transaction_id": transaction.transaction_id,
            "customer_id": transaction.customer_id,
            "amount": transaction.amount,
            "currency": transaction.currency,
            "merchant": transaction.merchant.as_deref().map(mask_text),
            "merchant_category": transaction.merchant_category,
            "location": transaction.location,
            "card_present": transaction.card_present,
            "device_id": transaction.device_id,
            "ip_address": transaction.ip_address.as_deref().and_then(mask_ipv4),
        },
        "evidence": decision.reasons,
        "engine_decision": {
            "action": decision.action.as_str(),
            "risk_score": decision.risk_score,
            "hard_block": escalation.hard_block,
        },
        "final_decision": session.outcome,
        "agent_verdict": session.transcript.verdict,
        "model": session.transcript.model,
        "rules_version": decision.rules_version,
        "reasoning_summary": reasoning,
        "tool_calls": tools,
    })
}

pub fn markdown(report: &Value) -> String {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let mut out = String::new();
    let _ = writeln!(out, "# Compliance report {}\n", text(&report["case_id"]));
    let _ = writeln!(
        out,
        "Generated {}\n\n## Transaction\n",
        text(&report["generated_at"])
    );
    if let Value::Object(fields) = &report["transaction"] {
        for (key, value) in fields {
            let _ = writeln!(out, "- {key}: {}", text(value));
        }
    }
    let _ = writeln!(out, "\n## Evidence\n");
    for reason in report["evidence"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "- {} (+{}): {}",
            text(&reason["code"]),
            text(&reason["points"]),
            text(&reason["detail"])
        );
    }
    let engine = &report["engine_decision"];
    let final_decision = &report["final_decision"];
    let _ = writeln!(
        out,
        "\n## Decision\n\n- engine: {} (risk {}, hard block: {})\n- final: {} (risk {}, {})\n- explanation: {}\n- model: {}; rules: {}",
        text(&engine["action"]),
        text(&engine["risk_score"]),
        text(&engine["hard_block"]),
        text(&final_decision["action"]),
        text(&final_decision["risk_score"]),
        text(&final_decision["status"]),
        text(&final_decision["explanation"]),
        text(&report["model"]),
        text(&report["rules_version"]),
    );
    let _ = writeln!(
        out,
        "\n## Reasoning summary\n\n{}\n",
        text(&report["reasoning_summary"])
    );
    let _ = writeln!(out, "## Tool calls\n\n| tool | ok | ms |\n|---|---|---|");
    for call in report["tool_calls"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} |",
            text(&call["tool"]),
            text(&call["ok"]),
            call["elapsed_ms"].as_f64().unwrap_or(0.0)
        );
    }
    out
}

/// Writes report.json and report.md into the case's folder.
pub fn store(cases: &CaseStore, case_id: &str, report: &Value) -> Result<(), CaseStoreError> {
    let json = serde_json::to_vec_pretty(report).unwrap_or_default();
    cases.write(case_id, "report.json", &json)?;
    cases.write(case_id, "report.md", markdown(report).as_bytes())?;
    Ok(())
}
