//! Rule settings from the topology's `rules:` section. Every rule has
//! `enabled`, `points` and `hard_block` (fire => BLOCK whatever the score).

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Stamped on every decision, so a decision can be traced to its rules.
    pub version: String,
    pub thresholds: Thresholds,
    pub impossible_travel: ImpossibleTravel,
    pub new_device: Simple,
    pub new_ip: Simple,
    pub card_not_present_new_device: CardNotPresentNewDevice,
    pub shared_device: SharedDevice,
    pub ip_denylist: IpDenylist,
    pub amount_spike: AmountSpike,
    pub high_amount: HighAmount,
    pub card_testing: CardTesting,
    pub velocity: Velocity,
    pub high_risk_merchant: MerchantRisk,
    pub elevated_risk_merchant: MerchantRisk,
    pub many_countries: ManyCountries,
    pub compromised_card: CompromisedCard,
    pub terminal_risk: TerminalRiskRule,
}

/// Risk scores at or above `block` block; at or above `review` go to review.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub review: i32,
    pub block: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Simple {
    pub enabled: bool,
    pub points: i32,
    pub hard_block: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImpossibleTravel {
    pub enabled: bool,
    pub points: i32,
    pub hard_block: bool,
    /// Faster than this between two transactions is impossible (a jet cruises near 900 km/h).
    pub max_speed_kmh: f64,
    /// Shorter hops never fire: geocoding noise within a city is not travel.
    pub min_distance_km: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CardNotPresentNewDevice {
    pub enabled: bool,
    pub points: i32,
    pub hard_block: bool,
    /// Only amounts from here up: small first purchases on a new phone are normal.
    pub min_amount: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SharedDevice {
    pub enabled: bool,
    pub points: i32,
    pub hard_block: bool,
    /// Distinct customers on one device in 24 h, this one included.
    pub min_customers_24h: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IpDenylist {
    pub enabled: bool,
    pub points: i32,
    pub hard_block: bool,
    /// Addresses or CIDR ranges: `185.220.101.5`, `185.220.100.0/22`, `2001:db8::/32`.
    pub networks: Vec<IpNet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmountSpike {
    pub enabled: bool,
    pub points: i32,
    pub hard_block: bool,
    /// Transactions of history needed before the customer's mean means anything.
    pub min_history: u32,
    pub min_ratio: f64,
    pub min_zscore: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HighAmount {
    pub enabled: bool,
    pub hard_block: bool,
    /// The highest tier the amount reaches gives its points.
    pub tiers: Vec<AmountTier>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountTier {
    pub at_least: f64,
    pub points: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CardTesting {
    pub enabled: bool,
    pub points: i32,
    pub hard_block: bool,
    /// The window whose small-amount count is checked, by name.
    pub window: String,
    /// Small transactions in that window, this one included.
    pub min_small: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Velocity {
    pub enabled: bool,
    pub points: i32,
    pub hard_block: bool,
    pub limits: Vec<VelocityLimit>,
}

/// More than `max_count` transactions (this one included) in `window` fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VelocityLimit {
    pub window: String,
    pub max_count: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MerchantRisk {
    pub enabled: bool,
    pub points: i32,
    pub hard_block: bool,
    /// Merchant categories, matched case-insensitively.
    pub categories: Vec<String>,
    /// ISO 18245 merchant category codes.
    pub mccs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManyCountries {
    pub enabled: bool,
    pub points: i32,
    pub hard_block: bool,
    pub min_countries_24h: u32,
}

/// After a confirmed fraud on the card. The customer keeps shopping, so by
/// default only use from a device or IP the customer never used fires.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompromisedCard {
    pub enabled: bool,
    pub points: i32,
    pub hard_block: bool,
    pub only_unfamiliar: bool,
}

impl Default for CompromisedCard {
    fn default() -> Self {
        CompromisedCard {
            enabled: true,
            points: 50,
            hard_block: false,
            only_unfamiliar: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TerminalRiskRule {
    pub enabled: bool,
    pub points: i32,
    pub hard_block: bool,
    /// Which delayed window to judge: 1, 7 or 30 days.
    pub window_days: u32,
    pub min_fraud_rate: f64,
    pub min_frauds: u32,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            version: "rules-2025.12.1".into(),
            thresholds: Thresholds {
                review: 40,
                block: 80,
            },
            impossible_travel: ImpossibleTravel::default(),
            new_device: Simple::with_points(15),
            new_ip: Simple::with_points(5),
            card_not_present_new_device: CardNotPresentNewDevice::default(),
            shared_device: SharedDevice::default(),
            ip_denylist: IpDenylist::default(),
            amount_spike: AmountSpike::default(),
            high_amount: HighAmount::default(),
            card_testing: CardTesting::default(),
            velocity: Velocity::default(),
            high_risk_merchant: MerchantRisk {
                enabled: true,
                points: 25,
                hard_block: false,
                categories: strings(&[
                    "Cryptocurrency",
                    "Gambling",
                    "Money Transfer",
                    "Wire Transfer",
                    "Gift Cards",
                    "Prepaid Cards",
                ]),
                mccs: strings(&["6051", "7995", "4829", "6540"]),
            },
            elevated_risk_merchant: MerchantRisk {
                enabled: true,
                points: 10,
                hard_block: false,
                categories: strings(&["Electronics", "Jewelry", "Luxury Goods"]),
                mccs: strings(&["5732", "5944", "5094"]),
            },
            many_countries: ManyCountries::default(),
            compromised_card: CompromisedCard::default(),
            terminal_risk: TerminalRiskRule::default(),
        }
    }
}

impl Simple {
    fn with_points(points: i32) -> Simple {
        Simple {
            enabled: true,
            points,
            hard_block: false,
        }
    }
}

impl Default for Simple {
    fn default() -> Self {
        Simple::with_points(10)
    }
}

impl Default for ImpossibleTravel {
    fn default() -> Self {
        ImpossibleTravel {
            enabled: true,
            points: 45,
            hard_block: false,
            max_speed_kmh: 1_000.0,
            min_distance_km: 100.0,
        }
    }
}

impl Default for CardNotPresentNewDevice {
    fn default() -> Self {
        CardNotPresentNewDevice {
            enabled: true,
            points: 10,
            hard_block: false,
            min_amount: 500.0,
        }
    }
}

impl Default for SharedDevice {
    fn default() -> Self {
        SharedDevice {
            enabled: true,
            points: 25,
            hard_block: false,
            min_customers_24h: 3,
        }
    }
}

impl Default for IpDenylist {
    fn default() -> Self {
        IpDenylist {
            enabled: true,
            points: 40,
            hard_block: false,
            networks: Vec::new(),
        }
    }
}

impl Default for AmountSpike {
    fn default() -> Self {
        AmountSpike {
            enabled: true,
            points: 25,
            hard_block: false,
            min_history: 5,
            min_ratio: 3.0,
            min_zscore: 3.0,
        }
    }
}

impl Default for HighAmount {
    fn default() -> Self {
        HighAmount {
            enabled: true,
            hard_block: false,
            tiers: vec![
                AmountTier {
                    at_least: 1_000.0,
                    points: 15,
                },
                AmountTier {
                    at_least: 3_000.0,
                    points: 25,
                },
            ],
        }
    }
}

impl Default for CardTesting {
    fn default() -> Self {
        CardTesting {
            enabled: true,
            points: 45,
            hard_block: false,
            window: "1h".into(),
            min_small: 5,
        }
    }
}

impl Default for Velocity {
    fn default() -> Self {
        let limit = |window: &str, max_count| VelocityLimit {
            window: window.into(),
            max_count,
        };
        Velocity {
            enabled: true,
            points: 20,
            hard_block: false,
            limits: vec![limit("1m", 4), limit("1h", 12), limit("24h", 40)],
        }
    }
}

impl Default for ManyCountries {
    fn default() -> Self {
        ManyCountries {
            enabled: true,
            points: 15,
            hard_block: false,
            min_countries_24h: 3,
        }
    }
}

impl Default for TerminalRiskRule {
    fn default() -> Self {
        TerminalRiskRule {
            enabled: true,
            points: 40,
            hard_block: false,
            window_days: 7,
            min_fraud_rate: 0.2,
            min_frauds: 2,
        }
    }
}

impl RulesConfig {
    /// Every problem, for the topology to report at once. `windows` are the
    /// state's window names, which velocity and card testing refer to.
    pub fn problems(&self, windows: &[String]) -> Vec<String> {
        let mut problems = Vec::new();
        let Thresholds { review, block } = self.thresholds;
        if !(0 < review && review <= block && block <= 100) {
            problems.push(format!(
                "thresholds: need 0 < review ({review}) <= block ({block}) <= 100"
            ));
        }
        let mut check_window = |key: &str, name: &str| {
            if !windows.iter().any(|window| window == name) {
                problems.push(format!(
                    "{key}: no window named `{name}` (state windows: {})",
                    windows.join(", ")
                ));
            }
        };
        if self.card_testing.enabled {
            check_window("card_testing.window", &self.card_testing.window);
        }
        if self.velocity.enabled {
            for limit in &self.velocity.limits {
                check_window("velocity.limits.window", &limit.window);
            }
        }
        if ![1, 7, 30].contains(&self.terminal_risk.window_days) {
            problems.push("terminal_risk.window_days: must be 1, 7 or 30".into());
        }
        let farm = self.shared_device.min_customers_24h;
        if self.shared_device.enabled
            && !(2..=crate::state::DEVICE_CUSTOMERS_TRACKED).contains(&farm)
        {
            problems.push(format!(
                "shared_device.min_customers_24h: {farm} is outside 2..={} (devices track that many customers)",
                crate::state::DEVICE_CUSTOMERS_TRACKED
            ));
        }
        let travel = &self.impossible_travel;
        if !(travel.max_speed_kmh > 0.0 && travel.min_distance_km >= 0.0) {
            problems.push(
                "impossible_travel: max_speed_kmh must be > 0 and min_distance_km >= 0".into(),
            );
        }
        problems
    }
}
