//! Finds the line of a dotted key path (`rules.thresholds.review`) in YAML
//! text by following indentation, so semantic problems found after parsing
//! still point at a line.

pub fn line_of(text: &str, key_path: &str) -> Option<usize> {
    let mut search_from = 0;
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    for segment in key_path
        .split('.')
        .filter(|segment| !segment.is_empty() && !segment.starts_with('['))
    {
        // A key not written out (a default) is reported at its parent's line.
        let Some((line, indent)) = find_key(text, segment, search_from, parent_indent) else {
            break;
        };
        found = Some(line + 1);
        search_from = line + 1;
        parent_indent = Some(indent);
    }
    found
}

/// The first `segment:` at or after line `from` that is nested deeper than
/// `parent_indent`, stopping when the parent's block ends.
fn find_key(
    text: &str,
    segment: &str,
    from: usize,
    parent_indent: Option<usize>,
) -> Option<(usize, usize)> {
    for (index, line) in text.lines().enumerate().skip(from) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if parent_indent.is_some_and(|parent| indent <= parent) {
            return None;
        }
        let key = trimmed
            .trim_start_matches("- ")
            .trim_start_matches('{')
            .trim_start();
        if key
            .strip_prefix(segment)
            .is_some_and(|rest| rest.starts_with(':'))
        {
            return Some((index, indent));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_nesting() {
        let text = "rules:\n  velocity:\n    points: 3\nstate:\n  windows: []\n  velocity: 2\n";
        assert_eq!(line_of(text, "rules.velocity.points"), Some(3));
        assert_eq!(line_of(text, "state.velocity"), Some(6));
        assert_eq!(line_of(text, "state.points"), Some(4), "the parent's line");
        assert_eq!(line_of(text, "nowhere.points"), None);
        let flow = "rules:\n  velocity:\n    limits:\n      - {window: 2h, max_count: 3}\n";
        assert_eq!(line_of(flow, "rules.velocity.limits.window"), Some(4));
    }
}
