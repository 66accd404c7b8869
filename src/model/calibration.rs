//! Puts the model's fraud probability on the rules' 0-100 risk scale.
//!
//! Training chose the probability thresholds for REVIEW and BLOCK on
//! validation data; the topology chose the risk thresholds. The mapping is
//! piecewise linear through (0, 0), (review_p, review_risk),
//! (block_p, block_risk), (1, 100), so the model reaches REVIEW or BLOCK on
//! the risk scale exactly when its own calibrated threshold says so.

use serde::Deserialize;

/// The card's `thresholds` section: probabilities chosen on validation data.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct ProbabilityThresholds {
    pub review: f64,
    pub block: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    probability: ProbabilityThresholds,
    review_risk: i32,
    block_risk: i32,
}

impl Calibration {
    /// `None` unless 0 < review <= block < 1 and the risk thresholds are ordered.
    pub fn new(
        probability: ProbabilityThresholds,
        review_risk: i32,
        block_risk: i32,
    ) -> Option<Calibration> {
        let ordered = 0.0 < probability.review
            && probability.review <= probability.block
            && probability.block < 1.0
            && 0 < review_risk
            && review_risk <= block_risk
            && block_risk <= 100;
        ordered.then_some(Calibration {
            probability,
            review_risk,
            block_risk,
        })
    }

    pub fn thresholds(&self) -> ProbabilityThresholds {
        self.probability
    }

    /// The risk (0-100) that a fraud probability stands for.
    pub fn risk(&self, probability: f64) -> i32 {
        let p = if probability.is_finite() {
            probability.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let ProbabilityThresholds { review, block } = self.probability;
        let (review_risk, block_risk) = (self.review_risk as f64, self.block_risk as f64);
        let risk = if p < review {
            p / review * review_risk
        } else if p < block {
            review_risk + (p - review) / (block - review) * (block_risk - review_risk)
        } else {
            block_risk + (p - block) / (1.0 - block) * (100.0 - block_risk)
        };
        // Floor, so a probability just under a threshold never rounds up onto it.
        (risk.floor() as i32).clamp(0, 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calibration() -> Calibration {
        let thresholds = ProbabilityThresholds {
            review: 0.4,
            block: 0.8,
        };
        Calibration::new(thresholds, 40, 80).unwrap()
    }

    #[test]
    fn thresholds_land_on_the_risk_thresholds() {
        let calibration = calibration();
        assert_eq!(calibration.risk(0.0), 0);
        assert_eq!(calibration.risk(0.4), 40);
        assert_eq!(calibration.risk(0.399_999), 39);
        assert_eq!(calibration.risk(0.8), 80);
        assert_eq!(calibration.risk(0.799_999), 79);
        assert_eq!(calibration.risk(1.0), 100);
        assert_eq!(calibration.risk(f64::NAN), 0);
    }

    #[test]
    fn the_mapping_is_monotone() {
        let calibration = calibration();
        let risks: Vec<i32> = (0..=1000)
            .map(|i| calibration.risk(i as f64 / 1000.0))
            .collect();
        assert!(risks.windows(2).all(|pair| pair[0] <= pair[1]));
    }

    #[test]
    fn disordered_thresholds_are_refused() {
        let backwards = ProbabilityThresholds {
            review: 0.9,
            block: 0.5,
        };
        assert!(Calibration::new(backwards, 40, 80).is_none());
        let ok = ProbabilityThresholds {
            review: 0.5,
            block: 0.9,
        };
        assert!(Calibration::new(ok, 80, 40).is_none());
    }
}
