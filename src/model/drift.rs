//! Drift: how far the scored population has moved from the training
//! reference, as a population stability index per feature and for the score.
//!
//! Workers bin a whole batch locally and add it under one lock, so the cost
//! is a few comparisons per feature, not an atomic per feature per row. PSI
//! is computed over windows of `window` rows; the last full window is what
//! the metrics and the `drift` command report.

use super::reference::{Histogram, References, PSI_WARNING};
use super::{FeatureVector, FEATURE_COUNT, FEATURE_NAMES};
use std::sync::Mutex;

pub struct DriftMonitor {
    /// One per feature in `FEATURE_NAMES` order, then the score; `None`
    /// where the card has no reference.
    references: Vec<Option<Histogram>>,
    /// The referenced columns, each with its place in a batch's flat counts.
    binned: Vec<Binned>,
    window: u64,
    counts: Mutex<Counts>,
}

struct Binned {
    column: usize,
    histogram: Histogram,
    start: usize,
    end: usize,
}

#[derive(Default)]
struct Counts {
    rows: u64,
    bins: Vec<Vec<u64>>,
    /// PSI of the last complete window, same order as `references`.
    latest: Option<Vec<Option<f64>>>,
}

/// One line of a drift report.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub name: &'static str,
    pub psi: f64,
}

impl Drift {
    pub fn is_significant(&self) -> bool {
        self.psi > PSI_WARNING
    }
}

/// The score's name in reports and metrics.
pub const SCORE_NAME: &str = "score_p_fraud";

impl DriftMonitor {
    pub fn new(references: &References, window: u64) -> DriftMonitor {
        let mut ordered: Vec<Option<Histogram>> = FEATURE_NAMES
            .iter()
            .map(|name| references.features.get(*name).cloned())
            .collect();
        ordered.push(references.score_p_fraud.clone());
        let ordered: Vec<Option<Histogram>> = ordered
            .into_iter()
            .map(|histogram| histogram.filter(Histogram::is_consistent))
            .collect();
        let bins = ordered
            .iter()
            .map(|histogram| vec![0; histogram.as_ref().map_or(0, Histogram::bins)])
            .collect();
        let mut binned = Vec::new();
        let mut start = 0;
        for (column, histogram) in ordered.iter().enumerate() {
            if let Some(histogram) = histogram {
                let end = start + histogram.bins();
                binned.push(Binned {
                    column,
                    histogram: histogram.clone(),
                    start,
                    end,
                });
                start = end;
            }
        }
        DriftMonitor {
            references: ordered,
            binned,
            window: window.max(1),
            counts: Mutex::new(Counts {
                bins,
                ..Counts::default()
            }),
        }
    }

    pub fn has_references(&self) -> bool {
        self.references.iter().any(Option::is_some)
    }

    /// Adds a scored batch: `scores[i]` is the model's probability for `rows[i]`.
    pub fn record(&self, rows: &[FeatureVector], scores: &[f32]) {
        if rows.is_empty() || self.binned.is_empty() {
            return;
        }
        // One flat array for the batch: bins of every referenced column, in order.
        let mut local = vec![0u32; self.binned.last().map_or(0, |last| last.end)];
        for (row, score) in rows.iter().zip(scores) {
            for binned in &self.binned {
                let value = row.get(binned.column).copied().unwrap_or(*score);
                local[binned.start + binned.histogram.bin(value as f64)] += 1;
            }
        }
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        for binned in &self.binned {
            let batch = &local[binned.start..binned.end];
            for (bin, count) in counts.bins[binned.column].iter_mut().zip(batch) {
                *bin += u64::from(*count);
            }
        }
        counts.rows += rows.len() as u64;
        if counts.rows >= self.window {
            let psi = self.psi_of(&counts.bins);
            counts.latest = Some(psi);
            counts.rows = 0;
            counts.bins.iter_mut().flatten().for_each(|bin| *bin = 0);
        }
    }

    /// The last full window's PSI, or the current partial window's before
    /// the first one completes; largest first.
    pub fn report(&self) -> Vec<Drift> {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let psi = match &counts.latest {
            Some(latest) => latest.clone(),
            None => self.psi_of(&counts.bins),
        };
        drop(counts);
        let mut report: Vec<Drift> = psi
            .into_iter()
            .enumerate()
            .filter_map(|(column, psi)| {
                Some(Drift {
                    name: column_name(column),
                    psi: psi?,
                })
            })
            .collect();
        report.sort_by(|a, b| b.psi.total_cmp(&a.psi));
        report
    }

    fn psi_of(&self, bins: &[Vec<u64>]) -> Vec<Option<f64>> {
        self.references
            .iter()
            .zip(bins)
            .map(|(histogram, counts)| histogram.as_ref()?.psi(counts))
            .collect()
    }
}

fn column_name(column: usize) -> &'static str {
    if column < FEATURE_COUNT {
        FEATURE_NAMES[column]
    } else {
        SCORE_NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn references() -> References {
        let histogram = Histogram {
            cuts: vec![1.0, 2.0, 3.0],
            proportions: vec![0.25; 4],
        };
        References {
            features: BTreeMap::from([("amount_log".to_owned(), histogram.clone())]),
            score_p_fraud: Some(Histogram {
                cuts: vec![0.5],
                proportions: vec![0.9, 0.1],
            }),
        }
    }

    fn row(amount_log: f32) -> FeatureVector {
        let mut row = [0.0; FEATURE_COUNT];
        row[0] = amount_log;
        row
    }

    #[test]
    fn a_population_like_the_reference_is_stable() {
        let monitor = DriftMonitor::new(&references(), 400);
        let rows: Vec<FeatureVector> = (0..400).map(|i| row((i % 4) as f32 + 0.5)).collect();
        let scores: Vec<f32> = (0..400)
            .map(|i| if i % 10 == 0 { 0.9 } else { 0.1 })
            .collect();
        monitor.record(&rows, &scores);
        let report = monitor.report();
        assert_eq!(report.len(), 2);
        assert!(
            report.iter().all(|drift| !drift.is_significant()),
            "{report:?}"
        );
    }

    #[test]
    fn a_shifted_feature_is_reported_first() {
        let monitor = DriftMonitor::new(&references(), 1_000);
        let rows: Vec<FeatureVector> = (0..300).map(|_| row(7.0)).collect();
        monitor.record(&rows, &[0.1; 300]);
        let report = monitor.report();
        assert_eq!(report[0].name, "amount_log");
        assert!(report[0].is_significant());
    }
}
