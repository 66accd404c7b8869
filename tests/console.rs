//! The analyst console in a real browser: Debian's headless chromium,
//! driven over WebDriver, against the detector's own HTTP server while the
//! generator streams transactions through the real pipeline.
//! Screenshots land in target/console-screenshots/.

mod console_support;
mod support;
mod webdriver;

use console_support::{console, generator, screenshot, Detector, TOKEN};
use webdriver::Browser;

fn live_rows(browser: &Browser) -> Vec<String> {
    let rows = browser.run(
        "return [...document.querySelectorAll('#live-rows tr')].map(r => r.cells[1].textContent)",
    );
    rows.as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|row| row.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_analyst_signs_in_watches_submits_and_labels() {
    let detector = Detector::start(console(), &generator(150, 0.02));
    let browser = Browser::start();

    // Without the token nothing but the sign-in form.
    browser.goto(&detector.url("/console"));
    browser.find("#signin-token").type_text(TOKEN);
    browser.find("#signin-form button").click();
    browser.wait_for("the analyst's name", || {
        browser
            .text_of("#analyst")
            .contains("signed in")
            .then_some(())
    });

    // The live view: new decisions arrive while the generator runs.
    let first = browser.wait_for("decisions in the live view", || {
        let rows = live_rows(&browser);
        (!rows.is_empty()).then_some(rows)
    });
    let newer = browser.wait_for("newer decisions", || {
        let rows = live_rows(&browser);
        rows.iter().any(|id| !first.contains(id)).then_some(rows)
    });
    assert!(newer.iter().all(|id| id.starts_with("TX-")), "{newer:?}");
    browser.wait_for("counters", || {
        let approved: u64 = browser
            .text_of("#count-approve")
            .replace(',', "")
            .parse()
            .ok()?;
        (approved > 0).then_some(())
    });
    browser.screenshot(&screenshot("live.png"));

    // Filtering by action keeps only that action.
    browser.run("document.getElementById('filter-action').value = 'REVIEW'");
    browser.find("#live-filter button").click();
    browser.wait_for("only REVIEW rows", || {
        let actions = browser.run(
            "return [...document.querySelectorAll('#live-rows tr')].map(r => r.dataset.action)",
        );
        let actions = actions.as_array()?.clone();
        (!actions.is_empty() && actions.iter().all(|action| action == "REVIEW")).then_some(())
    });

    // Seed 003's low-risk transaction first: approved, Seattle joins the profile.
    browser.find("#tab-submit").click();
    browser.find("#seed-0").click();
    browser.find("#submit-button").click();
    browser.wait_for("the approval", || {
        (browser.text_of("#result-action") == "APPROVE").then_some(())
    });

    // Then the high-risk one: BLOCK for impossible travel.
    browser.find("#seed-1").click();
    browser.find("#submit-button").click();
    browser.wait_for("the decision", || {
        (browser.text_of("#result-action") == "BLOCK").then_some(())
    });
    assert_eq!(browser.text_of("#result-risk"), "100");
    let travel = browser.text_of("#result-reasons tr[data-code=IMPOSSIBLE_TRAVEL]");
    assert!(
        travel.contains("km/h") && travel.contains("distance_km="),
        "{travel}"
    );
    browser.screenshot(&screenshot("submit-block.png"));

    // The analyst confirms the fraud: a Label marks the card compromised.
    browser.find("#verdict-fraud").click();
    browser.wait_for("the label to apply", || {
        browser
            .text_of("#verdict-status")
            .contains("card marked compromised")
            .then_some(())
    });
    let (status, customer) = detector.api_get("/api/customers/C-12345");
    assert_eq!(status, 200);
    assert!(customer["compromised_since"].is_i64(), "{customer}");

    // The engine acts on it: the next transaction from an unfamiliar device
    // is COMPROMISED_CARD.
    let next = r#"{"transaction_id": "TXN-AFTER-LABEL", "customer_id": "C-12345", "amount": 20.0, "merchant": "Cafe", "location": "Moscow, Russia", "device_id": "dev-other-phone"}"#;
    browser.run(&format!(
        "document.getElementById('submit-json').value = {}",
        serde_json::to_string(next).unwrap()
    ));
    browser.find("#submit-button").click();
    browser.wait_for("the compromised card", || {
        browser
            .try_find("#result-reasons tr[data-code=COMPROMISED_CARD]")
            .map(|_| ())
    });

    // The customer view: windows, and the two places on the map.
    browser.find("#result-customer").click();
    browser.wait_for("the customer's state", || {
        browser
            .text_of("#customer-summary")
            .contains("CARD COMPROMISED")
            .then_some(())
    });
    let windows = browser.run("return document.querySelectorAll('#customer-windows tr').length");
    assert_eq!(windows, 5);
    let marks = browser.run(
        "return [document.querySelectorAll('#customer-map circle').length, \
         document.querySelectorAll('#customer-map rect.seen').length]",
    );
    assert_eq!(
        marks,
        serde_json::json!([1, 2]),
        "Seattle held by the engine; Seattle and Moscow seen in the decisions"
    );
    browser.screenshot(&screenshot("customer.png"));

    // Bad input is refused with its reason, never decided.
    browser.find("#tab-submit").click();
    browser.run("document.getElementById('submit-json').value = '{\"transaction_id\": \"X\", \"amount\": -5}'");
    browser.find("#submit-button").click();
    browser.wait_for("the rejection", || {
        browser
            .text_of("#submit-error")
            .contains("Rejected")
            .then_some(())
    });

    drop(browser);
    let report = detector.stop();
    assert!(report.counters.decisions() > 0);
}

#[test]
fn the_api_needs_the_token() {
    let detector = Detector::start(console(), &generator(150, 0.02));
    for path in [
        "/api/live",
        "/api/stats",
        "/api/customers/C-1",
        "/api/seeds",
    ] {
        let status = reqwest::blocking::get(detector.url(path)).unwrap().status();
        assert_eq!(status.as_u16(), 401, "{path}");
    }
    let page = reqwest::blocking::get(detector.url("/console")).unwrap();
    assert_eq!(page.status().as_u16(), 200, "the page itself holds no data");
    detector.stop();
}

/// A submission is a transaction of the pipeline: its decision is on the
/// decisions output, a refused one on the dead letters, and the run's books
/// count both under the source `console`; a verdict is kept on the labels output.
#[test]
fn submissions_and_verdicts_are_written_to_the_outputs() {
    let labels_sink = "  labels: {type: file, path: \"{out}/labels.jsonl\"}\n";
    let detector = Detector::start(console(), &(generator(50, 0.0) + labels_sink));
    let seed = std::fs::read_to_string("tests/fixtures/seed_003.jsonl").unwrap();
    let high_risk = seed.lines().nth(1).unwrap();
    let (status, answer) = detector.api_post("/api/submit", high_risk);
    assert_eq!(status, 200, "{answer}");
    let transaction_id = answer["decision"]["transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, letter) = detector.api_post("/api/submit", "{\"transaction_id\": 7}");
    assert_eq!(status, 422, "{letter}");
    let verdict = serde_json::json!({
        "transaction_id": transaction_id, "customer_id": "C-12345", "verdict": "confirmed_fraud"
    });
    let (status, answer) = detector.api_post("/api/verdicts", &verdict.to_string());
    assert_eq!(status, 200, "{answer}");
    let (report, out) = detector.stop_keeping_output();
    let out = out.path();

    let decisions = std::fs::read_to_string(out.join("d.jsonl")).unwrap();
    let written: Vec<&str> = decisions
        .lines()
        .filter(|line| line.contains(&format!("\"transaction_id\":\"{transaction_id}\"")))
        .collect();
    assert_eq!(written.len(), 1, "one decision for the submission");
    assert!(
        written[0].contains("\"action\":\"BLOCK\""),
        "{}",
        written[0]
    );
    let dead_letters = std::fs::read_to_string(out.join("dl.jsonl")).unwrap();
    assert_eq!(dead_letters.lines().count(), 1, "{dead_letters}");
    assert!(
        dead_letters.contains("\"source\":\"console\""),
        "{dead_letters}"
    );
    let labels = std::fs::read_to_string(out.join("labels.jsonl")).unwrap();
    let label: serde_json::Value = serde_json::from_str(labels.trim()).unwrap();
    assert_eq!(label["transaction_id"], transaction_id.as_str());
    assert_eq!(label["is_fraud"], true);
    assert!(
        label["source"].as_str().unwrap().starts_with("analyst:"),
        "{label}"
    );
    assert!(report.counters.balanced(), "{:?}", report.counters);
    assert_eq!(report.counters.dead_letters(), 1);
    assert_eq!(
        decisions.lines().count() as u64,
        report.counters.decisions(),
        "every counted decision is written"
    );
}
