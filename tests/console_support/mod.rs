//! What the console's browser tests share: the detector running a topology
//! in-process with the console on a free loopback port.
#![allow(dead_code)]

use fraud_detector::console::{AccessConfig, Console, ConsoleConfig};
use fraud_detector::runtime::{self, RunOptions, Shutdown};
use fraud_detector::telemetry::Telemetry;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The generator streaming `rate` transactions a second (a share
/// `fraud_rate` of them fraud), until stopped.
pub fn generator(rate: u32, fraud_rate: f64) -> String {
    format!(
        "sources:\n  tx: {{type: generator, seed: 11, customers: 300, transactions: 1000000, rate: {rate}, fraud_rate: {fraud_rate}}}\n\
         sinks:\n  decisions: {{type: file, path: \"{{out}}/d.jsonl\"}}\n  alerts: {{type: blackhole}}\n  \
         cases: {{type: blackhole}}\n  dead_letters: {{type: file, path: \"{{out}}/dl.jsonl\"}}\n"
    )
}

pub const TOKEN: &str = "console-test-token";

pub struct Detector {
    pub address: SocketAddr,
    shutdown: Shutdown,
    tokio: tokio::runtime::Runtime,
    run: tokio::task::JoinHandle<Result<runtime::RunReport, runtime::RuntimeError>>,
    _out: tempfile::TempDir,
}

impl Detector {
    /// Runs `topology` (YAML; `{out}` stands for a fresh directory) with the
    /// console, until stopped.
    pub fn start(console: Arc<Console>, topology: &str) -> Detector {
        let out = tempfile::tempdir().unwrap();
        let topology =
            super::support::topology(&topology.replace("{out}", &out.path().display().to_string()));
        let address: SocketAddr = format!("127.0.0.1:{}", super::support::free_port())
            .parse()
            .unwrap();
        let shutdown = Shutdown::default();
        let options = RunOptions {
            http: Some(address),
            telemetry: Some(Arc::new(Telemetry::default())),
            console: Some(console),
            shutdown: shutdown.clone(),
            ..RunOptions::default()
        };
        let tokio = super::support::tokio_runtime();
        let run = tokio.spawn(async move { runtime::run(&topology, options).await });
        let detector = Detector {
            address,
            shutdown,
            tokio,
            run,
            _out: out,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        // The HTTP server answers before the pipeline has attached its
        // outputs; /readyz turns 200 only once sources and sinks run.
        while detector.api_get("/api/session").0 != 200 || detector.api_get("/readyz").0 != 200 {
            assert!(
                std::time::Instant::now() < deadline,
                "the console never answered, or the pipeline never became ready"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        detector
    }

    /// POSTs `body` to the API with the token.
    pub fn api_post(&self, path: &str, body: &str) -> (u16, Value) {
        let response = reqwest::blocking::Client::new()
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .unwrap();
        (
            response.status().as_u16(),
            response.json().unwrap_or(Value::Null),
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn api_get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::blocking::Client::new()
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send();
        match response {
            Ok(response) => (
                response.status().as_u16(),
                response.json().unwrap_or(Value::Null),
            ),
            Err(_) => (0, Value::Null),
        }
    }

    pub fn stop(self) -> runtime::RunReport {
        self.stop_keeping_output().0
    }

    /// Stops, and hands over the directory `{out}` stood for.
    pub fn stop_keeping_output(self) -> (runtime::RunReport, tempfile::TempDir) {
        self.shutdown.trigger();
        let report = self.tokio.block_on(self.run).unwrap().unwrap();
        (report, self._out)
    }
}

pub fn screenshot(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("console-screenshots").join(name)
}

pub fn console() -> Arc<Console> {
    Console::new(ConsoleConfig {
        access: AccessConfig {
            token: Some(TOKEN.into()),
            trusted_header: None,
        },
        ..ConsoleConfig::default()
    })
}
