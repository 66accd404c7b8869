//! `produce`: writes transactions to a file or a Kafka topic at a chosen rate.

use anyhow::Context;
use fraud_detector::generator::{Generated, Generator, GeneratorConfig};
use fraud_detector::kafka;
use rdkafka::producer::Producer;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ProduceArgs {
    /// Append JSON lines to this file.
    #[arg(long, required_unless_present_any = ["kafka", "kinesis"], conflicts_with_all = ["kafka", "kinesis"])]
    file: Option<PathBuf>,
    /// Put the records on this Kinesis stream instead, partitioned by customer id.
    #[arg(long, conflicts_with = "kafka")]
    kinesis: Option<String>,
    /// With --kinesis: pack this many records into each Kinesis record (KPL aggregation).
    #[arg(long, default_value_t = 1, requires = "kinesis")]
    aggregate: usize,
    /// Produce to Kafka: the bootstrap servers (with --topic), keyed by customer_id.
    #[arg(long, requires = "topic")]
    kafka: Option<String>,
    /// The Kafka topic to produce to.
    #[arg(long)]
    topic: Option<String>,
    /// Copy records from this JSON-lines file (default: the generator).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Stop after this many records.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Records per second (default: as fast as possible).
    #[arg(long)]
    rate: Option<f64>,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

pub fn produce(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    if let Some(rate) = args.rate.filter(|rate| !(rate.is_finite() && *rate > 0.0)) {
        anyhow::bail!("--rate {rate} is not a positive number");
    }
    let records: Box<dyn Iterator<Item = anyhow::Result<Vec<u8>>>> = match &args.input {
        Some(path) => {
            let input = BufReader::new(
                File::open(path).with_context(|| format!("opening {}", path.display()))?,
            );
            Box::new(input.split(b'\n').map(|line| Ok(line?)))
        }
        None => Box::new(generated(args.seed, args.count)?),
    };
    if let Some(stream) = &args.kinesis {
        let started = Instant::now();
        let records = records.take(args.count as usize);
        let written = super::kinesis::produce(stream, records, args.rate, args.aggregate)?;
        eprintln!(
            "produced {written} records to Kinesis stream {stream} in {:.2}s",
            started.elapsed().as_secs_f64()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (mut out, target) = Target::open(&args)?;
    let started = Instant::now();
    let mut written = 0u64;
    for record in records.take(args.count as usize) {
        out.write(&record?)?;
        written += 1;
        if let Some(rate) = args.rate {
            pace(&mut out, written, rate, started)?;
        }
    }
    out.flush()?;
    eprintln!(
        "produced {written} records to {target} in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn generated(
    seed: u64,
    count: u64,
) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Vec<u8>>>> {
    let config = GeneratorConfig {
        seed,
        transactions: Some(count),
        ..GeneratorConfig::default()
    };
    let generator =
        Generator::new(config).map_err(|problem| anyhow::anyhow!("generator: {problem}"))?;
    Ok(generator.filter_map(|event| match event {
        Generated::Transaction { transaction, .. } => {
            Some(serde_json::to_vec(&transaction).map_err(anyhow::Error::from))
        }
        Generated::Label(_) => None,
    }))
}

/// Where records go: JSON lines appended to a file, or a Kafka topic.
enum Out {
    File(BufWriter<File>),
    Kafka {
        producer: kafka::IdempotentProducer,
        topic: String,
    },
}

struct Target;

impl Target {
    fn open(args: &ProduceArgs) -> anyhow::Result<(Out, String)> {
        if let (Some(bootstrap), Some(topic)) = (&args.kafka, &args.topic) {
            let producer = kafka::idempotent_producer(bootstrap, &kafka::Properties::new())?;
            let name = format!("kafka {bootstrap} topic {topic}");
            return Ok((
                Out::Kafka {
                    producer,
                    topic: topic.clone(),
                },
                name,
            ));
        }
        let path = args
            .file
            .as_ref()
            .context("--file or --kafka with --topic is needed")?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok((Out::File(BufWriter::new(file)), path.display().to_string()))
    }
}

impl Out {
    fn write(&mut self, record: &[u8]) -> anyhow::Result<()> {
        match self {
            Out::File(out) => {
                out.write_all(record)?;
                out.write_all(b"\n")?;
            }
            Out::Kafka { producer, topic } => {
                // Keyed by customer so each customer's records stay in order on one partition.
                let key = serde_json::from_slice::<Keyed>(record)
                    .map(|keyed| keyed.customer_id)
                    .unwrap_or_default();
                kafka::send(producer, topic, None, &key, record, None, &mut || {})?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        match self {
            Out::File(out) => out.flush()?,
            Out::Kafka { producer, .. } => {
                producer.flush(Duration::from_secs(60))?;
                producer.context().check().map_err(anyhow::Error::msg)?;
            }
        }
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct Keyed {
    customer_id: String,
}

/// Sleeps until `written` records are due, flushing first so readers see them.
fn pace(out: &mut Out, written: u64, rate: f64, started: Instant) -> anyhow::Result<()> {
    let due = Duration::from_secs_f64(written as f64 / rate);
    let elapsed = started.elapsed();
    if due > elapsed {
        out.flush()?;
        std::thread::sleep(due - elapsed);
    }
    Ok(())
}
