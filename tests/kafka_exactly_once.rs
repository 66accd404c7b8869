//! kill -9 of the detector mid-stream, then a restart: a reader of the
//! decisions log sees every transaction decided exactly once (judged by the
//! log's own transaction markers), and a customer's windows survive the
//! crash through the changelog, so an impossible-travel pair that straddles
//! it is still caught.

mod kafka_support;
mod support;

use fraud_detector::domain::Decision;
use kafka_support::{log, wait_for, Tansu};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

const PARTITIONS: i32 = 3;
const BULK: usize = 12_000;

fn travel_leg(id: &str, place: &str, time: &str) -> (String, Vec<u8>) {
    let json = format!(
        r#"{{"transaction_id":"{id}","customer_id":"traveller","amount":40,"location":"{place}","timestamp":"{time}","card_present":true,"device_id":"dev-t"}}"#
    );
    ("traveller".into(), json.into_bytes())
}

fn bulk() -> Vec<(String, Vec<u8>)> {
    (0..BULK)
        .map(|index| {
            let customer = format!("c{}", index % 500);
            let json = format!(
                r#"{{"transaction_id":"b{index}","customer_id":"{customer}","amount":{},"timestamp":"2025-12-02T10:00:00Z","location":"Paris, France"}}"#,
                10 + index % 90
            );
            (customer, json.into_bytes())
        })
        .collect()
}

fn committed_decisions(broker: &Tansu) -> Vec<Decision> {
    kafka_support::committed_json(broker, "e-decisions", PARTITIONS)
}

fn read_log(path: &Path) -> impl Fn() -> String + '_ {
    move || std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn kill_9_mid_stream_then_restart_loses_and_duplicates_nothing_and_keeps_windows() {
    let broker = Tansu::start();
    broker.create_topic("tx", PARTITIONS);
    let dir = tempfile::tempdir().unwrap();
    let topology = dir.path().join("kafka.yaml");
    let yaml = kafka_support::topology_yaml(&broker.bootstrap(), "tx", "e", "json")
        .replace("max_wait_ms: 50", "max_wait_ms: 50\n    max_batch: 200");
    std::fs::write(&topology, yaml).unwrap();
    let log_file = dir.path().join("detector.log");

    broker.produce(
        "tx",
        &[travel_leg(
            "TRAVEL-1",
            "New York, NY",
            "2025-12-01T18:00:00Z",
        )],
    );
    let mut first = kafka_support::spawn_detector(&topology, &log_file, 0);
    // Feed the bulk while the detector runs, so the kill lands mid-stream.
    let bulk = bulk();
    let feeder = {
        let bootstrap = broker.bootstrap();
        std::thread::spawn(move || {
            for chunk in bulk.chunks(500) {
                kafka_support::produce(&bootstrap, "tx", chunk);
                std::thread::sleep(Duration::from_millis(150));
            }
        })
    };
    wait_for(
        "the first leg and part of the bulk",
        120,
        read_log(&log_file),
        || {
            let decisions = committed_decisions(&broker);
            decisions.len() > BULK / 4 && decisions.iter().any(|d| d.transaction_id == "TRAVEL-1")
        },
    );
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let before_restart = committed_decisions(&broker).len();
    broker.produce(
        "tx",
        &[travel_leg(
            "TRAVEL-2",
            "Moscow, Russia",
            "2025-12-01T18:30:00Z",
        )],
    );
    feeder.join().unwrap();

    let mut second = kafka_support::spawn_detector(&topology, &log_file, 0);
    let expected = BULK + 2;
    wait_for(
        "every decision after the restart",
        150,
        read_log(&log_file),
        || committed_decisions(&broker).len() >= expected,
    );
    let status = kafka_support::terminate(&mut second);
    let detector_log = std::fs::read_to_string(&log_file).unwrap_or_default();
    assert!(
        status.success(),
        "SIGTERM must exit 0: {status}\n{detector_log}"
    );

    let decisions = committed_decisions(&broker);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for decision in &decisions {
        *seen.entry(&decision.transaction_id).or_default() += 1;
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    assert_eq!(seen.len(), expected, "lost decisions");
    assert!(
        before_restart < expected,
        "the kill did not land mid-stream"
    );

    let second_leg = decisions
        .iter()
        .find(|d| d.transaction_id == "TRAVEL-2")
        .unwrap();
    assert!(
        second_leg
            .reason_codes()
            .iter()
            .any(|code| code.as_str() == "IMPOSSIBLE_TRAVEL"),
        "the window from before the crash was restored: {second_leg:?}"
    );
    let aborted = log::read(broker.port(), "e-decisions", PARTITIONS)
        .iter()
        .filter(|record| record.fate != log::Fate::Committed)
        .count();
    eprintln!(
        "{} committed before the kill, {aborted} aborted or open records in the log",
        before_restart
    );
}
