//! librdkafka client settings: ours first, then the topology's
//! `properties:` passed through as written (SASL, SSL, any librdkafka key).

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A librdkafka property value; YAML numbers and booleans are accepted as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Property {
    Text(String),
    Integer(i64),
    Float(f64),
    Flag(bool),
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Property::Text(text) => f.write_str(text),
            Property::Integer(value) => write!(f, "{value}"),
            Property::Float(value) => write!(f, "{value}"),
            Property::Flag(value) => write!(f, "{value}"),
        }
    }
}

pub type Properties = BTreeMap<String, Property>;

/// `defaults` are ours; `properties` (the user's) win over them.
pub(crate) fn client_config(
    bootstrap_servers: &str,
    defaults: &[(&str, &str)],
    properties: &Properties,
) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap_servers);
    for (key, value) in defaults {
        config.set(*key, *value);
    }
    for (key, value) in properties {
        config.set(key, value.to_string());
    }
    config
}

/// Producer settings shared by the sinks, the transactional loop and `produce`:
/// idempotent (no duplicates from retries), Java's key partitioner (so other
/// clients agree on a customer's partition), no compression (cheap for small
/// records, and readable by the tests' raw log reader).
pub(crate) const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("partitioner", "murmur2_random"),
    ("compression.codec", "none"),
    ("linger.ms", "5"),
    ("queue.buffering.max.messages", "200000"),
    ("queue.buffering.max.kbytes", "262144"),
    ("message.timeout.ms", "120000"),
    // Failures are all a producer here needs to hear of: a report per
    // delivered record costs the hot loop and tells nothing.
    ("delivery.report.only.error", "true"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_properties_override_ours_and_keep_yaml_types() {
        let properties: Properties = serde_yaml::from_str(
            "session.timeout.ms: 6000\nsecurity.protocol: SASL_SSL\nenable.idempotence: false\n",
        )
        .unwrap();
        let config = client_config("b:9092", PRODUCER_DEFAULTS, &properties);
        assert_eq!(config.get("bootstrap.servers"), Some("b:9092"));
        assert_eq!(config.get("session.timeout.ms"), Some("6000"));
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("enable.idempotence"), Some("false"));
        assert_eq!(config.get("partitioner"), Some("murmur2_random"));
    }

    /// Managed clusters (MSK, Confluent Cloud) need TLS and SASL/SCRAM:
    /// librdkafka refuses to create a client with them when built without
    /// OpenSSL, so creating one (no connection is made) proves the build.
    #[test]
    fn the_build_speaks_tls_and_sasl_scram() {
        let properties: Properties = serde_yaml::from_str(
            "security.protocol: SASL_SSL\nsasl.mechanisms: SCRAM-SHA-512\n\
             sasl.username: detector\nsasl.password: secret\n",
        )
        .unwrap();
        let producer: Result<rdkafka::producer::BaseProducer, _> =
            client_config("b:9096", PRODUCER_DEFAULTS, &properties).create();
        assert!(producer.is_ok(), "{:?}", producer.err());
    }
}
