//! An analyst's verdict on a decision becomes a [`Label`] applied to the
//! engine's state, exactly as a chargeback from the label stream would be:
//! confirmed fraud marks the card compromised (later transactions get
//! `COMPROMISED_CARD`) and counts a fraud on the terminal's day.

use super::access::Analyst;
use super::submit::unavailable;
use super::Console;
use crate::domain::{now_millis, Label, Millis};
use crate::state::time::to_millis;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    ConfirmedFraud,
    FalsePositive,
}

#[derive(Debug, Deserialize)]
pub struct VerdictRequest {
    pub transaction_id: String,
    #[serde(default)]
    pub customer_id: Option<String>,
    pub verdict: Verdict,
}

#[derive(Debug, Serialize)]
pub struct VerdictAnswer {
    pub label: Label,
    /// Applied now, or waiting until the stream's event time reaches it.
    pub applied: bool,
    pub customer_marked: bool,
    pub terminal_counted: bool,
}

pub async fn verdict(
    State(console): State<Arc<Console>>,
    Extension(analyst): Extension<Analyst>,
    Json(request): Json<VerdictRequest>,
) -> Response {
    let Some(engine) = console.engine() else {
        return unavailable();
    };
    let label = label_for(
        &console,
        &analyst,
        request,
        to_millis(engine.state().watermark()),
    );
    let Some(port) = console.outputs.port() else {
        return super::submit::closed(&console.outputs);
    };
    let answer = match engine.accept_label(label.clone()) {
        None => VerdictAnswer {
            label,
            applied: false,
            customer_marked: false,
            terminal_counted: false,
        },
        Some((label, Ok(effect))) => VerdictAnswer {
            label,
            applied: true,
            customer_marked: effect.customer_marked,
            terminal_counted: effect.terminal_counted,
        },
        Some((label, Err(error))) => {
            let refused = serde_json::json!({"error": error.to_string(), "label": label});
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(refused)).into_response();
        }
    };
    // Accepted (applied, or waiting for its time): kept on the labels output.
    if let Err(error) = port.verdict(answer.label.clone()).await {
        let error = format!("the verdict was applied but not written: {error}");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": error})),
        )
            .into_response();
    }
    Json(answer).into_response()
}

/// Reported "now" in the stream's event time (its watermark), so the label
/// applies at once; the transaction's own time comes from the live view
/// when it still holds the decision.
fn label_for(
    console: &Console,
    analyst: &Analyst,
    request: VerdictRequest,
    watermark: Millis,
) -> Label {
    let known = console.recent(&super::Filter {
        customer: request.customer_id.clone(),
        ..super::Filter::default()
    });
    let decided = known
        .iter()
        .rev()
        .find(|decision| decision.transaction_id == request.transaction_id);
    let transaction_time = decided.map(|decision| decision.event_time);
    let reported_at = if watermark > 0 {
        watermark.max(transaction_time.unwrap_or(0))
    } else {
        transaction_time.unwrap_or_else(now_millis)
    };
    Label {
        customer_id: request
            .customer_id
            .or_else(|| decided.map(|decision| decision.customer_id.to_string())),
        transaction_id: request.transaction_id,
        is_fraud: request.verdict == Verdict::ConfirmedFraud,
        reported_at,
        terminal_id: None,
        transaction_time,
        source: Some(format!("analyst:{}", analyst.0)),
    }
}
