//! Kinesis in, Kinesis out, through the real pipeline and a real local
//! Kinesis server (kinesis-local, installed by scripts/install-kinesis-local.sh).

mod kinesis_common;
mod support;

use fraud_detector::sources::kinesis::kpl;
use fraud_detector::telemetry::{self, Telemetry};
use kinesis_common::*;
use std::collections::BTreeSet;
use std::sync::Arc;

fn topology(url: &str, input: &str, decisions: &str, dead: &str) -> String {
    format!(
        "sources:
  tx:
    type: kinesis
    stream_name: {input}
    aws: {{endpoint: {url}}}
    poll_interval: 100ms
    checkpoint_interval: 1s
sinks:
  decisions: {{type: kinesis, stream_name: {decisions}, aws: {{endpoint: {url}}}}}
  dead_letters: {{type: kinesis, stream_name: {dead}, aws: {{endpoint: {url}}}}}
engine: {{workers: 2, batch_size: 64}}
"
    )
}

/// Runs the topology until `done` says the counters show everything, then stops it.
fn run_until(yaml: &str, done: impl Fn(u64, u64) -> bool) -> Arc<Telemetry> {
    let running = start(yaml);
    running.wait_until(90, |counters| {
        done(counters.decisions(), counters.dead_letters())
    });
    running.stop()
}

#[test]
fn n_transactions_in_n_decisions_out_and_malformed_records_dead_lettered() {
    local_credentials();
    let server = kinesis_local();
    let client = client(&server.url());
    let rt = runtime();
    let (input, decisions, dead) = ("tx-basic", "decisions-basic", "dead-basic");
    rt.block_on(async {
        create_stream(&client, input, 3).await;
        create_stream(&client, decisions, 2).await;
        create_stream(&client, dead, 1).await;
    });

    let generated = transactions(11, 400);
    let mut records = generated[..397].to_vec();
    // Three transactions packed into one KPL aggregated record.
    let packed: Vec<(&str, &[u8])> = generated[397..]
        .iter()
        .map(|(key, data)| (key.as_str(), data.as_slice()))
        .collect();
    records.push(("agg".into(), kpl::aggregate(&packed)));
    records.push(("bad".into(), b"{\"transaction_id\": \"T-broken\"".to_vec()));
    records.push((
        "bad".into(),
        br#"{"transaction_id":"T-noamount","customer_id":"C-1"}"#.to_vec(),
    ));
    rt.block_on(put(&client, input, &records));

    let telemetry = run_until(&topology(&server.url(), input, decisions, dead), |d, l| {
        d >= 400 && l >= 2
    });

    let written = rt.block_on(read_all(&client, decisions));
    let ids = field(&written, "transaction_id");
    let expected: BTreeSet<String> = field(&generated, "transaction_id").into_iter().collect();
    assert_eq!(ids.len(), 400, "one decision per transaction, no more");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), expected);

    // Per customer, decisions come out in input order (each customer's
    // records share a shard in and out; the aggregate went to another shard).
    let plain: BTreeSet<String> = field(&generated[..397], "transaction_id")
        .into_iter()
        .collect();
    let keep = |id: &str| plain.contains(id);
    assert_eq!(per_customer(&written, keep), per_customer(&generated, keep));

    let letters = rt.block_on(read_all(&client, dead));
    let reasons = field(&letters, "reason");
    assert_eq!(letters.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("amount")), "{reasons:?}");
    assert!(
        field(&letters, "position")
            .iter()
            .all(|p| p.contains("sequence")),
        "dead letters name the shard and sequence number"
    );

    let metrics = telemetry::render(&telemetry);
    assert!(
        metrics.contains("fraud_source_iterator_age_seconds{source=\"tx\",shard=\"shardId-"),
        "{metrics}"
    );
}

#[test]
fn after_a_split_children_are_read_only_once_the_parent_is_done() {
    read_across_a_split("split", "max_records: 10");
}

/// The same with enhanced fan-out: records pushed over SubscribeToShard to a
/// registered consumer, the parent's end announced by its last event.
#[test]
fn enhanced_fan_out_reads_every_record_once_across_a_split() {
    read_across_a_split("efo", "enhanced_fan_out: {consumer_name: fraud-detector}");
}

/// 200 transactions on one shard, a split, 200 more on its children; the
/// source (with `setting`) must decide each once, in customer order.
fn read_across_a_split(name: &str, setting: &str) {
    local_credentials();
    let server = kinesis_local();
    let client = client(&server.url());
    let rt = runtime();
    let (input, decisions, dead) = (
        &format!("tx-{name}"),
        &format!("decisions-{name}"),
        &format!("dead-{name}"),
    );
    rt.block_on(async {
        create_stream(&client, input, 1).await;
        create_stream(&client, decisions, 2).await;
        create_stream(&client, dead, 1).await;
    });
    let generated = transactions(5, 400);
    let (before, after) = generated.split_at(200);
    rt.block_on(async {
        put(&client, input, before).await;
        client
            .split_shard()
            .stream_name(input)
            .shard_to_split("shardId-000000000000")
            .new_starting_hash_key("170141183460469231731687303715884105728")
            .send()
            .await
            .unwrap();
        wait_active(&client, input).await;
        // Same customers, now hashed to the two children.
        put(&client, input, after).await;
    });

    // Small GetRecords pages: the parent takes many polls to drain while
    // the children already hold the later records.
    let yaml = topology(&server.url(), input, decisions, dead).replace(
        "poll_interval: 100ms",
        &format!("poll_interval: 100ms\n    {setting}"),
    );
    run_until(&yaml, |d, _| d >= 400);

    let written = rt.block_on(read_all(&client, decisions));
    assert_eq!(written.len(), 400, "nothing lost, nothing twice");
    let all = |_: &str| true;
    assert_eq!(per_customer(&written, all), per_customer(&generated, all));
}

/// kinesis-local neither throttles nor expires iterators: a proxy in front of
/// it does (see `faults`). The detector reads and writes through the proxy;
/// the test puts and reads back directly.
#[test]
fn throttled_reads_expired_iterators_and_refused_entries_are_retried() {
    use kinesis_common::faults::{FaultProxy, Faults};
    use std::sync::atomic::Ordering;
    local_credentials();
    let server = kinesis_local();
    let client = client(&server.url());
    let rt = runtime();
    let (input, decisions, dead) = ("tx-faults", "decisions-faults", "dead-faults");
    rt.block_on(async {
        create_stream(&client, input, 2).await;
        create_stream(&client, decisions, 2).await;
        create_stream(&client, dead, 1).await;
    });
    let generated = transactions(23, 300);
    rt.block_on(put(&client, input, &generated));
    let faults = Faults {
        throttle_every: 3,
        expire_every: 7,
        fail_entry_every: 5,
        put_delay: std::time::Duration::ZERO,
    };
    let proxy = FaultProxy::start(&server.url(), faults);
    let yaml = topology(&proxy.url, input, decisions, dead).replace(
        "poll_interval: 100ms",
        "poll_interval: 100ms\n    max_records: 25",
    );
    run_until(&yaml, |d, _| d >= 300);

    let injected = &proxy.injected;
    let (throttled, expired, refused) = (
        injected.throttled_reads.load(Ordering::Relaxed),
        injected.expired_iterators.load(Ordering::Relaxed),
        injected.failed_entries.load(Ordering::Relaxed),
    );
    eprintln!("injected {throttled} throttled reads, {expired} expired iterators, {refused} refused entries");
    assert!(throttled > 0 && expired > 0 && refused > 0);
    let written = rt.block_on(read_all(&client, decisions));
    let ids = field(&written, "transaction_id");
    let expected: BTreeSet<String> = field(&generated, "transaction_id").into_iter().collect();
    assert_eq!(ids.len(), 300, "no decision lost or written twice");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), expected);
    assert!(rt.block_on(read_all(&client, dead)).is_empty());
}
