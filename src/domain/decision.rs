//! What the engine emits: decisions, alerts and case logs.

use super::{serde_time, Millis, Text, Transaction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The verdict on a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    Approve,
    Review,
    Block,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Approve, Action::Review, Action::Block];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "APPROVE",
            Action::Review => "REVIEW",
            Action::Block => "BLOCK",
        }
    }
}

/// Why a rule fired. Informational codes carry zero points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReasonCode {
    ImpossibleTravel,
    NewDevice,
    NewIp,
    SharedDevice,
    DenylistedIp,
    CardNotPresentNewDevice,
    AmountSpike,
    HighAmount,
    CardTesting,
    Velocity,
    HighRiskMerchant,
    ManyCountries,
    CompromisedCard,
    TerminalRisk,
    UnknownLocation,
    LateEvent,
    IngestionTime,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::ImpossibleTravel => "IMPOSSIBLE_TRAVEL",
            ReasonCode::NewDevice => "NEW_DEVICE",
            ReasonCode::NewIp => "NEW_IP",
            ReasonCode::SharedDevice => "SHARED_DEVICE",
            ReasonCode::DenylistedIp => "DENYLISTED_IP",
            ReasonCode::CardNotPresentNewDevice => "CARD_NOT_PRESENT_NEW_DEVICE",
            ReasonCode::AmountSpike => "AMOUNT_SPIKE",
            ReasonCode::HighAmount => "HIGH_AMOUNT",
            ReasonCode::CardTesting => "CARD_TESTING",
            ReasonCode::Velocity => "VELOCITY",
            ReasonCode::HighRiskMerchant => "HIGH_RISK_MERCHANT",
            ReasonCode::ManyCountries => "MANY_COUNTRIES",
            ReasonCode::CompromisedCard => "COMPROMISED_CARD",
            ReasonCode::TerminalRisk => "TERMINAL_RISK",
            ReasonCode::UnknownLocation => "UNKNOWN_LOCATION",
            ReasonCode::LateEvent => "LATE_EVENT",
            ReasonCode::IngestionTime => "INGESTION_TIME",
        }
    }
}

/// One fired rule with the figures that made it fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    /// Points this rule adds to the risk score (before the 0-100 cap).
    pub points: i32,
    /// One sentence for an analyst.
    pub detail: String,
    /// Named figures: distance_km, speed_kmh, amount_ratio, ...
    pub evidence: BTreeMap<String, f64>,
}

/// Where the decision's event time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeSource {
    /// The transaction's own `timestamp`.
    Event,
    /// The transaction had no timestamp: the time it was read.
    Ingestion,
}

impl TimeSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSource::Event => "event",
            TimeSource::Ingestion => "ingestion",
        }
    }
}

/// Exactly one per input transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Deterministic: the same transaction always gets the same id.
    pub decision_id: Text,
    pub transaction_id: Text,
    pub customer_id: Text,
    pub action: Action,
    /// 0 (no risk) to 100.
    pub risk_score: i32,
    pub reasons: Vec<Reason>,
    pub amount: f64,
    pub currency: Option<Text>,
    #[serde(with = "serde_time::required")]
    pub event_time: Millis,
    pub time_source: TimeSource,
    /// Arrived later than the allowed lateness for its customer.
    pub late: bool,
    #[serde(with = "serde_time::required")]
    pub decided_at: Millis,
    /// Microseconds from reading the record to deciding it.
    pub latency_us: i64,
    pub rules_version: Text,
    /// The model's fraud probability (0-1), when a model scored it.
    #[serde(default)]
    pub model_score: Option<f64>,
    /// `<name>@<hash>` of the model that scored it.
    #[serde(default)]
    pub model_version: Option<Text>,
    /// The model's probability on the 0-100 risk scale; `risk_score` is the
    /// larger of this and the rules' points.
    #[serde(default)]
    pub model_risk: Option<i32>,
    /// The features that moved the model's score most (REVIEW and BLOCK).
    #[serde(default)]
    pub model_contributions: Vec<Contribution>,
    /// A candidate model's probability, recorded and never acted on.
    #[serde(default)]
    pub shadow_score: Option<f64>,
    #[serde(default)]
    pub shadow_version: Option<String>,
    /// The LLM agent's part, when the decision was escalated to it.
    #[serde(default)]
    pub agent: Option<AgentReview>,
}

/// How much one feature moved the model's score: the score minus the score
/// with the feature replaced by its typical training value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub feature: String,
    pub value: f64,
    /// The training median it was compared with.
    pub typical: f64,
    pub contribution: f64,
}

/// Whether the agent's verdict was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgentStatus {
    /// The agent answered in time; its verdict was applied within the bounds.
    Decided,
    /// Timeout, error, open breaker or full queue: the engine's decision stands.
    Fallback,
}

/// What the agent did to an escalated decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentReview {
    pub status: AgentStatus,
    /// timeout, error, breaker_open, queue_full (fallbacks only).
    pub fallback_reason: Option<String>,
    /// The rules' action before the agent.
    pub engine_action: Action,
    pub engine_risk_score: i32,
    /// The agent's explanation, for an analyst.
    pub explanation: Option<String>,
    /// The case the agent opened, if any.
    pub case_id: Option<String>,
    /// Milliseconds from escalation to the final decision.
    pub latency_ms: i64,
}

impl Decision {
    pub fn has_reason(&self, code: ReasonCode) -> bool {
        self.reasons.iter().any(|reason| reason.code == code)
    }

    pub fn reason_codes(&self) -> Vec<ReasonCode> {
        self.reasons.iter().map(|reason| reason.code).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// Raised for every BLOCK and REVIEW.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub alert_id: String,
    pub decision_id: String,
    pub transaction_id: String,
    pub customer_id: String,
    pub action: Action,
    pub severity: Severity,
    pub risk_score: i32,
    pub reason_codes: Vec<ReasonCode>,
    pub summary: String,
    #[serde(with = "serde_time::required")]
    pub created_at: Millis,
}

/// The engine's view of one window at decision time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSummary {
    pub window: String,
    pub count: i64,
    pub sum: f64,
    pub max: f64,
}

/// The state behind a decision, frozen into its case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary {
    pub windows: Vec<WindowSummary>,
    pub transactions_seen: i64,
    pub mean_amount: f64,
    pub stddev_amount: f64,
    pub known_devices: i32,
    pub known_ips: i32,
    pub last_location_latitude: Option<f64>,
    pub last_location_longitude: Option<f64>,
    #[serde(with = "serde_time::optional")]
    pub last_location_time: Option<Millis>,
    pub distinct_merchants_24h: i32,
    pub distinct_countries_24h: i32,
    pub device_customers_24h: i32,
    pub compromised: bool,
}

/// One case per BLOCK or REVIEW: everything an investigator needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseLog {
    /// FRD-<year>-<10 hex digits>, derived from the transaction id.
    pub case_id: String,
    pub decision_id: String,
    pub status: String,
    #[serde(with = "serde_time::required")]
    pub opened_at: Millis,
    pub action: Action,
    pub risk_score: i32,
    pub transaction: Transaction,
    pub reasons: Vec<Reason>,
    pub customer: CustomerSummary,
    pub rules_version: String,
    /// For escalated decisions: the agent's transcript as JSON, masked.
    #[serde(default)]
    pub agent_transcript: Option<String>,
}
