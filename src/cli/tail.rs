//! `tail`: prints an output file's or a Kafka topic's records, like kcat.

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct TailArgs {
    /// A JSON-lines output file (decisions, alerts, cases or dead letters).
    #[arg(long, required_unless_present_any = ["kafka", "kinesis"], conflicts_with_all = ["kafka", "kinesis"])]
    file: Option<PathBuf>,
    /// Read a Kafka topic instead (read_committed, every partition from the
    /// start): the bootstrap servers, with --topic.
    #[arg(long, requires = "topic")]
    kafka: Option<String>,
    /// The Kafka topic to read.
    #[arg(long)]
    topic: Option<String>,
    /// Read this Kinesis stream instead, from its oldest record.
    #[arg(long, conflicts_with = "kafka")]
    kinesis: Option<String>,
    /// Keep printing records as they are appended.
    #[arg(long, short)]
    follow: bool,
    /// Print the raw JSON instead of one readable line per record.
    #[arg(long)]
    json: bool,
    /// Start with only the last N records.
    #[arg(long, short = 'n')]
    lines: Option<usize>,
}

pub fn tail(args: TailArgs) -> anyhow::Result<ExitCode> {
    if let (Some(bootstrap), Some(topic)) = (&args.kafka, &args.topic) {
        return tail_kafka(bootstrap, topic, &args);
    }
    if let Some(stream) = &args.kinesis {
        let json = args.json;
        super::kinesis::tail(stream, args.follow, args.lines, |payload| {
            let line = String::from_utf8_lossy(payload);
            if json {
                line.into_owned()
            } else {
                pretty(&line)
            }
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let path = args
        .file
        .as_ref()
        .context("--file, --kafka with --topic, or --kinesis is needed")?;
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let skip = match args.lines {
        Some(keep) => count_lines(&mut reader)?.saturating_sub(keep),
        None => 0,
    };
    let mut line = String::new();
    let mut seen = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            if !args.follow {
                break;
            }
            out.flush()?;
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        seen += 1;
        if seen <= skip || line.trim().is_empty() {
            continue;
        }
        if writeln!(out, "{}", render(line.trim_end(), args.json)).is_err() {
            break; // the reader went away (`| head`)
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render(line: &str, json: bool) -> String {
    if json {
        line.to_owned()
    } else {
        pretty(line)
    }
}

/// Every partition from its start; without --follow, stops at their ends.
fn tail_kafka(bootstrap: &str, topic: &str, args: &TailArgs) -> anyhow::Result<ExitCode> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        // librdkafka wants a group id even for assign(); it never joins nor commits.
        .set("group.id", "fraud-detector-tail")
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(30))?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|found| found.name() == topic)
        .map(|found| found.partitions().len() as i32)
        .filter(|count| *count > 0)
        .with_context(|| format!("topic {topic} does not exist"))?;
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_range(topic, 0, partitions - 1);
    assignment.set_all_offsets(Offset::Beginning)?;
    consumer.assign(&assignment)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut open = partitions;
    while args.follow || open > 0 {
        match consumer.poll(Duration::from_millis(500)) {
            None => out.flush()?,
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => open -= 1,
            Some(Err(error)) => eprintln!("kafka: {error}"),
            Some(Ok(message)) => {
                let payload = message.payload().unwrap_or_default();
                let line = match std::str::from_utf8(payload) {
                    Ok(text) => render(text, args.json),
                    Err(_) => format!("(binary, {} bytes: Avro?)", payload.len()),
                };
                if writeln!(out, "{line}").is_err() {
                    break;
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn count_lines(reader: &mut BufReader<File>) -> anyhow::Result<usize> {
    let count = std::io::Read::by_ref(reader).lines().count();
    reader.seek(SeekFrom::Start(0))?;
    Ok(count)
}

/// One line per record, by what the record is.
fn pretty(line: &str) -> String {
    let Ok(record) = serde_json::from_str::<Value>(line) else {
        return format!("(not JSON) {line}");
    };
    let text = |key: &str| {
        record
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    let number = |key: &str| {
        record
            .get(key)
            .map(Value::to_string)
            .unwrap_or_else(|| "-".into())
    };
    let codes = |key: &str| -> String {
        let items = record
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        items
            .iter()
            .map(|item| {
                item.get("code")
                    .and_then(Value::as_str)
                    .or(item.as_str())
                    .unwrap_or("?")
                    .to_owned()
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    if record.get("case_id").is_some() {
        format!(
            "CASE {} {} risk {} {}",
            text("case_id"),
            text("action"),
            number("risk_score"),
            codes("reasons")
        )
    } else if record.get("alert_id").is_some() {
        format!(
            "ALERT {} {} {}",
            text("severity"),
            text("customer_id"),
            text("summary")
        )
    } else if record.get("decision_id").is_some() {
        format!(
            "{} {:<7} {:>3} {} {} {}",
            text("event_time"),
            text("action"),
            number("risk_score"),
            text("customer_id"),
            text("transaction_id"),
            codes("reasons")
        )
    } else if record.get("payload_len").is_some() {
        format!(
            "DEAD {} {} {}: {}",
            text("kind"),
            text("source"),
            text("position"),
            text("reason")
        )
    } else {
        line.to_owned()
    }
}
