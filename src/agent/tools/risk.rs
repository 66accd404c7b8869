//! transaction-risk: the engine's own assessment: rule hits with their
//! evidence, the risk score and action, the model's score and top
//! features, and the strongest signals.

use super::super::escalation::Escalation;
use serde_json::{json, Value};

pub fn assess(escalation: &Escalation) -> Value {
    let decision = &escalation.decision;
    let mut scored: Vec<_> = decision.reasons.iter().filter(|r| r.points != 0).collect();
    scored.sort_by_key(|reason| std::cmp::Reverse(reason.points));
    let rule_hits: Vec<Value> = decision
        .reasons
        .iter()
        .map(|reason| {
            json!({
                "code": reason.code.as_str(),
                "points": reason.points,
                "detail": super::super::mask::mask_text(&reason.detail),
                "evidence": reason.evidence,
            })
        })
        .collect();
    let top: Vec<Value> = scored
        .iter()
        .take(3)
        .map(|reason| json!({"signal": reason.code.as_str(), "points": reason.points}))
        .collect();
    json!({
        "transaction_id": decision.transaction_id,
        "risk_score": decision.risk_score,
        "engine_action": decision.action.as_str(),
        "hard_block": escalation.hard_block,
        "rules_version": decision.rules_version,
        // Null when the topology has no model.
        "model_score": decision.model_score,
        "model_version": decision.model_version,
        "model_risk": decision.model_risk,
        "model_top_features": decision.model_contributions,
        "rule_hits": rule_hits,
        "top_signals": top,
        "amount": decision.amount,
        "currency": decision.currency,
    })
}
