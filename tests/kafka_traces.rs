//! W3C trace context through Kafka: a transaction whose producer sent a
//! sampled `traceparent` header is traced as a child of the producer's span
//! (whatever our own sample ratio), and its decision carries the
//! `traceparent` of our span; without a header and at ratio 0 nothing is
//! traced and no header is invented.

mod kafka_support;
mod support;

use kafka_support::Tansu;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PRODUCER_SPAN: &str = "00f067aa0ba902b7";

fn produce_with_and_without_context(bootstrap: &str) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let traceparent = format!("00-{TRACE}-{PRODUCER_SPAN}-01");
    for index in 0..6 {
        let payload = format!(
            r#"{{"transaction_id":"t{index}","customer_id":"c{index}","amount":12,"timestamp":"2025-12-03T09:00:00Z"}}"#
        );
        let key = format!("c{index}");
        let mut record = BaseRecord::to("tx").key(&key).payload(&payload);
        if index % 2 == 0 {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: "traceparent",
                value: Some(&traceparent),
            }));
        }
        producer.send(record).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// transaction_id → the decision's `traceparent` header, if any.
fn decision_headers(bootstrap: &str, expected: usize) -> HashMap<String, Option<String>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "trace-reader")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset("t-decisions", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&partitions).unwrap();
    let mut found = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while found.len() < expected && Instant::now() < deadline {
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let decision: serde_json::Value =
            serde_json::from_slice(message.payload().unwrap()).unwrap();
        let header = message.headers().and_then(|headers| {
            headers
                .iter()
                .find(|header| header.key == "traceparent")
                .and_then(|header| header.value)
                .map(|value| String::from_utf8(value.to_vec()).unwrap())
        });
        found.insert(
            decision["transaction_id"].as_str().unwrap().to_owned(),
            header,
        );
    }
    found
}

#[test]
fn trace_context_comes_in_and_goes_out_in_kafka_headers() {
    let broker = Tansu::start();
    broker.create_topic("tx", 1);
    produce_with_and_without_context(&broker.bootstrap());
    let (endpoint, bodies) = support::otlp_receiver();
    let yaml = kafka_support::topology_yaml(&broker.bootstrap(), "tx", "t", "json")
        + &format!("telemetry:\n  traces: {{endpoint: \"{endpoint}\", sample_ratio: 0}}\n");
    let detector = support::Background::run(&yaml);
    let headers = decision_headers(&broker.bootstrap(), 6);
    let report = detector.stop();
    assert_eq!(report.counters.decisions(), 6);
    assert_eq!(headers.len(), 6, "{headers:?}");

    let spans = support::exported_spans(&bodies);
    let roots: HashMap<&str, &serde_json::Value> = spans
        .iter()
        .filter(|span| span["name"] == "transaction")
        .map(|span| (span["spanId"].as_str().unwrap(), span))
        .collect();
    assert_eq!(roots.len(), 3, "only the producer-sampled transactions");
    for index in 0..6 {
        let header = &headers[&format!("t{index}")];
        if index % 2 == 1 {
            assert_eq!(header, &None, "t{index}: no context in, none out");
            continue;
        }
        let header = header.as_deref().expect("a traceparent on the decision");
        let parts: Vec<&str> = header.split('-').collect();
        assert_eq!(parts[1], TRACE, "t{index} stays in the producer's trace");
        let root = roots[parts[2]];
        assert_eq!(root["traceId"], TRACE);
        assert_eq!(
            root["parentSpanId"], PRODUCER_SPAN,
            "a child of the producer's span"
        );
        let children: Vec<&str> = spans
            .iter()
            .filter(|span| span["parentSpanId"] == parts[2])
            .map(|span| span["name"].as_str().unwrap())
            .collect();
        for stage in ["decode", "decide", "produce"] {
            assert!(children.contains(&stage), "t{index}: {children:?}");
        }
    }
}
