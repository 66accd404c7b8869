//! The built-in generator as a source: the embedded default, no broker needed.

use super::{Source, SourceContext, SourceError, SourceReport};
use crate::domain::now_millis;
use crate::generator::{Generated, Generator, GeneratorConfig, Scenario};
use crate::runtime::{Router, Shutdown};
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorSourceConfig {
    /// Transactions per second; absent means as fast as the pipeline takes them.
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(flatten)]
    pub generator: GeneratorConfig,
}

impl GeneratorSourceConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.generator.problems();
        if let Some(rate) = self.rate.filter(|rate| !(rate.is_finite() && *rate > 0.0)) {
            problems.push(format!("rate: {rate} is not a positive number"));
        }
        problems
    }

    pub(super) fn build(&self, context: &SourceContext) -> Result<GeneratorSource, SourceError> {
        let generator = Generator::new(self.generator.clone()).map_err(SourceError::Invalid)?;
        Ok(GeneratorSource {
            generator,
            rate: self.rate,
            truth: context.truth.clone(),
        })
    }
}

/// Which generated transactions were fraud, for scoring the detector.
#[derive(Debug, Default)]
pub struct TruthBook {
    frauds: DashMap<String, Scenario>,
}

impl TruthBook {
    pub fn record(&self, transaction_id: &str, scenario: Scenario) {
        self.frauds.insert(transaction_id.to_owned(), scenario);
    }

    pub fn scenario_of(&self, transaction_id: &str) -> Option<Scenario> {
        self.frauds.get(transaction_id).map(|entry| *entry.value())
    }

    pub fn frauds_by_scenario(&self) -> Vec<(Scenario, u64)> {
        Scenario::ALL
            .iter()
            .map(|&scenario| {
                (
                    scenario,
                    self.frauds
                        .iter()
                        .filter(|entry| *entry.value() == scenario)
                        .count() as u64,
                )
            })
            .collect()
    }
}

pub struct GeneratorSource {
    generator: Generator,
    rate: Option<f64>,
    truth: Option<Arc<TruthBook>>,
}

/// Paces the stream in small steps so a rate holds without a sleep per record.
struct Pacer {
    per_second: f64,
    started: Instant,
}

impl Pacer {
    fn wait_for(&self, sent: u64, router: &mut Router) -> Result<(), SourceError> {
        let due = Duration::from_secs_f64(sent as f64 / self.per_second);
        let elapsed = self.started.elapsed();
        if due > elapsed {
            router.flush()?;
            std::thread::sleep(due - elapsed);
        }
        Ok(())
    }
}

impl Source for GeneratorSource {
    fn run(
        self: Box<Self>,
        router: &mut Router,
        shutdown: &Shutdown,
    ) -> Result<SourceReport, SourceError> {
        let GeneratorSource {
            generator,
            rate,
            truth,
        } = *self;
        let pacer = rate.map(|per_second| Pacer {
            per_second,
            started: Instant::now(),
        });
        let mut report = SourceReport::default();
        for event in generator {
            if shutdown.is_triggered() {
                break;
            }
            match event {
                Generated::Transaction {
                    transaction,
                    truth: scenario,
                } => {
                    if let (Some(book), Some(scenario)) = (&truth, scenario) {
                        book.record(&transaction.transaction_id, scenario);
                    }
                    router.transaction(transaction, now_millis(), Instant::now())?;
                    report.records += 1;
                    if let Some(pacer) = pacer.as_ref().filter(|_| report.records % 64 == 0) {
                        pacer.wait_for(report.records, router)?;
                    }
                }
                Generated::Label(label) => router.label(label)?,
            }
        }
        router.flush()?;
        Ok(report)
    }
}
