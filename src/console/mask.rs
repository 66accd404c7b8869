//! What an analyst may see: the agent's masking rules (card numbers keep
//! their last four digits, e-mail addresses their domain, IPv4 addresses
//! their /24) applied to every free-text field the console shows and to the
//! case files it reads from disk. Identifiers the analyst works with
//! (customer and transaction ids) are shown as they are.

use crate::agent::mask::mask_text;
use crate::domain::Text;

/// Masks every string inside a JSON document (case files read from disk).
pub fn mask_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => *text = mask_text(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_json),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(mask_json),
        _ => {}
    }
}

pub fn mask_option(text: &Option<Text>) -> Option<Text> {
    text.as_deref().map(|text| mask_text(text).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_masked_at_any_depth() {
        let mut case = serde_json::json!({
            "a": ["card 4111111111111111"],
            "b": {"c": "5500 0000 0000 0004", "id": "TXN-20251201-191354"},
            "n": 4111111111111111u64
        });
        mask_json(&mut case);
        assert_eq!(case["a"][0], "card ****1111");
        assert_eq!(case["b"]["c"], "****0004");
        assert_eq!(case["b"]["id"], "TXN-20251201-191354");
    }

    #[test]
    fn free_text_fields_are_masked() {
        assert_eq!(
            mask_option(&Some("Shop 4111 1111 1111 1234".into())).as_deref(),
            Some("Shop ****1234")
        );
        assert_eq!(mask_option(&None), None);
    }
}
