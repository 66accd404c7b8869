//! The one test double of the agent tests: an OpenAI-compatible server on a
//! loopback port that answers `/v1/chat/completions` with replies shaped
//! exactly like vLLM's (DeepSeek-R1 with the deepseek_r1 reasoning parser and
//! auto tool choice): `tool_calls` with JSON-string arguments,
//! `reasoning_content`, inline `<think>` tags, SSE `chat.completion.chunk`s
//! ending in `[DONE]`, vLLM's error bodies for 429/500, and slow replies.
//! No GPU or weights here; every request it got is kept for assertions
//! (a benchmark keeps only the last: see [`VllmReplay::start_keeping_last`]).
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one request gets back.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A `chat.completion` with this assistant message.
    Message(Value),
    /// The same message as SSE chunks (one delta per piece).
    Stream(Value),
    /// An error status with vLLM's error body.
    Error(u16, &'static str),
    /// Waits, then replies.
    Slow(Duration, Box<Reply>),
}

type Script = dyn Fn(&Value, usize) -> Reply + Send + Sync;

pub struct VllmReplay {
    pub port: u16,
    requests: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

/// The requests kept, and how many came in all.
struct Seen {
    kept: Vec<Value>,
    count: usize,
    /// Keep only the last request, not all of them.
    last_only: bool,
}

impl VllmReplay {
    /// `script(request, index)` chooses the reply to the `index`-th request.
    pub fn start(script: impl Fn(&Value, usize) -> Reply + Send + Sync + 'static) -> VllmReplay {
        VllmReplay::serving(false, Arc::new(script))
    }

    /// As `start`, keeping only the last request: a benchmark's thousands of
    /// requests a second, all kept, would stream fresh memory through the
    /// cache that the detector shares, which vLLM on its own machine does not.
    pub fn start_keeping_last(
        script: impl Fn(&Value, usize) -> Reply + Send + Sync + 'static,
    ) -> VllmReplay {
        VllmReplay::serving(true, Arc::new(script))
    }

    fn serving(last_only: bool, script: Arc<Script>) -> VllmReplay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Seen {
            kept: Vec::new(),
            count: 0,
            last_only,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (seen, script) = (seen.clone(), script.clone());
                let serving = move || serve(stream, &seen, &*script);
                let _ = std::thread::Builder::new()
                    .name("vllm-replay".into())
                    .spawn(serving);
            }
        });
        VllmReplay {
            port,
            requests,
            stop,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().kept.clone()
    }
}

impl Drop for VllmReplay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Serves one connection; like vLLM (uvicorn), it keeps the connection
/// open for the next request, except after a stream.
fn serve(stream: TcpStream, seen: &Mutex<Seen>, script: &Script) {
    // A reply goes out in a few writes: without this, Nagle's algorithm
    // holds the last one for the client's delayed ACK (40 ms).
    let _ = stream.set_nodelay(true);
    let Ok(reading) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(reading);
    while let Some(request) = read_request(&mut reader) {
        let index = {
            let mut seen = seen.lock().unwrap();
            if seen.last_only {
                seen.kept.clear();
            }
            seen.kept.push(request.clone());
            seen.count += 1;
            seen.count - 1
        };
        if !respond(&stream, script(&request, index)) {
            return;
        }
    }
}

/// The next request's JSON body (`Null` if it is not JSON); `None` once the
/// client closed the connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Value> {
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Writes the reply; false when the connection must close after it.
fn respond(mut stream: &TcpStream, reply: Reply) -> bool {
    match reply {
        Reply::Slow(wait, reply) => {
            std::thread::sleep(wait);
            respond(stream, *reply)
        }
        Reply::Message(message) => {
            let body = completion(message).to_string();
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .is_ok()
        }
        Reply::Error(status, message) => {
            let kind = if status == 429 {
                "RateLimitError"
            } else {
                "InternalServerError"
            };
            let body = json!({"object": "error", "message": message, "type": kind, "param": null, "code": status}).to_string();
            write!(
                stream,
                "HTTP/1.1 {status} Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .is_ok()
        }
        Reply::Stream(message) => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
            );
            for chunk in chunks(&message) {
                let _ = write!(stream, "data: {chunk}\n\n");
                let _ = stream.flush();
            }
            let _ = write!(stream, "data: [DONE]\n\n");
            false
        }
    }
}

/// A non-streaming reply as vLLM writes it.
fn completion(message: Value) -> Value {
    let finish = if message["tool_calls"]
        .as_array()
        .is_some_and(|calls| !calls.is_empty())
    {
        "tool_calls"
    } else {
        "stop"
    };
    json!({
        "id": "chatcmpl-replay",
        "object": "chat.completion",
        "created": 1764616434,
        "model": "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish, "stop_reason": null}],
        "usage": {"prompt_tokens": 812, "total_tokens": 940, "completion_tokens": 128, "prompt_tokens_details": null},
        "prompt_logprobs": null
    })
}

/// The message as vLLM streams it: role first, reasoning and content in
/// pieces, each tool call as a header delta then argument fragments.
fn chunks(message: &Value) -> Vec<Value> {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-replay", "object": "chat.completion.chunk", "created": 1764616434,
               "model": "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    };
    let mut out = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    for field in ["reasoning_content", "content"] {
        if let Some(text) = message[field].as_str() {
            let characters: Vec<char> = text.chars().collect();
            for piece in characters.chunks(5) {
                let piece: String = piece.iter().collect();
                out.push(chunk(json!({ field: piece }), Value::Null));
            }
        }
    }
    for (index, call) in message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        out.push(chunk(
            json!({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                   "function": {"name": call["function"]["name"], "arguments": ""}}]}),
            Value::Null,
        ));
        let arguments: Vec<char> = call["function"]["arguments"]
            .as_str()
            .unwrap_or("")
            .chars()
            .collect();
        for piece in arguments.chunks(4) {
            let piece: String = piece.iter().collect();
            out.push(chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                Value::Null,
            ));
        }
    }
    let finish = if message["tool_calls"].is_array() {
        "tool_calls"
    } else {
        "stop"
    };
    out.push(chunk(json!({}), json!(finish)));
    out
}

/// An assistant turn calling tools, with R1's reasoning in `reasoning_content`.
pub fn tool_turn(reasoning: &str, calls: &[(&str, &str)]) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(index, (name, arguments))| {
            json!({"id": format!("chatcmpl-tool-{index}{}", name.len()), "type": "function",
                   "function": {"name": name, "arguments": arguments}})
        })
        .collect();
    json!({"role": "assistant", "content": null, "reasoning_content": reasoning, "tool_calls": calls})
}

/// A final answer with the reasoning inline in `<think>` tags (a server
/// started without a reasoning parser) and the verdict JSON after it.
pub fn verdict_turn(thinking: &str, action: &str, risk: i32, explanation: &str) -> Value {
    let verdict = json!({"action": action, "risk_score": risk, "explanation": explanation});
    json!({"role": "assistant", "content": format!("<think>\n{thinking}\n</think>\n\n{verdict}"), "tool_calls": []})
}

/// The seed 003 high-risk transaction looked at with one `tool`, then `verdict`.
pub fn one_tool_then(request: &Value, tool: &str, verdict: Value) -> Value {
    match tool_results(request) {
        0 => tool_turn(
            "Look at the evidence first.",
            &[(tool, r#"{"transaction_id": "TXN-20251201-191354"}"#)],
        ),
        _ => verdict,
    }
}

/// How many tool results the conversation already carries.
pub fn tool_results(request: &Value) -> usize {
    request["messages"].as_array().map_or(0, |messages| {
        messages.iter().filter(|m| m["role"] == "tool").count()
    })
}

/// How many assistant turns the conversation already carries.
pub fn assistant_turns(request: &Value) -> usize {
    request["messages"].as_array().map_or(0, |messages| {
        messages.iter().filter(|m| m["role"] == "assistant").count()
    })
}
