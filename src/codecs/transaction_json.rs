//! The common shape of a JSON transaction, read by hand.
//!
//! Every input record is a transaction, and serde (even through sonic-rs)
//! spent about 10,000 instructions on one: matching each key against the
//! field names, a visitor per value, chrono for the timestamp. This reader
//! takes the shape producers write: one object of known keys, strings
//! without escapes, plain numbers, `null`, `true`, `false`, a timestamp as
//! `YYYY-MM-DDTHH:MM:SS[.mmm]Z` or as epoch milliseconds. Anything else
//! (an unknown key, an escape, an exponent, a duplicate, an error) returns
//! `None` and the record is read by serde, which also explains rejections.
//! So this reader only has to agree with serde on what it accepts, which
//! the tests check on generated and mutated records.

use super::json_string;
use crate::domain::{Channel, Transaction};

pub(super) fn read(bytes: &[u8]) -> Option<Transaction> {
    // Checked whole once: every string between quotes is then valid too.
    let text = std::str::from_utf8(bytes).ok()?;
    let mut input = Input { text, bytes, at: 0 };
    let mut fields = Fields::new();
    input.expect(b'{')?;
    if !input.take(b'}') {
        loop {
            let key = input.plain_string()?.as_bytes();
            input.expect(b':')?;
            fields.read_value(key, &mut input)?;
            if input.take(b'}') {
                break;
            }
            input.expect(b',')?;
        }
    }
    input.skip_whitespace();
    (input.at == bytes.len()).then_some(())?;
    fields.into_transaction()
}

/// The transaction being filled, and which fields were seen: a key given
/// twice, or a required one missing, is serde's error to report.
struct Fields {
    seen: u32,
    /// Where in `FIELDS` the next key most likely is.
    next: usize,
    transaction: Transaction,
}

/// `FIELDS` starts with the three required ones.
const REQUIRED: u32 = 0b111;

impl Fields {
    fn new() -> Fields {
        Fields {
            seen: 0,
            next: 0,
            transaction: Transaction {
                transaction_id: String::new(),
                customer_id: String::new(),
                amount: 0.0,
                currency: None,
                timestamp: None,
                merchant: None,
                merchant_category: None,
                mcc: None,
                merchant_id: None,
                terminal_id: None,
                location: None,
                latitude: None,
                longitude: None,
                country: None,
                channel: None,
                card_present: None,
                device_id: None,
                ip_address: None,
                previous_location: None,
                time_since_last_transaction: None,
            },
        }
    }

    fn read_value(&mut self, key: &[u8], input: &mut Input) -> Option<()> {
        let index = match FIELDS.get(self.next) {
            Some((name, _)) if *name == key => self.next,
            _ => FIELDS.iter().position(|(name, _)| *name == key)?,
        };
        self.next = index + 1;
        let field = &FIELDS[index];
        let bit = 1 << index;
        if self.seen & bit != 0 {
            return None;
        }
        self.seen |= bit;
        let transaction = &mut self.transaction;
        match field.1 {
            Field::TransactionId => transaction.transaction_id = input.owned_string()?,
            Field::CustomerId => transaction.customer_id = input.owned_string()?,
            Field::Amount => transaction.amount = input.number()?,
            Field::Text(slot) => *slot(transaction) = input.optional(Input::owned_string)?,
            Field::Number(slot) => *slot(transaction) = input.optional(Input::number)?,
            Field::Timestamp => transaction.timestamp = input.optional(Input::timestamp)?,
            Field::Channel => transaction.channel = input.optional(Input::channel)?,
            Field::CardPresent => transaction.card_present = input.optional(Input::boolean)?,
        }
        Some(())
    }

    fn into_transaction(self) -> Option<Transaction> {
        (self.seen & REQUIRED == REQUIRED).then_some(self.transaction)
    }
}

type Slot<T> = fn(&mut Transaction) -> &mut Option<T>;

enum Field {
    TransactionId,
    CustomerId,
    Amount,
    Text(Slot<String>),
    Number(Slot<f64>),
    Timestamp,
    Channel,
    CardPresent,
}

/// In the order of the struct, which is the order serializers write them in:
/// the next key is tried first.
const FIELDS: [(&[u8], Field); 20] = [
    (b"transaction_id", Field::TransactionId),
    (b"customer_id", Field::CustomerId),
    (b"amount", Field::Amount),
    (b"currency", Field::Text(|t| &mut t.currency)),
    (b"timestamp", Field::Timestamp),
    (b"merchant", Field::Text(|t| &mut t.merchant)),
    (
        b"merchant_category",
        Field::Text(|t| &mut t.merchant_category),
    ),
    (b"mcc", Field::Text(|t| &mut t.mcc)),
    (b"merchant_id", Field::Text(|t| &mut t.merchant_id)),
    (b"terminal_id", Field::Text(|t| &mut t.terminal_id)),
    (b"location", Field::Text(|t| &mut t.location)),
    (b"latitude", Field::Number(|t| &mut t.latitude)),
    (b"longitude", Field::Number(|t| &mut t.longitude)),
    (b"country", Field::Text(|t| &mut t.country)),
    (b"channel", Field::Channel),
    (b"card_present", Field::CardPresent),
    (b"device_id", Field::Text(|t| &mut t.device_id)),
    (b"ip_address", Field::Text(|t| &mut t.ip_address)),
    (
        b"previous_location",
        Field::Text(|t| &mut t.previous_location),
    ),
    (
        b"time_since_last_transaction",
        Field::Text(|t| &mut t.time_since_last_transaction),
    ),
];

struct Input<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// Consumes `byte` (after whitespace) if it is next.
    fn take(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        let found = self.bytes.get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.take(byte).then_some(())
    }

    fn take_word(&mut self, word: &[u8]) -> bool {
        self.skip_whitespace();
        let found = self.bytes[self.at..].starts_with(word);
        self.at += if found { word.len() } else { 0 };
        found
    }

    /// `null` as `None`, else the value `read` accepts.
    fn optional<T>(&mut self, read: fn(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.take_word(b"null") {
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    /// A string with no escape and no control character.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        let end = json_string::plain_end(self.bytes, start)?;
        if self.bytes[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        self.text.get(start..end)
    }

    fn owned_string(&mut self) -> Option<String> {
        self.plain_string().map(str::to_owned)
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.take_word(b"true") {
            Some(true)
        } else if self.take_word(b"false") {
            Some(false)
        } else {
            None
        }
    }

    fn channel(&mut self) -> Option<Channel> {
        match self.plain_string()?.as_bytes() {
            b"pos" => Some(Channel::Pos),
            b"ecom" => Some(Channel::Ecom),
            b"atm" => Some(Channel::Atm),
            _ => None,
        }
    }

    /// The JSON number grammar without an exponent, and at most 15 digits:
    /// every correct parser rounds those alike, serde's and the standard
    /// library's. Integers convert as serde converts them.
    fn number(&mut self) -> Option<f64> {
        let number = self.number_text()?;
        (number.digits <= 15).then_some(())?;
        if number.fraction {
            number.text.parse().ok()
        } else {
            number
                .text
                .parse::<i64>()
                .ok()
                .map(|integer| integer as f64)
        }
    }

    fn number_text(&mut self) -> Option<Number<'a>> {
        self.skip_whitespace();
        let start = self.at;
        self.at += usize::from(self.bytes.get(self.at) == Some(&b'-'));
        let integer = self.digits();
        let leading_zero = integer > 1 && self.bytes[self.at - integer] == b'0';
        if integer == 0 || leading_zero {
            return None;
        }
        let mut number = Number {
            text: "",
            digits: integer,
            fraction: self.bytes.get(self.at) == Some(&b'.'),
        };
        if number.fraction {
            self.at += 1;
            number.digits += self.digits();
            (number.digits > integer).then_some(())?;
        }
        number.text = self.text.get(start..self.at)?;
        match self.bytes.get(self.at) {
            Some(b'e' | b'E') => None,
            // serde_json reads this integer as the float -0.0.
            _ if number.text == "-0" => None,
            _ => Some(number),
        }
    }

    fn digits(&mut self) -> usize {
        let count = self.bytes[self.at..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        self.at += count;
        count
    }

    /// Epoch milliseconds as an integer, or the UTC text form.
    fn timestamp(&mut self) -> Option<i64> {
        self.skip_whitespace();
        if self.bytes.get(self.at) == Some(&b'"') {
            return utc_millis(self.plain_string()?.as_bytes());
        }
        let number = self.number_text()?;
        (!number.fraction && number.digits <= 18).then_some(())?;
        number.text.parse().ok()
    }
}

/// A number's text as the grammar took it.
struct Number<'a> {
    text: &'a str,
    digits: usize,
    fraction: bool,
}

/// `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.mmmZ` only; offsets,
/// other fractions and lower-case letters go to chrono through serde.
fn utc_millis(text: &[u8]) -> Option<i64> {
    let (clock, millis) = match text.len() {
        20 if text[19] == b'Z' => (&text[..19], 0),
        24 if text[19] == b'.' && text[23] == b'Z' => (&text[..19], number(&text[20..23])?),
        _ => return None,
    };
    if clock[4] != b'-'
        || clock[7] != b'-'
        || clock[10] != b'T'
        || clock[13] != b':'
        || clock[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (
        number(&clock[..4])?,
        number(&clock[5..7])?,
        number(&clock[8..10])?,
    );
    if year < 1000 {
        return None;
    }
    let (hour, minute, second) = (
        number(&clock[11..13])?,
        number(&clock[14..16])?,
        number(&clock[17..19])?,
    );
    let days_in_month = match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
    Some(seconds * 1_000 + millis)
}

fn number(digits: &[u8]) -> Option<i64> {
    digits.iter().try_fold(0, |value, &byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + i64::from(byte - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codecs::tests::any_transaction;
    use crate::generator::{Generated, Generator, GeneratorConfig};
    use proptest::prelude::*;

    /// serde's reading of the same bytes, written back as JSON so that
    /// floats are compared by their bits (`-0.0` is not `0.0`).
    fn by_serde(bytes: &[u8]) -> Option<Vec<u8>> {
        let transaction: Transaction = serde_json::from_slice(bytes).ok()?;
        let sonic: Transaction = sonic_rs::from_slice(bytes).ok()?;
        assert_eq!(transaction, sonic);
        serde_json::to_vec(&transaction).ok()
    }

    fn check_agrees(bytes: &[u8]) -> Result<bool, TestCaseError> {
        let Some(by_hand) = read(bytes) else {
            return Ok(false);
        };
        let by_hand = serde_json::to_vec(&by_hand).unwrap();
        prop_assert_eq!(
            Some(by_hand),
            by_serde(bytes),
            "{}",
            String::from_utf8_lossy(bytes)
        );
        Ok(true)
    }

    #[test]
    fn reads_every_generated_record_as_serde_does() {
        let config = GeneratorConfig {
            customers: 500,
            transactions: Some(5_000),
            ..GeneratorConfig::default()
        };
        let transactions =
            Generator::new(config)
                .unwrap()
                .filter_map(|generated| match generated {
                    Generated::Transaction { transaction, .. } => Some(transaction),
                    Generated::Label(_) => None,
                });
        for (index, transaction) in transactions.enumerate() {
            let bytes = serde_json::to_vec(&transaction).unwrap();
            assert!(
                check_agrees(&bytes).unwrap(),
                "record {index} fell back to serde"
            );
        }
    }

    #[test]
    fn reads_seed_003_as_serde_does() {
        let seed = br#"{
            "transaction_id": "TXN-20251201-191354", "customer_id": "C-12345",
            "amount": 4500.00, "currency": "USD", "timestamp": "2025-12-01T19:13:54Z",
            "merchant": "CRYPTO-EXCHANGE-XX", "location": "Moscow, Russia",
            "latitude": 55.7558, "longitude": 37.6173, "card_present": false,
            "device_id": "dev-unknown", "ip_address": "185.220.101.5",
            "previous_location": "New York, NY", "time_since_last_transaction": "30 minutes ago"
        }"#;
        assert!(check_agrees(seed).unwrap());
    }

    #[test]
    fn integers_become_floats_as_serde_converts_them() {
        let integers = br#"{"transaction_id":"t","customer_id":"c","amount":0,"latitude":-0.0,"longitude":-12,"timestamp":-1}"#;
        assert!(check_agrees(integers).unwrap());
    }

    #[test]
    fn leaves_to_serde_what_it_does_not_read() {
        let others: &[&[u8]] = &[
            br#"{"transaction_id":"t","customer_id":"c"}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"amount":2}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"extra":1}"#,
            br#"{"transaction_id":"t\n","customer_id":"c","amount":1}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1e2}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":0.1234567890123456}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":01}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":-0}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1} x"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"timestamp":"2025-12-01T19:13:54+02:00"}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"timestamp":"2025-02-29T19:13:54Z"}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"timestamp":"2025-12-01T19:13:60Z"}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"timestamp":1.5}"#,
            br#"{"transaction_id":"t","customer_id":"c","amount":1,"channel":"POS"}"#,
            br#"{"transaction_id":"t","customer_id":null,"amount":1}"#,
        ];
        for input in others {
            assert!(read(input).is_none(), "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn utc_text_is_read_as_chrono_reads_it() {
        for millis in (0..2_000).map(|step| -30_000_000_000_000 + step * 140_000_017_457) {
            let text = crate::domain::format_millis(millis);
            let seconds = &text[..19];
            assert_eq!(utc_millis(text.as_bytes()), Some(millis), "{text}");
            let whole = format!("{seconds}Z");
            assert_eq!(
                utc_millis(whole.as_bytes()),
                crate::domain::parse_rfc3339_millis(&whole).ok(),
                "{whole}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1_000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Compact, pretty, and with integer timestamps: whatever the reader
        /// takes, serde reads the same.
        #[test]
        fn agrees_with_serde_on_whatever_it_reads(
            transaction in any_transaction(),
            amount in prop_oneof![any::<f64>(), (-1e6..1e6f64), Just(-0.0)],
        ) {
            let transaction = Transaction { amount, ..transaction };
            let compact = serde_json::to_vec(&transaction).unwrap();
            check_agrees(&compact)?;
            check_agrees(&serde_json::to_vec_pretty(&transaction).unwrap())?;
            let mut value = serde_json::to_value(&transaction).unwrap();
            value["timestamp"] = transaction.timestamp.into();
            check_agrees(&serde_json::to_vec(&value).unwrap())?;
        }

        /// Damaged records: the reader either refuses them or reads them
        /// exactly as serde does.
        #[test]
        fn refuses_or_agrees_on_damaged_records(
            transaction in any_transaction(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = serde_json::to_vec(&transaction).unwrap();
            for (index, byte) in &flips {
                let at = index.index(bytes.len());
                bytes[at] = *byte;
            }
            check_agrees(&bytes)?;
            bytes.truncate(cut.index(bytes.len()));
            check_agrees(&bytes)?;
        }
    }
}
