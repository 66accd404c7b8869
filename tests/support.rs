//! Shared helpers for the integration tests.
#![allow(dead_code)]

use fraud_detector::runtime::{self, RunOptions, RunReport};
use fraud_detector::topology::Topology;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;

/// Parses a topology written inline in a test.
pub fn topology(yaml: &str) -> Topology {
    Topology::parse(yaml, Path::new("test.yaml")).unwrap_or_else(|error| panic!("{error}"))
}

/// The runtime the tests run pipelines on: two threads, like CI's two cores.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub fn run(topology: &Topology, options: RunOptions) -> RunReport {
    tokio_runtime()
        .block_on(runtime::run(topology, options))
        .unwrap()
}

/// Complete lines in a file another process is still appending to.
pub fn count_complete_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|bytes| bytes.iter().filter(|byte| **byte == b'\n').count())
        .unwrap_or(0)
}

pub fn read_json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A server process the test started on a loopback port; killed (by pid) on drop.
pub struct LocalServer {
    pub port: u16,
    child: std::process::Child,
}

impl LocalServer {
    /// Starts `command` and waits until `port` accepts connections.
    pub fn start(mut command: std::process::Command, port: u16, what: &str) -> LocalServer {
        // FD_TEST_SERVER_LOGS=1 shows what the servers (and replicas) log.
        let logs = || match std::env::var_os("FD_TEST_SERVER_LOGS") {
            Some(_) => std::process::Stdio::inherit(),
            None => std::process::Stdio::null(),
        };
        command.stdout(logs()).stderr(logs());
        Self::spawn(command, port, what)
    }

    /// Like `start`, with what the server logs (stdout and stderr) in `log`.
    pub fn start_logging(
        mut command: std::process::Command,
        port: u16,
        what: &str,
        log: &Path,
    ) -> LocalServer {
        let file = std::fs::File::create(log).expect("a log file");
        let copy = file.try_clone().expect("a log file");
        command.stdout(file).stderr(copy);
        Self::spawn(command, port, what)
    }

    fn spawn(mut command: std::process::Command, port: u16, what: &str) -> LocalServer {
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {what}: {error}"));
        let server = LocalServer { port, child };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{what} did not listen on 127.0.0.1:{port} within 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// Path of a tool that scripts/test.sh installed and exported as `variable`.
pub fn installed_tool(variable: &str, script: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run the tests through scripts/test.sh, or set it to the output of {script}")
    })
}

/// moto in server mode (S3, DynamoDB, SES) on a fresh loopback port.
pub fn moto() -> LocalServer {
    let program = installed_tool("FD_MOTO_SERVER", "scripts/install-moto.sh");
    let port = free_port();
    let mut command = std::process::Command::new(program);
    command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    LocalServer::start(command, port, "moto_server")
}

/// The JSON bodies an OTLP/HTTP receiver got.
pub type ExportedTraces = std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>;

/// A minimal OTLP/HTTP receiver: stores each POSTed JSON body.
pub fn otlp_receiver() -> (String, ExportedTraces) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    let bodies = ExportedTraces::default();
    let received = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            if let Ok(json) = serde_json::from_slice(&body) {
                received.lock().unwrap().push(json);
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
        }
    });
    (endpoint, bodies)
}

/// Every span in the bodies received so far.
pub fn exported_spans(bodies: &ExportedTraces) -> Vec<serde_json::Value> {
    let list =
        |value: &serde_json::Value, key: &str| value[key].as_array().cloned().unwrap_or_default();
    bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|body| list(body, "resourceSpans"))
        .flat_map(|resource| list(&resource, "scopeSpans"))
        .flat_map(|scope| list(&scope, "spans"))
        .collect()
}

/// A topology running in this process until `stop`.
pub struct Background {
    shutdown: runtime::Shutdown,
    runner: std::thread::JoinHandle<RunReport>,
}

impl Background {
    pub fn run(yaml: &str) -> Background {
        let topology = topology(yaml);
        let shutdown = runtime::Shutdown::default();
        let options = RunOptions {
            shutdown: shutdown.clone(),
            ..RunOptions::default()
        };
        let runner = std::thread::spawn(move || run(&topology, options));
        Background { shutdown, runner }
    }

    /// Stops the run and returns its report.
    pub fn stop(self) -> RunReport {
        self.shutdown.trigger();
        self.runner.join().unwrap()
    }
}

/// CPU seconds (user + system) of this process's threads, summed by name.
pub fn cpu_by_thread() -> std::collections::BTreeMap<String, f64> {
    let mut by_name = std::collections::BTreeMap::new();
    let tasks = std::fs::read_dir("/proc/self/task").into_iter().flatten();
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close]
            .trim_end_matches(char::is_numeric)
            .to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = |index: usize| {
            fields
                .get(index)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        *by_name.entry(name).or_insert(0.0) += (ticks(11) + ticks(12)) / 100.0;
    }
    by_name
}

/// The CPU each thread name spent since `before` (a `cpu_by_thread`), as
/// "name 1.23s, ...". Threads that ended since are not counted.
pub fn cpu_by_thread_since(before: &std::collections::BTreeMap<String, f64>) -> String {
    let spent: Vec<String> = cpu_by_thread()
        .iter()
        .map(|(name, seconds)| {
            let earlier = before.get(name).copied().unwrap_or(0.0);
            format!("{name} {:.2}s", seconds - earlier)
        })
        .collect();
    spent.join(", ")
}
