//! Fraud feedback: chargebacks and confirmed frauds.

use super::{serde_time, Millis};
use serde::{Deserialize, Serialize};

/// Ground truth for one earlier transaction, arriving days or weeks later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub transaction_id: String,
    pub is_fraud: bool,
    #[serde(with = "serde_time::required")]
    pub reported_at: Millis,
    /// Helps when the transaction has left the engine's recent index.
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub terminal_id: Option<String>,
    #[serde(default, with = "serde_time::optional")]
    pub transaction_time: Option<Millis>,
    /// chargeback, analyst, customer_report...
    #[serde(default)]
    pub source: Option<String>,
}
