//! Traces reach a local OTLP/HTTP receiver with one span tree per sampled
//! transaction: a root with decode, decide and encode beneath it.

mod support;

use fraud_detector::runtime::RunOptions;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A minimal OTLP/HTTP receiver: stores each POSTed JSON body.
fn start_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let received = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            if let Ok(json) = serde_json::from_slice(&body) {
                received.lock().unwrap().push(json);
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
        }
    });
    (endpoint, bodies)
}

#[test]
fn each_sampled_transaction_exports_a_span_tree() {
    let (endpoint, bodies) = start_receiver();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display();
    let topology = support::topology(&format!(
        "sources:\n  tx: {{type: generator, seed: 9, customers: 20, transactions: 50}}\n\
         sinks:\n  decisions: {{type: file, path: {out}/d.jsonl}}\n  dead_letters: {{type: blackhole}}\n\
         telemetry:\n  traces: {{endpoint: \"{endpoint}\", sample_ratio: 1.0}}\n"
    ));
    let report = support::run(&topology, RunOptions::default());
    assert_eq!(report.counters.decisions(), 50);

    let spans: Vec<Value> = bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|body| {
            body["resourceSpans"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|resource| {
            resource["scopeSpans"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|scope| scope["spans"].as_array().cloned().unwrap_or_default())
        .collect();
    let roots: Vec<&Value> = spans
        .iter()
        .filter(|span| span["name"] == "transaction")
        .collect();
    assert_eq!(roots.len(), 50, "one trace per transaction at ratio 1.0");
    let mut children: HashMap<String, Vec<String>> = HashMap::new();
    for span in &spans {
        if let Some(parent) = span["parentSpanId"]
            .as_str()
            .filter(|parent| !parent.is_empty())
        {
            children
                .entry(parent.to_owned())
                .or_default()
                .push(span["name"].as_str().unwrap().to_owned());
        }
    }
    for root in roots {
        let mut stages = children
            .get(root["spanId"].as_str().unwrap())
            .cloned()
            .unwrap_or_default();
        stages.sort();
        assert_eq!(stages, ["decide", "decode", "encode"], "{root}");
        let attributes = root["attributes"].to_string();
        assert!(attributes.contains("fraud.action"), "{attributes}");
    }
    let exported = serde_json::to_string(&spans).unwrap();
    assert!(
        !exported.contains("\"C-0"),
        "customer ids must not be exported"
    );
}
