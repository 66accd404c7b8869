//! A malformed-input corpus through the real pipeline: every bad record is
//! dead-lettered with its reason, the good ones around it are decided, and
//! records in = decisions + dead letters.

mod support;

use fraud_detector::codecs::{Codec, CodecKind};
use fraud_detector::domain::{RejectKind, Transaction};
use fraud_detector::runtime::RunOptions;
use fraud_detector::sources::decode_transaction;
use std::io::Write;

const GOOD: &str = r#"{"transaction_id":"GOOD-1","customer_id":"C-1","amount":25.0,"location":"Paris, France","device_id":"d1"}"#;

/// (line bytes, expected kind, a word the reason must contain)
fn corpus() -> Vec<(Vec<u8>, RejectKind, &'static str)> {
    let line = |text: &str| text.as_bytes().to_vec();
    let mut invalid_utf8 = line(r#"{"transaction_id":"T-UTF","customer_id":"C-"#);
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    invalid_utf8.extend_from_slice(br#"","amount":5}"#);
    let huge = format!(
        r#"{{"transaction_id":"T-HUGE","customer_id":"C-1","amount":1,"merchant":"{}"}}"#,
        "x".repeat(10 << 20)
    );
    vec![
        (
            line(r#"{"transaction_id": "T-TRUNC", "customer_id""#),
            RejectKind::Decode,
            "EOF",
        ),
        (
            line(r#"{"transaction_id": 42, "customer_id": "C-1", "amount": 1}"#),
            RejectKind::Validation,
            "transaction_id",
        ),
        (
            line(r#"{"transaction_id": "T-STR", "customer_id": "C-1", "amount": "lots"}"#),
            RejectKind::Validation,
            "amount",
        ),
        (
            line(r#"{"transaction_id": "T-NEG", "customer_id": "C-1", "amount": -5}"#),
            RejectKind::Validation,
            "negative",
        ),
        (
            line(r#"{"transaction_id": "T-NAN", "customer_id": "C-1", "amount": NaN}"#),
            RejectKind::Decode,
            "expected value",
        ),
        (
            line(r#"{"transaction_id": "T-ABSURD", "customer_id": "C-1", "amount": 1e15}"#),
            RejectKind::Validation,
            "maximum",
        ),
        (
            line(r#"{"transaction_id": "T-NOCUST", "amount": 10}"#),
            RejectKind::Validation,
            "customer_id",
        ),
        (
            line(r#"{"transaction_id": "", "customer_id": "C-1", "amount": 10}"#),
            RejectKind::Validation,
            "transaction_id",
        ),
        (
            line(
                r#"{"transaction_id": "T-TS", "customer_id": "C-1", "amount": 10, "timestamp": "yesterday"}"#,
            ),
            RejectKind::Validation,
            "RFC 3339",
        ),
        (
            line(
                r#"{"transaction_id": "T-GEO", "customer_id": "C-1", "amount": 10, "latitude": 123, "longitude": 0}"#,
            ),
            RejectKind::Validation,
            "latitude",
        ),
        (line(r#"[1, 2, 3]"#), RejectKind::Validation, "JSON object"),
        (invalid_utf8, RejectKind::Decode, "unicode"),
        (huge.into_bytes(), RejectKind::Oversize, "exceeds"),
    ]
}

#[test]
fn every_bad_record_is_dead_lettered_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.jsonl");
    let mut file = std::fs::File::create(&input).unwrap();
    let corpus = corpus();
    writeln!(file, "{GOOD}").unwrap();
    for (bytes, _, _) in &corpus {
        file.write_all(bytes).unwrap();
        file.write_all(b"\n").unwrap();
        writeln!(
            file,
            "{}",
            GOOD.replace("GOOD-1", &format!("GOOD-{}", bytes.len()))
        )
        .unwrap();
    }
    drop(file);
    let out = dir.path().display().to_string();
    let topology = support::topology(&format!(
        "sources:\n  tx:\n    type: file\n    path: {}\nsinks:\n  decisions:\n    type: file\n    path: {out}/decisions.jsonl\n  dead_letters:\n    type: file\n    path: {out}/dead.jsonl\nengine:\n  workers: 2\n",
        input.display()
    ));
    let report = support::run(&topology, RunOptions::default());

    let counters = report.counters;
    assert_eq!(counters.transactions_in, 1 + 2 * corpus.len() as u64);
    assert_eq!(counters.decisions(), 1 + corpus.len() as u64);
    assert_eq!(counters.dead_letters(), corpus.len() as u64);
    assert!(counters.balanced());

    let dead = support::read_json_lines(&dir.path().join("dead.jsonl"));
    assert_eq!(dead.len(), corpus.len());
    for ((_, kind, word), letter) in corpus.iter().zip(&dead) {
        let reason = letter["reason"].as_str().unwrap();
        assert_eq!(letter["kind"], kind.as_str(), "{reason}");
        assert!(reason.contains(word), "`{reason}` should mention `{word}`");
        assert!(letter["position"].as_str().unwrap().starts_with("line "));
        assert!(letter["payload_len"].as_i64().unwrap() > 0);
    }
    let oversize = dead.last().unwrap();
    assert!(
        oversize["payload_len"].as_i64().unwrap() > 10 << 20,
        "the length of the original is kept"
    );
}

#[test]
fn binary_codecs_reject_bad_bytes_with_a_decode_reason() {
    let avro = Codec::new(CodecKind::Avro);
    let confluent = Codec::new(CodecKind::ConfluentAvro).with_schema_id(7);
    let good: Transaction = serde_json::from_str(GOOD).unwrap();
    let mut framed = Vec::new();
    confluent.encode(&good, &mut framed).unwrap();
    assert_eq!(framed[0], 0, "Confluent magic byte");
    assert_eq!(decode_transaction(&confluent, &framed).unwrap(), good);

    let mut wrong_magic = framed.clone();
    wrong_magic[0] = 1;
    let cases: Vec<(&Codec, Vec<u8>)> = vec![
        (&avro, vec![0xff; 7]),
        (&avro, framed[5..framed.len() / 2].to_vec()),
        (&confluent, wrong_magic),
        (&confluent, vec![0, 0, 0]),
        (&confluent, vec![]),
    ];
    for (codec, bytes) in cases {
        let (kind, reason) = decode_transaction(codec, &bytes).unwrap_err();
        assert_eq!(kind, RejectKind::Decode, "{reason}");
        assert!(!reason.is_empty());
    }
}
