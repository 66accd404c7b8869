//! What an analyst may see: card numbers that slip into free-text fields
//! (merchant names, locations, device labels) keep only their last four
//! digits. Identifiers the analyst works with (customer and transaction ids)
//! are shown as they are.

/// Replaces every run of 13 to 19 digits (spaces or dashes allowed between
/// them) with `****` and its last four digits. A run glued to a word before
/// it (`TXN-20251201-191354`) is an identifier, not a card number.
pub fn mask_card_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let mut digits = 0usize;
    let mut glued = false;
    let mut previous: Option<char> = None;
    for character in text.chars() {
        let separator = matches!(character, ' ' | '-');
        if character.is_ascii_digit() || (separator && digits > 0) {
            if run.is_empty() {
                glued = previous.is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | '_'));
            }
            run.push(character);
            digits += usize::from(character.is_ascii_digit());
        } else {
            flush(&mut out, &mut run, &mut digits, glued);
            out.push(character);
        }
        previous = Some(character);
    }
    flush(&mut out, &mut run, &mut digits, glued);
    out
}

fn flush(out: &mut String, run: &mut String, digits: &mut usize, glued: bool) {
    let trailing: String = run
        .chars()
        .rev()
        .take_while(|character| !character.is_ascii_digit())
        .collect();
    let body = &run[..run.len() - trailing.len()];
    if (13..=19).contains(digits) && !glued {
        let last_four: String = body
            .chars()
            .filter(char::is_ascii_digit)
            .skip(*digits - 4)
            .collect();
        out.push_str("****");
        out.push_str(&last_four);
    } else {
        out.push_str(body);
    }
    out.push_str(&trailing.chars().rev().collect::<String>());
    run.clear();
    *digits = 0;
}

/// Masks every string inside a JSON document (case files read from disk).
pub fn mask_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => *text = mask_card_numbers(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_json),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(mask_json),
        _ => {}
    }
}

pub fn mask_option(text: &Option<String>) -> Option<String> {
    text.as_deref().map(mask_card_numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_keep_their_last_four() {
        assert_eq!(
            mask_card_numbers("card 4111 1111 1111 1234 at Shop"),
            "card ****1234 at Shop"
        );
        assert_eq!(mask_card_numbers("4111-1111-1111-9876"), "****9876");
        assert_eq!(mask_card_numbers("5500000000000004."), "****0004.");
    }

    #[test]
    fn json_strings_are_masked_at_any_depth() {
        let mut case = serde_json::json!({"a": ["card 4111111111111111"], "b": {"c": "5500 0000 0000 0004"}, "n": 4111111111111111u64});
        mask_json(&mut case);
        assert_eq!(case["a"][0], "card ****1111");
        assert_eq!(case["b"]["c"], "****0004");
    }

    #[test]
    fn short_numbers_and_words_stay() {
        for text in [
            "Best Buy #1234",
            "TXN-20251201-191354",
            "Los Angeles, CA",
            "12 - 34 ",
        ] {
            assert_eq!(mask_card_numbers(text), text);
        }
    }
}
