//! `generate`: the generator's stream as JSON lines.

use anyhow::Context;
use fraud_detector::generator::{Generated, Generator, GeneratorConfig};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct GenerateArgs {
    #[arg(long, default_value_t = 7)]
    seed: u64,
    #[arg(long, default_value_t = 5_000)]
    customers: u32,
    /// Number of transactions.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Share of transactions that start a fraud scenario.
    #[arg(long)]
    fraud_rate: Option<f64>,
    /// Transactions go here ("-" for stdout).
    #[arg(long, short, default_value = "-")]
    output: String,
    /// Labels (confirmed frauds, at their report time) go here.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// `transaction_id,scenario` for every fraudulent transaction, for evaluation and training.
    #[arg(long)]
    truth: Option<PathBuf>,
}

fn writer(path: &str) -> anyhow::Result<Box<dyn Write>> {
    Ok(if path == "-" {
        Box::new(BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("creating {path}"))?,
        ))
    })
}

pub fn generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let mut config = GeneratorConfig {
        seed: args.seed,
        customers: args.customers,
        transactions: Some(args.count),
        ..GeneratorConfig::default()
    };
    if let Some(rate) = args.fraud_rate {
        config.fraud_rate = rate;
    }
    let generator =
        Generator::new(config).map_err(|problem| anyhow::anyhow!("generator: {problem}"))?;
    let mut transactions = writer(&args.output)?;
    let mut labels = args
        .labels
        .as_ref()
        .map(|path| writer(&path.to_string_lossy()))
        .transpose()?;
    let mut truth = args
        .truth
        .as_ref()
        .map(|path| writer(&path.to_string_lossy()))
        .transpose()?;
    if let Some(truth) = truth.as_mut() {
        writeln!(truth, "transaction_id,scenario")?;
    }
    for event in generator {
        match event {
            Generated::Transaction {
                transaction,
                truth: scenario,
            } => {
                serde_json::to_writer(&mut transactions, &transaction)?;
                transactions.write_all(b"\n")?;
                if let (Some(truth), Some(scenario)) = (truth.as_mut(), scenario) {
                    writeln!(
                        truth,
                        "{},{}",
                        transaction.transaction_id,
                        scenario.as_str()
                    )?;
                }
            }
            Generated::Label(label) => {
                if let Some(labels) = labels.as_mut() {
                    serde_json::to_writer(&mut *labels, &label)?;
                    labels.write_all(b"\n")?;
                }
            }
        }
    }
    for out in [Some(&mut transactions), labels.as_mut(), truth.as_mut()]
        .into_iter()
        .flatten()
    {
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
