//! `drift`: how far a history's features and scores moved from the model's
//! training reference, as a population stability index per feature.

use super::features::{replay_engine, replay_files};
use fraud_detector::model::{ModelConfig, PSI_WARNING};
use fraud_detector::topology::{Topology, EMBEDDED_DEMO};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct DriftArgs {
    /// The model whose card holds the training reference.
    #[arg(long, env = "FD_MODEL")]
    model: PathBuf,
    /// Transactions as JSON lines, each with a timestamp (replayed in event-time order).
    #[arg(long)]
    input: PathBuf,
    /// Labels as JSON lines, applied when reported, as in serving.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// State and rules settings (default: the embedded demo topology's).
    #[arg(long, short)]
    topology: Option<PathBuf>,
    /// Exit with status 3 when any PSI is above this (default: report only).
    #[arg(long)]
    fail_above: Option<f64>,
}

pub fn drift(args: DriftArgs) -> anyhow::Result<ExitCode> {
    let mut topology = match &args.topology {
        Some(path) => Topology::load(path)?,
        None => Topology::parse(EMBEDDED_DEMO, Path::new("(embedded demo.yaml)"))?,
    };
    let mut config = ModelConfig::at(&args.model);
    // One window over the whole history.
    config.drift_window = u64::MAX;
    config.explain_top = 0;
    topology.model = Some(config);
    let engine = replay_engine(&topology)?;
    let (rows, _) = replay_files(&engine, &args.input, args.labels.as_deref())?;
    let slot = engine.model().expect("the replay engine has the model");
    let set = slot.current();
    let report = set.primary.drift().report();
    anyhow::ensure!(
        !report.is_empty(),
        "{}: the model card has no reference histograms",
        args.model.display()
    );
    println!(
        "{} rows scored by {}; PSI against the training reference (< 0.1 stable, 0.1-0.2 moderate, > {PSI_WARNING} significant)",
        rows.len(),
        set.primary.version()
    );
    println!("{:<32} {:>8}  status", "feature", "psi");
    for line in &report {
        let status = match line.psi {
            psi if psi > PSI_WARNING => "WARNING: significant shift, retrain",
            psi if psi > 0.1 => "moderate",
            _ => "stable",
        };
        println!("{:<32} {:>8.4}  {status}", line.name, line.psi);
    }
    let worst = report.first().map_or(0.0, |line| line.psi);
    Ok(match args.fail_above {
        Some(limit) if worst > limit => ExitCode::from(3),
        _ => ExitCode::SUCCESS,
    })
}
