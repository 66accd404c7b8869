//! The decision as JSON, written field by field.
//!
//! One decision is written per transaction, and serde (through serde_json or
//! sonic-rs) spent more on escaping the constant keys than on the values:
//! about 6,500 instructions a decision, against about 1,500 here. The bytes
//! are serde_json's own (`tests::writes_what_serde_json_writes` compares them
//! on arbitrary decisions), so a field added to [`Decision`] without a line
//! here fails that test.

use crate::domain::{with_rfc3339, Contribution, Decision, Reason};

pub(super) fn write(decision: &Decision, out: &mut Vec<u8>) -> Result<(), sonic_rs::Error> {
    let mut json = Json(out);
    json.key_str(b"{\"decision_id\":", &decision.decision_id);
    json.key_str(b",\"transaction_id\":", &decision.transaction_id);
    json.key_str(b",\"customer_id\":", &decision.customer_id);
    json.key_str(b",\"action\":", decision.action.as_str());
    json.key_int(b",\"risk_score\":", decision.risk_score.into());
    json.raw(b",\"reasons\":");
    json.list(&decision.reasons, Json::reason);
    json.key_float(b",\"amount\":", decision.amount);
    json.key_option_str(b",\"currency\":", decision.currency.as_deref());
    json.key_time(b",\"event_time\":", decision.event_time);
    json.key_str(b",\"time_source\":", decision.time_source.as_str());
    json.key_bool(b",\"late\":", decision.late);
    json.key_time(b",\"decided_at\":", decision.decided_at);
    json.key_int(b",\"latency_us\":", decision.latency_us);
    json.key_str(b",\"rules_version\":", &decision.rules_version);
    json.key_option_float(b",\"model_score\":", decision.model_score);
    json.key_option_str(b",\"model_version\":", decision.model_version.as_deref());
    match decision.model_risk {
        Some(risk) => json.key_int(b",\"model_risk\":", risk.into()),
        None => json.raw(b",\"model_risk\":null"),
    }
    json.raw(b",\"model_contributions\":");
    json.list(&decision.model_contributions, Json::contribution);
    json.key_option_float(b",\"shadow_score\":", decision.shadow_score);
    json.key_option_str(b",\"shadow_version\":", decision.shadow_version.as_deref());
    // Only escalated decisions carry the agent's part: serde is fine there.
    json.raw(b",\"agent\":");
    sonic_rs::to_writer(&mut *json.0, &decision.agent)?;
    json.raw(b"}");
    Ok(())
}

/// Appends JSON pieces to a buffer; writing to memory cannot fail.
struct Json<'a>(&'a mut Vec<u8>);

impl Json<'_> {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn key_str(&mut self, key: &[u8], value: &str) {
        self.raw(key);
        self.str(value);
    }

    fn key_option_str(&mut self, key: &[u8], value: Option<&str>) {
        self.raw(key);
        match value {
            Some(value) => self.str(value),
            None => self.raw(b"null"),
        }
    }

    fn key_int(&mut self, key: &[u8], value: i64) {
        self.raw(key);
        self.raw(itoa::Buffer::new().format(value).as_bytes());
    }

    fn key_bool(&mut self, key: &[u8], value: bool) {
        self.raw(key);
        self.raw(if value { b"true" } else { b"false" });
    }

    fn key_float(&mut self, key: &[u8], value: f64) {
        self.raw(key);
        self.float(value);
    }

    fn key_option_float(&mut self, key: &[u8], value: Option<f64>) {
        self.raw(key);
        match value {
            Some(value) => self.float(value),
            None => self.raw(b"null"),
        }
    }

    fn key_time(&mut self, key: &[u8], millis: i64) {
        self.raw(key);
        with_rfc3339(millis, |text| self.str(text));
    }

    /// As serde_json: shortest round-trip digits, `null` for NaN and infinities.
    fn float(&mut self, value: f64) {
        if value.is_finite() {
            self.raw(zmij::Buffer::new().format_finite(value).as_bytes());
        } else {
            self.raw(b"null");
        }
    }

    /// As serde_json escapes: quote, backslash and control characters only.
    fn str(&mut self, text: &str) {
        let bytes = text.as_bytes();
        // Without a branch per byte, so the check vectorizes; most strings
        // have nothing to escape and are copied whole.
        let needs_escape = bytes.iter().fold(false, |found, &byte| {
            found | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
        });
        self.0.reserve(bytes.len() + 2);
        self.raw(b"\"");
        if needs_escape {
            self.escaped(bytes);
        } else {
            self.raw(bytes);
        }
        self.raw(b"\"");
    }

    fn escaped(&mut self, bytes: &[u8]) {
        let mut clean_from = 0;
        for (at, &byte) in bytes.iter().enumerate() {
            let escape: &[u8] = match byte {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0x00..=0x1f => &[b'\\', b'u', b'0', b'0', hex(byte >> 4), hex(byte & 0xf)],
                _ => continue,
            };
            self.raw(&bytes[clean_from..at]);
            self.raw(escape);
            clean_from = at + 1;
        }
        self.raw(&bytes[clean_from..]);
    }

    fn list<T>(&mut self, items: &[T], write_item: fn(&mut Self, &T)) {
        self.raw(b"[");
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                self.raw(b",");
            }
            write_item(self, item);
        }
        self.raw(b"]");
    }

    fn reason(&mut self, reason: &Reason) {
        self.key_str(b"{\"code\":", reason.code.as_str());
        self.key_int(b",\"points\":", reason.points.into());
        self.key_str(b",\"detail\":", &reason.detail);
        self.raw(b",\"evidence\":{");
        for (index, (name, value)) in reason.evidence.iter().enumerate() {
            if index > 0 {
                self.raw(b",");
            }
            self.str(name);
            self.key_float(b":", *value);
        }
        self.raw(b"}}");
    }

    fn contribution(&mut self, contribution: &Contribution) {
        self.key_str(b"{\"feature\":", &contribution.feature);
        self.key_float(b",\"value\":", contribution.value);
        self.key_float(b",\"typical\":", contribution.typical);
        self.key_float(b",\"contribution\":", contribution.contribution);
        self.raw(b"}");
    }
}

fn hex(nibble: u8) -> u8 {
    b"0123456789abcdef"[usize::from(nibble)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Action, AgentReview, AgentStatus, ReasonCode, TimeSource};
    use proptest::prelude::*;

    /// Any text, as a `String` or a `Text` (inline or on the heap).
    fn any_text<T: From<String> + std::fmt::Debug>() -> impl Strategy<Value = T> {
        prop::collection::vec(any::<char>(), 0..12)
            .prop_map(|chars| T::from(String::from_iter(chars)))
    }

    /// Mostly ordinary figures, sometimes NaN, infinities and extremes.
    fn any_float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            (-1e7..1e7f64),
            Just(f64::NAN),
            Just(f64::INFINITY)
        ]
    }

    fn any_action() -> impl Strategy<Value = Action> {
        prop::sample::select(Action::ALL.to_vec())
    }

    fn any_reason() -> impl Strategy<Value = Reason> {
        let evidence = prop::collection::btree_map(any_text(), any_float(), 0..3);
        (any::<i32>(), any_text(), evidence).prop_map(|(points, detail, evidence)| Reason {
            code: ReasonCode::ImpossibleTravel,
            points,
            detail,
            evidence,
        })
    }

    fn any_contribution() -> impl Strategy<Value = Contribution> {
        (any_text(), any_float(), any_float(), any_float()).prop_map(
            |(feature, value, typical, contribution)| Contribution {
                feature,
                value,
                typical,
                contribution,
            },
        )
    }

    fn any_agent() -> impl Strategy<Value = Option<AgentReview>> {
        prop::option::of(
            (any_action(), any::<i32>(), prop::option::of(any_text())).prop_map(
                |(engine_action, engine_risk_score, explanation)| AgentReview {
                    status: AgentStatus::Decided,
                    fallback_reason: None,
                    engine_action,
                    engine_risk_score,
                    explanation,
                    case_id: Some("FRD-2025-0000000001".into()),
                    latency_ms: 12,
                },
            ),
        )
    }

    prop_compose! {
        fn any_decision()(
            (decision_id, transaction_id, customer_id, action, risk_score) in
                (any_text(), any_text(), any_text(), any_action(), any::<i32>()),
            (reasons, amount, currency, event_time, late, decided_at) in (
                prop::collection::vec(any_reason(), 0..3),
                any_float(),
                prop::option::of(any_text()),
                -62_000_000_000_000i64..300_000_000_000_000,
                any::<bool>(),
                any::<i64>(),
            ),
            (latency_us, rules_version, model_score, model_version, model_risk) in (
                any::<i64>(),
                any_text(),
                prop::option::of(any_float()),
                prop::option::of(any_text()),
                prop::option::of(any::<i32>()),
            ),
            (model_contributions, shadow_score, shadow_version, agent, ingestion) in (
                prop::collection::vec(any_contribution(), 0..3),
                prop::option::of(any_float()),
                prop::option::of(any_text()),
                any_agent(),
                any::<bool>(),
            ),
        ) -> Decision {
            Decision {
                decision_id, transaction_id, customer_id, action, risk_score, reasons, amount,
                currency, event_time,
                time_source: if ingestion { TimeSource::Ingestion } else { TimeSource::Event },
                late, decided_at, latency_us, rules_version, model_score, model_version,
                model_risk, model_contributions, shadow_score, shadow_version, agent,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn writes_what_serde_json_writes(decision in any_decision()) {
            let mut ours = Vec::new();
            write(&decision, &mut ours).unwrap();
            let theirs = serde_json::to_vec(&decision).unwrap();
            prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
        }
    }

    #[test]
    fn control_characters_and_quotes_are_escaped_as_serde_json_escapes_them() {
        let every_ascii: String = (0u8..=0x7f).map(char::from).collect();
        let mut ours = Vec::new();
        Json(&mut ours).str(&every_ascii);
        assert_eq!(ours, serde_json::to_vec(&every_ascii).unwrap());
    }
}
