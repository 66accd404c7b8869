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

/// Accepts an RFC 3339 string or integer epoch milliseconds in JSON. A
/// visitor, not an untagged enum: untagged enums buffer every value first,
/// which costs a transaction's decode a good share of its time.
struct TextOrMillis;

impl<'de> de::Visitor<'de> for TextOrMillis {
    type Value = Millis;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an RFC 3339 timestamp or epoch milliseconds")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Millis, E> {
        parse_rfc3339_millis(text).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, millis: i64) -> Result<Millis, E> {
        Ok(millis)
    }

    fn visit_u64<E: de::Error>(self, millis: u64) -> Result<Millis, E> {
        Millis::try_from(millis).map_err(|_| E::custom(format!("{millis} ms is out of range")))
    }
}

/// `Option` support for the visitor above.
struct OptionalTextOrMillis;

impl<'de> de::Visitor<'de> for OptionalTextOrMillis {
    type Value = Option<Millis>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("null, an RFC 3339 timestamp or epoch milliseconds")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<Millis>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Millis>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Millis>, D::Error> {
        deserializer.deserialize_any(TextOrMillis).map(Some)
    }
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
            deserializer.deserialize_any(TextOrMillis)
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
            deserializer.deserialize_option(OptionalTextOrMillis)
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
