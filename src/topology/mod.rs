//! Topology files: which sources, which sinks, and the engine, state and
//! rules settings between them. Loading reports every problem at once, each
//! with the file, the line and the key.

mod env;
mod locate;

use crate::model::ModelConfig;
use crate::rules::RulesConfig;
use crate::sinks::SinkConfig;
use crate::sources::SourceConfig;
use crate::state::StateConfig;
use crate::telemetry::TelemetryConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

pub use env::substitute_env;

/// The demo topology, compiled in so `fraud-detector demo` needs no files.
pub const EMBEDDED_DEMO: &str = include_str!("../../topologies/demo.yaml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Named sources; each carries transactions or labels.
    pub sources: BTreeMap<String, SourceConfig>,
    pub sinks: SinksConfig,
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub rules: RulesConfig,
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// Score every transaction with an ONNX model as well as the rules.
    #[serde(default)]
    pub model: Option<ModelConfig>,
    /// Escalation of risky decisions to the LLM agent; off when absent.
    #[serde(default)]
    pub agent: Option<crate::agent::AgentConfig>,
}

/// The four output streams. Decisions and dead letters are required: every
/// input ends up in one of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinksConfig {
    pub decisions: SinkConfig,
    #[serde(default)]
    pub alerts: Option<SinkConfig>,
    #[serde(default)]
    pub cases: Option<SinkConfig>,
    pub dead_letters: SinkConfig,
    /// Analysts' verdicts from the console, in the label stream's format:
    /// a record of who judged what, to replay as labels or train on.
    #[serde(default)]
    pub labels: Option<SinkConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Worker threads; each owns the customers that hash to it.
    pub workers: usize,
    /// Records per batch between stages.
    pub batch_size: usize,
    /// Batches each channel holds before the stage before it waits.
    pub queue_batches: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workers: std::thread::available_parallelism().map_or(2, usize::from),
            batch_size: 256,
            queue_batches: 4,
        }
    }
}

/// One problem, placed as precisely as the file allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Debug, Error)]
pub struct TopologyError {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        writeln!(
            f,
            "{}: {count} problem{}",
            self.file.display(),
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            match problem.line {
                Some(line) => writeln!(
                    f,
                    "  {}:{line}: {}: {}",
                    self.file.display(),
                    problem.key,
                    problem.message
                )?,
                None => writeln!(
                    f,
                    "  {}: {}: {}",
                    self.file.display(),
                    problem.key,
                    problem.message
                )?,
            }
        }
        Ok(())
    }
}

impl Topology {
    pub fn load(path: &Path) -> Result<Topology, TopologyError> {
        let text = std::fs::read_to_string(path).map_err(|error| TopologyError {
            file: path.to_owned(),
            problems: vec![Problem {
                key: "(file)".into(),
                line: None,
                message: error.to_string(),
            }],
        })?;
        Topology::parse(&text, path)
    }

    /// Parses `text` (named `file` in errors) after `${VAR:-default}`
    /// substitution, then checks every setting.
    pub fn parse(text: &str, file: &Path) -> Result<Topology, TopologyError> {
        Topology::parse_with(text, file, |name| std::env::var(name).ok())
    }

    /// As `parse`, with variables looked up by `lookup` instead of the environment.
    pub fn parse_with(
        text: &str,
        file: &Path,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Topology, TopologyError> {
        let fail = |problems| TopologyError {
            file: file.to_owned(),
            problems,
        };
        let text = substitute_env(text, lookup).map_err(fail)?;
        let topology = deserialize(&text).map_err(|problem| fail(vec![problem]))?;
        let problems: Vec<Problem> = topology
            .problems()
            .into_iter()
            .map(|(key, message)| Problem {
                line: locate::line_of(&text, &key),
                key,
                message,
            })
            .collect();
        if problems.is_empty() {
            Ok(topology)
        } else {
            Err(fail(problems))
        }
    }

    /// Every semantic problem as (key path, message).
    fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut add = |prefix: &str, found: Vec<String>| {
            for message in found {
                let (key, message) = split_key(prefix, &message);
                problems.push((key, message));
            }
        };
        if self.sources.is_empty() {
            add("sources", vec!["at least one source is needed".into()]);
        }
        for (name, source) in &self.sources {
            add(&format!("sources.{name}"), source.problems());
        }
        let sinks = [
            ("decisions", Some(&self.sinks.decisions)),
            ("alerts", self.sinks.alerts.as_ref()),
            ("cases", self.sinks.cases.as_ref()),
            ("dead_letters", Some(&self.sinks.dead_letters)),
            ("labels", self.sinks.labels.as_ref()),
        ];
        for (name, sink) in sinks {
            if let Some(sink) = sink {
                add(&format!("sinks.{name}"), sink.problems());
            }
        }
        let engine = &self.engine;
        if engine.workers == 0 || engine.batch_size == 0 || engine.queue_batches == 0 {
            add(
                "engine",
                vec!["workers, batch_size and queue_batches must be at least 1".into()],
            );
        }
        add("state", self.state.problems());
        let windows: Vec<String> = self
            .state
            .windows
            .iter()
            .map(|window| window.name.clone())
            .collect();
        add("rules", self.rules.problems(&windows));
        if let Some(traces) = &self.telemetry.traces {
            add("telemetry.traces", traces.problems());
        }
        if let Some(model) = &self.model {
            add("model", model.problems());
        }
        if let Some(agent) = &self.agent {
            add("agent", agent.problems());
        }
        problems.extend(crate::kafka::topology_problems(self));
        problems
    }
}

/// Component messages start with their own key ("path: cannot open ..."):
/// move it into the key path.
fn split_key(prefix: &str, message: &str) -> (String, String) {
    match message.split_once(": ") {
        Some((key, rest)) if !key.contains(' ') && !key.is_empty() => {
            (format!("{prefix}.{key}"), rest.to_owned())
        }
        _ => (prefix.to_owned(), message.to_owned()),
    }
}

fn deserialize(text: &str) -> Result<Topology, Problem> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let key = error.path().to_string();
        let inner = error.into_inner();
        Problem {
            line: inner
                .location()
                .map(|location| location.line())
                .or_else(|| locate::line_of(text, &key)),
            key,
            message: inner.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_demo_topology_loads() {
        let topology = Topology::parse(EMBEDDED_DEMO, Path::new("demo.yaml")).unwrap();
        assert!(topology.sources.contains_key("transactions"));
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let text = "sources:\n  tx:\n    type: stdin\nsinks:\n  decisions:\n    type: stdout\n  dead_letters:\n    type: stdout\nrules:\n  thresholds:\n    review: 90\n    block: 50\n";
        let error = Topology::parse(text, Path::new("t.yaml")).unwrap_err();
        let problem = &error.problems[0];
        assert_eq!(problem.key, "rules.thresholds");
        assert_eq!(problem.line, Some(10));
        assert!(
            error.to_string().contains("t.yaml:10: rules.thresholds"),
            "{error}"
        );

        let text = "sources:\n  tx:\n    type: stdin\n    colour: blue\nsinks:\n  decisions:\n    type: stdout\n  dead_letters:\n    type: stdout\n";
        let error = Topology::parse(text, Path::new("t.yaml")).unwrap_err();
        assert!(error.to_string().contains("colour"), "{error}");
        assert!(error.problems[0].line.is_some(), "{error}");
    }

    #[test]
    fn reports_every_problem_at_once() {
        let text = "sources:\n  tx:\n    type: file\n    path: /nonexistent/tx.jsonl\nsinks:\n  decisions:\n    type: file\n    path: out.avro\n    codec: confluent_avro\n  dead_letters:\n    type: stdout\nengine:\n  workers: 0\n";
        let error = Topology::parse(text, Path::new("t.yaml")).unwrap_err();
        let keys: Vec<&str> = error
            .problems
            .iter()
            .map(|problem| problem.key.as_str())
            .collect();
        assert_eq!(
            keys,
            ["sources.tx.path", "sinks.decisions.codec", "engine"],
            "{error}"
        );
    }

    #[test]
    fn a_kafka_topology_has_no_labels_output() {
        let kafka = |topic: &str| {
            format!("{{type: kafka, bootstrap_servers: 127.0.0.1:9092, topic: {topic}}}")
        };
        let text = format!(
            "sources:\n  tx: {{type: kafka, bootstrap_servers: 127.0.0.1:9092, topic: tx, group_id: g}}\n\
             sinks:\n  decisions: {}\n  dead_letters: {}\n  labels: {}\n",
            kafka("d"),
            kafka("dl"),
            kafka("l")
        );
        let error = Topology::parse(&text, Path::new("t.yaml")).unwrap_err();
        assert_eq!(error.problems[0].key, "sinks.labels", "{error}");
        assert!(error.to_string().contains("console"), "{error}");
    }
}
