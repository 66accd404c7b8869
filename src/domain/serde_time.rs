//! Timestamps are RFC 3339 strings in JSON and `timestamp-millis` longs in Avro.
//!
//! serde tells the two apart with `is_human_readable()`; the Avro codec turns
//! human-readable mode off (see `codecs::avro`), serde_json always has it on.

use super::Millis;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{de, Deserialize, Deserializer, Serializer};

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

pub fn format_millis(millis: Millis) -> String {
    match DateTime::<Utc>::from_timestamp_millis(millis) {
        Some(time) => time.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => millis.to_string(),
    }
}

pub fn parse_rfc3339_millis(text: &str) -> Result<Millis, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|time| time.timestamp_millis())
        .map_err(|error| format!("`{text}` is not an RFC 3339 timestamp: {error}"))
}

/// Accepts an RFC 3339 string or integer epoch milliseconds in JSON.
#[derive(Deserialize)]
#[serde(untagged)]
enum TextOrMillis {
    Text(String),
    Millis(i64),
}

pub mod required {
    use super::*;

    pub fn serialize<S: Serializer>(millis: &Millis, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&format_millis(*millis))
        } else {
            serializer.serialize_i64(*millis)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Millis, D::Error> {
        if deserializer.is_human_readable() {
            match TextOrMillis::deserialize(deserializer)? {
                TextOrMillis::Text(text) => parse_rfc3339_millis(&text).map_err(de::Error::custom),
                TextOrMillis::Millis(millis) => Ok(millis),
            }
        } else {
            i64::deserialize(deserializer)
        }
    }
}

pub mod optional {
    use super::*;

    pub fn serialize<S: Serializer>(
        millis: &Option<Millis>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match millis {
            Some(millis) if serializer.is_human_readable() => {
                serializer.serialize_some(&format_millis(*millis))
            }
            Some(millis) => serializer.serialize_some(millis),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Millis>, D::Error> {
        if deserializer.is_human_readable() {
            match Option::<TextOrMillis>::deserialize(deserializer)? {
                Some(TextOrMillis::Text(text)) => parse_rfc3339_millis(&text)
                    .map(Some)
                    .map_err(de::Error::custom),
                Some(TextOrMillis::Millis(millis)) => Ok(Some(millis)),
                None => Ok(None),
            }
        } else {
            Option::<i64>::deserialize(deserializer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_rfc3339() {
        let millis = parse_rfc3339_millis("2025-12-01T19:13:54.250Z").unwrap();
        assert_eq!(format_millis(millis), "2025-12-01T19:13:54.250Z");
        assert_eq!(
            parse_rfc3339_millis("2025-12-01T20:13:54.250+01:00").unwrap(),
            millis
        );
        assert!(parse_rfc3339_millis("yesterday").is_err());
    }
}
