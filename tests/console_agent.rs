//! The console with the LLM agent, in a real browser: a submitted seed 003
//! transaction is escalated and the agent's reasoning and tool calls stream
//! into the page as they happen; its case opens with the alert e-mail and
//! the rendered compliance report; the analyst's verdict becomes a Label.
//! The replayed vLLM is the only double (as in tests/agent_escalation.rs);
//! the tools, the case store and moto's SES are real.

mod agent_support;
mod console_support;
mod support;
mod vllm_replay;
mod webdriver;

use agent_support::{aws_test_environment, verify_sender, RECIPIENT, SENDER};
use console_support::{console, screenshot, Detector, TOKEN};
use serde_json::Value;
use vllm_replay::{tool_results, tool_turn, verdict_turn, Reply, VllmReplay};
use webdriver::Browser;

const TX: &str = r#"{"transaction_id": "TXN-20251201-191354"}"#;

/// Risk and travel, then alert, case and report, then the verdict.
fn investigation(request: &Value, _: usize) -> Reply {
    match tool_results(request) {
        0 => Reply::Message(tool_turn(
            "A $4,500 crypto purchase in Moscow 30 minutes after New York. Check the risk and the travel.",
            &[("transaction-risk", TX), ("geolocation-checker", TX)],
        )),
        2 => Reply::Message(tool_turn(
            "Impossible travel confirmed. Alert the team, open a case, write the report.",
            &[
                ("email-alerts", r#"{"transaction_id": "TXN-20251201-191354", "severity": "CRITICAL", "message": "Impossible travel New York to Moscow in 30 minutes"}"#),
                ("fraud-logger", r#"{"transaction_id": "TXN-20251201-191354", "severity": "CRITICAL", "summary": "Impossible travel New York to Moscow at a crypto exchange"}"#),
            ],
        )),
        4 => Reply::Message(tool_turn(
            "Case open; the compliance report next.",
            &[("report-generator", TX)],
        )),
        _ => Reply::Message(verdict_turn(
            "Impossible travel and a high-risk merchant. Block.",
            "BLOCK",
            96,
            "Impossible travel New York to Moscow (7,531 km in 30 minutes) at a crypto exchange.",
        )),
    }
}

#[test]
fn the_agent_streams_into_submit_and_its_case_opens_with_the_report() {
    aws_test_environment();
    let moto = support::moto();
    verify_sender(&moto.url());
    let vllm = VllmReplay::start(investigation);
    // BLOCKs are escalated; the generator injects no fraud, so the
    // submitted seed is (all but surely) the only one.
    let topology = format!(
        "{}agent:\n  base_url: {}\n  deadline: 10s\n  escalate: {{actions: [BLOCK], risk_min: 100, risk_max: 100}}\n  tools:\n    case_dir: \"{{out}}/cases\"\n    \
         email: {{from: {SENDER}, to: [{RECIPIENT}], region: us-east-1, endpoint_url: {}}}\n",
        console_support::generator(20, 0.0),
        vllm.base_url(),
        moto.url()
    );
    let detector = Detector::start(console(), &topology);
    let browser = Browser::start();

    // Signing in through the link the detector prints.
    browser.goto(&detector.url(&format!("/console#token={TOKEN}")));
    browser.wait_for("the Cases tab", || {
        browser
            .run("return !document.getElementById('tab-cases').hidden")
            .as_bool()
            .filter(|shown| *shown)
    });

    browser.find("#tab-submit").click();
    browser.find("#seed-1").click();
    browser.find("#submit-button").click();
    browser.wait_for("the agent's verdict", || {
        browser
            .text_of("#agent-final")
            .contains("Agent decided")
            .then_some(())
    });
    let steps = browser
        .run("return [...document.querySelectorAll('#agent-steps > li')].map(li => li.className)");
    let steps: Vec<&str> = steps
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        steps.iter().filter(|kind| **kind == "step tool").count() >= 5,
        "{steps:?}"
    );
    assert!(steps.contains(&"step model"), "{steps:?}");
    let shown = browser.text_of("#agent-steps");
    assert!(
        shown.contains("Tool geolocation-checker") && shown.contains("Tool report-generator"),
        "{shown}"
    );
    assert_eq!(browser.text_of("#result-action"), "BLOCK");
    browser.run("document.getElementById('result-agent').scrollIntoView()");
    browser.screenshot(&screenshot("submit-agent.png"));

    // The case the agent opened, with its e-mail and rendered report.
    browser.find("#agent-case").click();
    let title = browser.wait_for("the rendered report", || {
        browser
            .try_find("#case-report h4")
            .map(|heading| heading.text())
            .filter(|text| text.starts_with("Compliance report FRD-"))
    });
    assert!(
        browser
            .text_of("#case-report")
            .contains("IMPOSSIBLE_TRAVEL"),
        "{title}"
    );
    assert!(
        browser.text_of("#case-detail").contains("CRITICAL"),
        "the alert e-mail is shown"
    );
    browser.screenshot(&screenshot("case.png"));

    // The analyst confirms: a Label marks the card compromised.
    browser.find("#case-fraud").click();
    browser.wait_for("the label", || {
        browser
            .text_of("#case-verdict-status")
            .contains("card marked compromised")
            .then_some(())
    });
    let (_, customer) = detector.api_get("/api/customers/C-12345");
    assert!(customer["compromised_since"].is_i64(), "{customer}");
    browser.run("document.getElementById('case-report').scrollIntoView()");
    browser.screenshot(&screenshot("case-report.png"));

    drop(browser);
    detector.stop();
}
