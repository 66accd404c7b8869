//! The input record: one card transaction.

use super::{serde_time, Millis};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Amounts above this are rejected as absurd (a data error, not a fraud signal).
pub const MAX_AMOUNT: f64 = 10_000_000.0;

/// How the card was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Card present at a point-of-sale terminal.
    Pos,
    /// E-commerce: card not present.
    Ecom,
    /// Cash withdrawal at an ATM.
    Atm,
}

/// A transaction's text fields. Nearly all are short (ids, merchants,
/// places), and up to 24 bytes `CompactString` keeps them inline: decoding
/// a transaction no longer makes ten heap allocations, nor dropping it ten
/// frees (measured in the README, "Schemas and codecs").
pub type Text = compact_str::CompactString;

/// A card transaction as produced to the input stream.
///
/// Seed 003's JSON (`transaction_id` ... `time_since_last_transaction`) parses
/// as is; the other fields are what a production feed adds. Only
/// `transaction_id`, `customer_id` and `amount` are required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    pub transaction_id: Text,
    pub customer_id: Text,
    pub amount: f64,
    #[serde(default)]
    pub currency: Option<Text>,
    /// Event time. When absent the engine uses ingestion time and says so.
    #[serde(default, with = "serde_time::optional")]
    pub timestamp: Option<Millis>,
    #[serde(default)]
    pub merchant: Option<Text>,
    #[serde(default)]
    pub merchant_category: Option<Text>,
    #[serde(default)]
    pub mcc: Option<Text>,
    #[serde(default)]
    pub merchant_id: Option<Text>,
    #[serde(default)]
    pub terminal_id: Option<Text>,
    /// Free-text place such as "Moscow, Russia"; coordinates win when both are given.
    #[serde(default)]
    pub location: Option<Text>,
    #[serde(default)]
    pub latitude: Option<f64>,
    #[serde(default)]
    pub longitude: Option<f64>,
    /// ISO 3166-1 alpha-2 country of the merchant.
    #[serde(default)]
    pub country: Option<Text>,
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub card_present: Option<bool>,
    #[serde(default)]
    pub device_id: Option<Text>,
    #[serde(default)]
    pub ip_address: Option<Text>,
    /// Seed 003 hint used when the engine holds no history for the customer.
    #[serde(default)]
    pub previous_location: Option<Text>,
    /// Seed 003 hint such as "30 minutes ago".
    #[serde(default)]
    pub time_since_last_transaction: Option<Text>,
}

/// Why a decoded transaction is still unusable.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ValidationError {
    #[error("required field `{0}` is empty")]
    EmptyField(&'static str),
    #[error("field `{field}` is too long ({len} bytes, at most {max})")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("amount {0} is not a finite number")]
    AmountNotFinite(f64),
    #[error("amount {0} is negative")]
    AmountNegative(f64),
    #[error("amount {0} exceeds the maximum of {MAX_AMOUNT}")]
    AmountAbsurd(f64),
    #[error("latitude/longitude ({0}, {1}) are out of range")]
    BadCoordinates(f64, f64),
    #[error("only one of latitude and longitude is given")]
    HalfCoordinates,
    #[error("currency `{0}` is not an ISO 4217 code (three letters)")]
    BadCurrency(String),
    #[error("timestamp {0} is outside 2000-01-01..2100-01-01")]
    TimestampOutOfRange(Millis),
}

const MAX_ID_LEN: usize = 256;
const MAX_TEXT_LEN: usize = 1_024;
const YEAR_2000: Millis = 946_684_800_000;
const YEAR_2100: Millis = 4_102_444_800_000;

impl Transaction {
    /// Checks what serde cannot: sane amounts, coordinates, sizes and codes.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_id("transaction_id", &self.transaction_id)?;
        check_id("customer_id", &self.customer_id)?;
        self.check_amount()?;
        self.check_coordinates()?;
        if let Some(currency) = &self.currency {
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(ValidationError::BadCurrency(currency.to_string()));
            }
        }
        if let Some(time) = self.timestamp {
            if !(YEAR_2000..YEAR_2100).contains(&time) {
                return Err(ValidationError::TimestampOutOfRange(time));
            }
        }
        self.check_text_lengths()
    }

    fn check_amount(&self) -> Result<(), ValidationError> {
        let amount = self.amount;
        if !amount.is_finite() {
            Err(ValidationError::AmountNotFinite(amount))
        } else if amount < 0.0 {
            Err(ValidationError::AmountNegative(amount))
        } else if amount > MAX_AMOUNT {
            Err(ValidationError::AmountAbsurd(amount))
        } else {
            Ok(())
        }
    }

    fn check_coordinates(&self) -> Result<(), ValidationError> {
        match (self.latitude, self.longitude) {
            (Some(lat), Some(lon)) => {
                let valid = (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon);
                if valid {
                    Ok(())
                } else {
                    Err(ValidationError::BadCoordinates(lat, lon))
                }
            }
            (None, None) => Ok(()),
            _ => Err(ValidationError::HalfCoordinates),
        }
    }

    fn check_text_lengths(&self) -> Result<(), ValidationError> {
        let ids = [
            ("device_id", self.device_id.as_deref()),
            ("ip_address", self.ip_address.as_deref()),
            ("terminal_id", self.terminal_id.as_deref()),
            ("merchant_id", self.merchant_id.as_deref()),
            ("mcc", self.mcc.as_deref()),
            ("country", self.country.as_deref()),
        ];
        for (field, value) in ids {
            check_len(field, value, MAX_ID_LEN)?;
        }
        let texts = [
            ("merchant", self.merchant.as_deref()),
            ("merchant_category", self.merchant_category.as_deref()),
            ("location", self.location.as_deref()),
            ("previous_location", self.previous_location.as_deref()),
            (
                "time_since_last_transaction",
                self.time_since_last_transaction.as_deref(),
            ),
        ];
        for (field, value) in texts {
            check_len(field, value, MAX_TEXT_LEN)?;
        }
        Ok(())
    }

    /// Card-not-present: explicit flag first, then the channel.
    pub fn is_card_not_present(&self) -> bool {
        match (self.card_present, self.channel) {
            (Some(present), _) => !present,
            (None, Some(channel)) => channel == Channel::Ecom,
            (None, None) => false,
        }
    }
}

fn check_id(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::EmptyField(field));
    }
    check_len(field, Some(value), MAX_ID_LEN)
}

fn check_len(field: &'static str, value: Option<&str>, max: usize) -> Result<(), ValidationError> {
    match value {
        Some(text) if text.len() > max => Err(ValidationError::TooLong {
            field,
            len: text.len(),
            max,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_HIGH_RISK: &str = r#"{
      "transaction_id": "TXN-20251201-191354",
      "customer_id": "C-12345",
      "amount": 4500.00,
      "merchant": "CRYPTO-EXCHANGE-XX",
      "merchant_category": "Cryptocurrency",
      "location": "Moscow, Russia",
      "card_present": false,
      "device_id": "dev-unknown",
      "ip_address": "185.220.101.5",
      "previous_location": "New York, NY",
      "time_since_last_transaction": "30 minutes ago"
    }"#;

    #[test]
    fn parses_seed_003_json_verbatim() {
        let tx: Transaction = serde_json::from_str(SEED_HIGH_RISK).unwrap();
        assert_eq!(tx.customer_id, "C-12345");
        assert_eq!(tx.amount, 4500.0);
        assert_eq!(tx.timestamp, None);
        assert!(tx.is_card_not_present());
        tx.validate().unwrap();
    }

    #[test]
    fn missing_required_field_is_named() {
        let error = serde_json::from_str::<Transaction>(r#"{"transaction_id":"t","amount":1}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("customer_id"), "{error}");
    }

    #[test]
    fn rejects_bad_amounts_and_coordinates() {
        let mut tx: Transaction = serde_json::from_str(SEED_HIGH_RISK).unwrap();
        for amount in [-1.0, f64::NAN, f64::INFINITY, 1e12] {
            tx.amount = amount;
            assert!(tx.validate().is_err(), "{amount}");
        }
        tx.amount = 10.0;
        tx.latitude = Some(95.0);
        tx.longitude = Some(0.0);
        assert_eq!(
            tx.validate(),
            Err(ValidationError::BadCoordinates(95.0, 0.0))
        );
        tx.longitude = None;
        assert_eq!(tx.validate(), Err(ValidationError::HalfCoordinates));
    }
}
