//! The `demo` command end to end: the generator injects labelled frauds, the
//! engine must find them. The floors are far below what the rules reach (see
//! the README) so the test fails on a broken rule, not on a tuning change.

use std::collections::HashMap;
use std::process::Command;

fn run_demo(out: &std::path::Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_fraud-detector"))
        .args([
            "demo",
            "--transactions",
            "60000",
            "--customers",
            "1000",
            "--seed",
            "3",
        ])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// scenario -> (frauds, flagged, recall)
fn scenario_rows(summary: &str) -> HashMap<String, (u64, u64, f64)> {
    summary
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [name, frauds, flagged, recall, _blocked] => Some((
                    name.to_string(),
                    (
                        frauds.parse().ok()?,
                        flagged.parse().ok()?,
                        recall.parse().ok()?,
                    ),
                )),
                _ => None,
            }
        })
        .collect()
}

fn precision(summary: &str) -> f64 {
    let line = summary
        .lines()
        .find(|line| line.contains("precision (REVIEW+BLOCK)"))
        .unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[test]
fn the_demo_finds_the_injected_frauds() {
    let dir = tempfile::tempdir().unwrap();
    let summary = run_demo(dir.path());
    assert!(!summary.contains("WARNING"), "{summary}");
    let rows = scenario_rows(&summary);
    for scenario in [
        "impossible_travel",
        "account_takeover",
        "card_testing",
        "compromised_terminal",
        "high_risk_merchant",
    ] {
        let (frauds, _, _) = rows
            .get(scenario)
            .unwrap_or_else(|| panic!("no row for {scenario}:\n{summary}"));
        assert!(
            *frauds > 0,
            "the generator injected no {scenario}:\n{summary}"
        );
    }
    let floors = [
        ("impossible_travel", 0.9),
        ("high_risk_merchant", 0.9),
        ("card_testing", 0.6),
        ("all", 0.5),
    ];
    for (scenario, floor) in floors {
        let (_, _, recall) = rows[scenario];
        assert!(
            recall >= floor,
            "{scenario} recall {recall} < {floor}:\n{summary}"
        );
    }
    assert!(precision(&summary) >= 0.3, "{summary}");
    let decisions = std::fs::read_to_string(dir.path().join("decisions.jsonl")).unwrap();
    assert_eq!(decisions.lines().count(), 60_000);
}
