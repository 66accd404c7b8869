//! Shared helpers for the integration tests.
#![allow(dead_code)]

use fraud_detector::runtime::{self, RunOptions, RunReport};
use fraud_detector::topology::Topology;
use std::path::Path;

/// Parses a topology written inline in a test.
pub fn topology(yaml: &str) -> Topology {
    Topology::parse(yaml, Path::new("test.yaml")).unwrap_or_else(|error| panic!("{error}"))
}

pub fn run(topology: &Topology, options: RunOptions) -> RunReport {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(runtime::run(topology, options))
        .unwrap()
}

pub fn read_json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}
