//! The six tools over MCP (streamable HTTP), with the real binary: `run`
//! with an `agent:` section and `--mcp`, a raw JSON-RPC client lists the
//! tools and calls one on the transaction the detector escalated.

mod agent_support;
mod support;
mod vllm_replay;

use agent_support::{AgentRun, SEED_HIGH_RISK};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vllm_replay::{verdict_turn, Reply, VllmReplay};

/// One JSON-RPC call; the reply may come as JSON or as an SSE event.
fn rpc(url: &str, id: u64, method: &str, params: Value) -> Value {
    let response = reqwest::blocking::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
        .send()
        .unwrap();
    let status = response.status();
    let text = response.text().unwrap();
    assert!(status.is_success(), "{method}: {status} {text}");
    let body = text
        .lines()
        .find_map(|line| line.strip_prefix("data:"))
        .unwrap_or(&text);
    serde_json::from_str(body.trim()).unwrap_or_else(|error| panic!("{error}: {text}"))
}

#[test]
fn an_mcp_client_lists_the_six_tools_and_calls_one() {
    let vllm = VllmReplay::start(|_, _| {
        Reply::Message(verdict_turn("travel", "BLOCK", 95, "impossible travel"))
    });
    let run = AgentRun::new(&[]);
    let topology = run
        .topology(&format!("base_url: {}\n", vllm.base_url()), "")
        .replace(
            &format!(
                "tx: {{type: file, path: {}}}",
                run.path("tx.jsonl").display()
            ),
            "tx: {type: stdin}",
        );
    std::fs::write(run.path("topology.yaml"), topology).unwrap();
    let (port, http) = (support::free_port(), support::free_port());
    let mut detector = Command::new(env!("CARGO_BIN_EXE_fraud-detector"))
        .args(["run", "--topology"])
        .arg(run.path("topology.yaml"))
        .args(["--mcp", &format!("127.0.0.1:{port}")])
        .args(["--http", &format!("127.0.0.1:{http}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = detector.stdin.take().unwrap();
    writeln!(input, "{SEED_HIGH_RISK}").unwrap();
    input.flush().unwrap();

    // The running detector escalated the transaction and the agent decided
    // (file sinks flush at the end, so watch /metrics).
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics_url = format!("http://127.0.0.1:{http}/metrics");
    loop {
        let metrics = reqwest::blocking::get(&metrics_url)
            .and_then(|response| response.text())
            .unwrap_or_default();
        if metrics.contains("fraud_agent_decided_total 1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not decide: {metrics}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let url = format!("http://127.0.0.1:{port}/mcp");
    let initialized = rpc(
        &url,
        1,
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
    );
    assert!(
        initialized["result"]["capabilities"]["tools"].is_object(),
        "{initialized:#}"
    );
    let listed = rpc(&url, 2, "tools/list", json!({}));
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed:#}"))
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, fraud_detector::agent::tools::TOOL_NAMES);

    let called = rpc(
        &url,
        3,
        "tools/call",
        json!({"name": "geolocation-checker", "arguments": {"transaction_id": "TXN-20251201-191354"}}),
    );
    assert_eq!(called["result"]["isError"], false, "{called:#}");
    let result: Value =
        serde_json::from_str(called["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(result["impossible_travel"], true, "{result:#}");

    let unknown = rpc(
        &url,
        4,
        "tools/call",
        json!({"name": "transaction-risk", "arguments": {"transaction_id": "TXN-NOPE"}}),
    );
    assert_eq!(unknown["result"]["isError"], true, "{unknown:#}");

    drop(input); // end of input: the detector drains and exits
    let status = detector.wait().unwrap();
    assert!(status.success(), "{status}");
    let decisions = run.decisions();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0]["agent"]["status"], "DECIDED", "{decisions:#?}");
}
