//! The six tools over MCP, with the real binary: `run` with an `agent:`
//! section and `--mcp`; a raw JSON-RPC client, over streamable HTTP and over
//! HTTP+SSE, lists the tools and calls one on the transaction the detector
//! escalated.

mod agent_support;
mod support;
mod vllm_replay;

use agent_support::{AgentRun, SEED_HIGH_RISK};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
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

/// The real binary with the replayed vLLM, after it escalated the seed's
/// high-risk transaction and the agent decided; MCP on `port`.
struct McpDetector {
    _vllm: VllmReplay,
    run: AgentRun,
    detector: Child,
    input: ChildStdin,
    port: u16,
}

impl McpDetector {
    fn start() -> McpDetector {
        McpDetector::start_with_tools(|_| String::new())
    }

    /// `tools(run)` is the agent's `tools:` section (empty: the defaults).
    fn start_with_tools(tools: impl Fn(&AgentRun) -> String) -> McpDetector {
        let vllm = VllmReplay::start(|_, _| {
            Reply::Message(verdict_turn("travel", "BLOCK", 95, "impossible travel"))
        });
        let run = AgentRun::new(&[]);
        let agent = format!("base_url: {}\n{}", vllm.base_url(), tools(&run));
        let topology = run.topology(&agent, "").replace(
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
        wait_for_the_agent(http);
        McpDetector {
            _vllm: vllm,
            run,
            detector,
            input,
            port,
        }
    }

    /// Ends the input; the detector drains, exits 0 and wrote the agent's
    /// decision.
    fn finish(mut self) {
        drop(self.input);
        let status = self.detector.wait().unwrap();
        assert!(status.success(), "{status}");
        let decisions = self.run.decisions();
        assert_eq!(decisions.len(), 1);
        assert_eq!(decisions[0]["agent"]["status"], "DECIDED", "{decisions:#?}");
    }
}

/// File sinks flush at the end, so watch /metrics.
fn wait_for_the_agent(http: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics_url = format!("http://127.0.0.1:{http}/metrics");
    loop {
        let metrics = reqwest::blocking::get(&metrics_url)
            .and_then(|response| response.text())
            .unwrap_or_default();
        if metrics.contains("fraud_agent_decided_total 1") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not decide: {metrics}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What every client must get from the six tools, whatever the transport:
/// `call` sends one JSON-RPC request and returns its response.
fn check_the_tools(mut call: impl FnMut(u64, &str, Value) -> Value) {
    let initialized = call(
        1,
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
    );
    assert!(
        initialized["result"]["capabilities"]["tools"].is_object(),
        "{initialized:#}"
    );
    assert_eq!(
        initialized["result"]["serverInfo"]["name"],
        "fraud-detector"
    );
    let listed = call(2, "tools/list", json!({}));
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed:#}"))
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, fraud_detector::agent::tools::TOOL_NAMES);

    let called = call(
        3,
        "tools/call",
        json!({"name": "geolocation-checker", "arguments": {"transaction_id": "TXN-20251201-191354"}}),
    );
    assert_eq!(called["result"]["isError"], false, "{called:#}");
    let result: Value =
        serde_json::from_str(called["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(result["impossible_travel"], true, "{result:#}");

    let unknown = call(
        4,
        "tools/call",
        json!({"name": "transaction-risk", "arguments": {"transaction_id": "TXN-NOPE"}}),
    );
    assert_eq!(unknown["result"]["isError"], true, "{unknown:#}");
}

#[test]
fn an_mcp_client_lists_the_six_tools_and_calls_one() {
    let detector = McpDetector::start();
    let url = format!("http://127.0.0.1:{}/mcp", detector.port);
    check_the_tools(|id, method, params| rpc(&url, id, method, params));
    let rebound = reqwest::blocking::Client::new()
        .post(&url)
        .header("host", "attacker.example")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 9, "method": "ping"}))
        .send()
        .unwrap();
    assert_eq!(rebound.status(), reqwest::StatusCode::FORBIDDEN);
    detector.finish();
}

/// One server-sent event: its name and data.
fn next_event(stream: &mut impl BufRead) -> (String, String) {
    let (mut name, mut data) = (String::new(), String::new());
    loop {
        let mut line = String::new();
        assert!(stream.read_line(&mut line).unwrap() > 0, "the stream ended");
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() && !data.is_empty() {
            return (name, data);
        }
        if let Some(value) = line.strip_prefix("event:") {
            name = value.trim().to_owned();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push_str(value.trim());
        }
    }
}

fn post(url: &str, message: &Value) -> reqwest::StatusCode {
    reqwest::blocking::Client::new()
        .post(url)
        .json(message)
        .send()
        .unwrap()
        .status()
}

/// Seed 000's clients speak MCP's HTTP+SSE transport at `:8080/sse`.
#[test]
fn an_sse_client_lists_the_six_tools_and_calls_one() {
    let detector = McpDetector::start();
    let base = format!("http://127.0.0.1:{}", detector.port);
    let response = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap()
        .get(format!("{base}/sse"))
        .header("accept", "text/event-stream")
        .send()
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let mut events = BufReader::new(response);
    let (name, endpoint) = next_event(&mut events);
    assert_eq!(name, "endpoint");
    let messages_url = format!("{base}{endpoint}");

    check_the_tools(|id, method, params| {
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        assert_eq!(post(&messages_url, &request), reqwest::StatusCode::ACCEPTED);
        let (name, data) = next_event(&mut events);
        assert_eq!(name, "message");
        let reply: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(reply["id"], id, "{reply:#}");
        if method == "initialize" {
            let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
            assert_eq!(
                post(&messages_url, &initialized),
                reqwest::StatusCode::ACCEPTED
            );
        }
        reply
    });

    let rebound = reqwest::blocking::Client::new()
        .get(format!("{base}/sse"))
        .header("host", "attacker.example")
        .send()
        .unwrap();
    assert_eq!(rebound.status(), reqwest::StatusCode::FORBIDDEN);

    let stray = format!("{base}/messages/?session_id=nope");
    let ping = json!({"jsonrpc": "2.0", "id": 9, "method": "ping"});
    assert_eq!(post(&stray, &ping), reqwest::StatusCode::NOT_FOUND);
    assert_eq!(
        post(&messages_url, &json!({"not": "json-rpc"})),
        reqwest::StatusCode::BAD_REQUEST
    );
    // Closing the stream ends the session.
    drop(events);
    let deadline = Instant::now() + Duration::from_secs(10);
    while post(&messages_url, &ping) != reqwest::StatusCode::NOT_FOUND {
        assert!(Instant::now() < deadline, "the session outlived its stream");
        std::thread::sleep(Duration::from_millis(50));
    }
    detector.finish();
}

/// A case an MCP client opens has no closing step: its S3 copy (moto)
/// follows each write, the case first, then the report beside it.
#[test]
fn a_case_opened_over_mcp_is_archived_to_s3() {
    agent_support::aws_test_environment();
    let moto = support::moto();
    let bucket = reqwest::blocking::Client::new()
        .put(format!("{}/fd-mcp-cases", moto.url()))
        .send()
        .unwrap();
    assert!(bucket.status().is_success());
    let endpoint = moto.url();
    let detector = McpDetector::start_with_tools(|run| {
        format!(
            "tools:\n  case_dir: {}\n  case_archive: {{bucket: fd-mcp-cases, prefix: mcp/, aws: {{region: us-east-1, endpoint: {endpoint}}}}}\n",
            run.path("cases").display()
        )
    });
    let url = format!("http://127.0.0.1:{}/mcp", detector.port);
    rpc(
        &url,
        1,
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
    );
    let archived = |prefix: &str| -> String {
        reqwest::blocking::get(format!(
            "{}/fd-mcp-cases?list-type=2&prefix={prefix}",
            moto.url()
        ))
        .unwrap()
        .text()
        .unwrap()
    };
    let call = |id, tool: &str| -> Value {
        let called = rpc(
            &url,
            id,
            "tools/call",
            json!({"name": tool, "arguments": {"transaction_id": "TXN-20251201-191354", "summary": "impossible travel"}}),
        );
        assert_eq!(called["result"]["isError"], false, "{called:#}");
        serde_json::from_str(called["result"]["content"][0]["text"].as_str().unwrap()).unwrap()
    };
    let logged = call(2, "fraud-logger");
    let case_id = logged["case_id"].as_str().unwrap().to_owned();
    let listing = archived(&format!("mcp/{case_id}/"));
    assert!(
        listing.contains(&format!("mcp/{case_id}/case.json")),
        "{listing}"
    );
    assert!(!listing.contains("report.json"), "{listing}");

    call(3, "report-generator");
    let listing = archived(&format!("mcp/{case_id}/"));
    for file in ["case.json", "report.json", "report.md"] {
        assert!(
            listing.contains(&format!("mcp/{case_id}/{file}")),
            "{file}: {listing}"
        );
    }
    detector.finish();
}
