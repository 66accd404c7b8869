//! Per-device state: which customers used a device lately (device farms).

use super::sets::RecentSet;
use super::time::Secs;
use serde::{Deserialize, Serialize};

const DAY_SECS: Secs = 86_400;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Up to 8 customers; a farm shows as a full set.
    customers: RecentSet<8>,
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
