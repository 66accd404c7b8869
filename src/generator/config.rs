//! The generator's settings and the fraud scenarios it can inject.

use crate::domain::{parse_rfc3339_millis, Millis};
use crate::duration::Span;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Settings of the synthetic stream.
///
/// The defaults give about 6 000 transactions per event-time day, so the
/// default 200 000 transactions span about five weeks: long enough for
/// compromised terminals to be revealed by labels arriving days later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneratorConfig {
    /// Same seed, same stream, byte for byte.
    pub seed: u64,
    /// Card holders. Each buys 0.5 to 6 times a day (2.2 on average).
    pub customers: u32,
    /// Stop after this many transactions (None: endless). Labels still due
    /// for the transactions emitted follow the last transaction.
    pub transactions: Option<u64>,
    /// Event time of the start of the stream, RFC 3339.
    pub start: String,
    /// Share of legitimate transactions that start a fraud scenario.
    pub fraud_rate: f64,
    /// Relative weights of the scenarios.
    pub scenarios: ScenarioWeights,
    /// Labels for fraudulent transactions arrive this long after them,
    /// spread uniformly between min and max.
    pub label_delay_min: Span,
    pub label_delay_max: Span,
    /// Share of transactions carrying latitude/longitude besides the
    /// `location` name, so both ways of locating a transaction are exercised.
    pub with_coordinates: f64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 42,
            customers: 2_800,
            transactions: Some(200_000),
            start: "2025-11-01T00:00:00Z".into(),
            fraud_rate: 0.004,
            scenarios: ScenarioWeights::default(),
            label_delay_min: Span::days(1),
            label_delay_max: Span::days(10),
            with_coordinates: 0.3,
        }
    }
}

/// Event times must stay where `Transaction::validate` accepts them.
const EARLIEST_START: Millis = 946_684_800_000; // 2000-01-01
const LATEST_START: Millis = 3_786_912_000_000; // 2090-01-01
/// Bounded so that building the population stays within memory and seconds.
const MAX_CUSTOMERS: u32 = 20_000_000;
/// Chargebacks come within months; longer is a typo that would hold every
/// label past the end of any run.
const MAX_LABEL_DELAY: Span = Span::days(365);

impl GeneratorConfig {
    /// Every invalid setting, for the caller to report at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.customers == 0 || self.customers > MAX_CUSTOMERS {
            problems.push(format!(
                "customers: must be between 1 and {MAX_CUSTOMERS}, not {}",
                self.customers
            ));
        }
        if self.transactions == Some(0) {
            problems.push("transactions: must be at least 1 (leave it out for endless)".into());
        }
        if let Err(problem) = self.start_millis() {
            problems.push(format!("start: {problem}"));
        }
        check_share(&mut problems, "fraud_rate", self.fraud_rate);
        check_share(&mut problems, "with_coordinates", self.with_coordinates);
        problems.extend(self.scenarios.problems(self.fraud_rate));
        if self.label_delay_min > self.label_delay_max {
            problems.push(format!(
                "label_delay_min ({}) is longer than label_delay_max ({})",
                self.label_delay_min, self.label_delay_max
            ));
        }
        if self.label_delay_max > MAX_LABEL_DELAY {
            problems.push(format!(
                "label_delay_max: at most {MAX_LABEL_DELAY}, not {}",
                self.label_delay_max
            ));
        }
        problems
    }

    /// `start` in epoch milliseconds, if valid and within 2000..2090.
    pub fn start_millis(&self) -> Result<Millis, String> {
        let start = parse_rfc3339_millis(&self.start)?;
        if (EARLIEST_START..LATEST_START).contains(&start) {
            Ok(start)
        } else {
            Err(format!("`{}` is outside 2000..2090", self.start))
        }
    }
}

fn check_share(problems: &mut Vec<String>, name: &str, value: f64) {
    if !(0.0..=1.0).contains(&value) {
        problems.push(format!("{name}: must be between 0 and 1, not {value}"));
    }
}

/// A kind of fraud the generator injects; the ground truth of a transaction.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// A purchase on another continent minutes after the customer's own.
    ImpossibleTravel,
    /// A new device and IP, then large online purchases.
    AccountTakeover,
    /// A burst of tiny online amounts, sometimes then a large one.
    CardTesting,
    /// A skimmed terminal: a share of its transactions, for days.
    CompromisedTerminal,
    /// A large card-not-present purchase at a crypto, gambling or money
    /// transfer merchant.
    HighRiskMerchant,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::ImpossibleTravel,
        Scenario::AccountTakeover,
        Scenario::CardTesting,
        Scenario::CompromisedTerminal,
        Scenario::HighRiskMerchant,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::ImpossibleTravel => "impossible_travel",
            Scenario::AccountTakeover => "account_takeover",
            Scenario::CardTesting => "card_testing",
            Scenario::CompromisedTerminal => "compromised_terminal",
            Scenario::HighRiskMerchant => "high_risk_merchant",
        }
    }

    /// Position in [`Scenario::ALL`], for per-scenario arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Relative weights of the scenarios; 0 turns one off.
///
/// A compromised terminal yields dozens of frauds (a share of everything the
/// terminal sees for days), the others one to fifteen, so it starts less
/// often by default to keep the scenarios' fraud volumes comparable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScenarioWeights {
    pub impossible_travel: f64,
    pub account_takeover: f64,
    pub card_testing: f64,
    pub compromised_terminal: f64,
    pub high_risk_merchant: f64,
}

impl Default for ScenarioWeights {
    fn default() -> Self {
        ScenarioWeights {
            impossible_travel: 1.0,
            account_takeover: 1.0,
            card_testing: 1.0,
            compromised_terminal: 0.15,
            high_risk_merchant: 1.0,
        }
    }
}

impl ScenarioWeights {
    pub fn weight(&self, scenario: Scenario) -> f64 {
        match scenario {
            Scenario::ImpossibleTravel => self.impossible_travel,
            Scenario::AccountTakeover => self.account_takeover,
            Scenario::CardTesting => self.card_testing,
            Scenario::CompromisedTerminal => self.compromised_terminal,
            Scenario::HighRiskMerchant => self.high_risk_merchant,
        }
    }

    fn problems(&self, fraud_rate: f64) -> Vec<String> {
        let mut problems = Vec::new();
        for scenario in Scenario::ALL {
            let weight = self.weight(scenario);
            if !(weight.is_finite() && weight >= 0.0) {
                problems.push(format!(
                    "scenarios.{scenario}: must be a non-negative number, not {weight}"
                ));
            }
        }
        let total: f64 = Scenario::ALL.iter().map(|&s| self.weight(s)).sum();
        if problems.is_empty() && fraud_rate > 0.0 && total <= 0.0 {
            problems.push("scenarios: every weight is 0 but fraud_rate is not".into());
        }
        problems
    }

    /// Cumulative weights in [`Scenario::ALL`] order, for sampling.
    pub(super) fn cumulative(&self) -> [f64; 5] {
        let mut total = 0.0;
        Scenario::ALL.map(|scenario| {
            total += self.weight(scenario);
            total
        })
    }
}
