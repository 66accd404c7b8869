//! The broker dies (SIGKILL) and comes back while the detector runs: the
//! detector reconnects by itself and every transaction is still decided
//! exactly once. tansu keeps its data in S3 (moto, the local emulator) so
//! that a restart keeps topics, records and the group's offsets.

mod kafka_support;
mod support;

use fraud_detector::domain::Decision;
use kafka_support::{wait_for, Tansu};
use std::collections::HashSet;

const PARTITIONS: i32 = 2;

fn records(from: usize, to: usize) -> Vec<(String, Vec<u8>)> {
    (from..to)
        .map(|index| {
            let customer = format!("c{}", index % 50);
            let json = format!(
                r#"{{"transaction_id":"r{index}","customer_id":"{customer}","amount":20,"timestamp":"2025-12-03T09:00:00Z"}}"#
            );
            (customer, json.into_bytes())
        })
        .collect()
}

#[test]
fn the_detector_recovers_by_itself_after_a_broker_restart() {
    let moto = support::moto();
    let mut broker = Tansu::start_durable(&moto.url());
    broker.create_topic("tx", PARTITIONS);
    let dir = tempfile::tempdir().unwrap();
    let topology = dir.path().join("kafka.yaml");
    let yaml = kafka_support::topology_yaml(&broker.bootstrap(), "tx", "b", "json");
    std::fs::write(&topology, yaml).unwrap();
    let log_file = dir.path().join("detector.log");
    let detector_log = || std::fs::read_to_string(&log_file).unwrap_or_default();
    let decided = |broker: &Tansu| {
        kafka_support::committed_json::<Decision>(broker, "b-decisions", PARTITIONS)
    };

    broker.produce("tx", &records(0, 300));
    let mut detector = kafka_support::spawn_detector(&topology, &log_file, 0);
    wait_for(
        "decisions before the broker restart",
        120,
        detector_log,
        || decided(&broker).len() >= 300,
    );

    broker.kill_and_restart();
    broker.produce("tx", &records(300, 600));
    wait_for(
        "decisions after the broker restart",
        150,
        detector_log,
        || decided(&broker).len() >= 600,
    );
    let status = kafka_support::terminate(&mut detector);
    assert!(status.success(), "{status}\n{}", detector_log());

    let decisions = decided(&broker);
    let ids: HashSet<&str> = decisions
        .iter()
        .map(|decision| decision.transaction_id.as_str())
        .collect();
    assert_eq!(ids.len(), decisions.len(), "no decision twice");
    assert_eq!(ids.len(), 600, "none lost");
}
