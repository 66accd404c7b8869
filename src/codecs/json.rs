//! JSON: one object per record, timestamps as RFC 3339 strings.

use super::{CodecError, DecodeError, Record};
use serde_json::error::Category;

/// Straight to the struct, no `serde_json::Value` in between: this is the hot path.
pub(super) fn decode<T: Record>(bytes: &[u8]) -> Result<T, DecodeError> {
    // A record's own reader takes its common shape (transactions: see
    // `transaction_json`); whatever it declines, serde decides below.
    if let Some(record) = T::read_json(bytes) {
        return Ok(record);
    }
    // serde would read `[...]` as a struct's fields in order; a record is an object.
    // Other non-objects already fail in serde with a clear message.
    if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[') {
        return Err(DecodeError::NotAnObject {
            record: T::NAME,
            found: '[',
        });
    }
    // sonic-rs reads the rest; a record it refuses is read again by
    // serde_json, which either accepts it too or explains the rejection with
    // the messages users already know.
    sonic_rs::from_slice(bytes)
        .or_else(|_| serde_json::from_slice(bytes))
        .map_err(|error| describe_error::<T>(bytes, error))
}

pub(super) fn encode<T: Record>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    value.write_json(out).map_err(|source| CodecError::Json {
        record: T::NAME,
        source,
    })
}

fn describe_error<T: Record>(bytes: &[u8], error: serde_json::Error) -> DecodeError {
    match error.classify() {
        Category::Data => locate_data_error::<T>(bytes, error),
        Category::Syntax | Category::Eof | Category::Io => DecodeError::JsonSyntax {
            record: T::NAME,
            source: error,
        },
    }
}

/// serde_json's data errors say what went wrong but not in which field. Parsing
/// again with path tracking, only once a record has failed, names the field
/// without taxing every good record.
fn locate_data_error<T: Record>(bytes: &[u8], error: serde_json::Error) -> DecodeError {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(tracked) => DecodeError::JsonData {
            record: T::NAME,
            path: tracked.path().to_string(),
            source: tracked.into_inner(),
        },
        // Unreachable in practice (parsing is deterministic); keep the first error.
        Ok(_) => DecodeError::JsonData {
            record: T::NAME,
            path: ".".to_owned(),
            source: error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Label, RejectKind, Transaction};

    fn decode_transaction(json: &str) -> Result<Transaction, DecodeError> {
        decode::<Transaction>(json.as_bytes())
    }

    #[test]
    fn missing_field_is_validation_and_named_with_position() {
        let error = decode_transaction(r#"{"transaction_id":"t","amount":1}"#).unwrap_err();
        assert_eq!(error.kind(), RejectKind::Validation);
        let message = error.to_string();
        assert!(message.contains("customer_id"), "{message}");
        assert!(message.contains("line 1 column"), "{message}");
    }

    #[test]
    fn wrong_type_is_validation_and_names_the_field() {
        let error = decode_transaction(r#"{"transaction_id":"t","customer_id":"c","amount":"x"}"#)
            .unwrap_err();
        assert_eq!(error.kind(), RejectKind::Validation);
        let message = error.to_string();
        assert!(message.contains("`amount`"), "{message}");
        assert!(message.contains("line 1 column 52"), "{message}");
    }

    #[test]
    fn bad_timestamp_names_the_field() {
        let json = r#"{"transaction_id":"t","customer_id":"c","amount":1,"timestamp":"yesterday"}"#;
        let error = decode_transaction(json).unwrap_err();
        assert_eq!(error.kind(), RejectKind::Validation);
        assert!(error.to_string().contains("`timestamp`"), "{error}");
    }

    #[test]
    fn syntax_errors_eof_and_bad_utf8_are_decode_errors() {
        let inputs: [&[u8]; 5] = [
            b"{\"transaction_id\":",
            b"",
            b"not json",
            b"{\"transaction_id\":\"t\xff\",\"customer_id\":\"c\",\"amount\":1}",
            b"{\"transaction_id\":\"t\",\"customer_id\":\"c\",\"amount\":1} trailing",
        ];
        for input in inputs {
            let error = decode::<Transaction>(input).unwrap_err();
            assert_eq!(error.kind(), RejectKind::Decode, "{error}");
            assert!(error.to_string().contains("line"), "{error}");
        }
    }

    /// The fast path must accept exactly what serde_json accepts, with the
    /// same values: a record it alone accepted would skip serde_json's checks.
    #[test]
    fn the_fast_path_agrees_with_serde_json() {
        let inputs: &[&[u8]] = &[
            br#"{"transaction_id":"t","customer_id":"c","amount":12.3400000000000001}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1e2,"latitude":-0.0,"longitude":1E-7}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":7,"timestamp":1764616434250}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":7,"timestamp":"2025-12-01T19:13:54+02:00"}"#,
            br#"{"transaction_id":"t\u00e9\ud83d\ude00\n\"","customer_id":"c","amount":1}"#,
            br#"{"transaction_id":"t\ud800","customer_id":"c","amount":1}"#,
            br#"{"transaction_id":"t\x","customer_id":"c","amount":1}"#,
            b"{\"transaction_id\":\"t\tab\",\"customer_id\":\"c\",\"amount\":1}",
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"transaction_id":"u"}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"unknown":{"a":[1,null]}}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":01}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":NaN}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1e999}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"card_present":1}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"channel":"POS"}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"channel":"pos"}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"mcc":null}"#,
            br#"  {"transaction_id":"t","customer_id":"c","amount":1}  "#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1}{}"#,
            b"\xef\xbb\xbf{\"transaction_id\":\"t\",\"customer_id\":\"c\",\"amount\":1}",
            b"{\"transaction_id\":\"t\",\"customer_id\":\"c\",\"amount\":1,\"merchant\":\"caf\xc3\xa9\"}",
            b"{\"transaction_id\":\"t\",\"customer_id\":\"c\",\"amount\":1,\"merchant\":\"\xed\xa0\x80\"}",
            b"{\"transaction_id\":\"t\",\"customer_id\":\"c\",\"amount\":1,\"merchant\":\"\x00\"}",
        ];
        for input in inputs {
            let fast = sonic_rs::from_slice::<Transaction>(input).ok();
            let reference = serde_json::from_slice::<Transaction>(input).ok();
            assert_eq!(fast, reference, "{}", String::from_utf8_lossy(input));
            assert_eq!(decode::<Transaction>(input).ok(), reference);
        }
    }

    #[test]
    fn accepts_epoch_millis_and_rfc3339_timestamps() {
        let json = r#"{"transaction_id":"t","is_fraud":true,"reported_at":1764616434250}"#;
        let by_millis = decode::<Label>(json.as_bytes()).unwrap();
        let json =
            r#"{"transaction_id":"t","is_fraud":true,"reported_at":"2025-12-01T19:13:54.250Z"}"#;
        let by_text = decode::<Label>(json.as_bytes()).unwrap();
        assert_eq!(by_millis, by_text);
    }

    #[test]
    fn encodes_without_trailing_newline() {
        let json =
            r#"{"transaction_id":"t","is_fraud":false,"reported_at":"2025-12-01T19:13:54.250Z"}"#;
        let label = decode::<Label>(json.as_bytes()).unwrap();
        let mut out = Vec::new();
        encode(&label, &mut out).unwrap();
        assert!(!out.ends_with(b"\n"));
        assert!(std::str::from_utf8(&out)
            .unwrap()
            .contains("\"reported_at\":\"2025-12-01T19:13:54.250Z\""));
    }
}
