//! A fault-injecting proxy in front of kinesis-local, which neither throttles
//! nor expires iterators on demand. Every call is forwarded to the real
//! server, except that some GetRecords calls are answered with
//! `ProvisionedThroughputExceededException` or `ExpiredIteratorException`,
//! and some PutRecords entries fail with `ProvisionedThroughputExceededException`
//! (those entries are not forwarded: Kinesis has not written them). Errors
//! are in the AWS JSON protocol, as Kinesis sends them.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Which calls fail: every `throttle_every`-th GetRecords is throttled, every
/// `expire_every`-th has an expired iterator, every `fail_entry_every`-th
/// PutRecords entry (counted across calls, so a retry can succeed) fails.
/// Every PutRecords call waits `put_delay` before it is forwarded.
#[derive(Clone, Copy)]
pub struct Faults {
    pub throttle_every: u64,
    pub expire_every: u64,
    pub fail_entry_every: u64,
    pub put_delay: std::time::Duration,
}

impl Faults {
    /// Only slow: every PutRecords waits `delay`, nothing fails.
    pub fn slow_puts(delay: std::time::Duration) -> Faults {
        Faults {
            throttle_every: u64::MAX,
            expire_every: u64::MAX,
            fail_entry_every: u64::MAX,
            put_delay: delay,
        }
    }
}

/// What the proxy injected.
#[derive(Default)]
pub struct Injected {
    pub throttled_reads: AtomicU64,
    pub expired_iterators: AtomicU64,
    pub failed_entries: AtomicU64,
    get_records: AtomicU64,
    put_entries: AtomicU64,
}

pub struct FaultProxy {
    pub url: String,
    pub injected: Arc<Injected>,
    _runtime: tokio::runtime::Runtime,
}

struct Proxy {
    upstream: String,
    faults: Faults,
    injected: Arc<Injected>,
    client: reqwest::Client,
}

impl FaultProxy {
    pub fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let injected = Arc::new(Injected::default());
        let proxy = Arc::new(Proxy {
            upstream: upstream.to_owned(),
            faults,
            injected: injected.clone(),
            client: reqwest::Client::new(),
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(forward).with_state(proxy);
        runtime.spawn(async move { axum::serve(listener, app).await });
        FaultProxy {
            url,
            injected,
            _runtime: runtime,
        }
    }
}

async fn forward(State(proxy): State<Arc<Proxy>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if target.ends_with(".GetRecords") {
        if let Some(refused) = proxy.refuse_read() {
            return refused;
        }
    }
    if target.ends_with(".PutRecords") {
        tokio::time::sleep(proxy.faults.put_delay).await;
        return proxy.put_records(&headers, &body).await;
    }
    let (status, body) = proxy.send(&headers, body.to_vec()).await;
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        body,
    )
        .into_response()
}

impl Proxy {
    fn refuse_read(&self) -> Option<Response> {
        let call = self.injected.get_records.fetch_add(1, Ordering::Relaxed) + 1;
        let (counter, kind, message) = if call.is_multiple_of(self.faults.expire_every) {
            (
                &self.injected.expired_iterators,
                "ExpiredIteratorException",
                "Iterator expired. The iterator was created at time 0 while right now it is 300001.",
            )
        } else if call.is_multiple_of(self.faults.throttle_every) {
            (
                &self.injected.throttled_reads,
                "ProvisionedThroughputExceededException",
                "Rate exceeded for shard shardId-000000000000 in stream tx under account 000000000000.",
            )
        } else {
            return None;
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Some(aws_error(kind, message))
    }

    /// Forwards the entries that do not fail, and answers for all of them in order.
    async fn put_records(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let Ok(mut request) = serde_json::from_slice::<Value>(body) else {
            return aws_error("SerializationException", "not JSON");
        };
        let entries = request["Records"].as_array().cloned().unwrap_or_default();
        let failing: Vec<bool> = entries
            .iter()
            .map(|_| {
                let entry = self.injected.put_entries.fetch_add(1, Ordering::Relaxed) + 1;
                entry.is_multiple_of(self.faults.fail_entry_every)
            })
            .collect();
        let kept: Vec<Value> = entries
            .into_iter()
            .zip(&failing)
            .filter(|(_, fails)| !**fails)
            .map(|(entry, _)| entry)
            .collect();
        let mut written = Vec::new().into_iter();
        if !kept.is_empty() {
            request["Records"] = Value::Array(kept);
            let (status, body) = self.send(headers, request.to_string().into_bytes()).await;
            if status != StatusCode::OK {
                return (
                    status,
                    [("content-type", "application/x-amz-json-1.1")],
                    body,
                )
                    .into_response();
            }
            let answer: Value = serde_json::from_slice(&body).unwrap_or_default();
            written = answer["Records"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter();
        }
        let mut failed = 0;
        let results: Vec<Value> = failing
            .iter()
            .map(|fails| {
                if *fails {
                    failed += 1;
                    json!({"ErrorCode": "ProvisionedThroughputExceededException",
                           "ErrorMessage": "Rate exceeded for shard shardId-000000000000 in stream decisions under account 000000000000."})
                } else {
                    written.next().unwrap_or(Value::Null)
                }
            })
            .collect();
        self.injected
            .failed_entries
            .fetch_add(failed, Ordering::Relaxed);
        let answer = json!({"FailedRecordCount": failed, "Records": results});
        (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            answer.to_string(),
        )
            .into_response()
    }

    async fn send(&self, headers: &HeaderMap, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
        let mut request = self.client.post(&self.upstream).body(body);
        for (name, value) in headers {
            if name != "host" && name != "content-length" {
                request = request.header(name.as_str(), value.as_bytes());
            }
        }
        match request.send().await {
            Ok(response) => {
                let status = StatusCode::from_u16(response.status().as_u16())
                    .unwrap_or(StatusCode::BAD_GATEWAY);
                let body = response
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                (status, body)
            }
            Err(error) => (StatusCode::BAD_GATEWAY, error.to_string().into_bytes()),
        }
    }
}

fn aws_error(kind: &str, message: &str) -> Response {
    let body = json!({"__type": kind, "message": message}).to_string();
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.1")],
        body,
    )
        .into_response()
}
