//! `score`: JSON lines in, one decision per line out, in input order.
//! Rejected lines go to stderr as dead-letter JSON, and the exit code says so.

use anyhow::Context;
use fraud_detector::codecs::{Codec, CodecKind};
use fraud_detector::domain::{now_millis, DeadLetter};
use fraud_detector::engine::{Engine, SystemClock};
use fraud_detector::sources::decode_transaction;
use fraud_detector::state::StateStore;
use fraud_detector::topology::{Topology, EMBEDDED_DEMO};
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct ScoreArgs {
    /// JSON-lines transactions replayed into state first (their decisions are not printed).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Take state and rules settings from this topology (default: the embedded demo's).
    #[arg(long, short)]
    topology: Option<PathBuf>,
}

pub fn score(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    let topology = match &args.topology {
        Some(path) => Topology::load(path)?,
        None => Topology::parse(EMBEDDED_DEMO, Path::new("(embedded demo.yaml)"))?,
    };
    let state = Arc::new(StateStore::new(topology.state.clone())?);
    let engine = Engine::new(state, topology.rules.clone(), Arc::new(SystemClock))
        .map_err(|problems| anyhow::anyhow!("rules: {}", problems.join("; ")))?;
    let codec = Codec::new(CodecKind::Json);
    let mut rejected = 0;
    if let Some(history) = &args.history {
        let file = std::fs::File::open(history)
            .with_context(|| format!("opening history {}", history.display()))?;
        rejected += decide_lines(
            &engine,
            &codec,
            std::io::BufReader::new(file),
            "history",
            None,
        )?;
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    rejected += decide_lines(
        &engine,
        &codec,
        std::io::stdin().lock(),
        "stdin",
        Some(&mut out),
    )?;
    out.flush()?;
    Ok(if rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Decides every line; prints decisions when `out` is given. Returns the number rejected.
fn decide_lines(
    engine: &Engine,
    codec: &Codec,
    input: impl BufRead,
    source: &str,
    mut out: Option<&mut dyn Write>,
) -> anyhow::Result<u64> {
    let mut rejected = 0;
    for (index, line) in input.split(b'\n').enumerate() {
        let line = line.with_context(|| format!("reading {source}"))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let started = Instant::now();
        match decode_transaction(codec, &line) {
            Ok(transaction) => {
                let outcome = engine.decide(&transaction, now_millis(), started);
                if let Some(out) = out.as_mut() {
                    serde_json::to_writer(&mut *out, &outcome.decision)?;
                    out.write_all(b"\n")?;
                }
            }
            Err((kind, reason)) => {
                rejected += 1;
                let letter =
                    DeadLetter::new(source, format!("line {}", index + 1), kind, reason, &line);
                eprintln!("{}", serde_json::to_string(&letter)?);
            }
        }
    }
    Ok(rejected)
}
