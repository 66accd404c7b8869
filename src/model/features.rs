//! The model's input vector: names, order and meaning in one place.
//!
//! Every feature is a function of the [`Signals`] the rules see, which the
//! engine computes from state before the transaction is counted. Missing
//! values are -1 (trees split on them); counts and amounts are log1p-scaled
//! so a feature's range does not depend on a currency or a customer base.

use crate::rules::Signals;
use crate::state::MAX_WINDOWS;
use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use xxhash_rust::xxh3::xxh3_64;

/// Bump when a feature's definition changes, even if its name does not.
const FEATURE_VERSION: u32 = 1;

pub const FEATURE_NAMES: [&str; 39] = [
    "amount_log",
    "amount_zscore",
    "amount_ratio_to_mean",
    "history_log",
    "count_1m",
    "count_1h",
    "count_24h",
    "count_7d",
    "count_30d",
    "sum_1m_log",
    "sum_1h_log",
    "sum_24h_log",
    "sum_7d_log",
    "sum_30d_log",
    "small_1h",
    "max_24h_log",
    "hours_since_last",
    "travel_distance_log",
    "travel_speed_log",
    "new_device",
    "new_ip",
    "known_devices",
    "known_ips",
    "device_customers_24h",
    "countries_24h",
    "merchants_24h",
    "terminal_fraud_rate_1d",
    "terminal_fraud_rate_7d",
    "terminal_fraud_rate_30d",
    "terminal_transactions_1d_log",
    "terminal_transactions_7d_log",
    "terminal_transactions_30d_log",
    "local_hour",
    "weekend",
    "card_present",
    "channel_ecom",
    "channel_atm",
    "merchant_tier",
    "compromised",
];

pub const FEATURE_COUNT: usize = FEATURE_NAMES.len();

pub type FeatureVector = [f32; FEATURE_COUNT];

/// Identifies the feature specification: a model trained on another one is refused.
pub fn spec_hash() -> String {
    let spec = format!("v{FEATURE_VERSION}:{}", FEATURE_NAMES.join(","));
    format!("{:016x}", xxh3_64(spec.as_bytes()))
}

const MISSING: f32 = -1.0;

fn log1p(value: f64) -> f32 {
    value.max(0.0).ln_1p() as f32
}

fn flag(value: bool) -> f32 {
    value as u8 as f32
}

/// The vector for one transaction. `merchant_tier` is the rules' merchant
/// risk tier (0 none, 1 elevated, 2 high), so the model and rules agree.
pub fn extract(signals: &Signals, merchant_tier: u8) -> FeatureVector {
    let transaction = signals.transaction;
    let amount = transaction.amount;
    let has_history = signals.transactions_seen >= 2 && signals.mean_amount > 0.0;
    let window = |index: usize| signals.windows[index.min(MAX_WINDOWS - 1)];
    let terminal = signals.terminal;
    let terminal_rate =
        |index: usize| terminal.map_or(MISSING, |risks| risks[index].fraud_rate() as f32);
    let terminal_count =
        |index: usize| terminal.map_or(MISSING, |risks| log1p(risks[index].transactions as f64));
    let (local_hour, weekend) = local_time(signals);
    missing_if_nan([
        log1p(amount),
        if has_history {
            ((amount - signals.mean_amount) / signals.stddev_amount.max(1.0)) as f32
        } else {
            0.0
        },
        if has_history {
            (amount / signals.mean_amount) as f32
        } else {
            MISSING
        },
        log1p(signals.transactions_seen as f64),
        window(0).count as f32,
        window(1).count as f32,
        window(2).count as f32,
        window(3).count as f32,
        window(4).count as f32,
        log1p(window(0).sum),
        log1p(window(1).sum),
        log1p(window(2).sum),
        log1p(window(3).sum),
        log1p(window(4).sum),
        window(1).small as f32,
        log1p(window(2).max),
        signals
            .seconds_since_last
            .map_or(MISSING, |seconds| (seconds / 3_600.0) as f32),
        signals
            .travel
            .map_or(MISSING, |travel| log1p(travel.distance_km)),
        signals
            .travel
            .map_or(MISSING, |travel| log1p(travel.speed_kmh)),
        signals.device.map_or(MISSING, |device| flag(device.new)),
        signals.ip.map_or(MISSING, |ip| flag(ip.new)),
        signals.device.map_or(MISSING, |device| device.known as f32),
        signals.ip.map_or(MISSING, |ip| ip.known as f32),
        signals.device_customers_24h as f32,
        signals.countries_24h as f32,
        signals.merchants_24h as f32,
        terminal_rate(0),
        terminal_rate(1),
        terminal_rate(2),
        terminal_count(0),
        terminal_count(1),
        terminal_count(2),
        local_hour,
        weekend,
        transaction.card_present.map_or(MISSING, flag),
        flag(transaction.channel == Some(crate::domain::Channel::Ecom)),
        flag(transaction.channel == Some(crate::domain::Channel::Atm)),
        merchant_tier as f32,
        flag(signals.compromised_since.is_some()),
    ])
}

/// The model's trees have no special path for NaN (training clears their
/// missing-value flags, which cost ONNX Runtime a tenth of its time), so a
/// NaN that slipped through (a 0/0) is scored as what it means: missing.
fn missing_if_nan(vector: FeatureVector) -> FeatureVector {
    vector.map(|value| if value.is_nan() { MISSING } else { value })
}

/// Solar local time from the longitude when the place is known, else UTC:
/// a 3 a.m. purchase matters in the cardholder's night, not London's.
fn local_time(signals: &Signals) -> (f32, f32) {
    let offset_millis = signals
        .position
        .map_or(0, |(_, longitude)| (longitude / 15.0 * 3_600_000.0) as i64);
    match DateTime::<Utc>::from_timestamp_millis(signals.event_time + offset_millis) {
        Some(local) => {
            let hour = local.hour() as f32 + local.minute() as f32 / 60.0;
            let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
            (hour, flag(weekend))
        }
        None => (MISSING, MISSING),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_feature_is_scored_as_missing() {
        let mut vector = [0.5; FEATURE_COUNT];
        vector[3] = f32::NAN;
        vector[7] = f32::INFINITY;
        let cleaned = missing_if_nan(vector);
        assert_eq!(cleaned[3], MISSING);
        assert_eq!(cleaned[7], f32::INFINITY);
        assert_eq!(cleaned[0], 0.5);
    }

    #[test]
    fn names_are_unique_and_the_hash_is_stable() {
        let mut names = FEATURE_NAMES.to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FEATURE_COUNT);
        assert_eq!(spec_hash(), spec_hash());
        assert_eq!(spec_hash().len(), 16);
    }
}
