//! Inputs the engine could not use, kept with the reason.

use super::{serde_time, Millis};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which check rejected the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectKind {
    /// Not valid in the source's codec (bad JSON, bad Avro, wrong magic byte).
    Decode,
    /// Decoded but a field is missing, of the wrong type or out of range.
    Validation,
    /// Larger than the source's maximum record size.
    Oversize,
    /// A transaction id the engine has already decided for this customer (a
    /// producer's retry, or a replay after a crash): its decision exists.
    Duplicate,
}

impl RejectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::Decode => "DECODE",
            RejectKind::Validation => "VALIDATION",
            RejectKind::Oversize => "OVERSIZE",
            RejectKind::Duplicate => "DUPLICATE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The source component that read the record.
    pub source: String,
    /// Where it was read: "line 17", "partition 3 offset 1200", ...
    pub position: String,
    pub kind: RejectKind,
    pub reason: String,
    #[serde(with = "serde_time::required")]
    pub received_at: Millis,
    /// The raw bytes (base64 in JSON), cut to the first 64 KiB.
    #[serde(with = "raw_bytes")]
    pub payload: Vec<u8>,
    /// Length of the original payload before it was cut.
    pub payload_len: i64,
}

/// Dead letters keep at most this much of the payload: enough to debug, bounded in memory.
pub const MAX_DEAD_LETTER_PAYLOAD: usize = 64 * 1024;

impl DeadLetter {
    pub fn new(
        source: &str,
        position: String,
        kind: RejectKind,
        reason: String,
        payload: &[u8],
    ) -> Self {
        let kept = &payload[..payload.len().min(MAX_DEAD_LETTER_PAYLOAD)];
        DeadLetter {
            source: source.to_owned(),
            position,
            kind,
            reason,
            received_at: serde_time::now_millis(),
            payload: kept.to_vec(),
            payload_len: payload.len() as i64,
        }
    }
}

mod raw_bytes {
    use super::*;
    use base64::{engine::general_purpose::STANDARD, Engine};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&STANDARD.encode(bytes))
        } else {
            serializer.serialize_bytes(bytes)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            STANDARD.decode(text).map_err(serde::de::Error::custom)
        } else {
            serde_bytes_vec(deserializer)
        }
    }

    fn serde_bytes_vec<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        struct BytesVisitor;
        impl<'de> serde::de::Visitor<'de> for BytesVisitor {
            type Value = Vec<u8>;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("bytes")
            }
            fn visit_bytes<E>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
                Ok(bytes.to_vec())
            }
            fn visit_byte_buf<E>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(bytes)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut bytes = Vec::new();
                while let Some(byte) = seq.next_element()? {
                    bytes.push(byte);
                }
                Ok(bytes)
            }
        }
        deserializer.deserialize_bytes(BytesVisitor)
    }
}
