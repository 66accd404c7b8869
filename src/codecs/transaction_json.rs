//! The transaction read from JSON by hand, for the shape producers send.
//!
//! Every transaction is decoded once, and serde (through sonic-rs) spent
//! about 9,000 instructions on a generated one: the hottest single stage of
//! the in-process path with the model, and a sixth of the Kafka loop. This
//! reader takes the common shape: one flat object of the known fields, each
//! at most once, strings without escapes, plain numbers, `true`, `false`
//! and `null`. Anything else (an escape, an unknown or repeated field, a
//! value of another type, a missing required field, trailing bytes) makes
//! it return `None`, and the record goes through serde, which accepts it or
//! explains the rejection exactly as before. `tests::reads_what_serde_reads`
//! compares the two on arbitrary transactions and on damaged copies of them,
//! so a field added to [`Transaction`] without a line here fails that test.

use crate::domain::{parse_rfc3339_millis, Channel, Millis, Text, Transaction};

/// The transaction in `bytes`, or `None` if serde must decide.
pub(super) fn read(bytes: &[u8]) -> Option<Transaction> {
    // Valid UTF-8 as a whole, so every string between two quotes is too.
    let text = std::str::from_utf8(bytes).ok()?;
    let mut cursor = Cursor { text, bytes, at: 0 };
    let mut transaction = Transaction {
        transaction_id: Text::default(),
        customer_id: Text::default(),
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
    };
    let mut seen = 0u32;
    let mut expected = 0;
    cursor.eat(b'{')?;
    loop {
        let field = cursor.key(expected)?;
        cursor.eat(b':')?;
        read_value(&mut cursor, field, &mut transaction)?;
        if seen & (1 << field) != 0 {
            return None;
        }
        seen |= 1 << field;
        expected = field + 1;
        match cursor.next_byte()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    cursor.skip_whitespace();
    let complete = cursor.at == bytes.len() && seen & REQUIRED == REQUIRED;
    complete.then_some(transaction)
}

/// The fields in the order serde writes them; `read_value` reads field i.
const FIELDS: [&str; 20] = [
    "transaction_id",
    "customer_id",
    "amount",
    "currency",
    "timestamp",
    "merchant",
    "merchant_category",
    "mcc",
    "merchant_id",
    "terminal_id",
    "location",
    "latitude",
    "longitude",
    "country",
    "channel",
    "card_present",
    "device_id",
    "ip_address",
    "previous_location",
    "time_since_last_transaction",
];

/// The bits of `transaction_id`, `customer_id` and `amount`.
const REQUIRED: u32 = 0b111;

/// Reads the value of `FIELDS[field]` into `transaction`; `None` for a
/// value this reader leaves to serde.
fn read_value(cursor: &mut Cursor, field: usize, transaction: &mut Transaction) -> Option<()> {
    let tx = transaction;
    match field {
        0 => tx.transaction_id = cursor.text()?,
        1 => tx.customer_id = cursor.text()?,
        2 => tx.amount = cursor.number()?,
        3 => tx.currency = cursor.optional(Cursor::text)?,
        4 => tx.timestamp = cursor.optional(Cursor::timestamp)?,
        5 => tx.merchant = cursor.optional(Cursor::text)?,
        6 => tx.merchant_category = cursor.optional(Cursor::text)?,
        7 => tx.mcc = cursor.optional(Cursor::text)?,
        8 => tx.merchant_id = cursor.optional(Cursor::text)?,
        9 => tx.terminal_id = cursor.optional(Cursor::text)?,
        10 => tx.location = cursor.optional(Cursor::text)?,
        11 => tx.latitude = cursor.optional(Cursor::number)?,
        12 => tx.longitude = cursor.optional(Cursor::number)?,
        13 => tx.country = cursor.optional(Cursor::text)?,
        14 => tx.channel = cursor.optional(Cursor::channel)?,
        15 => tx.card_present = cursor.optional(Cursor::boolean)?,
        16 => tx.device_id = cursor.optional(Cursor::text)?,
        17 => tx.ip_address = cursor.optional(Cursor::text)?,
        18 => tx.previous_location = cursor.optional(Cursor::text)?,
        19 => tx.time_since_last_transaction = cursor.optional(Cursor::text)?,
        _ => return None,
    }
    Some(())
}

/// A position in the record; every read skips the whitespace before it.
struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn next_byte(&mut self) -> Option<u8> {
        self.skip_whitespace();
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.next_byte()? == expected).then_some(())
    }

    /// The index in `FIELDS` of the key that comes next, `None` for an
    /// unknown one. Producers write their fields in one order, so the key
    /// after the last one read is tried first: one comparison instead of a
    /// scan and a search.
    fn key(&mut self, expected: usize) -> Option<usize> {
        self.skip_whitespace();
        if let Some(name) = FIELDS.get(expected) {
            let quoted = self.bytes.get(self.at..self.at + name.len() + 2);
            if let Some([b'"', inner @ .., b'"']) = quoted {
                if inner == name.as_bytes() {
                    self.at += name.len() + 2;
                    return Some(expected);
                }
            }
        }
        let name = self.plain_str()?;
        FIELDS.iter().position(|field| *field == name)
    }

    /// `null` as `None`, else the value `read` reads.
    fn optional<T>(&mut self, read: fn(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.literal(b"null") {
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    /// Consumes `word` if it comes next. Whatever follows it must be a
    /// separator, which the caller's next read checks.
    fn literal(&mut self, word: &[u8]) -> bool {
        self.skip_whitespace();
        let found = self.bytes[self.at..].starts_with(word);
        if found {
            self.at += word.len();
        }
        found
    }

    /// A string with no escapes and no control characters (JSON forbids
    /// them raw).
    fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let end = stop_at(self.bytes, start);
        if self.bytes.get(end) != Some(&b'"') {
            return None;
        }
        self.at = end + 1;
        // Both ends are ASCII quotes, so on character boundaries.
        self.text.get(start..end)
    }

    fn text(&mut self) -> Option<Text> {
        self.plain_str().map(Text::new)
    }

    /// A number in JSON's grammar, as the nearest finite `f64` (Rust's
    /// parser rounds correctly, as sonic-rs does; `reads_numbers_as_sonic_rs_does`).
    fn number(&mut self) -> Option<f64> {
        self.skip_whitespace();
        let start = self.at;
        self.at += usize::from(self.bytes.get(self.at) == Some(&b'-'));
        match self.bytes.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return None,
        }
        let integer_end = self.at;
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            self.required_digits()?;
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            self.required_digits()?;
        }
        // The token is ASCII by construction.
        let token = self.text.get(start..self.at)?;
        // An integer that fits is converted as serde converts it (so `-0`
        // is 0, not -0.0); any other number is parsed as a float.
        let value = if integer_end == self.at {
            (token.parse::<i64>().map(|int| int as f64))
                .or_else(|_| token.parse::<u64>().map(|int| int as f64))
                .or_else(|_| token.parse::<f64>())
        } else {
            token.parse::<f64>()
        };
        value.ok().filter(|value| value.is_finite())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn required_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }

    /// Only the RFC 3339 form; epoch milliseconds and bad timestamps go to
    /// serde, which reads the one and names the field of the other.
    fn timestamp(&mut self) -> Option<Millis> {
        parse_rfc3339_millis(self.plain_str()?).ok()
    }

    fn channel(&mut self) -> Option<Channel> {
        match self.plain_str()? {
            "pos" => Some(Channel::Pos),
            "ecom" => Some(Channel::Ecom),
            "atm" => Some(Channel::Atm),
            _ => None,
        }
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.literal(b"true") {
            Some(true)
        } else if self.literal(b"false") {
            Some(false)
        } else {
            None
        }
    }
}

/// Where the first quote, backslash or control character at or after
/// `at` in `bytes` is (`bytes.len()` if none). Eight bytes a step, reading
/// past a string's end into the rest of the record: the test per byte was
/// most of the reader's time. Each `flags` term may also flag bytes above a
/// true hit (a borrow runs upwards), never below one, so the lowest flag is
/// exact.
fn stop_at(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let below = |word: u64, limit: u8| word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGHS;
    let equal = |word: u64, byte: u8| below(word ^ (ONES * u64::from(byte)), 1);
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let word = u64::from_le_bytes(*chunk);
        let flags = equal(word, b'"') | equal(word, b'\\') | below(word, 0x20);
        if flags != 0 {
            return at + (flags.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let rest = bytes.get(at..).unwrap_or_default();
    let is_stop = |byte: &u8| *byte == b'"' || *byte == b'\\' || *byte < 0x20;
    at + rest.iter().position(is_stop).unwrap_or(rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{Generated, Generator, GeneratorConfig};
    use proptest::prelude::*;

    fn serde_reads(bytes: &[u8]) -> Option<Transaction> {
        sonic_rs::from_slice(bytes).ok()
    }

    /// Text that serde writes as is, or with escapes (then this reader declines).
    /// Not `codecs::tests::any_transaction`'s text: proptest's chars lean to
    /// control characters, so nearly every record it makes holds an escape
    /// and would never reach this reader's own path.
    fn any_text() -> impl Strategy<Value = Text> {
        prop_oneof![
            "[A-Za-z0-9 ,.:/-]{0,30}".prop_map(Text::from),
            prop::collection::vec(any::<char>(), 0..12).prop_map(Text::from_iter),
        ]
    }

    fn any_float() -> impl Strategy<Value = f64> {
        prop_oneof![
            (0.0..100_000.0f64),
            any::<f64>().prop_filter("finite", |value| value.is_finite()),
            Just(0.0),
            Just(-0.0),
            Just(1e-300),
        ]
    }

    prop_compose! {
        fn any_transaction()(
            (transaction_id, customer_id, amount, currency, timestamp) in (
                any_text(), any_text(), any_float(),
                prop::option::of(any_text()),
                prop::option::of(0i64..253_402_300_799_000),
            ),
            (merchant, merchant_category, mcc, merchant_id, terminal_id) in (
                prop::option::of(any_text()), prop::option::of(any_text()),
                prop::option::of(any_text()), prop::option::of(any_text()),
                prop::option::of(any_text()),
            ),
            (location, latitude, longitude, country, channel, card_present) in (
                prop::option::of(any_text()), prop::option::of(any_float()),
                prop::option::of(any_float()), prop::option::of(any_text()),
                prop::option::of(prop::sample::select(vec![Channel::Pos, Channel::Ecom, Channel::Atm])),
                prop::option::of(any::<bool>()),
            ),
            (device_id, ip_address, previous_location, time_since_last_transaction) in (
                prop::option::of(any_text()), prop::option::of(any_text()),
                prop::option::of(any_text()), prop::option::of(any_text()),
            ),
        ) -> Transaction {
            Transaction {
                transaction_id, customer_id, amount, currency, timestamp, merchant,
                merchant_category, mcc, merchant_id, terminal_id, location, latitude,
                longitude, country, channel, card_present, device_id, ip_address,
                previous_location, time_since_last_transaction,
            }
        }
    }

    /// A damaged copy of `json`: `at` picks where, `kind` what.
    fn damage(json: &[u8], at: usize, kind: u8, byte: u8) -> Vec<u8> {
        let mut copy = json.to_vec();
        let at = at % (copy.len() + 1);
        match kind % 5 {
            0 => copy.insert(at, byte),
            1 if at < copy.len() => copy[at] = byte,
            2 if at < copy.len() => {
                copy.remove(at);
            }
            3 => copy.truncate(at),
            _ => {
                copy.splice(at..at, *b" \n\t\r");
            }
        }
        copy
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3_000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn reads_what_serde_reads(transaction in any_transaction()) {
            let json = serde_json::to_vec(&transaction).unwrap();
            let ours = read(&json);
            // Only escapes send a well-formed transaction to serde.
            if !json.contains(&b'\\') {
                prop_assert_eq!(ours.as_ref(), Some(&transaction));
            }
            if let Some(ours) = ours {
                prop_assert_eq!(Some(ours), serde_reads(&json));
            }
        }

        #[test]
        fn reads_fields_in_any_order(
            transaction in any_transaction(),
            order in Just((0..FIELDS.len()).collect::<Vec<_>>()).prop_shuffle(),
        ) {
            let value = serde_json::to_value(&transaction).unwrap();
            let members: Vec<String> = order
                .iter()
                .map(|&field| format!("\"{}\":{}", FIELDS[field], value[FIELDS[field]]))
                .collect();
            let json = format!("{{{}}}", members.join(","));
            let ours = read(json.as_bytes());
            if !json.contains('\\') {
                prop_assert_eq!(ours.as_ref(), Some(&transaction));
            }
            if let Some(ours) = ours {
                prop_assert_eq!(Some(ours), serde_reads(json.as_bytes()));
            }
        }

        #[test]
        fn reads_damaged_records_as_serde_does_or_declines(
            transaction in any_transaction(),
            at in any::<usize>(),
            kind in any::<u8>(),
            byte in prop::sample::select(b"{}[]:,\"\\ 0123456789.eE+-nultrfasx\x01\xff".to_vec()),
        ) {
            let json = serde_json::to_vec(&transaction).unwrap();
            let damaged = damage(&json, at, kind, byte);
            if let Some(ours) = read(&damaged) {
                prop_assert_eq!(Some(ours), serde_reads(&damaged), "{}", String::from_utf8_lossy(&damaged));
            }
        }
    }

    proptest! {
        #[test]
        fn stop_at_finds_the_first_quote_backslash_or_control_character(
            bytes in prop::collection::vec(prop::sample::select(b"ab\"\\\x00\x1f \x7f\x80\xff".to_vec()), 0..40),
        ) {
            let expected = bytes
                .iter()
                .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
                .unwrap_or(bytes.len());
            prop_assert_eq!(stop_at(&bytes, 0), expected);
            let from = bytes.len() / 3;
            let later = bytes[from..].iter().position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20);
            prop_assert_eq!(stop_at(&bytes, from), later.map_or(bytes.len(), |found| from + found));
        }
    }

    #[test]
    fn declines_what_serde_must_judge() {
        let declined: &[&str] = &[
            r#"{"transaction_id":"t","customer_id":"c"}"#,
            r#"{"transaction_id":"t","customer_id":"c","amount":1,"amount":2}"#,
            r#"{"transaction_id":"t","customer_id":"c","amount":1,"extra":1}"#,
            r#"{"transaction_id":"t\n","customer_id":"c","amount":1}"#,
            r#"{"transaction_id":"t","customer_id":"c","amount":01}"#,
            r#"{"transaction_id":"t","customer_id":"c","amount":1e999}"#,
            r#"{"transaction_id":"t","customer_id":"c","amount":1} x"#,
            r#"{"transaction_id":"t","customer_id":"c","amount":1,}"#,
            r#"{"transaction_id":"t","customer_id":"c","amount":1,"timestamp":1764000000000}"#,
            r#"{"transaction_id":"t","customer_id":"c","amount":1,"channel":"POS"}"#,
            r#"{"transaction_id":"t","customer_id":"c","amount":1,"card_present":1}"#,
            r#"{"transaction_id":"t","customer_id":"c","amount":"1"}"#,
            r#"[]"#,
        ];
        for json in declined {
            assert_eq!(read(json.as_bytes()), None, "{json}");
        }
    }

    #[test]
    fn reads_numbers_as_sonic_rs_does() {
        let tokens = [
            "0",
            "-0",
            "0.1",
            "1e20",
            "1E+2",
            "2.5e-3",
            "100000000000000000000",
            "12345678901234567890123",
            "9007199254740993",
            "0.30000000000000004",
            "2.2250738585072014e-308",
            "4.9e-324",
            "1e-400",
            "1.7976931348623157e308",
        ];
        for token in tokens {
            let json = format!(
                r#"{{"transaction_id":"t","customer_id":"c","amount":{token},"latitude":{token}}}"#
            );
            let ours = read(json.as_bytes()).expect("a plain number");
            let theirs = serde_reads(json.as_bytes()).expect("sonic-rs reads it");
            assert_eq!(ours.amount.to_bits(), theirs.amount.to_bits(), "{token}");
            assert_eq!(
                ours.latitude.map(f64::to_bits),
                theirs.latitude.map(f64::to_bits)
            );
        }
    }

    #[test]
    fn reads_whitespace_nulls_and_every_field() {
        let json =
            " {\n \"transaction_id\" : \"TX-1\" , \"customer_id\":\"C-1\",\"amount\":-12.5e-1,
            \"timestamp\":\"2025-12-01T19:13:54.250Z\",\"channel\":\"ecom\",\"card_present\":false,
            \"latitude\":null,\"longitude\":null,\"location\":\"Zürich, Switzerland\"}\r\n";
        let ours = read(json.as_bytes()).expect("the common shape");
        assert_eq!(Some(&ours), serde_reads(json.as_bytes()).as_ref());
        assert_eq!(ours.amount, -1.25);
        assert_eq!(ours.location.as_deref(), Some("Zürich, Switzerland"));
    }

    #[test]
    fn every_generated_transaction_takes_this_path() {
        let config = GeneratorConfig {
            customers: 500,
            transactions: Some(5_000),
            ..GeneratorConfig::default()
        };
        for event in Generator::new(config).unwrap() {
            if let Generated::Transaction { transaction, .. } = event {
                let json = serde_json::to_vec(&transaction).unwrap();
                assert_eq!(read(&json), Some(transaction));
            }
        }
    }
}
