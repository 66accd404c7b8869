//! The Avro schemas in `schemas/` against the domain types: every record
//! round-trips, field names and order match serde's, old and new schema
//! versions read each other, and every field is documented.

use apache_avro::schema::{RecordSchema, Schema};
use apache_avro::types::Value;
use fraud_detector::codecs::{Codec, CodecKind, Record};
use fraud_detector::domain::{
    Action, AgentReview, AgentStatus, Alert, CaseLog, Channel, Contribution, CustomerSummary,
    DeadLetter, Decision, Label, Reason, ReasonCode, RejectKind, Severity, TimeSource, Transaction,
    WindowSummary,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

const NOW: i64 = 1_764_616_434_250;

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

fn schema_file_text(file: &str) -> String {
    std::fs::read_to_string(schema_dir().join(file)).unwrap()
}

fn schema_file(file: &str) -> Schema {
    Schema::parse_str(&schema_file_text(file)).unwrap()
}

/// Codec::new switches apache-avro's serde to non-human-readable mode, which
/// the domain types need; call it before any direct apache-avro use.
fn avro() -> Codec {
    Codec::new(CodecKind::Avro)
}

// ---- sample values -------------------------------------------------------

fn full_transaction() -> Transaction {
    Transaction {
        transaction_id: "TXN-20251201-191354".into(),
        customer_id: "C-12345".into(),
        amount: 4500.25,
        currency: Some("USD".into()),
        timestamp: Some(NOW),
        merchant: Some("CRYPTO-EXCHANGE-XX".into()),
        merchant_category: Some("Cryptocurrency".into()),
        mcc: Some("6051".into()),
        merchant_id: Some("M-77".into()),
        terminal_id: Some("T-9".into()),
        location: Some("Moscow, Russia".into()),
        latitude: Some(55.7558),
        longitude: Some(37.6173),
        country: Some("RU".into()),
        channel: Some(Channel::Atm),
        card_present: Some(true),
        device_id: Some("dev-unknown".into()),
        ip_address: Some("185.220.101.5".into()),
        previous_location: Some("New York, NY".into()),
        time_since_last_transaction: Some("30 minutes ago".into()),
    }
}

fn minimal_transaction() -> Transaction {
    Transaction {
        transaction_id: "TXN-2".into(),
        customer_id: "C-2".into(),
        amount: 0.0,
        currency: None,
        timestamp: None,
        merchant: None,
        merchant_category: None,
        mcc: None,
        merchant_id: None,
        terminal_id: None,
        location: None,
        latitude: None,
        longitude: None,
        country: None,
        channel: None,
        card_present: None,
        device_id: None,
        ip_address: None,
        previous_location: None,
        time_since_last_transaction: None,
    }
}

fn reason() -> Reason {
    Reason {
        code: ReasonCode::CardNotPresentNewDevice,
        points: 25,
        detail: "Card not present on a device never seen for this customer".into(),
        evidence: BTreeMap::from([("known_devices".into(), 3.0), ("ratio".into(), 0.125)]),
    }
}

fn full_decision() -> Decision {
    Decision {
        decision_id: "D-1".into(),
        transaction_id: "TXN-1".into(),
        customer_id: "C-1".into(),
        action: Action::Block,
        risk_score: 100,
        reasons: vec![reason(), reason()],
        amount: 4500.25,
        currency: Some("USD".into()),
        event_time: NOW,
        time_source: TimeSource::Event,
        late: true,
        decided_at: NOW + 2,
        latency_us: 143,
        rules_version: "rules-2025-12".into(),
        model_score: Some(0.9312),
        model_version: Some("fraud-gbt-v1@0a1b2c3d".into()),
        model_risk: Some(93),
        model_contributions: vec![Contribution {
            feature: "travel_speed_log".into(),
            value: 8.9,
            typical: -1.0,
            contribution: 0.41,
        }],
        shadow_score: Some(0.88),
        shadow_version: Some("fraud-gbt-v2@4e5f6a7b".into()),
        agent: Some(AgentReview {
            status: AgentStatus::Decided,
            fallback_reason: Some("timeout".into()),
            engine_action: Action::Review,
            engine_risk_score: 55,
            explanation: Some("impossible travel and an unknown device".into()),
            case_id: Some("FRD-2025-0001".into()),
            latency_ms: 812,
        }),
    }
}

fn minimal_decision() -> Decision {
    Decision {
        reasons: vec![],
        currency: None,
        action: Action::Approve,
        time_source: TimeSource::Ingestion,
        late: false,
        model_score: None,
        model_version: None,
        model_risk: None,
        model_contributions: vec![],
        shadow_score: None,
        shadow_version: None,
        agent: None,
        ..full_decision()
    }
}

fn full_alert() -> Alert {
    Alert {
        alert_id: "A-1".into(),
        decision_id: "D-1".into(),
        transaction_id: "TXN-1".into(),
        customer_id: "C-1".into(),
        action: Action::Review,
        severity: Severity::Medium,
        risk_score: 55,
        reason_codes: vec![ReasonCode::AmountSpike, ReasonCode::IngestionTime],
        summary: "Amount spike".into(),
        created_at: NOW,
    }
}

fn minimal_alert() -> Alert {
    Alert {
        reason_codes: vec![],
        summary: String::new(),
        ..full_alert()
    }
}

fn full_customer() -> CustomerSummary {
    CustomerSummary {
        windows: vec![
            WindowSummary {
                window: "1h".into(),
                count: 3,
                sum: 120.5,
                max: 100.0,
            },
            WindowSummary {
                window: "24h".into(),
                count: 9,
                sum: 420.0,
                max: 100.0,
            },
        ],
        transactions_seen: 310,
        mean_amount: 46.2,
        stddev_amount: 12.9,
        known_devices: 2,
        known_ips: 4,
        last_location_latitude: Some(40.7128),
        last_location_longitude: Some(-74.006),
        last_location_time: Some(NOW - 1_800_000),
        distinct_merchants_24h: 5,
        distinct_countries_24h: 2,
        device_customers_24h: 1,
        compromised: true,
    }
}

fn full_case_log() -> CaseLog {
    CaseLog {
        case_id: "FRD-2025-00c0ffee42".into(),
        decision_id: "D-1".into(),
        status: "OPEN".into(),
        opened_at: NOW,
        action: Action::Block,
        risk_score: 100,
        transaction: full_transaction(),
        reasons: vec![reason()],
        customer: full_customer(),
        rules_version: "rules-2025-12".into(),
        agent_transcript: Some("{\"steps\":[]}".into()),
    }
}

fn minimal_case_log() -> CaseLog {
    CaseLog {
        transaction: minimal_transaction(),
        reasons: vec![],
        customer: CustomerSummary {
            windows: vec![],
            last_location_latitude: None,
            last_location_longitude: None,
            last_location_time: None,
            ..full_customer()
        },
        agent_transcript: None,
        ..full_case_log()
    }
}

fn full_dead_letter() -> DeadLetter {
    DeadLetter {
        source: "kafka:transactions".into(),
        position: "partition 3 offset 1200".into(),
        kind: RejectKind::Validation,
        reason: "missing field `customer_id` at line 1 column 31".into(),
        received_at: NOW,
        payload: br#"{"transaction_id":"t","amount":1}"#.to_vec(),
        payload_len: 33,
    }
}

fn minimal_dead_letter() -> DeadLetter {
    DeadLetter {
        payload: vec![],
        payload_len: 0,
        ..full_dead_letter()
    }
}

fn full_label() -> Label {
    Label {
        transaction_id: "TXN-1".into(),
        is_fraud: true,
        reported_at: NOW,
        customer_id: Some("C-1".into()),
        terminal_id: Some("T-9".into()),
        transaction_time: Some(NOW - 86_400_000),
        source: Some("chargeback".into()),
    }
}

fn minimal_label() -> Label {
    Label {
        transaction_id: "TXN-1".into(),
        is_fraud: false,
        reported_at: NOW,
        customer_id: None,
        terminal_id: None,
        transaction_time: None,
        source: None,
    }
}

// ---- (a) round trips through the schema files ----------------------------

/// Validates against the file in schemas/ (not only the compiled-in copy),
/// then encodes and decodes through every codec.
fn assert_round_trips<T: Record + PartialEq + Debug>(file: &str, value: &T) {
    let codec = avro();
    let from_file = schema_file(file);
    assert_eq!(
        &from_file,
        T::schema(),
        "{file} differs from {}'s schema",
        T::NAME
    );

    let avro_value = apache_avro::to_value(value).unwrap();
    assert!(
        avro_value.validate(&from_file),
        "{value:?} does not validate against {file}"
    );
    assert_field_order(T::NAME, &avro_value, &from_file);

    let datum = apache_avro::to_avro_datum(&from_file, avro_value).unwrap();
    assert_eq!(&codec.decode::<T>(&datum).unwrap(), value);

    let confluent = Codec::new(CodecKind::ConfluentAvro).with_schema_id(17);
    for codec in [codec, Codec::new(CodecKind::Json), confluent] {
        let mut bytes = Vec::new();
        codec.encode(value, &mut bytes).unwrap();
        let decoded: T = codec.decode(&bytes).unwrap();
        assert_eq!(&decoded, value, "{:?}", codec.kind());
    }
}

/// serde's field names and order, as the Avro serializer saw them, must be the
/// schema's: Avro encodes fields by position.
fn assert_field_order(path: &str, value: &Value, schema: &Schema) {
    match (value, schema) {
        (
            Value::Record(fields),
            Schema::Record(RecordSchema {
                fields: schema_fields,
                ..
            }),
        ) => {
            let serde_names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
            let schema_names: Vec<&str> = schema_fields.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(serde_names, schema_names, "fields of {path}");
            for ((name, field_value), field) in fields.iter().zip(schema_fields) {
                assert_field_order(&format!("{path}.{name}"), field_value, &field.schema);
            }
        }
        (Value::Union(index, inner), Schema::Union(union)) => {
            assert_field_order(path, inner, &union.variants()[*index as usize]);
        }
        (Value::Array(items), Schema::Array(array)) => {
            for item in items {
                assert_field_order(&format!("{path}[]"), item, &array.items);
            }
        }
        (Value::Map(entries), Schema::Map(map)) => {
            for entry in entries.values() {
                assert_field_order(&format!("{path}{{}}"), entry, &map.types);
            }
        }
        _ => {}
    }
}

#[test]
fn transaction_round_trips() {
    assert_round_trips("transaction.avsc", &full_transaction());
    assert_round_trips("transaction.avsc", &minimal_transaction());
}

#[test]
fn decision_round_trips() {
    assert_round_trips("decision.avsc", &full_decision());
    assert_round_trips("decision.avsc", &minimal_decision());
}

#[test]
fn alert_round_trips() {
    assert_round_trips("alert.avsc", &full_alert());
    assert_round_trips("alert.avsc", &minimal_alert());
}

#[test]
fn case_log_round_trips() {
    assert_round_trips("case_log.avsc", &full_case_log());
    assert_round_trips("case_log.avsc", &minimal_case_log());
}

#[test]
fn dead_letter_round_trips() {
    assert_round_trips("dead_letter.avsc", &full_dead_letter());
    assert_round_trips("dead_letter.avsc", &minimal_dead_letter());
}

#[test]
fn label_round_trips() {
    assert_round_trips("label.avsc", &full_label());
    assert_round_trips("label.avsc", &minimal_label());
}

#[test]
fn every_schema_file_belongs_to_a_record_type() {
    let mut files: Vec<String> = std::fs::read_dir(schema_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".avsc"))
        .collect();
    files.sort();
    let expected = [
        "alert.avsc",
        "case_log.avsc",
        "dead_letter.avsc",
        "decision.avsc",
        "label.avsc",
        "transaction.avsc",
    ];
    assert_eq!(files, expected);
    let _ = avro();
    let names = [
        (Alert::schema(), Alert::NAME),
        (CaseLog::schema(), CaseLog::NAME),
        (DeadLetter::schema(), DeadLetter::NAME),
        (Decision::schema(), Decision::NAME),
        (Label::schema(), Label::NAME),
        (Transaction::schema(), Transaction::NAME),
    ];
    for (schema, name) in names {
        let full_name = schema.name().unwrap();
        assert_eq!(full_name.name, name);
        assert_eq!(full_name.namespace.as_deref(), Some("io.frauddetector"));
    }
}

// ---- inlined copies cannot drift -----------------------------------------

/// case_log.avsc, decision.avsc and alert.avsc inline their nested types (one
/// schema per file, no cross-file references); each copy must stay identical
/// to the original.
fn field_schema<'a>(schema: &'a Schema, name: &str) -> &'a Schema {
    let Schema::Record(record) = schema else {
        panic!("not a record: {schema:?}")
    };
    &record.fields[record.lookup[name]].schema
}

fn array_items(schema: &Schema) -> &Schema {
    let Schema::Array(array) = schema else {
        panic!("not an array: {schema:?}")
    };
    &array.items
}

#[test]
fn inlined_types_match_their_originals() {
    let _ = avro();
    let case_log = CaseLog::schema();
    let decision = Decision::schema();
    let alert = Alert::schema();
    let same =
        |one: &Schema, other: &Schema| assert_eq!(one.canonical_form(), other.canonical_form());

    same(field_schema(case_log, "transaction"), Transaction::schema());
    let reason = array_items(field_schema(decision, "reasons"));
    same(array_items(field_schema(case_log, "reasons")), reason);
    same(
        field_schema(case_log, "action"),
        field_schema(decision, "action"),
    );
    same(
        field_schema(alert, "action"),
        field_schema(decision, "action"),
    );
    same(
        array_items(field_schema(alert, "reason_codes")),
        field_schema(reason, "code"),
    );
}

// ---- (b) schema evolution ------------------------------------------------

/// Version 0 of the transaction schema: before mcc, terminal_id and channel.
const TRANSACTION_V0: &str = r#"{
  "type": "record", "name": "Transaction", "namespace": "io.frauddetector",
  "doc": "v0", "fields": [
    {"name": "transaction_id", "type": "string", "doc": "id"},
    {"name": "customer_id", "type": "string", "doc": "customer"},
    {"name": "amount", "type": "double", "doc": "amount"},
    {"name": "currency", "type": ["null", "string"], "default": null, "doc": "ISO 4217"},
    {"name": "timestamp", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}], "default": null, "doc": "event time"},
    {"name": "merchant", "type": ["null", "string"], "default": null, "doc": "merchant"},
    {"name": "merchant_category", "type": ["null", "string"], "default": null, "doc": "category"},
    {"name": "merchant_id", "type": ["null", "string"], "default": null, "doc": "merchant id"},
    {"name": "location", "type": ["null", "string"], "default": null, "doc": "place"},
    {"name": "latitude", "type": ["null", "double"], "default": null, "doc": "lat"},
    {"name": "longitude", "type": ["null", "double"], "default": null, "doc": "lon"},
    {"name": "country", "type": ["null", "string"], "default": null, "doc": "country"},
    {"name": "card_present", "type": ["null", "boolean"], "default": null, "doc": "card present"},
    {"name": "device_id", "type": ["null", "string"], "default": null, "doc": "device"},
    {"name": "ip_address", "type": ["null", "string"], "default": null, "doc": "ip"},
    {"name": "previous_location", "type": ["null", "string"], "default": null, "doc": "hint"},
    {"name": "time_since_last_transaction", "type": ["null", "string"], "default": null, "doc": "hint"}
  ]
}"#;

/// Version 2 adds a field the current code does not know, in the middle:
/// resolution is by name, not position.
const CARD_BIN_FIELD: &str = r#"{"name": "card_bin", "type": ["null", "string"], "default": null, "doc": "First six digits of the card number."}"#;

fn transaction_v2_schema() -> Schema {
    let mut json: serde_json::Value =
        serde_json::from_str(&schema_file_text("transaction.avsc")).unwrap();
    let fields = json["fields"].as_array_mut().unwrap();
    fields.insert(3, serde_json::from_str(CARD_BIN_FIELD).unwrap());
    Schema::parse(&json).unwrap()
}

/// What a reader built against v0 deserializes into.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct TransactionV0 {
    transaction_id: fraud_detector::domain::Text,
    customer_id: fraud_detector::domain::Text,
    amount: f64,
    currency: Option<fraud_detector::domain::Text>,
    timestamp: Option<i64>,
    merchant: Option<fraud_detector::domain::Text>,
    merchant_category: Option<fraud_detector::domain::Text>,
    merchant_id: Option<fraud_detector::domain::Text>,
    location: Option<fraud_detector::domain::Text>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    country: Option<fraud_detector::domain::Text>,
    card_present: Option<bool>,
    device_id: Option<fraud_detector::domain::Text>,
    ip_address: Option<fraud_detector::domain::Text>,
    previous_location: Option<fraud_detector::domain::Text>,
    time_since_last_transaction: Option<fraud_detector::domain::Text>,
}

impl From<Transaction> for TransactionV0 {
    fn from(tx: Transaction) -> Self {
        TransactionV0 {
            transaction_id: tx.transaction_id,
            customer_id: tx.customer_id,
            amount: tx.amount,
            currency: tx.currency,
            timestamp: tx.timestamp,
            merchant: tx.merchant,
            merchant_category: tx.merchant_category,
            merchant_id: tx.merchant_id,
            location: tx.location,
            latitude: tx.latitude,
            longitude: tx.longitude,
            country: tx.country,
            card_present: tx.card_present,
            device_id: tx.device_id,
            ip_address: tx.ip_address,
            previous_location: tx.previous_location,
            time_since_last_transaction: tx.time_since_last_transaction,
        }
    }
}

/// The current transaction without what v0 cannot carry.
fn as_read_from_v0(tx: Transaction) -> Transaction {
    Transaction {
        mcc: None,
        terminal_id: None,
        channel: None,
        ..tx
    }
}

fn encode_with(schema: &Schema, value: Value) -> Vec<u8> {
    assert!(value.validate(schema));
    apache_avro::to_avro_datum(schema, value).unwrap()
}

#[test]
fn schema_versions_are_compatible_both_ways() {
    let _ = avro();
    let v0 = Schema::parse_str(TRANSACTION_V0).unwrap();
    let current = Transaction::schema();
    apache_avro::schema_compatibility::SchemaCompatibility::mutual_read(&v0, current).unwrap();
    apache_avro::schema_compatibility::SchemaCompatibility::mutual_read(
        current,
        &transaction_v2_schema(),
    )
    .unwrap();
}

#[test]
fn old_reader_reads_records_written_with_the_current_schema() {
    let codec = avro();
    let v0 = Schema::parse_str(TRANSACTION_V0).unwrap();
    for tx in [full_transaction(), minimal_transaction()] {
        let mut datum = Vec::new();
        codec.encode(&tx, &mut datum).unwrap();
        let value =
            apache_avro::from_avro_datum(Transaction::schema(), &mut datum.as_slice(), Some(&v0))
                .unwrap();
        let old: TransactionV0 = apache_avro::from_value(&value).unwrap();
        assert_eq!(old, TransactionV0::from(tx));
    }
}

#[test]
fn current_reader_reads_records_written_with_v0() {
    let _ = avro();
    let v0 = Schema::parse_str(TRANSACTION_V0).unwrap();
    let plain = avro().with_writer_schema(v0.clone());
    let confluent = Codec::new(CodecKind::ConfluentAvro)
        .with_schema_id(1)
        .with_writer_schema(v0.clone());
    for tx in [full_transaction(), minimal_transaction()] {
        let old = TransactionV0::from(tx.clone());
        let datum = encode_with(&v0, apache_avro::to_value(&old).unwrap());
        assert_eq!(
            plain.decode::<Transaction>(&datum).unwrap(),
            as_read_from_v0(tx.clone())
        );

        let mut framed = vec![0, 0, 0, 0, 1];
        framed.extend_from_slice(&datum);
        assert_eq!(
            confluent.decode::<Transaction>(&framed).unwrap(),
            as_read_from_v0(tx)
        );
    }
}

#[test]
fn current_reader_reads_records_written_with_v2() {
    let v2 = transaction_v2_schema();
    let codec = avro().with_writer_schema(v2.clone());
    for tx in [full_transaction(), minimal_transaction()] {
        let Value::Record(mut fields) = apache_avro::to_value(&tx).unwrap() else {
            panic!("not a record")
        };
        let card_bin = Value::Union(1, Box::new(Value::String("411111".into())));
        fields.insert(3, ("card_bin".into(), card_bin));
        let datum = encode_with(&v2, Value::Record(fields));
        assert_eq!(codec.decode::<Transaction>(&datum).unwrap(), tx);
    }
}

#[test]
fn current_reader_without_the_writer_schema_rejects_v2_records() {
    // Without the writer schema the extra field shifts every later one: the
    // bytes no longer mean what the reader thinks. This is why sources must be
    // told the writer schema (or check the Confluent schema id).
    let codec = avro();
    let v2 = transaction_v2_schema();
    let Value::Record(mut fields) = apache_avro::to_value(minimal_transaction()).unwrap() else {
        panic!("not a record")
    };
    let card_bin = Value::Union(1, Box::new(Value::String("411111".into())));
    fields.insert(3, ("card_bin".into(), card_bin));
    let datum = encode_with(&v2, Value::Record(fields));
    assert!(codec.decode::<Transaction>(&datum).is_err());
}

#[test]
fn unknown_enum_symbols_fall_back_to_the_default() {
    let _ = avro();
    let mut json: serde_json::Value =
        serde_json::from_str(&schema_file_text("alert.avsc")).unwrap();
    let severity = &mut json["fields"][5]["type"];
    assert_eq!(severity["name"], "Severity");
    severity["symbols"]
        .as_array_mut()
        .unwrap()
        .push("URGENT".into());
    let newer = Schema::parse(&json).unwrap();

    let Value::Record(mut fields) = apache_avro::to_value(full_alert()).unwrap() else {
        panic!("not a record")
    };
    fields[5].1 = Value::Enum(4, "URGENT".into());
    let datum = encode_with(&newer, Value::Record(fields));
    let alert: Alert = avro().with_writer_schema(newer).decode(&datum).unwrap();
    assert_eq!(alert.severity, Severity::High);
}

// ---- (c) documentation ---------------------------------------------------

fn undocumented(path: &str, node: &serde_json::Value, missing: &mut Vec<String>) {
    match node {
        serde_json::Value::Array(items) => {
            for item in items {
                undocumented(path, item, missing);
            }
        }
        serde_json::Value::Object(object) => {
            let kind = object.get("type").and_then(|kind| kind.as_str());
            let named = matches!(kind, Some("record" | "enum" | "fixed"));
            let is_field = object.contains_key("name") && !named;
            let here = match object.get("name").and_then(|name| name.as_str()) {
                Some(name) => format!("{path}/{name}"),
                None => path.to_owned(),
            };
            if named || is_field {
                let doc = object.get("doc").and_then(|doc| doc.as_str()).unwrap_or("");
                if doc.trim().is_empty() {
                    missing.push(here.clone());
                }
            }
            for key in ["type", "fields", "items", "values"] {
                if let Some(child) = object.get(key) {
                    undocumented(&here, child, missing);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn every_record_enum_and_field_has_a_doc() {
    for entry in std::fs::read_dir(schema_dir()).unwrap() {
        let path = entry.unwrap().path();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut missing = Vec::new();
        undocumented("", &json, &mut missing);
        assert!(
            missing.is_empty(),
            "{} lacks docs on {missing:?}",
            path.display()
        );
    }
}

#[test]
fn doc_check_notices_a_missing_doc() {
    let json = serde_json::json!({"type": "record", "name": "R", "doc": "r", "fields": [
        {"name": "documented", "type": "string", "doc": "yes"},
        {"name": "bare", "type": {"type": "enum", "name": "E", "symbols": ["A"]}, "doc": " "}
    ]});
    let mut missing = Vec::new();
    undocumented("", &json, &mut missing);
    assert_eq!(missing, ["/R/bare", "/R/bare/E"]);
}

#[test]
fn optional_fields_default_to_null_and_timestamps_are_logical() {
    for entry in std::fs::read_dir(schema_dir()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        check_fields(&path, &json);
    }
}

fn check_fields(file: &Path, node: &serde_json::Value) {
    match node {
        serde_json::Value::Array(items) => items.iter().for_each(|item| check_fields(file, item)),
        serde_json::Value::Object(object) => {
            if let (Some(name), Some(field_type)) = (object.get("name"), object.get("type")) {
                check_field(
                    file,
                    name.as_str().unwrap_or(""),
                    field_type,
                    object.get("default"),
                );
            }
            object.values().for_each(|child| check_fields(file, child));
        }
        _ => {}
    }
}

fn check_field(
    file: &Path,
    name: &str,
    field_type: &serde_json::Value,
    default: Option<&serde_json::Value>,
) {
    let file = file.display();
    let value_type = match field_type {
        serde_json::Value::Array(union) => {
            assert_eq!(union.len(), 2, "{file}: {name}");
            assert_eq!(union[0], "null", "{file}: {name} must be [\"null\", T]");
            assert_eq!(
                default,
                Some(&serde_json::Value::Null),
                "{file}: {name} needs default null"
            );
            &union[1]
        }
        other => other,
    };
    let is_time = name == "timestamp" || name.ends_with("_at") || name.ends_with("_time");
    if is_time {
        let expected = serde_json::json!({"type": "long", "logicalType": "timestamp-millis"});
        assert_eq!(value_type, &expected, "{file}: {name}");
    }
}

/// The decision schema before the agent field: the field was added with a
/// null default, so old and new readers and writers understand each other.
fn decision_without_agent_schema() -> Schema {
    let mut json: serde_json::Value =
        serde_json::from_str(&schema_file_text("decision.avsc")).unwrap();
    let fields = json["fields"].as_array_mut().unwrap();
    let agent = fields.pop().unwrap();
    assert_eq!(agent["name"], "agent");
    Schema::parse(&json).unwrap()
}

#[test]
fn decisions_before_the_agent_field_stay_compatible() {
    let codec = avro();
    let old = decision_without_agent_schema();
    apache_avro::schema_compatibility::SchemaCompatibility::mutual_read(&old, Decision::schema())
        .unwrap();
    let Value::Record(mut fields) = apache_avro::to_value(full_decision()).unwrap() else {
        panic!("not a record")
    };
    fields.retain(|(name, _)| name != "agent");
    let datum = encode_with(&old, Value::Record(fields));
    let read = codec
        .clone()
        .with_writer_schema(old)
        .decode::<Decision>(&datum)
        .unwrap();
    assert_eq!(
        read,
        Decision {
            agent: None,
            ..full_decision()
        }
    );
}
