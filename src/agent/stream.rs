//! Streaming replies: server-sent events of `chat.completion.chunk`s whose
//! deltas (content, reasoning_content, tool-call fragments by index) add up
//! to one assistant message.

use super::protocol::{FunctionCall, Message, ToolCall};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
}

#[derive(Debug, Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Delta,
}

#[derive(Debug, Default, Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallDelta>,
}

#[derive(Debug, Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: usize,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Debug, Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// Collects an SSE body fed in arbitrary byte pieces.
#[derive(Debug, Default)]
pub struct StreamAssembler {
    pending: Vec<u8>,
    content: String,
    reasoning: String,
    calls: Vec<ToolCall>,
    done: bool,
}

impl StreamAssembler {
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            self.line(line.trim())?;
        }
        Ok(())
    }

    fn line(&mut self, line: &str) -> Result<(), String> {
        let Some(data) = line.strip_prefix("data:") else {
            return Ok(()); // comments, event names, blank separators
        };
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let chunk: Chunk =
            serde_json::from_str(data).map_err(|error| format!("bad stream chunk: {error}"))?;
        for choice in chunk.choices {
            self.delta(choice.delta);
        }
        Ok(())
    }

    fn delta(&mut self, delta: Delta) {
        self.content
            .push_str(delta.content.as_deref().unwrap_or(""));
        self.reasoning
            .push_str(delta.reasoning_content.as_deref().unwrap_or(""));
        for fragment in delta.tool_calls {
            while self.calls.len() <= fragment.index {
                self.calls.push(ToolCall {
                    id: String::new(),
                    kind: "function".into(),
                    function: FunctionCall {
                        name: String::new(),
                        arguments: String::new(),
                    },
                });
            }
            let call = &mut self.calls[fragment.index];
            if let Some(id) = fragment.id {
                call.id = id;
            }
            if let Some(function) = fragment.function {
                call.function
                    .name
                    .push_str(function.name.as_deref().unwrap_or(""));
                call.function
                    .arguments
                    .push_str(function.arguments.as_deref().unwrap_or(""));
            }
        }
    }

    /// The assembled message; an error if the stream ended without `[DONE]`.
    pub fn finish(mut self) -> Result<Message, String> {
        if !self.pending.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned();
            self.line(rest.trim())?;
        }
        if !self.done {
            return Err("the stream ended before [DONE]".into());
        }
        Ok(Message {
            role: "assistant".into(),
            content: (!self.content.is_empty()).then_some(self.content),
            tool_calls: self.calls,
            tool_call_id: None,
            reasoning_content: (!self.reasoning.is_empty()).then_some(self.reasoning),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_add_up_across_arbitrary_splits() {
        let body = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"reasoning_content\":\"think \"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hard\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call-1\",\"type\":\"function\",\"function\":{\"name\":\"geolocation-checker\",\"arguments\":\"\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: [DONE]\n\n"
        );
        let mut assembler = StreamAssembler::default();
        for piece in body.as_bytes().chunks(7) {
            assembler.feed(piece).unwrap();
        }
        let message = assembler.finish().unwrap();
        assert_eq!(message.reasoning_content.as_deref(), Some("think hard"));
        assert_eq!(message.tool_calls[0].id, "call-1");
        assert_eq!(message.tool_calls[0].function.name, "geolocation-checker");
        assert_eq!(message.tool_calls[0].function.arguments, "{\"a\":1}");
    }

    #[test]
    fn a_cut_stream_is_an_error() {
        let mut assembler = StreamAssembler::default();
        assembler
            .feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n")
            .unwrap();
        assert!(assembler.finish().is_err());
    }
}
