//! Traces reach a local OTLP/HTTP receiver with one span tree per sampled
//! transaction: a root with decode, decide and encode beneath it.

mod support;

use fraud_detector::runtime::RunOptions;
use serde_json::Value;
use std::collections::HashMap;

#[test]
fn each_sampled_transaction_exports_a_span_tree() {
    let (endpoint, bodies) = support::otlp_receiver();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display();
    let topology = support::topology(&format!(
        "sources:\n  tx: {{type: generator, seed: 9, customers: 20, transactions: 50}}\n\
         sinks:\n  decisions: {{type: file, path: {out}/d.jsonl}}\n  dead_letters: {{type: blackhole}}\n\
         telemetry:\n  traces: {{endpoint: \"{endpoint}\", sample_ratio: 1.0}}\n"
    ));
    let report = support::run(&topology, RunOptions::default());
    assert_eq!(report.counters.decisions(), 50);

    let spans = support::exported_spans(&bodies);
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
