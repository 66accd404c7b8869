//! `${VAR}` and `${VAR:-default}` in topology files, replaced before parsing.

use super::Problem;

/// Replaces every reference using `lookup`. A `${VAR}` with no value and
/// no default is a problem; `$$` writes a literal `$`.
pub fn substitute_env(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<Problem>> {
    let mut output = String::with_capacity(text.len());
    let mut problems = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        output.push_str(&substitute_line(line, &lookup).unwrap_or_else(|message| {
            problems.push(Problem {
                key: "(environment)".into(),
                line: Some(index + 1),
                message,
            });
            line.to_owned()
        }));
    }
    if problems.is_empty() {
        Ok(output)
    } else {
        Err(problems)
    }
}

fn substitute_line(line: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut output = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('$') {
        output.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            output.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in `{}`", line.trim()))?;
            output.push_str(&resolve(&body[..end], lookup)?);
            rest = &body[end + 1..];
        } else {
            output.push('$');
            rest = after;
        }
    }
    output.push_str(rest);
    Ok(output)
}

fn resolve(reference: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let (name, default) = match reference.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (reference, None),
    };
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!("`${{{reference}}}` is not a variable reference"));
    }
    match (lookup(name).filter(|value| !value.is_empty()), default) {
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_owned()),
        (None, None) => Err(format!("environment variable {name} is not set and has no default (write ${{{name}:-default}})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        (name == "OUT").then(|| "/data".to_owned())
    }

    #[test]
    fn substitutes_values_and_defaults() {
        let text = "path: ${OUT}/d.jsonl\nworkers: ${WORKERS:-4}\nprice: $$5\n";
        assert_eq!(
            substitute_env(text, lookup).unwrap(),
            "path: /data/d.jsonl\nworkers: 4\nprice: $5\n"
        );
    }

    #[test]
    fn missing_variables_are_reported_with_their_line() {
        let problems = substitute_env("a: 1\nb: ${NOPE}\nc: ${bad name}\n", lookup).unwrap_err();
        assert_eq!(
            problems.iter().map(|p| p.line).collect::<Vec<_>>(),
            [Some(2), Some(3)]
        );
        assert!(problems[0].message.contains("NOPE"));
    }
}
