//! Two replicas of the real binary share a stream's shards through DynamoDB
//! leases (moto) over kinesis-local; one is killed with SIGKILL and the other
//! takes its shards over from their checkpoints, with the windows of their
//! customers restored from the shard snapshots in S3 (moto).

mod kinesis_common;
mod support;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use kinesis_common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use support::{free_port, LocalServer};

const TABLE: &str = "leases-test";
const BUCKET: &str = "fd-snapshots";
const TRAVELLERS: usize = 24;

/// A replica of the binary checkpointing every `checkpoint_interval`.
fn replica(
    dir: &std::path::Path,
    worker: &str,
    checkpoint_interval: &str,
    kinesis: &str,
    dynamo: &str,
) -> LocalServer {
    let yaml = format!(
        "sources:
  tx:
    type: kinesis
    stream_name: tx-leases
    aws: {{endpoint: {kinesis}}}
    poll_interval: 100ms
    checkpoint_interval: {checkpoint_interval}
    leases: {{table: {TABLE}, worker_id: {worker}, lease_duration: 3s, aws: {{endpoint: {dynamo}}}}}
    snapshots: {{bucket: {BUCKET}, prefix: state/, aws: {{endpoint: {dynamo}}}}}
    decisions_readback: {{stream_name: decisions-leases, aws: {{endpoint: {kinesis}}}}}
sinks:
  decisions: {{type: kinesis, stream_name: decisions-leases, aws: {{endpoint: {kinesis}}}}}
  dead_letters: {{type: kinesis, stream_name: dead-leases, aws: {{endpoint: {kinesis}}}}}
engine: {{workers: 2, batch_size: 64}}
"
    );
    let path = dir.join(format!("{worker}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    let port = free_port();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fraud-detector"));
    command
        .args(["run", "--topology"])
        .arg(&path)
        .args(["--http", &format!("127.0.0.1:{port}")])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    LocalServer::start(command, port, worker)
}

fn dynamodb(url: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Shard id → `attribute` (lease_owner, checkpoint), as the lease table says now.
async fn leases(client: &aws_sdk_dynamodb::Client, attribute: &str) -> BTreeMap<String, String> {
    let Ok(scan) = client.scan().table_name(TABLE).send().await else {
        return BTreeMap::new();
    };
    scan.items()
        .iter()
        .filter_map(|item| {
            let text = |key: &str| item.get(key)?.as_s().ok().cloned();
            Some((text("shard_id")?, text(attribute)?))
        })
        .collect()
}

async fn owners(client: &aws_sdk_dynamodb::Client) -> BTreeMap<String, String> {
    leases(client, "lease_owner").await
}

fn wait_for<T>(what: &str, seconds: u64, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// For each of `customers` travellers, a card-present purchase in New York at
/// `at` (epoch ms) and, with `later`, one in Moscow 30 minutes after it: an
/// impossible trip only for a replica that knows about New York.
fn travellers(customers: usize, at: i64, later: bool) -> Vec<(String, Vec<u8>)> {
    (0..customers)
        .map(|n| {
            let customer = format!("C-TRAVEL-{n}");
            let (id, place, time) = match later {
                false => (format!("T-NY-{n}"), "New York, NY", at),
                true => (format!("T-MOW-{n}"), "Moscow, Russia", at + 30 * 60 * 1000),
            };
            let transaction = serde_json::json!({"transaction_id": id, "customer_id": customer,
                "amount": 80.0, "timestamp": time, "location": place, "device_id": format!("phone-{n}"),
                "card_present": true});
            (customer, transaction.to_string().into_bytes())
        })
        .collect()
}

fn newest_timestamp(records: &[(String, Vec<u8>)]) -> i64 {
    records
        .iter()
        .filter_map(|(_, data)| {
            serde_json::from_slice::<fraud_detector::domain::Transaction>(data)
                .ok()?
                .timestamp
        })
        .max()
        .unwrap()
}

#[test]
fn replicas_split_the_shards_and_a_killed_ones_shards_resume_from_its_checkpoints() {
    let moto = support::moto();
    let server = kinesis_local();
    let kinesis = client(&server.url());
    let dynamo = dynamodb(&moto.url());
    let rt = runtime();
    rt.block_on(async {
        create_stream(&kinesis, "tx-leases", 4).await;
        create_stream(&kinesis, "decisions-leases", 2).await;
        create_stream(&kinesis, "dead-leases", 1).await;
    });
    let bucket = reqwest::blocking::Client::new()
        .put(format!("{}/{BUCKET}", moto.url()))
        .send()
        .unwrap();
    assert!(bucket.status().is_success(), "{:?}", bucket.text());
    let dir = tempfile::tempdir().unwrap();
    // A checkpoints seldom, so that it dies with decisions written past them.
    let mut a = replica(
        dir.path(),
        "replica-a",
        "2500ms",
        &server.url(),
        &moto.url(),
    );
    let _b = replica(dir.path(), "replica-b", "500ms", &server.url(), &moto.url());

    let generated = transactions(23, 800);
    let (first, rest) = generated.split_at(300);
    let (middle, second) = rest.split_at(200);
    let at = newest_timestamp(first);
    let first = [first, &travellers(TRAVELLERS, at, false)].concat();
    let second = [second, &travellers(TRAVELLERS, at, true)].concat();
    let expected: BTreeSet<String> = field(&[&first, middle, &second].concat(), "transaction_id")
        .into_iter()
        .collect();
    let total = expected.len();
    let split = wait_for("two replicas holding two shards each", 60, || {
        let owners = rt.block_on(owners(&dynamo));
        let mut held: BTreeMap<String, usize> = BTreeMap::new();
        for owner in owners.values() {
            *held.entry(owner.clone()).or_default() += 1;
        }
        (held.get("replica-a") == Some(&2) && held.get("replica-b") == Some(&2)).then_some(held)
    });
    assert_eq!(split.len(), 2, "{split:?}");
    // Put only once the shards are split: a lease moving between two live
    // replicas replays what the loser read after its last checkpoint.
    rt.block_on(put(&kinesis, "tx-leases", &first));
    wait_for("the first decisions", 60, || {
        (rt.block_on(read_all(&kinesis, "decisions-leases")).len() >= first.len()).then_some(())
    });
    // Every shard checkpointed (and snapshotted) past New York.
    let newest = rt.block_on(last_sequence_numbers(&kinesis, "tx-leases"));
    wait_for("checkpoints at every shard's newest record", 60, || {
        let checkpoints = rt.block_on(leases(&dynamo, "checkpoint"));
        newest
            .iter()
            .all(|(shard, sequence)| checkpoints.get(shard) == Some(sequence))
            .then_some(())
    });
    // Then kill A with decisions written past its last checkpoint: B reads
    // them again and must not decide them twice.
    let mut unsent = middle.chunks(50);
    let mut sent = first.len();
    let mut behind = false;
    for batch in unsent.by_ref() {
        rt.block_on(put(&kinesis, "tx-leases", batch));
        sent += batch.len();
        wait_for("the batch's decisions", 60, || {
            (rt.block_on(read_all(&kinesis, "decisions-leases")).len() >= sent).then_some(())
        });
        let newest = rt.block_on(last_sequence_numbers(&kinesis, "tx-leases"));
        let checkpoints = rt.block_on(leases(&dynamo, "checkpoint"));
        let owners = rt.block_on(owners(&dynamo));
        behind = newest.iter().any(|(shard, sequence)| {
            owners.get(shard).map(String::as_str) == Some("replica-a")
                && checkpoints.get(shard) != Some(sequence)
        });
        if behind {
            break;
        }
    }
    assert!(behind, "replica-a was never caught past its checkpoints");
    a.kill();
    let rest: Vec<_> = unsent.flatten().cloned().collect();
    rt.block_on(put(&kinesis, "tx-leases", &[rest, second].concat()));
    let written = wait_for("all decisions after the takeover", 90, || {
        let written = rt.block_on(read_all(&kinesis, "decisions-leases"));
        let unique: BTreeSet<String> = field(&written, "transaction_id").into_iter().collect();
        (unique.len() >= total).then_some(written)
    });
    let ids = field(&written, "transaction_id");
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique, expected, "no decision lost");
    // A few more intervals: a replay from anywhere but the checkpoint would add copies.
    std::thread::sleep(Duration::from_secs(2));
    let written = rt.block_on(read_all(&kinesis, "decisions-leases"));
    assert_eq!(written.len(), total, "no decision duplicated");
    // Every Moscow purchase is caught, also those of customers whose shard
    // moved: the new owner restored their New York purchase from the snapshot.
    let missed: Vec<String> = written
        .iter()
        .filter_map(|(_, data)| serde_json::from_slice::<serde_json::Value>(data).ok())
        .filter(|decision| {
            decision["transaction_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("T-MOW-"))
        })
        .filter(|decision| {
            !decision["reasons"]
                .to_string()
                .contains("IMPOSSIBLE_TRAVEL")
        })
        .map(|decision| decision["customer_id"].to_string())
        .collect();
    assert!(missed.is_empty(), "impossible travel missed for {missed:?}");
    // What A decided past its checkpoints came back to B as input: folded
    // into state, each with a dead letter saying where its decision is.
    let letters = rt.block_on(read_all(&kinesis, "dead-leases"));
    let reasons = field(&letters, "reason");
    assert!(
        !reasons.is_empty(),
        "nothing was read again past a checkpoint"
    );
    assert!(
        reasons
            .iter()
            .all(|reason| reason.contains("previous owner")),
        "{reasons:?}"
    );
    let owners = rt.block_on(owners(&dynamo));
    assert!(
        owners.values().all(|owner| owner == "replica-b"),
        "{owners:?}"
    );
}
