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

/// A replica of the binary checkpointing every `checkpoint_interval`, writing
/// its decisions through `decisions` (kinesis-local, or a proxy before it).
fn replica(
    dir: &std::path::Path,
    worker: &str,
    checkpoint_interval: &str,
    kinesis: &str,
    decisions: &str,
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
  decisions: {{type: kinesis, stream_name: decisions-leases, aws: {{endpoint: {decisions}}}}}
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
    LocalServer::start_logging(command, port, worker, &dir.join(format!("{worker}.log")))
}

/// What the replicas logged about leases, for a failure's message.
fn lease_log(dir: &std::path::Path) -> String {
    ["replica-a", "replica-b"]
        .iter()
        .flat_map(|worker| {
            let log =
                std::fs::read_to_string(dir.join(format!("{worker}.log"))).unwrap_or_default();
            let lines: Vec<String> = log
                .lines()
                .filter(|line| {
                    ["lease", "read back", "retrying"]
                        .iter()
                        .any(|word| line.contains(word))
                })
                .map(|line| format!("{worker}: {line}"))
                .collect();
            lines
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// kinesis-local with the three streams, moto with the snapshot bucket, and
/// a directory for the replicas' topologies and logs.
struct Local {
    moto: LocalServer,
    kinesis_server: LocalServer,
    kinesis: aws_sdk_kinesis::Client,
    dynamo: aws_sdk_dynamodb::Client,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl Local {
    fn start() -> Local {
        let moto = support::moto();
        let kinesis_server = kinesis_local();
        let kinesis = client(&kinesis_server.url());
        let rt = runtime();
        create_streams(&rt, &kinesis);
        create_bucket(&moto);
        Local {
            dynamo: dynamodb(&moto.url()),
            kinesis,
            rt,
            moto,
            kinesis_server,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A replica writing its decisions to kinesis-local, or through `decisions`.
    fn replica(
        &self,
        worker: &str,
        checkpoint_interval: &str,
        decisions: Option<&str>,
    ) -> LocalServer {
        let kinesis = self.kinesis_server.url();
        let decisions = decisions.map_or(kinesis.clone(), str::to_owned);
        replica(
            self.dir.path(),
            worker,
            checkpoint_interval,
            &kinesis,
            &decisions,
            &self.moto.url(),
        )
    }
}

fn create_bucket(moto: &LocalServer) {
    let bucket = reqwest::blocking::Client::new()
        .put(format!("{}/{BUCKET}", moto.url()))
        .send()
        .unwrap();
    assert!(bucket.status().is_success(), "{:?}", bucket.text());
}

fn create_streams(rt: &tokio::runtime::Runtime, kinesis: &aws_sdk_kinesis::Client) {
    rt.block_on(async {
        create_stream(kinesis, "tx-leases", 4).await;
        create_stream(kinesis, "decisions-leases", 2).await;
        create_stream(kinesis, "dead-leases", 1).await;
    });
}

fn wait_for_two_shards_each(rt: &tokio::runtime::Runtime, dynamo: &aws_sdk_dynamodb::Client) {
    wait_for("two replicas holding two shards each", 60, || {
        let owners = rt.block_on(owners(dynamo));
        let mut held: BTreeMap<String, usize> = BTreeMap::new();
        for owner in owners.values() {
            *held.entry(owner.clone()).or_default() += 1;
        }
        (held.get("replica-a") == Some(&2) && held.get("replica-b") == Some(&2)).then_some(())
    });
}

/// Every decision's transaction once: the duplicated ones named otherwise.
fn assert_decided_once(written: &[(String, Vec<u8>)], expected: usize, dir: &std::path::Path) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for id in field(written, "transaction_id") {
        *counts.entry(id).or_default() += 1;
    }
    let twice: Vec<&String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(
        twice.is_empty() && written.len() == expected,
        "{} decisions for {expected} transactions; decided more than once: {twice:?}\n{}",
        written.len(),
        lease_log(dir)
    );
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
    let local = Local::start();
    let (rt, kinesis, dynamo, dir) = (&local.rt, &local.kinesis, &local.dynamo, &local.dir);
    // A checkpoints seldom, so that it dies with decisions written past them.
    let mut a = local.replica("replica-a", "2500ms", None);
    let _b = local.replica("replica-b", "500ms", None);

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
    wait_for_two_shards_each(rt, dynamo);
    // Put only once the shards are split: a lease moving between two live
    // replicas replays what the loser read after its last checkpoint.
    rt.block_on(put(kinesis, "tx-leases", &first));
    wait_for("the first decisions", 60, || {
        (rt.block_on(read_all(kinesis, "decisions-leases")).len() >= first.len()).then_some(())
    });
    // Every shard checkpointed (and snapshotted) past New York.
    let newest = rt.block_on(last_sequence_numbers(kinesis, "tx-leases"));
    wait_for("checkpoints at every shard's newest record", 60, || {
        let checkpoints = rt.block_on(leases(dynamo, "checkpoint"));
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
        rt.block_on(put(kinesis, "tx-leases", batch));
        sent += batch.len();
        wait_for("the batch's decisions", 60, || {
            (rt.block_on(read_all(kinesis, "decisions-leases")).len() >= sent).then_some(())
        });
        let newest = rt.block_on(last_sequence_numbers(kinesis, "tx-leases"));
        let checkpoints = rt.block_on(leases(dynamo, "checkpoint"));
        let owners = rt.block_on(owners(dynamo));
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
    rt.block_on(put(kinesis, "tx-leases", &[rest, second].concat()));
    let written = wait_for("all decisions after the takeover", 90, || {
        let written = rt.block_on(read_all(kinesis, "decisions-leases"));
        let unique: BTreeSet<String> = field(&written, "transaction_id").into_iter().collect();
        (unique.len() >= total).then_some(written)
    });
    let ids = field(&written, "transaction_id");
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique, expected, "no decision lost");
    // A few more intervals: a replay from anywhere but the checkpoint would add copies.
    std::thread::sleep(Duration::from_secs(2));
    let written = rt.block_on(read_all(kinesis, "decisions-leases"));
    assert_decided_once(&written, total, dir.path());
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
    let letters = rt.block_on(read_all(kinesis, "dead-leases"));
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
    let owners = rt.block_on(owners(dynamo));
    assert!(
        owners.values().all(|owner| owner == "replica-b"),
        "{owners:?}"
    );
}

/// A replica whose decisions take longer to write than a lease lasts is slow,
/// not dead: its checkpoint waits for them, but its leases are renewed all
/// along, so the other replica takes none and nothing is decided twice.
#[test]
fn a_replica_slow_to_write_its_decisions_keeps_its_leases() {
    let local = Local::start();
    let (rt, kinesis, dynamo, dir) = (&local.rt, &local.kinesis, &local.dynamo, &local.dir);
    let slow = faults::FaultProxy::start(
        &local.kinesis_server.url(),
        faults::Faults::slow_puts(Duration::from_secs(5)),
    );
    let _a = local.replica("replica-a", "500ms", Some(&slow.url));
    let _b = local.replica("replica-b", "500ms", None);
    wait_for_two_shards_each(rt, dynamo);
    let before = rt.block_on(owners(dynamo));

    let sent = transactions(29, 200);
    rt.block_on(put(kinesis, "tx-leases", &sent));
    let mut moved = Vec::new();
    wait_for("every decision", 90, || {
        let owners = rt.block_on(owners(dynamo));
        if owners != before {
            moved.push(owners);
        }
        let written = rt.block_on(read_all(kinesis, "decisions-leases"));
        let unique: BTreeSet<String> = field(&written, "transaction_id").into_iter().collect();
        (unique.len() >= sent.len()).then_some(())
    });
    // Another slow write's time: a second reader of a shard would add copies.
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        moved.is_empty(),
        "leases moved from {before:?} to {moved:?}\n{}",
        lease_log(dir.path())
    );
    let written = rt.block_on(read_all(kinesis, "decisions-leases"));
    assert_decided_once(&written, sent.len(), dir.path());
}

/// Scaling out while records flow: the replica holding every shard hands
/// the newcomer its share, each shard once checkpointed where its reading
/// stopped, so no record is decided by both.
#[test]
fn a_joining_replica_is_handed_its_share_while_records_flow() {
    let local = Local::start();
    let (rt, kinesis, dynamo, dir) = (&local.rt, &local.kinesis, &local.dynamo, &local.dir);
    let _a = local.replica("replica-a", "500ms", None);
    wait_for("replica-a holding every shard", 60, || {
        let owners = rt.block_on(owners(dynamo));
        (owners.len() == 4 && owners.values().all(|owner| owner == "replica-a")).then_some(())
    });

    let sent = transactions(31, 600);
    let mut chunks = sent.chunks(20);
    for chunk in chunks.by_ref().take(5) {
        rt.block_on(put(kinesis, "tx-leases", chunk));
    }
    let _b = local.replica("replica-b", "500ms", None);
    let split = Instant::now() + Duration::from_secs(60);
    let mut after_split = 0;
    for chunk in chunks.by_ref() {
        rt.block_on(put(kinesis, "tx-leases", chunk));
        std::thread::sleep(Duration::from_millis(200));
        let owners = rt.block_on(owners(dynamo));
        let b_holds = owners
            .values()
            .filter(|owner| *owner == "replica-b")
            .count();
        after_split += usize::from(b_holds == 2);
        assert!(Instant::now() < split, "no split: {owners:?}");
        if after_split == 3 {
            break;
        }
    }
    assert_eq!(after_split, 3, "the split came after the last record");
    let rest: Vec<_> = chunks.flatten().cloned().collect();
    rt.block_on(put(kinesis, "tx-leases", &rest));
    wait_for("every decision", 90, || {
        let written = rt.block_on(read_all(kinesis, "decisions-leases"));
        let unique: BTreeSet<String> = field(&written, "transaction_id").into_iter().collect();
        (unique.len() >= sent.len()).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let written = rt.block_on(read_all(kinesis, "decisions-leases"));
    assert_decided_once(&written, sent.len(), dir.path());
    let log = lease_log(dir.path());
    assert_eq!(log.matches("lease handed over").count(), 2, "{log}");
}
