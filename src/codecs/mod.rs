//! Wire formats for every record that enters or leaves fraud-detector.
//!
//! One [`Codec`] per source and sink: JSON (one object per record), plain
//! Avro datums, or Avro in the Confluent wire format (magic byte, schema id,
//! datum). Avro object container files are handled by [`write_container`] and
//! [`ContainerReader`]. Every failure to decode maps to a [`RejectKind`] so
//! sources can dead-letter the record with the right label.

mod avro;
mod decision_json;
mod json;
mod transaction_json;

pub use avro::{write_container, ContainerReader};

use crate::domain::{Alert, CaseLog, DeadLetter, Decision, Label, RejectKind, Transaction};
use apache_avro::Schema;
use std::sync::{Arc, OnceLock};
use thiserror::Error;

/// Chosen per source and sink in the topology: `codec: json | avro | confluent_avro`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodecKind {
    #[default]
    Json,
    Avro,
    ConfluentAvro,
}

impl CodecKind {
    /// Files hold JSON lines or Avro container files; the Confluent wire
    /// format frames single broker messages and has no place in a file.
    pub fn file_problem(self) -> Option<String> {
        (self == CodecKind::ConfluentAvro).then(|| {
            "codec: confluent_avro frames single messages on a broker; files take json or avro"
                .to_owned()
        })
    }
}

/// A record type with an Avro schema in `schemas/`.
pub trait Record: serde::Serialize + serde::de::DeserializeOwned {
    /// The Avro record name, also used in error messages: "Transaction".
    const NAME: &'static str;
    /// The schema from `schemas/`, parsed once.
    fn schema() -> &'static Schema;

    /// Appends the record as JSON, byte for byte as serde_json writes it.
    /// sonic-rs by default: it escapes strings with SIMD, where serde_json
    /// looks at every byte (a test compares the two on arbitrary records).
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), sonic_rs::Error> {
        sonic_rs::to_writer(out, self)
    }

    /// A reader for this record's common JSON shape, tried before serde;
    /// `None` leaves the bytes to serde, which accepts or explains.
    fn read_json(_bytes: &[u8]) -> Option<Self> {
        None
    }
}

/// Implements [`Record`] from a schema file embedded at compile time.
macro_rules! record_with_schema {
    ($type:ty, $name:literal, $file:literal $(, write = $write_json:path)? $(, read = $read_json:path)?) => {
        impl Record for $type {
            $(
                fn write_json(&self, out: &mut Vec<u8>) -> Result<(), sonic_rs::Error> {
                    $write_json(self, out)
                }
            )?
            $(
                fn read_json(bytes: &[u8]) -> Option<Self> {
                    $read_json(bytes)
                }
            )?

            const NAME: &'static str = $name;

            fn schema() -> &'static Schema {
                static SCHEMA: OnceLock<Schema> = OnceLock::new();
                SCHEMA.get_or_init(|| {
                    avro::init();
                    parse_embedded_schema($file, include_str!(concat!("../../schemas/", $file)))
                })
            }
        }
    };
}

record_with_schema!(
    Transaction,
    "Transaction",
    "transaction.avsc",
    read = transaction_json::read
);
// One decision per transaction: written by hand, see `decision_json`.
record_with_schema!(
    Decision,
    "Decision",
    "decision.avsc",
    write = decision_json::write
);
record_with_schema!(Alert, "Alert", "alert.avsc");
record_with_schema!(CaseLog, "CaseLog", "case_log.avsc");
record_with_schema!(DeadLetter, "DeadLetter", "dead_letter.avsc");
record_with_schema!(Label, "Label", "label.avsc");

/// The schema files are compiled in and covered by tests, so a parse failure
/// is a build defect, not an input error: failing loudly at first use is right.
fn parse_embedded_schema(file: &str, json: &str) -> Schema {
    match Schema::parse_str(json) {
        Ok(schema) => schema,
        Err(error) => panic!("schemas/{file} is not a valid Avro schema: {error}"),
    }
}

/// Why bytes could not be turned into a record.
#[derive(Debug, Error)]
pub enum DecodeError {
    #[error("malformed {record} JSON: {source}")]
    JsonSyntax {
        record: &'static str,
        source: serde_json::Error,
    },
    #[error("invalid {record} JSON{}: {source}", at_field(.path))]
    JsonData {
        record: &'static str,
        /// serde path of the failing value: `amount`, `reasons[0].code`; `.` for the record itself.
        path: String,
        source: serde_json::Error,
    },
    #[error("a {record} must be a JSON object, found `{found}`")]
    NotAnObject { record: &'static str, found: char },
    #[error("Confluent Avro needs a 5-byte header (magic byte, schema id), got {len} bytes")]
    ShortHeader { len: usize },
    #[error("Confluent Avro must start with magic byte 0, got {found}")]
    WrongMagicByte { found: u8 },
    #[error("Confluent Avro schema id {found} is not the expected {expected}")]
    SchemaIdMismatch { expected: u32, found: u32 },
    #[error("{record} Avro datum ends early")]
    Truncated { record: &'static str },
    #[error("{record} Avro datum is followed by {count} unexpected bytes")]
    TrailingBytes { record: &'static str, count: usize },
    #[error("{record} Avro datum does not decode: {source}")]
    Avro {
        record: &'static str,
        source: Box<apache_avro::Error>,
    },
    #[error("Avro record does not resolve to the {record} schema: {source}")]
    Resolution {
        record: &'static str,
        source: Box<apache_avro::Error>,
    },
    #[error("Avro record is not a valid {record}: {source}")]
    Conversion {
        record: &'static str,
        source: Box<apache_avro::Error>,
    },
    #[error("corrupt Avro container: {0}")]
    Container(#[source] Box<apache_avro::Error>),
}

fn at_field(path: &str) -> String {
    if path == "." {
        String::new()
    } else {
        format!(" at `{path}`")
    }
}

impl DecodeError {
    /// The dead-letter label: bytes the codec cannot read at all are `Decode`;
    /// well-formed input whose values do not fit the record is `Validation`.
    pub fn kind(&self) -> RejectKind {
        match self {
            DecodeError::JsonData { .. }
            | DecodeError::NotAnObject { .. }
            | DecodeError::Resolution { .. }
            | DecodeError::Conversion { .. } => RejectKind::Validation,
            DecodeError::JsonSyntax { .. }
            | DecodeError::ShortHeader { .. }
            | DecodeError::WrongMagicByte { .. }
            | DecodeError::SchemaIdMismatch { .. }
            | DecodeError::Truncated { .. }
            | DecodeError::TrailingBytes { .. }
            | DecodeError::Avro { .. }
            | DecodeError::Container(_) => RejectKind::Decode,
        }
    }
}

/// Why a record or schema could not be written.
#[derive(Debug, Error)]
pub enum CodecError {
    #[error("invalid Avro schema: {0}")]
    InvalidSchema(#[source] Box<apache_avro::Error>),
    #[error("{record} does not fit its Avro schema: {source}")]
    NotInSchema {
        record: &'static str,
        source: Box<apache_avro::Error>,
    },
    #[error("the confluent_avro codec needs a schema id to encode")]
    MissingSchemaId,
    #[error("{record} cannot be written as JSON: {source}")]
    Json {
        record: &'static str,
        source: sonic_rs::Error,
    },
    #[error("cannot write the Avro container: {0}")]
    Container(#[source] Box<apache_avro::Error>),
    #[error("cannot write the Avro container: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes and decodes records in one wire format. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Codec {
    kind: CodecKind,
    schema_id: Option<u32>,
    writer_schema: Option<Arc<Schema>>,
}

impl Codec {
    pub fn new(kind: CodecKind) -> Codec {
        avro::init();
        Codec {
            kind,
            schema_id: None,
            writer_schema: None,
        }
    }

    /// Confluent wire format: magic byte 0, 4-byte big-endian schema id, then
    /// the Avro datum. On encode the id is written; on decode, when set, a
    /// different id is rejected.
    pub fn with_schema_id(self, id: u32) -> Codec {
        Codec {
            schema_id: Some(id),
            ..self
        }
    }

    /// Decode Avro written with another (older or newer) schema: the writer
    /// schema is resolved against ours (schema evolution). Encoding always
    /// uses our schema.
    pub fn with_writer_schema(self, writer: Schema) -> Codec {
        Codec {
            writer_schema: Some(Arc::new(writer)),
            ..self
        }
    }

    /// [`Codec::with_writer_schema`] from the schema's JSON, as found in a
    /// schema registry or an `.avsc` file.
    pub fn with_writer_schema_json(self, json: &str) -> Result<Codec, CodecError> {
        let writer =
            Schema::parse_str(json).map_err(|error| CodecError::InvalidSchema(Box::new(error)))?;
        Ok(self.with_writer_schema(writer))
    }

    pub fn kind(&self) -> CodecKind {
        self.kind
    }

    pub fn schema_id(&self) -> Option<u32> {
        self.schema_id
    }

    pub fn decode<T: Record>(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        let writer_schema = self.writer_schema.as_deref();
        match self.kind {
            CodecKind::Json => json::decode(bytes),
            CodecKind::Avro => avro::decode_datum(bytes, writer_schema),
            CodecKind::ConfluentAvro => {
                let datum = avro::strip_confluent_header(bytes, self.schema_id)?;
                avro::decode_datum(datum, writer_schema)
            }
        }
    }

    /// Appends one encoded record to `out` (JSON: no trailing newline; the
    /// sink adds framing). On error `out` is left as it was.
    pub fn encode<T: Record>(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let start = out.len();
        let result = self.encode_unchecked(value, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn encode_unchecked<T: Record>(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self.kind {
            CodecKind::Json => json::encode(value, out),
            CodecKind::Avro => avro::encode_datum(value, out),
            CodecKind::ConfluentAvro => {
                let id = self.schema_id.ok_or(CodecError::MissingSchemaId)?;
                avro::write_confluent_header(id, out);
                avro::encode_datum(value, out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Action, Channel, CustomerSummary, Reason, ReasonCode, Severity, TimeSource, WindowSummary,
    };
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const EPOCH_2025_12_01: i64 = 1_764_616_434_250;

    fn all_codecs() -> [Codec; 3] {
        [
            Codec::new(CodecKind::Json),
            Codec::new(CodecKind::Avro),
            Codec::new(CodecKind::ConfluentAvro).with_schema_id(3),
        ]
    }

    fn transaction() -> Transaction {
        Transaction {
            transaction_id: "TXN-20251201-191354".into(),
            customer_id: "C-12345".into(),
            amount: 4500.0,
            currency: Some("USD".into()),
            timestamp: Some(EPOCH_2025_12_01),
            merchant: Some("CRYPTO-EXCHANGE-XX".into()),
            merchant_category: Some("Cryptocurrency".into()),
            mcc: Some("6051".into()),
            merchant_id: Some("M-1".into()),
            terminal_id: Some("T-1".into()),
            location: Some("Moscow, Russia".into()),
            latitude: Some(55.7558),
            longitude: Some(37.6173),
            country: Some("RU".into()),
            channel: Some(Channel::Ecom),
            card_present: Some(false),
            device_id: Some("dev-unknown".into()),
            ip_address: Some("185.220.101.5".into()),
            previous_location: Some("New York, NY".into()),
            time_since_last_transaction: Some("30 minutes ago".into()),
        }
    }

    fn reason() -> Reason {
        Reason {
            code: ReasonCode::ImpossibleTravel,
            points: 40,
            detail: "7,500 km in 30 minutes".into(),
            evidence: BTreeMap::from([
                ("distance_km".into(), 7500.5),
                ("speed_kmh".into(), 15001.0),
            ]),
        }
    }

    fn decision() -> Decision {
        Decision {
            decision_id: "D-1".into(),
            transaction_id: "TXN-1".into(),
            customer_id: "C-1".into(),
            action: Action::Block,
            risk_score: 95,
            reasons: vec![reason()],
            amount: 4500.0,
            currency: None,
            event_time: EPOCH_2025_12_01,
            time_source: TimeSource::Ingestion,
            late: true,
            decided_at: EPOCH_2025_12_01 + 3,
            latency_us: 180,
            rules_version: "v1".into(),
            model_score: None,
            model_version: None,
            model_risk: None,
            model_contributions: vec![],
            shadow_score: None,
            shadow_version: None,
            agent: None,
        }
    }

    fn alert() -> Alert {
        Alert {
            alert_id: "A-1".into(),
            decision_id: "D-1".into(),
            transaction_id: "TXN-1".into(),
            customer_id: "C-1".into(),
            action: Action::Review,
            severity: Severity::Critical,
            risk_score: 70,
            reason_codes: vec![ReasonCode::NewDevice, ReasonCode::Velocity],
            summary: "new device, velocity".into(),
            created_at: EPOCH_2025_12_01,
        }
    }

    fn case_log() -> CaseLog {
        CaseLog {
            case_id: "FRD-2025-0123456789".into(),
            decision_id: "D-1".into(),
            status: "OPEN".into(),
            opened_at: EPOCH_2025_12_01,
            action: Action::Block,
            risk_score: 95,
            transaction: transaction(),
            reasons: vec![
                reason(),
                Reason {
                    evidence: BTreeMap::new(),
                    ..reason()
                },
            ],
            customer: CustomerSummary {
                windows: vec![WindowSummary {
                    window: "1h".into(),
                    count: 3,
                    sum: 12.5,
                    max: 10.0,
                }],
                transactions_seen: 12,
                mean_amount: 42.0,
                stddev_amount: 3.5,
                known_devices: 2,
                known_ips: 1,
                last_location_latitude: Some(40.7),
                last_location_longitude: Some(-74.0),
                last_location_time: Some(EPOCH_2025_12_01 - 1_800_000),
                distinct_merchants_24h: 4,
                distinct_countries_24h: 2,
                device_customers_24h: 1,
                compromised: false,
            },
            rules_version: "v1".into(),
            agent_transcript: None,
        }
    }

    fn dead_letter() -> DeadLetter {
        DeadLetter {
            source: "file:transactions".into(),
            position: "line 17".into(),
            kind: RejectKind::Oversize,
            reason: "too big".into(),
            received_at: EPOCH_2025_12_01,
            payload: vec![0, 159, 146, 150, 255],
            payload_len: 70_000,
        }
    }

    fn label() -> Label {
        Label {
            transaction_id: "TXN-1".into(),
            is_fraud: true,
            reported_at: EPOCH_2025_12_01,
            customer_id: Some("C-1".into()),
            terminal_id: None,
            transaction_time: Some(EPOCH_2025_12_01 - 86_400_000),
            source: Some("chargeback".into()),
        }
    }

    fn round_trip<T: Record + PartialEq + std::fmt::Debug>(value: &T) {
        for codec in all_codecs() {
            let mut bytes = Vec::new();
            codec.encode(value, &mut bytes).unwrap();
            let decoded: T = codec.decode(&bytes).unwrap();
            assert_eq!(&decoded, value, "{:?}", codec.kind());
        }
    }

    #[test]
    fn every_record_round_trips_through_every_codec() {
        round_trip(&transaction());
        round_trip(&decision());
        round_trip(&alert());
        round_trip(&case_log());
        round_trip(&dead_letter());
        round_trip(&label());
    }

    #[test]
    fn avro_timestamps_are_millis_and_json_timestamps_are_rfc3339() {
        let mut json = Vec::new();
        Codec::new(CodecKind::Json)
            .encode(&label(), &mut json)
            .unwrap();
        let json = String::from_utf8(json).unwrap();
        assert!(
            json.contains("\"reported_at\":\"2025-12-01T19:13:54.250Z\""),
            "{json}"
        );

        let value = apache_avro::to_value(label()).unwrap();
        let apache_avro::types::Value::Record(fields) = value else {
            panic!("not a record")
        };
        assert_eq!(
            fields[2],
            (
                "reported_at".into(),
                apache_avro::types::Value::Long(EPOCH_2025_12_01)
            )
        );
    }

    #[test]
    fn dead_letter_payload_is_base64_in_json_and_bytes_in_avro() {
        let mut json = Vec::new();
        Codec::new(CodecKind::Json)
            .encode(&dead_letter(), &mut json)
            .unwrap();
        assert!(String::from_utf8(json)
            .unwrap()
            .contains("\"payload\":\"AJ+Slv8=\""));
        let mut avro = Vec::new();
        Codec::new(CodecKind::Avro)
            .encode(&dead_letter(), &mut avro)
            .unwrap();
        assert!(avro
            .windows(6)
            .any(|window| window == [10, 0, 159, 146, 150, 255]));
    }

    #[test]
    fn codec_kind_reads_snake_case_config() {
        let kinds: Vec<CodecKind> =
            serde_json::from_str(r#"["json", "avro", "confluent_avro"]"#).unwrap();
        assert_eq!(
            kinds,
            [CodecKind::Json, CodecKind::Avro, CodecKind::ConfluentAvro]
        );
        assert_eq!(CodecKind::default(), CodecKind::Json);
    }

    #[test]
    fn errors_and_codec_can_cross_threads() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Codec>();
        assert_send_sync::<DecodeError>();
        assert_send_sync::<CodecError>();
    }

    /// Any text, as a `String` or a `Text` (inline or on the heap).
    fn any_text<T: From<String> + std::fmt::Debug>() -> impl Strategy<Value = T> {
        prop::collection::vec(any::<char>(), 0..24)
            .prop_map(|chars| T::from(String::from_iter(chars)))
    }

    fn any_option_text<T: From<String> + std::fmt::Debug>() -> impl Strategy<Value = Option<T>> {
        prop::option::of(any_text())
    }

    fn any_finite() -> impl Strategy<Value = f64> {
        any::<f64>().prop_filter("finite", |number| number.is_finite())
    }

    /// serde_json without its `float_roundtrip` feature may parse a 17-digit
    /// float 1 ULP off, so the all-codec property uses realistic figures: cents
    /// and micro-degrees. Avro is checked bit-exact on any float separately.
    fn any_money() -> impl Strategy<Value = f64> {
        (0i64..=1_000_000_000).prop_map(|cents| cents as f64 / 100.0)
    }

    fn any_degrees() -> impl Strategy<Value = f64> {
        (-180_000_000i64..=180_000_000).prop_map(|micro| micro as f64 / 1e6)
    }

    fn any_channel() -> impl Strategy<Value = Option<Channel>> {
        prop::option::of(prop_oneof![
            Just(Channel::Pos),
            Just(Channel::Ecom),
            Just(Channel::Atm)
        ])
    }

    prop_compose! {
        fn any_transaction()(
            (transaction_id, customer_id, amount) in (any_text(), any_text(), any_money()),
            (currency, timestamp, merchant, merchant_category, mcc, merchant_id, terminal_id) in (
                any_option_text(),
                prop::option::of(-2_000_000_000_000i64..4_102_444_800_000),
                any_option_text(),
                any_option_text(),
                any_option_text(),
                any_option_text(),
                any_option_text(),
            ),
            (location, latitude, longitude, country, channel, card_present) in (
                any_option_text(),
                prop::option::of(any_degrees()),
                prop::option::of(any_degrees()),
                any_option_text(),
                any_channel(),
                prop::option::of(any::<bool>()),
            ),
            (device_id, ip_address, previous_location, time_since_last_transaction) in (
                any_option_text(),
                any_option_text(),
                any_option_text(),
                any_option_text(),
            ),
        ) -> Transaction {
            Transaction {
                transaction_id, customer_id, amount, currency, timestamp, merchant,
                merchant_category, mcc, merchant_id, terminal_id, location, latitude,
                longitude, country, channel, card_present, device_id, ip_address,
                previous_location, time_since_last_transaction,
            }
        }
    }

    proptest! {
        // Failures are shrunk and printed; no regression files in the source tree.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_transactions_round_trip(transaction in any_transaction()) {
            for codec in all_codecs() {
                let mut bytes = Vec::new();
                codec.encode(&transaction, &mut bytes).unwrap();
                let decoded: Transaction = codec.decode(&bytes).unwrap();
                prop_assert_eq!(&decoded, &transaction, "{:?}", codec.kind());
            }
        }

        /// JSON is written by sonic-rs; readers and the tests' expectations
        /// know serde_json's output, so the two must not differ by a byte
        /// (escapes, control characters, float digits and exponents).
        #[test]
        fn json_is_written_byte_for_byte_as_serde_json_writes_it(
            transaction in any_transaction(),
            (amount, latitude, score) in (any_finite(), any_finite(), any_finite()),
            (detail, transcript) in (any_text(), any_option_text()),
        ) {
            let transaction = Transaction { amount, latitude: Some(latitude), ..transaction };
            let mut decision = decision();
            decision.model_score = Some(score);
            decision.reasons[0].detail = detail;
            decision.reasons[0].evidence.insert(transaction.customer_id.to_string(), latitude);
            let case_log = CaseLog {
                transaction: transaction.clone(),
                agent_transcript: transcript,
                ..case_log()
            };
            let json = Codec::new(CodecKind::Json);
            let ours = |encode: &dyn Fn(&mut Vec<u8>) -> Result<(), CodecError>| {
                let mut bytes = Vec::new();
                encode(&mut bytes).map(|()| bytes)
            };
            prop_assert_eq!(ours(&|out| json.encode(&transaction, out))?, serde_json::to_vec(&transaction)?);
            prop_assert_eq!(ours(&|out| json.encode(&decision, out))?, serde_json::to_vec(&decision)?);
            prop_assert_eq!(ours(&|out| json.encode(&case_log, out))?, serde_json::to_vec(&case_log)?);
            prop_assert_eq!(ours(&|out| json.encode(&alert(), out))?, serde_json::to_vec(&alert())?);
            prop_assert_eq!(ours(&|out| json.encode(&dead_letter(), out))?, serde_json::to_vec(&dead_letter())?);
        }

        #[test]
        fn avro_round_trips_any_finite_float_bit_exact(
            transaction in any_transaction(),
            (amount, latitude, longitude) in (any_finite(), any_finite(), any_finite()),
        ) {
            let transaction = Transaction {
                amount,
                latitude: Some(latitude),
                longitude: Some(longitude),
                ..transaction
            };
            for codec in &all_codecs()[1..] {
                let mut bytes = Vec::new();
                codec.encode(&transaction, &mut bytes).unwrap();
                let decoded: Transaction = codec.decode(&bytes).unwrap();
                prop_assert_eq!(decoded.amount.to_bits(), amount.to_bits());
                prop_assert_eq!(&decoded, &transaction);
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let mut confluent_framed = vec![0, 0, 0, 0, 3];
            confluent_framed.extend_from_slice(&bytes);
            for codec in all_codecs() {
                for input in [&bytes, &confluent_framed] {
                    if let Err(error) = codec.decode::<Transaction>(input) {
                        let _ = (error.kind(), error.to_string());
                    }
                    let _ = codec.decode::<Label>(input);
                }
            }
        }

        #[test]
        fn mutated_records_never_panic(
            transaction in any_transaction(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            for codec in all_codecs() {
                let mut bytes = Vec::new();
                codec.encode(&transaction, &mut bytes).unwrap();
                for (index, byte) in &flips {
                    let at = index.index(bytes.len());
                    bytes[at] ^= byte;
                }
                let _ = codec.decode::<Transaction>(&bytes);
                let _ = codec.decode::<Transaction>(&bytes[..cut.index(bytes.len())]);
            }
        }
    }
}
