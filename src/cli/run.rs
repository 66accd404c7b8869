//! `run` and `validate`.

use anyhow::Context;
use fraud_detector::runtime::{self, RunOptions, RunReport};
use fraud_detector::topology::Topology;
use std::path::Path;
use std::process::ExitCode;

pub fn run(
    path: &Path,
    http: Option<std::net::SocketAddr>,
    (mcp, mcp_allowed_hosts): (Option<String>, Vec<String>),
    console: &super::console_args::ConsoleArgs,
) -> anyhow::Result<ExitCode> {
    let mut topology = Topology::load(path)?;
    if let Some(listen) = mcp {
        let agent = topology
            .agent
            .as_mut()
            .context("--mcp needs an agent: section in the topology")?;
        agent.mcp.get_or_insert_with(Default::default).listen = listen;
    }
    let served = topology.agent.as_mut().and_then(|agent| agent.mcp.as_mut());
    if let Some(served) = served.filter(|_| !mcp_allowed_hosts.is_empty()) {
        served.allowed_hosts = mcp_allowed_hosts;
    }
    let options = RunOptions {
        handle_signals: true,
        http,
        console: console.build(http)?,
        ..RunOptions::default()
    };
    let report = super::runtime()?
        .block_on(runtime::run(&topology, options))
        .with_context(|| format!("running {}", path.display()))?;
    print_report(&report);
    Ok(if report.counters.balanced() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn validate(path: &Path) -> anyhow::Result<ExitCode> {
    let topology = Topology::load(path)?;
    println!(
        "{}: ok ({} source{}, {} worker{})",
        path.display(),
        topology.sources.len(),
        if topology.sources.len() == 1 { "" } else { "s" },
        topology.engine.workers,
        if topology.engine.workers == 1 {
            ""
        } else {
            "s"
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub fn print_report(report: &RunReport) {
    let counters = &report.counters;
    eprintln!(
        "read {} transactions and {} labels in {:.2}s: {} decisions (approve {}, review {}, block {}), {} alerts, {} cases, {} labels applied, {} dead letters{}",
        counters.transactions_in,
        counters.labels_in,
        report.elapsed.as_secs_f64(),
        counters.decisions(),
        counters.approve,
        counters.review,
        counters.block,
        counters.alerts,
        counters.cases,
        counters.labels_applied,
        counters.dead_letters(),
        if counters.balanced() { "" } else { " — COUNTS DO NOT ADD UP" }
    );
}
