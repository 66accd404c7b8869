//! Everything the engine remembers about one customer, in under 512 bytes.

use super::sets::{RecentSet, Seen, SightingSet};
use super::time::Secs;
use super::window::{Amount, WindowCounters, WindowLayout, WindowValue, MAX_WINDOWS};
use serde::{Deserialize, Serialize};

const DAY_SECS: Secs = 86_400;

/// A place the customer transacted at, and when.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Whereabouts {
    pub latitude: f32,
    pub longitude: f32,
    /// 0 marks an empty slot.
    pub at: Secs,
}

/// Running mean and variance of amounts (Welford), for the z-score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AmountStats {
    pub count: u32,
    mean: f32,
    m2: f32,
}

impl AmountStats {
    fn add(&mut self, amount: f64) {
        self.count = self.count.saturating_add(1);
        let amount = amount as f32;
        let delta = amount - self.mean;
        self.mean += delta / self.count as f32;
        self.m2 += delta * (amount - self.mean);
    }

    pub fn mean(&self) -> f64 {
        self.mean as f64
    }

    pub fn stddev(&self) -> f64 {
        if self.count < 2 {
            return 0.0;
        }
        (self.m2.max(0.0) as f64 / (self.count - 1) as f64).sqrt()
    }
}

/// One transaction as the customer's state takes it in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub at: Secs,
    pub amount: f64,
    pub counted: Amount,
    pub position: Option<(f64, f64)>,
    pub device: Option<u32>,
    pub ip: Option<u32>,
    pub merchant: Option<u32>,
    pub country: Option<u32>,
    /// Later than the allowed lateness: counted, but kept out of the travel history.
    pub late: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerState {
    pub windows: WindowCounters,
    /// Amounts of approved transactions: the customer's habits.
    pub amounts: AmountStats,
    /// Newest event time seen: the customer's own watermark.
    pub newest_event: Secs,
    /// When a confirmed fraud marked this card compromised (0: never).
    pub compromised_since: Secs,
    /// The two most recent places, newest first.
    pub whereabouts: [Whereabouts; 2],
    pub devices: SightingSet<3>,
    pub ips: SightingSet<3>,
    pub merchants: RecentSet<3>,
    pub countries: RecentSet<3>,
}

/// The customer's history as seen by a new transaction, before it is counted.
#[derive(Debug, Clone, Copy)]
pub struct History {
    pub transactions_seen: u32,
    pub mean_amount: f64,
    pub stddev_amount: f64,
    pub windows: [WindowValue; MAX_WINDOWS],
    pub previous_place: Option<Whereabouts>,
    pub device: Option<Seen>,
    pub ip: Option<Seen>,
    pub known_devices: u32,
    pub known_ips: u32,
    pub newest_event: Secs,
    pub compromised_since: Secs,
}

impl CustomerState {
    pub fn history(&self, layout: &WindowLayout, observation: &Observation) -> History {
        let mut windows = [WindowValue::default(); MAX_WINDOWS];
        for (window, value) in windows.iter_mut().enumerate().take(layout.len()) {
            *value = self.windows.value(layout, window, observation.at);
        }
        History {
            transactions_seen: self.amounts.count,
            mean_amount: self.amounts.mean(),
            stddev_amount: self.amounts.stddev(),
            windows,
            previous_place: self.place_before(observation.at),
            device: observation.device.map(|device| self.devices.lookup(device)),
            ip: observation.ip.map(|ip| self.ips.lookup(ip)),
            known_devices: self.devices.len(),
            known_ips: self.ips.len(),
            newest_event: self.newest_event,
            compromised_since: self.compromised_since,
        }
    }

    /// The latest place at or before `at`: out-of-order events compare with
    /// their neighbour in event time, not with whatever arrived last.
    fn place_before(&self, at: Secs) -> Option<Whereabouts> {
        self.whereabouts
            .iter()
            .find(|place| place.at != 0 && place.at <= at)
            .copied()
    }

    /// Counts a transaction whatever its verdict: windows, merchants and
    /// countries measure attempts, fraudulent ones included.
    pub fn count_attempt(&mut self, layout: &WindowLayout, observation: &Observation) {
        let at = observation.at;
        self.windows.add(layout, at, observation.counted);
        if let Some(merchant) = observation.merchant {
            self.merchants.observe(merchant, at);
        }
        if let Some(country) = observation.country {
            self.countries.observe(country, at);
        }
        self.newest_event = self.newest_event.max(at);
    }

    /// Learns from an approved transaction: its device, IP, place and amount
    /// become part of the customer's profile. Blocked or reviewed ones never
    /// do, so a fraudster's phone or city never turns familiar.
    pub fn learn(&mut self, observation: &Observation) {
        let at = observation.at;
        self.amounts.add(observation.amount);
        if let Some(device) = observation.device {
            self.devices.observe(device, at);
        }
        if let Some(ip) = observation.ip {
            self.ips.observe(ip, at);
        }
        if let (Some(position), false) = (observation.position, observation.late) {
            self.remember_place(position, at);
        }
    }

    /// Both at once, for replaying history known to be genuine.
    pub fn observe(&mut self, layout: &WindowLayout, observation: &Observation) {
        self.count_attempt(layout, observation);
        self.learn(observation);
    }

    /// Keeps the two most recent places in event-time order.
    fn remember_place(&mut self, (latitude, longitude): (f64, f64), at: Secs) {
        let place = Whereabouts {
            latitude: latitude as f32,
            longitude: longitude as f32,
            at: at.max(1),
        };
        let [newest, older] = self.whereabouts;
        self.whereabouts = if place.at >= newest.at {
            [place, newest]
        } else if place.at >= older.at {
            [newest, place]
        } else {
            [newest, older]
        };
    }

    pub fn distinct_merchants_24h(&self, at: Secs) -> u32 {
        self.merchants.count_since(at.saturating_sub(DAY_SECS))
    }

    pub fn distinct_countries_24h(&self, at: Secs) -> u32 {
        self.countries.count_since(at.saturating_sub(DAY_SECS))
    }

    pub fn mark_compromised(&mut self, since: Secs) {
        let since = since.max(1);
        if self.compromised_since == 0 || since < self.compromised_since {
            self.compromised_since = since;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::window::default_windows;

    fn observation(at: Secs, amount: f64, position: (f64, f64)) -> Observation {
        Observation {
            at,
            amount,
            counted: Amount::new(amount, 5.0),
            position: Some(position),
            device: Some(1),
            ip: Some(2),
            merchant: Some(3),
            country: Some(4),
            late: false,
        }
    }

    #[test]
    fn state_fits_the_per_customer_budget() {
        // Boxed in the map: this plus 8 bytes of allocator header is a 384-byte chunk.
        assert!(
            std::mem::size_of::<CustomerState>() <= 376,
            "{}",
            std::mem::size_of::<CustomerState>()
        );
    }

    #[test]
    fn out_of_order_place_compares_with_its_time_neighbour() {
        let layout = WindowLayout::new(&default_windows()).unwrap();
        let mut state = CustomerState::default();
        state.observe(&layout, &observation(1_000, 10.0, (40.7, -74.0)));
        state.observe(&layout, &observation(3_000, 10.0, (55.7, 37.6)));
        let late_arrival = observation(2_000, 10.0, (40.7, -74.0));
        let history = state.history(&layout, &late_arrival);
        assert_eq!(history.previous_place.unwrap().at, 1_000);
        state.observe(&layout, &late_arrival);
        assert_eq!(state.whereabouts.map(|place| place.at), [3_000, 2_000]);
    }

    #[test]
    fn running_stats_match_the_textbook() {
        let mut stats = AmountStats::default();
        for amount in [10.0, 20.0, 30.0, 40.0] {
            stats.add(amount);
        }
        assert!((stats.mean() - 25.0).abs() < 1e-4);
        assert!((stats.stddev() - 12.909_944).abs() < 1e-3);
    }
}
