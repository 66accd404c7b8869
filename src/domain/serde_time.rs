//! Timestamps are RFC 3339 strings in JSON and `timestamp-millis` longs in Avro.
//!
//! serde tells the two apart with `is_human_readable()`; the Avro codec turns
//! human-readable mode off (see `codecs::avro`), serde_json always has it on.

use super::Millis;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{de, Deserialize, Deserializer, Serializer};

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

pub fn format_millis(millis: Millis) -> String {
    with_rfc3339(millis, str::to_owned)
}

/// Hands `use_text` the RFC 3339 form of `millis`: written on the stack for
/// years 0 to 9999 (every decision carries two timestamps), by chrono
/// outside them.
pub fn with_rfc3339<R>(millis: Millis, use_text: impl FnOnce(&str) -> R) -> R {
    if let Some(text) = RfcText::default().write(millis) {
        return use_text(text);
    }
    match DateTime::<Utc>::from_timestamp_millis(millis) {
        Some(time) => use_text(&time.to_rfc3339_opts(SecondsFormat::Millis, true)),
        None => use_text(&millis.to_string()),
    }
}

/// Room for `YYYY-MM-DDTHH:MM:SS.mmmZ`.
#[derive(Default)]
struct RfcText([u8; 24]);

impl RfcText {
    /// As chrono's `to_rfc3339_opts(Millis, true)`, for years 0 to 9999
    /// (`None` outside them).
    fn write(&mut self, millis: Millis) -> Option<&str> {
        const DAY: Millis = 86_400_000;
        let (year, month, day) = civil_from_days(millis.div_euclid(DAY));
        if !(0..=9999).contains(&year) {
            return None;
        }
        // In range, so every figure fits a u32 (cheaper to divide).
        let of_day = millis.rem_euclid(DAY) as u32;
        let year = year as u32;
        let text = &mut self.0;
        *text = *b"0000-00-00T00:00:00.000Z";
        put_two(text, 0, year / 100);
        put_two(text, 2, year % 100);
        put_two(text, 5, month as u32);
        put_two(text, 8, day as u32);
        put_two(text, 11, of_day / 3_600_000);
        put_two(text, 14, of_day / 60_000 % 60);
        put_two(text, 17, of_day / 1_000 % 60);
        text[20] = b'0' + (of_day % 1_000 / 100) as u8;
        put_two(text, 21, of_day % 100);
        std::str::from_utf8(text).ok()
    }
}

/// Two decimal digits of `value` (below 100) at `at`.
fn put_two(text: &mut [u8; 24], at: usize, value: u32) {
    text[at] = b'0' + (value / 10) as u8;
    text[at + 1] = b'0' + (value % 10) as u8;
}

/// The proleptic Gregorian date of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn parse_rfc3339_millis(text: &str) -> Result<Millis, String> {
    if let Some(millis) = read_utc_millis(text.as_bytes()) {
        return Ok(millis);
    }
    DateTime::parse_from_rfc3339(text.trim())
        .map(|time| time.timestamp_millis())
        .map_err(|error| format!("`{text}` is not an RFC 3339 timestamp: {error}"))
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form this crate writes and most
/// producers send, read directly: chrono's general parser took about 500
/// of a transaction's 6,200 decoding instructions, this about 200. Any
/// other form, and any field out of range (a 30 February, a leap second),
/// is left to chrono (`None`).
fn read_utc_millis(text: &[u8]) -> Option<Millis> {
    let text: &[u8; 24] = text.try_into().ok()?;
    let separators = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ];
    if separators.iter().any(|&(at, byte)| text[at] != byte) {
        return None;
    }
    let number = |from: usize, to: usize| {
        text[from..to].iter().try_fold(0i64, |value, &byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + i64::from(byte - b'0'))
        })
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second, milli) = (
        number(11, 13)?,
        number(14, 16)?,
        number(17, 19)?,
        number(20, 23)?,
    );
    let in_range = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    in_range.then(|| {
        let seconds =
            days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
        seconds * 1_000 + milli
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date, the inverse of
/// `civil_from_days` (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Accepts an RFC 3339 string or integer epoch milliseconds in JSON. A
/// visitor, not an untagged enum: untagged enums buffer every value first,
/// which costs a transaction's decode a good share of its time.
struct TextOrMillis;

impl<'de> de::Visitor<'de> for TextOrMillis {
    type Value = Millis;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an RFC 3339 timestamp or epoch milliseconds")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Millis, E> {
        parse_rfc3339_millis(text).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, millis: i64) -> Result<Millis, E> {
        Ok(millis)
    }

    fn visit_u64<E: de::Error>(self, millis: u64) -> Result<Millis, E> {
        Millis::try_from(millis).map_err(|_| E::custom(format!("{millis} ms is out of range")))
    }
}

/// `Option` support for the visitor above.
struct OptionalTextOrMillis;

impl<'de> de::Visitor<'de> for OptionalTextOrMillis {
    type Value = Option<Millis>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("null, an RFC 3339 timestamp or epoch milliseconds")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<Millis>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Millis>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Millis>, D::Error> {
        deserializer.deserialize_any(TextOrMillis).map(Some)
    }
}

pub mod required {
    use super::*;

    pub fn serialize<S: Serializer>(millis: &Millis, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            with_rfc3339(*millis, |text| serializer.serialize_str(text))
        } else {
            serializer.serialize_i64(*millis)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Millis, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(TextOrMillis)
        } else {
            i64::deserialize(deserializer)
        }
    }
}

pub mod optional {
    use super::*;

    pub fn serialize<S: Serializer>(
        millis: &Option<Millis>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match millis {
            Some(millis) if serializer.is_human_readable() => {
                with_rfc3339(*millis, |text| serializer.serialize_some(text))
            }
            Some(millis) => serializer.serialize_some(millis),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Millis>, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_option(OptionalTextOrMillis)
        } else {
            Option::<i64>::deserialize(deserializer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 5_000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Fields just past their ranges too: those must go to chrono.
        #[test]
        fn the_direct_reader_agrees_with_chrono(
            (year, month, day) in (0..=9999u32, 0..=13u32, 0..=32u32),
            (hour, minute, second, milli) in (0..=25u32, 0..=61u32, 0..=61u32, 0..=999u32),
        ) {
            let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z");
            let chrono = DateTime::parse_from_rfc3339(&text).map(|time| time.timestamp_millis());
            match read_utc_millis(text.as_bytes()) {
                Some(millis) => prop_assert_eq!(Ok(millis), chrono.map_err(|_| ()), "{}", text),
                None => prop_assert!(chrono.is_err() || second == 60, "{} is valid, not read", text),
            }
        }
    }

    #[test]
    fn formats_and_parses_rfc3339() {
        let millis = parse_rfc3339_millis("2025-12-01T19:13:54.250Z").unwrap();
        assert_eq!(format_millis(millis), "2025-12-01T19:13:54.250Z");
        assert_eq!(
            parse_rfc3339_millis("2025-12-01T20:13:54.250+01:00").unwrap(),
            millis
        );
        assert!(parse_rfc3339_millis("yesterday").is_err());
    }

    #[test]
    fn formats_as_chrono_does() {
        let chrono = |millis: Millis| {
            DateTime::<Utc>::from_timestamp_millis(millis)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        };
        let mut edges = vec![
            0,
            -1,
            951_782_400_000,     // 2000-02-29
            4_107_542_399_999,   // 2100-02-28T23:59:59.999
            -62_167_219_200_000, // 0000-01-01
            253_402_300_799_999, // 9999-12-31T23:59:59.999
        ];
        // A deterministic spread over years 0 to 9999, every time of day.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..100_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            edges.push(-62_167_219_200_000 + (state >> 11) as i64 % 315_537_897_600_000);
        }
        for millis in edges {
            let mut text = RfcText::default();
            assert_eq!(
                text.write(millis),
                Some(chrono(millis).as_str()),
                "{millis}"
            );
            assert_eq!(format_millis(millis), chrono(millis));
        }
        assert_eq!(RfcText::default().write(253_402_300_800_000), None);
        assert_eq!(
            format_millis(253_402_300_800_000),
            chrono(253_402_300_800_000)
        );
        assert_eq!(RfcText::default().write(-62_167_219_200_001), None);
    }
}
