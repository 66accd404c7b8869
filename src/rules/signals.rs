//! The facts about one transaction that rules judge, gathered by the engine
//! from the transaction and the state before it.

use crate::domain::{Millis, Transaction};
use crate::state::{TerminalRisk, WindowValue, MAX_WINDOWS};
use std::net::IpAddr;

#[derive(Debug, Clone)]
pub struct Signals<'a> {
    pub transaction: &'a Transaction,
    /// The transaction's timestamp, or its ingestion time.
    pub event_time: Millis,
    /// Where it happened, when known (coordinates or a resolved place).
    pub position: Option<(f64, f64)>,
    /// Seconds since the customer's newest earlier transaction (None: first seen).
    pub seconds_since_last: Option<f64>,
    /// Transactions seen for this customer before this one.
    pub transactions_seen: u32,
    pub mean_amount: f64,
    pub stddev_amount: f64,
    /// Window totals as of this transaction, this one included.
    pub windows: [WindowValue; MAX_WINDOWS],
    pub travel: Option<Travel>,
    /// Place names in the transaction that the gazetteer does not know.
    pub unknown_places: [Option<&'a str>; 2],
    pub device: Option<Novelty>,
    pub device_customers_24h: u32,
    pub ip: Option<Novelty>,
    pub ip_address: Option<IpAddr>,
    pub countries_24h: u32,
    pub merchants_24h: u32,
    /// The card was confirmed compromised at this time, before this transaction.
    pub compromised_since: Option<Millis>,
    /// Terminal risk over the delayed 1, 7 and 30-day windows.
    pub terminal: Option<[TerminalRisk; 3]>,
    pub late: bool,
    pub ingestion_time: bool,
}

/// Whether a device or IP is new for the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Novelty {
    pub new: bool,
    /// How many the customer had before this transaction.
    pub known: u32,
}

/// Movement from the previous place to this transaction's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Travel {
    pub distance_km: f64,
    pub elapsed_secs: f64,
    pub speed_kmh: f64,
    /// The previous place came from the transaction's own hints, not from state.
    pub from_hint: bool,
}

impl Travel {
    /// Speed over at least a minute: two swipes in the same second are not
    /// infinitely fast, and clocks on terminals drift.
    pub fn new(distance_km: f64, elapsed_secs: f64, from_hint: bool) -> Travel {
        let hours = elapsed_secs.max(60.0) / 3_600.0;
        Travel {
            distance_km,
            elapsed_secs,
            speed_kmh: distance_km / hours,
            from_hint,
        }
    }
}
