//! Explainable rules: each fired rule is a reason with a code, points and
//! the evidence behind it; the points add up to a 0-100 risk score.

pub mod config;
mod signals;

pub use config::RulesConfig;
pub use signals::{Novelty, Signals, Travel};

use crate::domain::{Action, Reason, ReasonCode};
use std::collections::BTreeMap;

/// Rules compiled against the state's window layout.
#[derive(Debug, Clone)]
pub struct Rules {
    config: RulesConfig,
    card_testing_window: Option<usize>,
    velocity_windows: Vec<(usize, String, u32)>,
    high_risk: CategorySet,
    elevated_risk: CategorySet,
}

/// A handful of names: a scan with ASCII case folding beats hashing a
/// lower-cased copy on every transaction.
#[derive(Debug, Clone, Default)]
struct CategorySet {
    categories: Vec<String>,
    mccs: Vec<String>,
}

impl CategorySet {
    fn new(rule: &config::MerchantRisk) -> CategorySet {
        CategorySet {
            categories: rule
                .categories
                .iter()
                .map(|name| name.trim().to_owned())
                .collect(),
            mccs: rule
                .mccs
                .iter()
                .map(|code| code.trim().to_owned())
                .collect(),
        }
    }

    /// The matching category or MCC, if any.
    fn matches<'a>(&self, category: Option<&'a str>, mcc: Option<&'a str>) -> Option<&'a str> {
        let by_category = category.filter(|name| {
            let name = name.trim();
            self.categories
                .iter()
                .any(|known| known.eq_ignore_ascii_case(name))
        });
        by_category.or(mcc.filter(|code| {
            // Trimmed once, not once per known code.
            let code = code.trim();
            self.mccs.iter().any(|known| known == code)
        }))
    }
}

/// The rules' verdict before any model or agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub risk_score: i32,
    pub action: Action,
    pub reasons: Vec<Reason>,
    /// A hard-block rule fired: BLOCK whatever the score, and no agent may lower it.
    pub hard_block: bool,
}

impl Rules {
    /// `window_names` are the state's windows in layout order.
    pub fn new(config: RulesConfig, window_names: &[String]) -> Result<Rules, Vec<String>> {
        let problems = config.problems(window_names);
        if !problems.is_empty() {
            return Err(problems);
        }
        let index = |name: &str| window_names.iter().position(|window| window == name);
        let velocity_windows = config
            .velocity
            .limits
            .iter()
            .filter_map(|limit| {
                Some((index(&limit.window)?, limit.window.clone(), limit.max_count))
            })
            .collect();
        Ok(Rules {
            card_testing_window: index(&config.card_testing.window),
            velocity_windows,
            high_risk: CategorySet::new(&config.high_risk_merchant),
            elevated_risk: CategorySet::new(&config.elevated_risk_merchant),
            config,
        })
    }

    pub fn config(&self) -> &RulesConfig {
        &self.config
    }

    /// Whether any rule looks at the parsed IP address.
    pub fn checks_ip_addresses(&self) -> bool {
        self.config.ip_denylist.enabled && !self.config.ip_denylist.networks.is_empty()
    }

    /// 2 for a high-risk merchant category or MCC, 1 for elevated, 0 otherwise.
    pub fn merchant_tier(&self, transaction: &crate::domain::Transaction) -> u8 {
        let category = transaction.merchant_category.as_deref();
        let mcc = transaction.mcc.as_deref();
        if self.high_risk.matches(category, mcc).is_some() {
            2
        } else if self.elevated_risk.matches(category, mcc).is_some() {
            1
        } else {
            0
        }
    }

    pub fn version(&self) -> &str {
        &self.config.version
    }

    pub fn judge(&self, signals: &Signals) -> Verdict {
        let mut fired = Fired::default();
        self.travel_rules(signals, &mut fired);
        self.identity_rules(signals, &mut fired);
        self.amount_rules(signals, &mut fired);
        self.merchant_rules(signals, &mut fired);
        self.history_rules(signals, &mut fired);
        informational(signals, &mut fired);
        self.verdict(fired)
    }

    /// The action a risk score calls for on its own, without hard rules.
    pub fn action_for(&self, risk_score: i32) -> Action {
        let thresholds = self.config.thresholds;
        if risk_score >= thresholds.block {
            Action::Block
        } else if risk_score >= thresholds.review {
            Action::Review
        } else {
            Action::Approve
        }
    }

    fn verdict(&self, fired: Fired) -> Verdict {
        let total: i32 = fired.reasons.iter().map(|reason| reason.points).sum();
        let risk_score = total.clamp(0, 100);
        let action = if fired.hard_block {
            Action::Block
        } else {
            self.action_for(risk_score)
        };
        Verdict {
            risk_score,
            action,
            reasons: fired.reasons,
            hard_block: fired.hard_block,
        }
    }

    fn travel_rules(&self, signals: &Signals, fired: &mut Fired) {
        let rule = &self.config.impossible_travel;
        let Some(travel) = signals.travel.filter(|_| rule.enabled) else {
            return;
        };
        if travel.distance_km >= rule.min_distance_km && travel.speed_kmh > rule.max_speed_kmh {
            let source = if travel.from_hint {
                " (from the transaction's previous-location hint)"
            } else {
                ""
            };
            fired.add(
                (ReasonCode::ImpossibleTravel, rule.points, rule.hard_block),
                format!(
                    "{:.0} km from the previous transaction in {:.0} min: {:.0} km/h, above {:.0} km/h{source}",
                    travel.distance_km,
                    travel.elapsed_secs / 60.0,
                    travel.speed_kmh,
                    rule.max_speed_kmh
                ),
                &[
                    ("distance_km", travel.distance_km),
                    ("elapsed_minutes", travel.elapsed_secs / 60.0),
                    ("speed_kmh", travel.speed_kmh),
                    ("max_speed_kmh", rule.max_speed_kmh),
                ],
            );
        }
    }

    fn identity_rules(&self, signals: &Signals, fired: &mut Fired) {
        let config = &self.config;
        let transaction = signals.transaction;
        if let Some(device) = signals
            .device
            .filter(|device| device.new && config.new_device.enabled)
        {
            let rule = config.new_device;
            fired.add(
                (ReasonCode::NewDevice, rule.points, rule.hard_block),
                format!(
                    "device never seen for this customer ({} known)",
                    device.known
                ),
                &[("known_devices", device.known as f64)],
            );
            let cnp = &config.card_not_present_new_device;
            if cnp.enabled
                && transaction.is_card_not_present()
                && transaction.amount >= cnp.min_amount
            {
                fired.add(
                    (
                        ReasonCode::CardNotPresentNewDevice,
                        cnp.points,
                        cnp.hard_block,
                    ),
                    format!(
                        "card not present on a new device for {:.2}",
                        transaction.amount
                    ),
                    &[("amount", transaction.amount)],
                );
            }
        }
        if let Some(ip) = signals.ip.filter(|ip| ip.new && config.new_ip.enabled) {
            let rule = config.new_ip;
            fired.add(
                (ReasonCode::NewIp, rule.points, rule.hard_block),
                format!(
                    "IP address never seen for this customer ({} known)",
                    ip.known
                ),
                &[("known_ips", ip.known as f64)],
            );
        }
        let shared = &config.shared_device;
        if shared.enabled && signals.device_customers_24h >= shared.min_customers_24h {
            fired.add(
                (ReasonCode::SharedDevice, shared.points, shared.hard_block),
                format!(
                    "device used by {} customers in 24 h",
                    signals.device_customers_24h
                ),
                &[("customers_24h", signals.device_customers_24h as f64)],
            );
        }
        let denylist = &config.ip_denylist;
        if let Some(address) = signals.ip_address.filter(|_| denylist.enabled) {
            if let Some(network) = denylist
                .networks
                .iter()
                .find(|network| network.contains(&address))
            {
                fired.add(
                    (
                        ReasonCode::DenylistedIp,
                        denylist.points,
                        denylist.hard_block,
                    ),
                    format!("IP {address} is in the deny list ({network})"),
                    &[],
                );
            }
        }
    }

    fn amount_rules(&self, signals: &Signals, fired: &mut Fired) {
        let amount = signals.transaction.amount;
        let spike = &self.config.amount_spike;
        if spike.enabled
            && signals.transactions_seen >= spike.min_history
            && signals.mean_amount > 0.0
        {
            let ratio = amount / signals.mean_amount;
            let zscore = (amount - signals.mean_amount)
                / signals
                    .stddev_amount
                    .max(signals.mean_amount * 0.05)
                    .max(0.01);
            if ratio >= spike.min_ratio && zscore >= spike.min_zscore {
                fired.add(
                    (ReasonCode::AmountSpike, spike.points, spike.hard_block),
                    format!(
                        "{amount:.2} is {ratio:.1}x the customer's usual {:.2}",
                        signals.mean_amount
                    ),
                    &[
                        ("amount_ratio", ratio),
                        ("zscore", zscore),
                        ("mean_amount", signals.mean_amount),
                    ],
                );
            }
        }
        let high = &self.config.high_amount;
        let tier = high
            .tiers
            .iter()
            .filter(|tier| amount >= tier.at_least)
            .max_by(|a, b| a.at_least.total_cmp(&b.at_least));
        if let Some(tier) = tier.filter(|_| high.enabled) {
            fired.add(
                (ReasonCode::HighAmount, tier.points, high.hard_block),
                format!("amount {amount:.2} is at least {:.2}", tier.at_least),
                &[("amount", amount), ("tier", tier.at_least)],
            );
        }
        let testing = &self.config.card_testing;
        if let Some(window) = self.card_testing_window.filter(|_| testing.enabled) {
            let small = signals.windows[window].small;
            if small >= testing.min_small {
                fired.add(
                    (ReasonCode::CardTesting, testing.points, testing.hard_block),
                    format!("{small} small transactions in {}", testing.window),
                    &[("small_transactions", small as f64)],
                );
            }
        }
        self.velocity_rule(signals, fired);
    }

    fn velocity_rule(&self, signals: &Signals, fired: &mut Fired) {
        let rule = &self.config.velocity;
        if !rule.enabled {
            return;
        }
        let exceeded = self
            .velocity_windows
            .iter()
            .find(|(window, _, max_count)| signals.windows[*window].count > *max_count);
        if let Some((window, name, max_count)) = exceeded {
            let value = signals.windows[*window];
            fired.add(
                (ReasonCode::Velocity, rule.points, rule.hard_block),
                format!("{} transactions in {name}, limit {max_count}", value.count),
                &[
                    ("count", value.count as f64),
                    ("sum", value.sum),
                    ("limit", *max_count as f64),
                ],
            );
        }
    }

    fn merchant_rules(&self, signals: &Signals, fired: &mut Fired) {
        let transaction = signals.transaction;
        let category = transaction.merchant_category.as_deref();
        let mcc = transaction.mcc.as_deref();
        let tiers = [
            (
                &self.config.high_risk_merchant,
                &self.high_risk,
                "high-risk",
            ),
            (
                &self.config.elevated_risk_merchant,
                &self.elevated_risk,
                "elevated-risk",
            ),
        ];
        for (rule, set, label) in tiers {
            if let Some(matched) = set.matches(category, mcc).filter(|_| rule.enabled) {
                fired.add(
                    (ReasonCode::HighRiskMerchant, rule.points, rule.hard_block),
                    format!("{label} merchant category `{matched}`"),
                    &[],
                );
                return;
            }
        }
    }

    fn history_rules(&self, signals: &Signals, fired: &mut Fired) {
        let countries = &self.config.many_countries;
        if countries.enabled && signals.countries_24h >= countries.min_countries_24h {
            fired.add(
                (
                    ReasonCode::ManyCountries,
                    countries.points,
                    countries.hard_block,
                ),
                format!("{} countries in 24 h", signals.countries_24h),
                &[("countries_24h", signals.countries_24h as f64)],
            );
        }
        let compromised = &self.config.compromised_card;
        let unfamiliar =
            signals.device.is_some_and(|device| device.new) || signals.ip.is_some_and(|ip| ip.new);
        let applies = compromised.enabled && (unfamiliar || !compromised.only_unfamiliar);
        if let Some(since) = signals.compromised_since.filter(|_| applies) {
            fired.add(
                (
                    ReasonCode::CompromisedCard,
                    compromised.points,
                    compromised.hard_block,
                ),
                format!(
                    "card confirmed compromised since {}",
                    crate::domain::format_millis(since)
                ),
                &[],
            );
        }
        self.terminal_rule(signals, fired);
    }

    fn terminal_rule(&self, signals: &Signals, fired: &mut Fired) {
        let rule = &self.config.terminal_risk;
        let Some(risks) = signals.terminal.filter(|_| rule.enabled) else {
            return;
        };
        let risk = match rule.window_days {
            1 => risks[0],
            30 => risks[2],
            _ => risks[1],
        };
        if risk.frauds >= rule.min_frauds && risk.fraud_rate() >= rule.min_fraud_rate {
            fired.add(
                (ReasonCode::TerminalRisk, rule.points, rule.hard_block),
                format!(
                    "terminal had {} confirmed frauds in {} transactions over {} days (before the feedback delay)",
                    risk.frauds, risk.transactions, rule.window_days
                ),
                &[
                    ("fraud_rate_1d", risks[0].fraud_rate()),
                    ("fraud_rate_7d", risks[1].fraud_rate()),
                    ("fraud_rate_30d", risks[2].fraud_rate()),
                    ("frauds", risk.frauds as f64),
                ],
            );
        }
    }
}

/// Zero-point reasons that tell the reader how to weigh the decision.
fn informational(signals: &Signals, fired: &mut Fired) {
    for place in signals.unknown_places.iter().flatten() {
        fired.add(
            (ReasonCode::UnknownLocation, 0, false),
            format!(
                "place `{}` is not in the gazetteer: travel not checked against it",
                truncate(place, 80)
            ),
            &[],
        );
    }
    if signals.late {
        fired.add(
            (ReasonCode::LateEvent, 0, false),
            "arrived after the allowed lateness: decided on current state, kept out of travel history".into(),
            &[],
        );
    }
    if signals.ingestion_time {
        fired.add(
            (ReasonCode::IngestionTime, 0, false),
            "no timestamp: ingestion time used as event time".into(),
            &[],
        );
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[derive(Default)]
struct Fired {
    reasons: Vec<Reason>,
    hard_block: bool,
}

impl Fired {
    fn add(
        &mut self,
        (code, points, hard_block): (ReasonCode, i32, bool),
        detail: String,
        evidence: &[(&str, f64)],
    ) {
        self.hard_block |= hard_block;
        let evidence: BTreeMap<String, f64> = evidence
            .iter()
            .filter(|(_, value)| value.is_finite())
            .map(|(name, value)| (name.to_string(), round(*value)))
            .collect();
        self.reasons.push(Reason {
            code,
            points,
            detail,
            evidence,
        });
    }
}

/// Evidence is for people: four decimals are plenty and keep JSON short.
fn round(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}
