//! `batch`: scores a whole file through the same pipeline as `run` (the
//! file source, the workers with the rules and the model, the file sink),
//! like seed 004's batch job, with a progress bar.
//!
//! JSON lines and Avro container files are read and written by the pipeline
//! itself; CSV is converted to JSON lines on the way in and from decisions
//! on the way out, so CSV rows go through exactly the same checks.

use anyhow::Context;
use fraud_detector::domain::Decision;
use fraud_detector::model::ModelConfig;
use fraud_detector::runtime::{self, RunOptions};
use fraud_detector::telemetry::Counters;
use fraud_detector::topology::{Topology, EMBEDDED_DEMO};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct BatchArgs {
    /// Transactions: .jsonl/.json (JSON lines), .csv (a header of Transaction field names) or .avro (container file).
    #[arg(long)]
    input: PathBuf,
    /// Decisions: .jsonl/.json, .csv or .avro, by extension.
    #[arg(long, short)]
    output: PathBuf,
    /// Rejected records with their reasons (default: <output>.dead_letters.jsonl).
    #[arg(long)]
    dead_letters: Option<PathBuf>,
    /// Score with this ONNX model as well as the rules.
    #[arg(long, env = "FD_MODEL")]
    model: Option<PathBuf>,
    /// State, rules and engine settings (default: the embedded demo topology's).
    #[arg(long, short)]
    topology: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    JsonLines,
    Csv,
    Avro,
}

fn format_of(path: &Path) -> anyhow::Result<Format> {
    match path.extension().and_then(|extension| extension.to_str()) {
        Some("jsonl" | "json" | "ndjson") => Ok(Format::JsonLines),
        Some("csv") => Ok(Format::Csv),
        Some("avro") => Ok(Format::Avro),
        _ => anyhow::bail!(
            "{}: use .jsonl, .csv or .avro to say the format",
            path.display()
        ),
    }
}

pub fn batch(args: BatchArgs) -> anyhow::Result<ExitCode> {
    let (input_format, output_format) = (format_of(&args.input)?, format_of(&args.output)?);
    let work = tempfile::tempdir().context("creating a working directory")?;
    let (input, planned) = match input_format {
        Format::Csv => csv_to_json_lines(&args.input, &work.path().join("input.jsonl"))?,
        Format::JsonLines => (args.input.clone(), count_lines(&args.input)?),
        Format::Avro => (args.input.clone(), 0),
    };
    let decisions = match output_format {
        Format::Csv => work.path().join("decisions.jsonl"),
        _ => args.output.clone(),
    };
    let dead_letters = args.dead_letters.clone().unwrap_or_else(|| {
        let mut name = args.output.clone().into_os_string();
        name.push(".dead_letters.jsonl");
        PathBuf::from(name)
    });
    let topology = batch_topology(
        &args,
        &input,
        input_format,
        &decisions,
        output_format,
        &dead_letters,
    )?;
    let counters = Arc::new(Counters::default());
    let options = RunOptions {
        counters: Some(counters.clone()),
        handle_signals: true,
        ..RunOptions::default()
    };
    let progress = super::demo::progress_bar(planned, counters);
    let report = super::runtime()?.block_on(runtime::run(&topology, options))?;
    progress.finish_and_clear();
    if output_format == Format::Csv {
        decisions_to_csv(&decisions, &args.output)?;
    }
    let counters = report.counters;
    eprintln!(
        "{} decisions ({} approve, {} review, {} block) to {}; {} dead letters to {}; {:.0} tx/s",
        counters.decisions(),
        counters.approve,
        counters.review,
        counters.block,
        args.output.display(),
        counters.dead_letters(),
        dead_letters.display(),
        counters.decisions() as f64 / report.elapsed.as_secs_f64().max(1e-9)
    );
    Ok(if counters.balanced() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn batch_topology(
    args: &BatchArgs,
    input: &Path,
    input_format: Format,
    decisions: &Path,
    output_format: Format,
    dead_letters: &Path,
) -> anyhow::Result<Topology> {
    let mut topology = match &args.topology {
        Some(path) => Topology::load(path)?,
        None => Topology::parse(EMBEDDED_DEMO, Path::new("(embedded demo.yaml)"))?,
    };
    let codec = |format| {
        if format == Format::Avro {
            "avro"
        } else {
            "json"
        }
    };
    // JSON strings are YAML scalars: paths are quoted safely.
    let quoted = |path: &Path| serde_json::to_string(&path.to_string_lossy()).unwrap_or_default();
    let text = format!(
        "sources:\n  input: {{type: file, path: {}, codec: {}}}\n\
         sinks:\n  decisions: {{type: file, path: {}, codec: {}}}\n  dead_letters: {{type: file, path: {}}}\n",
        quoted(input),
        codec(input_format),
        quoted(decisions),
        codec(output_format),
        quoted(dead_letters),
    );
    let io = Topology::parse(&text, Path::new("(batch)"))?;
    topology.sources = io.sources;
    topology.sinks = io.sinks;
    if let Some(model) = &args.model {
        topology.model = Some(ModelConfig::at(model));
    }
    Ok(topology)
}

fn count_lines(path: &Path) -> anyhow::Result<u64> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(BufReader::new(file).split(b'\n').count() as u64)
}

/// Each CSV row becomes one JSON object: numbers and booleans where the
/// text is one, empty cells left out; the pipeline then validates it as it
/// validates any record (a bad row becomes a dead letter, not an abort).
fn csv_to_json_lines(input: &Path, output: &Path) -> anyhow::Result<(PathBuf, u64)> {
    let mut reader = csv::ReaderBuilder::new()
        // A short or long row is the pipeline's to judge (a missing field
        // becomes a dead letter naming it), not a reason to stop the file.
        .flexible(true)
        .from_path(input)
        .with_context(|| format!("opening {}", input.display()))?;
    let header = reader.headers()?.clone();
    let mut out = BufWriter::new(std::fs::File::create(output)?);
    let mut rows = 0;
    for record in reader.records() {
        let record = record.with_context(|| format!("{}: row {}", input.display(), rows + 2))?;
        let mut object = serde_json::Map::new();
        for (name, cell) in header.iter().zip(record.iter()) {
            if let Some(value) = cell_value(name, cell) {
                object.insert(name.to_owned(), value);
            }
        }
        serde_json::to_writer(&mut out, &object)?;
        out.write_all(b"\n")?;
        rows += 1;
    }
    out.flush()?;
    Ok((output.to_owned(), rows))
}

/// Identifiers stay strings even when they look like numbers.
fn cell_value(name: &str, cell: &str) -> Option<serde_json::Value> {
    let cell = cell.trim();
    if cell.is_empty() {
        return None;
    }
    let textual = name.ends_with("_id") || matches!(name, "mcc" | "card_number" | "timestamp");
    if !textual {
        if let Ok(number) = cell.parse::<f64>() {
            return serde_json::Number::from_f64(number).map(serde_json::Value::Number);
        }
        if let Ok(flag) = cell.to_ascii_lowercase().parse::<bool>() {
            return Some(serde_json::Value::Bool(flag));
        }
    }
    Some(serde_json::Value::String(cell.to_owned()))
}

fn decisions_to_csv(decisions: &Path, output: &Path) -> anyhow::Result<()> {
    let mut writer =
        csv::Writer::from_path(output).with_context(|| format!("creating {}", output.display()))?;
    writer.write_record([
        "transaction_id",
        "customer_id",
        "action",
        "risk_score",
        "reason_codes",
        "model_score",
        "model_version",
        "amount",
        "event_time",
        "decision_id",
    ])?;
    let file = std::fs::File::open(decisions)?;
    for line in BufReader::new(file).lines() {
        let decision: Decision = serde_json::from_str(&line?)?;
        let codes: Vec<&str> = decision
            .reasons
            .iter()
            .map(|reason| reason.code.as_str())
            .collect();
        writer.write_record([
            decision.transaction_id.as_str(),
            decision.customer_id.as_str(),
            decision.action.as_str(),
            &decision.risk_score.to_string(),
            &codes.join("|"),
            &decision
                .model_score
                .map(|score| score.to_string())
                .unwrap_or_default(),
            decision.model_version.as_deref().unwrap_or_default(),
            &decision.amount.to_string(),
            &fraud_detector::domain::format_millis(decision.event_time),
            decision.decision_id.as_str(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}
