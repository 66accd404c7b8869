//! Per-device state: which customers used a device lately (device farms).

use super::sets::RecentSet;
use super::time::Secs;
use serde::{Deserialize, Serialize};

const DAY_SECS: Secs = 86_400;

/// The most customers a device can show in 24 h.
pub const DEVICE_CUSTOMERS_TRACKED: u32 = 4;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Up to 4 customers: enough to see a farm (the rule's default is 3).
    customers: RecentSet<4>,
}

impl DeviceState {
    pub fn observe(&mut self, customer: u32, at: Secs) {
        self.customers.observe(customer, at);
    }

    pub fn customers_24h(&self, at: Secs) -> u32 {
        self.customers.count_since(at.saturating_sub(DAY_SECS))
    }

    pub fn last_seen(&self) -> Secs {
        self.customers
            .iter()
            .map(|slot| slot.last)
            .max()
            .unwrap_or(0)
    }
}
