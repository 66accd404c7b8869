//! The training window's reference histograms, from the model card: the
//! baseline for drift (population stability index) and the "typical value"
//! a feature is replaced by when explaining a score.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Quantile bins as `training/train.py` writes them: bin 0 is `x <= cuts[0]`,
/// bin i is `cuts[i-1] < x <= cuts[i]`, the last bin is `x > cuts[last]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Histogram {
    pub cuts: Vec<f64>,
    pub proportions: Vec<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct References {
    #[serde(default)]
    pub features: BTreeMap<String, Histogram>,
    #[serde(default)]
    pub score_p_fraud: Option<Histogram>,
}

/// PSI above this means the population moved enough to retrain (the usual
/// rule of thumb: < 0.1 stable, 0.1-0.2 moderate, > 0.2 significant).
pub const PSI_WARNING: f64 = 0.2;

/// Proportions below this are floored so an empty bin does not make PSI infinite.
const PSI_FLOOR: f64 = 1e-4;

impl Histogram {
    pub fn bins(&self) -> usize {
        self.cuts.len() + 1
    }

    /// The bin `value` falls in. Counting the cuts below it equals a binary
    /// search over sorted cuts, without its data-dependent branches: on
    /// ten-bin histograms those mispredicted often enough to cost 3-4 % of
    /// the pipeline with the model.
    pub fn bin(&self, value: f64) -> usize {
        self.cuts.iter().filter(|cut| **cut < value).count()
    }

    /// Whether the proportions fit the cuts (a damaged card is refused at load).
    pub fn is_consistent(&self) -> bool {
        self.proportions.len() == self.bins()
            && self.cuts.windows(2).all(|pair| pair[0] < pair[1])
            && self
                .proportions
                .iter()
                .all(|share| share.is_finite() && *share >= 0.0)
    }

    /// The upper edge of the bin holding the median: a typical training value.
    pub fn median(&self) -> f64 {
        let mut cumulative = 0.0;
        for (index, share) in self.proportions.iter().enumerate() {
            cumulative += share;
            if cumulative >= 0.5 {
                return self
                    .cuts
                    .get(index)
                    .or(self.cuts.last())
                    .copied()
                    .unwrap_or(0.0);
            }
        }
        self.cuts.last().copied().unwrap_or(0.0)
    }

    /// Population stability index of `counts` (one per bin) against the reference.
    pub fn psi(&self, counts: &[u64]) -> Option<f64> {
        let total: u64 = counts.iter().sum();
        if total == 0 || counts.len() != self.bins() {
            return None;
        }
        let psi = counts
            .iter()
            .zip(&self.proportions)
            .map(|(count, expected)| {
                let actual = (*count as f64 / total as f64).max(PSI_FLOOR);
                let expected = expected.max(PSI_FLOOR);
                (actual - expected) * (actual / expected).ln()
            })
            .sum();
        Some(psi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deciles() -> Histogram {
        Histogram {
            cuts: (1..10).map(f64::from).collect(),
            proportions: vec![0.1; 10],
        }
    }

    #[test]
    fn bins_follow_the_training_rule() {
        let histogram = deciles();
        assert_eq!(histogram.bin(0.5), 0);
        assert_eq!(histogram.bin(1.0), 0, "x <= cuts[0] is bin 0");
        assert_eq!(histogram.bin(1.5), 1);
        assert_eq!(histogram.bin(9.0), 8);
        assert_eq!(histogram.bin(42.0), 9);
        assert!(histogram.is_consistent());
    }

    #[test]
    fn counting_cuts_agrees_with_a_binary_search() {
        let histogram = deciles();
        for tenth in -20..120 {
            let value = tenth as f64 / 10.0;
            let searched = histogram.cuts.partition_point(|cut| *cut < value);
            assert_eq!(histogram.bin(value), searched, "at {value}");
        }
        assert_eq!(histogram.bin(f64::NAN), 0, "no cut is below NaN");
    }

    #[test]
    fn the_same_population_is_stable_and_a_shifted_one_is_not() {
        let histogram = deciles();
        let same = vec![100; 10];
        assert!(histogram.psi(&same).unwrap() < 1e-9);
        let mut shifted = vec![0; 10];
        shifted[9] = 1_000;
        assert!(histogram.psi(&shifted).unwrap() > PSI_WARNING);
        assert_eq!(histogram.psi(&[0; 10]), None);
    }

    #[test]
    fn the_median_is_the_edge_of_the_middle_bin() {
        assert_eq!(deciles().median(), 5.0);
        let flag = Histogram {
            cuts: vec![0.0],
            proportions: vec![0.9, 0.1],
        };
        assert_eq!(flag.median(), 0.0);
    }
}
