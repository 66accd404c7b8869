//! The operator's view: probes and Prometheus metrics while the detector
//! runs on the generator, and counters that match the work done.

mod support;

use fraud_detector::runtime::{self, RunOptions};
use fraud_detector::telemetry::Telemetry;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// (status, body) of a plain HTTP/1.1 GET.
fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The value of one sample line, such as `fraud_decisions_total{action="BLOCK"}`.
fn sample(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
        .trim()
        .parse()
        .unwrap()
}

fn wait_until(mut ready: impl FnMut() -> bool) {
    for _ in 0..100 {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out");
}

#[test]
fn probes_and_metrics_follow_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display();
    let topology = support::topology(&format!(
        "sources:\n  tx: {{type: generator, seed: 5, customers: 500, transactions: 8000, rate: 8000}}\n\
         sinks:\n  decisions: {{type: file, path: {out}/d.jsonl}}\n  alerts: {{type: file, path: {out}/a.jsonl}}\n  \
         cases: {{type: blackhole}}\n  dead_letters: {{type: file, path: {out}/dl.jsonl}}\n"
    ));
    let address = free_address();
    let telemetry = Arc::new(Telemetry::default());
    let options = RunOptions {
        http: Some(address),
        telemetry: Some(telemetry.clone()),
        ..RunOptions::default()
    };
    let tokio = support::tokio_runtime();
    let run = tokio.spawn(async move { runtime::run(&topology, options).await });

    wait_until(|| TcpStream::connect(address).is_ok());
    assert_eq!(get(address, "/healthz").0, 200);
    wait_until(|| get(address, "/readyz").0 == 200);
    let (_, live) = get(address, "/metrics");
    assert_eq!(sample(&live, "fraud_ready"), 1);
    assert!(live.contains("# TYPE fraud_decision_latency_seconds histogram"));

    let report = tokio.block_on(run).unwrap().unwrap();
    assert_eq!(
        get(address, "/readyz").0,
        503,
        "draining or done is not ready"
    );
    let (_, done) = get(address, "/metrics");
    let counters = report.counters;
    assert_eq!(
        sample(&done, "fraud_transactions_in_total{source=\"tx\"}"),
        8_000
    );
    for (action, count) in [
        ("APPROVE", counters.approve),
        ("REVIEW", counters.review),
        ("BLOCK", counters.block),
    ] {
        assert_eq!(
            sample(
                &done,
                &format!("fraud_decisions_total{{action=\"{action}\"}}")
            ),
            count
        );
    }
    assert_eq!(counters.decisions(), 8_000);
    assert_eq!(sample(&done, "fraud_alerts_total"), counters.alerts);
    assert_eq!(sample(&done, "fraud_decision_latency_seconds_count"), 8_000);
    for stage in ["decode", "decide", "encode"] {
        let timed = sample(
            &done,
            &format!("fraud_stage_latency_seconds_count{{stage=\"{stage}\"}}"),
        );
        assert!(
            (400..=500).contains(&timed),
            "{stage}: 1 in 16 of 8000 timed, got {timed}"
        );
    }
    let decisions = support::read_json_lines(&dir.path().join("d.jsonl"));
    assert_eq!(
        decisions.len() as u64,
        counters.decisions(),
        "the metric counts what reached the sink"
    );
    let customers: std::collections::HashSet<&str> = decisions
        .iter()
        .map(|d| d["customer_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        sample(&done, "fraud_active_customers"),
        customers.len() as u64
    );
}

#[test]
fn the_healthcheck_command_probes_a_running_detector() {
    let address = free_address();
    let healthcheck = |path: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fraud-detector"))
            .args([
                "healthcheck",
                "--address",
                &address.to_string(),
                "--path",
                path,
            ])
            .status()
            .unwrap()
            .success()
    };
    assert!(!healthcheck("/healthz"), "nothing listens yet");
    let telemetry = Arc::new(Telemetry::default());
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio
        .block_on(fraud_detector::telemetry::serve(address, telemetry.clone()))
        .unwrap();
    assert!(healthcheck("/healthz"));
    assert!(!healthcheck("/readyz"), "not ready until the pipeline runs");
    telemetry.set_ready(true);
    assert!(healthcheck("/readyz"));
}
