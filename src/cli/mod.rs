//! Subcommands, one module each.

mod batch;
mod console_args;
mod demo;
mod drift;
mod features;
mod generate;
mod healthcheck;
mod kinesis;
mod produce;
mod run;
mod score;
mod tail;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "fraud-detector",
    version,
    about = "Streaming card-fraud detector: state windows, explainable rules, decisions in microseconds"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log as JSON lines (for log collectors) instead of text.
    #[arg(long, global = true, env = "FD_LOG_JSON")]
    pub log_json: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a topology until its sources end or SIGINT/SIGTERM.
    Run {
        #[arg(long, short)]
        topology: PathBuf,
        /// Serve /healthz, /readyz and /metrics on this address (e.g. 0.0.0.0:9100).
        #[arg(long, env = "FD_HTTP")]
        http: Option<std::net::SocketAddr>,
        /// Serve the agent's six tools over MCP (streamable HTTP at /mcp,
        /// HTTP+SSE at /sse) here; needs the topology's `agent:` section.
        #[arg(long, env = "FD_MCP")]
        mcp: Option<String>,
        /// Host names the MCP server answers besides loopback and its own
        /// address (comma-separated; `name` or `name:port`; `*` for any).
        #[arg(long, env = "FD_MCP_ALLOWED_HOSTS", value_delimiter = ',')]
        mcp_allowed_hosts: Vec<String>,
        #[command(flatten)]
        console: console_args::ConsoleArgs,
    },
    /// Generator → full pipeline → a summary with precision and recall per injected scenario.
    Demo(demo::DemoArgs),
    /// Decide transactions given as JSON lines on stdin; one decision per line on stdout.
    Score(score::ScoreArgs),
    /// Write generated transactions (and their labels) as JSON lines.
    Generate(generate::GenerateArgs),
    /// Check a topology and report every problem with its line and key.
    Validate {
        #[arg(long, short)]
        topology: PathBuf,
    },
    /// Write transactions from a file or the generator to an output, at a rate.
    Produce(produce::ProduceArgs),
    /// Print the records of an output file, pretty or as JSON, optionally following it.
    Tail(tail::TailArgs),
    /// The model's feature vectors for a history, replayed in event-time order, as CSV.
    Features(features::FeaturesArgs),
    /// PSI of a history's features and scores against a model's training reference.
    Drift(drift::DriftArgs),
    /// Score a whole file (JSON lines, CSV or Avro) through the pipeline into a file.
    Batch(batch::BatchArgs),
    /// Exit 0 if a running detector answers its /healthz (for container HEALTHCHECKs).
    Healthcheck(healthcheck::HealthcheckArgs),
}

pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub fn execute(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run {
            topology,
            http,
            mcp,
            mcp_allowed_hosts,
            console,
        } => run::run(&topology, http, (mcp, mcp_allowed_hosts), &console),
        Command::Demo(args) => demo::demo(args),
        Command::Drift(args) => drift::drift(args),
        Command::Batch(args) => batch::batch(args),
        Command::Score(args) => score::score(args),
        Command::Generate(args) => generate::generate(args),
        Command::Validate { topology } => run::validate(&topology),
        Command::Produce(args) => produce::produce(args),
        Command::Tail(args) => tail::tail(args),
        Command::Healthcheck(args) => healthcheck::healthcheck(args),
        Command::Features(args) => features::features(args),
    }
}

/// The runtime wants a multi-threaded tokio (sinks block in place).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
