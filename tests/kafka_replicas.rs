//! Two detector replicas in one consumer group share the input partitions;
//! SIGTERM on one commits, leaves the group and exits 0, and its partitions
//! move with their state to the other, so impossible travel whose first leg
//! the stopped replica saw is still caught.

mod kafka_support;
mod support;

use fraud_detector::domain::Decision;
use kafka_support::{wait_for, Tansu};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Child;

const PARTITIONS: i32 = 4;
const TRAVELLERS: usize = 40;
const BULK: usize = 2_000;

struct Replica {
    child: Child,
    log: PathBuf,
}

impl Replica {
    fn start(topology: &Path, index: usize, dir: &Path) -> Replica {
        let log = dir.join(format!("replica-{index}.log"));
        let child = kafka_support::spawn_detector(topology, &log, index);
        Replica { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn owns_partitions(&self) -> bool {
        self.log().lines().any(|line| {
            line.contains("partitions assigned") && !line.contains(r#""assigned":"[]""#)
        })
    }

    /// SIGTERM, then the exit status and the run's report line.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let status = kafka_support::terminate(&mut self.child);
        (status, self.log())
    }
}

fn travel(index: usize, place: &str, time: &str, leg: u8) -> (String, Vec<u8>) {
    let customer = format!("t{index}");
    let json = format!(
        r#"{{"transaction_id":"T{index}-{leg}","customer_id":"{customer}","amount":25,"location":"{place}","timestamp":"{time}","card_present":true,"device_id":"d{index}"}}"#
    );
    (customer, json.into_bytes())
}

fn decisions(broker: &Tansu) -> Vec<Decision> {
    kafka_support::committed_json(broker, "r-decisions", PARTITIONS)
}

fn logs<'a>(replicas: &'a [&'a Replica]) -> impl Fn() -> String + 'a {
    move || {
        let logs: Vec<String> = replicas.iter().map(|replica| replica.log()).collect();
        logs.join("\n---\n")
    }
}

#[test]
fn two_replicas_share_partitions_and_a_stopped_ones_state_moves_to_the_other() {
    let broker = Tansu::start();
    broker.create_topic("tx", PARTITIONS);
    let dir = tempfile::tempdir().unwrap();
    let topology = dir.path().join("kafka.yaml");
    let yaml = kafka_support::topology_yaml(&broker.bootstrap(), "tx", "r", "json");
    std::fs::write(&topology, yaml).unwrap();

    let zero = Replica::start(&topology, 0, dir.path());
    let one = Replica::start(&topology, 1, dir.path());
    wait_for(
        "both replicas to own partitions",
        90,
        logs(&[&zero, &one]),
        || zero.owns_partitions() && one.owns_partitions(),
    );

    let mut first: Vec<(String, Vec<u8>)> = (0..TRAVELLERS)
        .map(|index| travel(index, "New York, NY", "2025-12-01T18:00:00Z", 1))
        .collect();
    first.extend((0..BULK).map(|index| {
        let customer = format!("c{}", index % 300);
        let json = format!(
            r#"{{"transaction_id":"b{index}","customer_id":"{customer}","amount":30,"timestamp":"2025-12-01T12:00:00Z"}}"#
        );
        (customer, json.into_bytes())
    }));
    broker.produce("tx", &first);
    wait_for("the first legs", 90, logs(&[&zero, &one]), || {
        decisions(&broker).len() >= first.len()
    });

    let (status, log) = one.terminate();
    assert!(status.success(), "SIGTERM exits 0: {status}\n{log}");
    let read_by_one = log
        .lines()
        .find_map(|line| {
            line.strip_prefix("read ")?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .unwrap_or_else(|| panic!("no run report from replica 1:\n{log}"));
    assert!(read_by_one > 0, "replica 1 shared the work:\n{log}");

    let second: Vec<(String, Vec<u8>)> = (0..TRAVELLERS)
        .map(|index| travel(index, "Moscow, Russia", "2025-12-01T18:30:00Z", 2))
        .collect();
    broker.produce("tx", &second);
    let expected = first.len() + second.len();
    wait_for(
        "the second legs on the remaining replica",
        90,
        logs(&[&zero]),
        || decisions(&broker).len() >= expected,
    );
    let (status, log) = zero.terminate();
    assert!(status.success(), "SIGTERM exits 0: {status}\n{log}");

    let decisions = decisions(&broker);
    let mut seen: HashMap<&str, &Decision> = HashMap::new();
    for decision in &decisions {
        assert!(
            seen.insert(&decision.transaction_id, decision).is_none(),
            "decided twice: {}",
            decision.transaction_id
        );
    }
    assert_eq!(seen.len(), expected);
    for index in 0..TRAVELLERS {
        let second_leg = seen[format!("T{index}-2").as_str()];
        assert!(
            second_leg
                .reason_codes()
                .iter()
                .any(|code| code.as_str() == "IMPOSSIBLE_TRAVEL"),
            "traveller {index}'s first leg was restored: {second_leg:?}"
        );
    }
}
