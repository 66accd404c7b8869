//! Relative time hints such as seed 003's `"30 minutes ago"`.

use super::Millis;

/// Parses "30 minutes ago", "2 hours ago", "1 day ago", "45s", "an hour ago"
/// into milliseconds. Returns None for anything else: a hint is only a hint.
pub fn parse_time_since(text: &str) -> Option<Millis> {
    let lowered = text.trim().to_ascii_lowercase();
    let body = lowered.strip_suffix("ago").unwrap_or(&lowered).trim();
    let (number, unit) = split_number_and_unit(body)?;
    let unit_millis = unit_millis(unit)?;
    let millis = number * unit_millis as f64;
    (0.0..1e15).contains(&millis).then_some(millis as Millis)
}

fn split_number_and_unit(body: &str) -> Option<(f64, &str)> {
    let digits_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, unit) = body.split_at(digits_end);
    let unit = unit.trim();
    if number.is_empty() {
        let unit = unit
            .strip_prefix("an ")
            .or_else(|| unit.strip_prefix("a "))?;
        return Some((1.0, unit.trim()));
    }
    Some((number.parse().ok()?, unit))
}

fn unit_millis(unit: &str) -> Option<i64> {
    const SECOND: i64 = 1_000;
    if unit == "s" {
        return Some(SECOND);
    }
    let millis = match unit.trim_end_matches('s') {
        "m" | "min" | "minute" => 60 * SECOND,
        "sec" | "second" => SECOND,
        "h" | "hr" | "hour" => 3_600 * SECOND,
        "d" | "day" => 86_400 * SECOND,
        "w" | "week" => 7 * 86_400 * SECOND,
        _ => return None,
    };
    Some(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seed_hints() {
        assert_eq!(parse_time_since("30 minutes ago"), Some(30 * 60_000));
        assert_eq!(parse_time_since("2 hours ago"), Some(2 * 3_600_000));
        assert_eq!(parse_time_since("1 day ago"), Some(86_400_000));
        assert_eq!(parse_time_since("an hour ago"), Some(3_600_000));
        assert_eq!(parse_time_since("45s"), Some(45_000));
        assert_eq!(parse_time_since("1.5 hours ago"), Some(5_400_000));
    }

    #[test]
    fn rejects_nonsense() {
        for text in [
            "",
            "ago",
            "soon",
            "-5 minutes ago",
            "5 fortnights ago",
            "1e400 days",
        ] {
            assert_eq!(parse_time_since(text), None, "{text}");
        }
    }
}
