//! Durations written the way people write them in YAML: `500ms`, `30s`, `5m`, `1h`, `7d`.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A non-negative span of time, kept in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub u64);

impl Span {
    pub const fn secs(secs: u64) -> Span {
        Span(secs * 1_000)
    }
    pub const fn minutes(minutes: u64) -> Span {
        Span::secs(minutes * 60)
    }
    pub const fn hours(hours: u64) -> Span {
        Span::minutes(hours * 60)
    }
    pub const fn days(days: u64) -> Span {
        Span::hours(days * 24)
    }
    pub fn as_millis(self) -> u64 {
        self.0
    }
    pub fn as_secs(self) -> u64 {
        self.0 / 1_000
    }
    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }

    pub fn parse(text: &str) -> Result<Span, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("`{text}` has no unit (use ms, s, m, h or d)"))?;
        let (number, unit) = text.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` does not start with a whole number"))?;
        let unit_millis = match unit.trim() {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            other => {
                return Err(format!(
                    "`{other}` in `{text}` is not a unit (ms, s, m, h, d)"
                ))
            }
        };
        number
            .checked_mul(unit_millis)
            .map(Span)
            .ok_or_else(|| format!("`{text}` is too long a duration"))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 4] = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
        ];
        for (millis, unit) in UNITS {
            if self.0 >= millis && self.0.is_multiple_of(millis) {
                return write!(f, "{}{unit}", self.0 / millis);
            }
        }
        write!(f, "{}ms", self.0)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Span, D::Error> {
        let text = String::deserialize(deserializer)?;
        Span::parse(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!(Span::parse("30s"), Ok(Span::secs(30)));
        assert_eq!(Span::parse("7d"), Ok(Span::days(7)));
        assert_eq!(Span::parse("250ms"), Ok(Span(250)));
        assert_eq!(Span::days(30).to_string(), "30d");
        assert_eq!(Span::minutes(90).to_string(), "90m");
        assert!(Span::parse("10").is_err());
        assert!(Span::parse("ten s").is_err());
        assert!(Span::parse("5 weeks").is_err());
    }
}
