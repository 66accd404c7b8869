//! `produce`: writes transactions to an output at a chosen rate. Files now;
//! Kafka and Kinesis add their own targets.

use anyhow::Context;
use fraud_detector::generator::{Generated, Generator, GeneratorConfig};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ProduceArgs {
    /// Append JSON lines to this file.
    #[arg(long, required_unless_present = "kinesis")]
    file: Option<PathBuf>,
    /// Put the records on this Kinesis stream instead, partitioned by customer id.
    #[arg(long, conflicts_with = "file")]
    kinesis: Option<String>,
    /// With --kinesis: pack this many records into each Kinesis record (KPL aggregation).
    #[arg(long, default_value_t = 1, requires = "kinesis")]
    aggregate: usize,
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
    let records = records.take(args.count as usize);
    let path = match (&args.file, &args.kinesis) {
        (_, Some(stream)) => {
            let started = Instant::now();
            let written = super::kinesis::produce(stream, records, args.rate, args.aggregate)?;
            eprintln!(
                "produced {written} records to Kinesis stream {stream} in {:.2}s",
                started.elapsed().as_secs_f64()
            );
            return Ok(ExitCode::SUCCESS);
        }
        (Some(path), None) => path,
        (None, None) => anyhow::bail!("give --file or --kinesis"),
    };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut out = BufWriter::new(file);
    let started = Instant::now();
    let mut written = 0u64;
    for record in records {
        out.write_all(&record?)?;
        out.write_all(b"\n")?;
        written += 1;
        if let Some(rate) = args.rate {
            pace(&mut out, written, rate, started)?;
        }
    }
    out.flush()?;
    eprintln!(
        "produced {written} records to {} in {:.2}s",
        path.display(),
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

/// Sleeps until `written` records are due, flushing first so readers see them.
fn pace(out: &mut impl Write, written: u64, rate: f64, started: Instant) -> anyhow::Result<()> {
    let due = Duration::from_secs_f64(written as f64 / rate);
    let elapsed = started.elapsed();
    if due > elapsed {
        out.flush()?;
        std::thread::sleep(due - elapsed);
    }
    Ok(())
}
