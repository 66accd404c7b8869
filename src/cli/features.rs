//! `features`: the model's feature vectors for a history, computed by
//! replaying it through the engine in event-time order, as CSV for training.

use anyhow::Context;
use fraud_detector::codecs::{Codec, CodecKind};
use fraud_detector::domain::Label;
use fraud_detector::domain::Transaction;
use fraud_detector::engine::{Engine, SystemClock};
use fraud_detector::model::{replay, spec_hash, ModelSlot, ReplayRow, FEATURE_NAMES};
use fraud_detector::sources::decode_transaction;
use fraud_detector::state::StateStore;
use fraud_detector::topology::{Topology, EMBEDDED_DEMO};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct FeaturesArgs {
    /// Transactions as JSON lines, each with a timestamp.
    #[arg(long)]
    input: PathBuf,
    /// Fraud labels: JSON lines (applied to state when reported, and the
    /// target) or CSV with `transaction_id` and `is_fraud` or `scenario` (target only).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// The CSV to write: transaction_id, event_time, every feature, the rules' action and score, is_fraud.
    #[arg(long, short)]
    output: PathBuf,
    /// State and rules settings (default: the embedded demo topology's).
    #[arg(long, short)]
    topology: Option<PathBuf>,
}

pub fn features(args: FeaturesArgs) -> anyhow::Result<ExitCode> {
    let topology = match &args.topology {
        Some(path) => Topology::load(path)?,
        None => Topology::parse(EMBEDDED_DEMO, Path::new("(embedded demo.yaml)"))?,
    };
    let engine = replay_engine(&topology)?;
    let (rows, frauds) = replay_files(&engine, &args.input, args.labels.as_deref())?;
    let mut out = BufWriter::new(
        File::create(&args.output)
            .with_context(|| format!("creating {}", args.output.display()))?,
    );
    writeln!(
        out,
        "transaction_id,event_time,{},rules_action,rules_risk_score,is_fraud",
        FEATURE_NAMES.join(",")
    )?;
    for row in &rows {
        write!(out, "{},{}", row.transaction_id, row.event_time)?;
        for value in row.features {
            write!(out, ",{value}")?;
        }
        writeln!(
            out,
            ",{},{},{}",
            row.action.as_str(),
            row.risk_score,
            frauds.contains(&row.transaction_id) as u8
        )?;
    }
    out.flush()?;
    eprintln!(
        "{} rows, {} features (spec {}), {} labelled fraud, to {}",
        rows.len(),
        FEATURE_NAMES.len(),
        spec_hash(),
        rows.iter()
            .filter(|row| frauds.contains(&row.transaction_id))
            .count(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The engine a replay runs: the topology's state and rules, and its model
/// when it has one (profiles learn from the combined decision, so a replay
/// must decide exactly as serving does).
pub(super) fn replay_engine(topology: &Topology) -> anyhow::Result<Engine> {
    let state = Arc::new(StateStore::new(topology.state.clone())?);
    let mut engine = Engine::new(state, topology.rules.clone(), Arc::new(SystemClock))
        .map_err(|problems| anyhow::anyhow!("rules: {}", problems.join("; ")))?
        .with_features(true);
    if let Some(config) = &topology.model {
        let thresholds = topology.rules.thresholds;
        let slot = ModelSlot::load(config, (thresholds.review, thresholds.block), 1)?;
        engine = engine.with_model(Arc::new(slot));
    }
    Ok(engine)
}

/// Replays a transactions file (and labels) through `engine`.
pub(super) fn replay_files(
    engine: &Engine,
    input: &Path,
    labels: Option<&Path>,
) -> anyhow::Result<(Vec<ReplayRow>, HashSet<String>)> {
    let transactions = read_transactions(input)?;
    let (labels, frauds) = match labels {
        Some(path) => read_labels(path)?,
        None => (Vec::new(), HashSet::new()),
    };
    Ok((replay(engine, transactions, labels)?, frauds))
}

fn read_transactions(path: &Path) -> anyhow::Result<Vec<Transaction>> {
    let codec = Codec::new(CodecKind::Json);
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut transactions = Vec::new();
    for (index, line) in BufReader::new(file).split(b'\n').enumerate() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let transaction = decode_transaction(&codec, &line)
            .map_err(|(_, reason)| anyhow::anyhow!("{}:{}: {reason}", path.display(), index + 1))?;
        transactions.push(transaction);
    }
    Ok(transactions)
}

/// Labels to apply, and the ids of fraudulent transactions (the target).
fn read_labels(path: &Path) -> anyhow::Result<(Vec<Label>, HashSet<String>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if path.extension().is_some_and(|extension| extension == "csv") {
        return Ok((Vec::new(), fraud_ids_from_csv(&text, path)?));
    }
    let mut labels = Vec::new();
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
    {
        let label: Label = serde_json::from_str(line)
            .with_context(|| format!("{}:{}", path.display(), index + 1))?;
        labels.push(label);
    }
    let frauds = labels
        .iter()
        .filter(|label| label.is_fraud)
        .map(|label| label.transaction_id.clone())
        .collect();
    Ok((labels, frauds))
}

fn fraud_ids_from_csv(text: &str, path: &Path) -> anyhow::Result<HashSet<String>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .collect();
    let column = |name: &str| header.iter().position(|column| *column == name);
    let id = column("transaction_id")
        .with_context(|| format!("{}: no transaction_id column", path.display()))?;
    let is_fraud = |fields: &[&str]| match (column("is_fraud"), column("scenario")) {
        (Some(index), _) => matches!(
            fields.get(index).map(|value| value.trim()),
            Some("1" | "true" | "True")
        ),
        (None, Some(index)) => fields
            .get(index)
            .is_some_and(|value| !value.trim().is_empty()),
        (None, None) => true,
    };
    Ok(lines
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|fields| is_fraud(fields))
        .filter_map(|fields| fields.get(id).map(|value| value.trim().to_owned()))
        .collect())
}
