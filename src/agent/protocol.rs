//! The OpenAI-compatible chat-completions shapes vLLM speaks: requests with
//! tools and a JSON-schema response format, replies with `tool_calls` and
//! DeepSeek-R1's `reasoning_content`, and error bodies.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Set by vLLM's deepseek_r1 reasoning parser; never sent back.
    #[serde(default, skip_serializing)]
    pub reasoning_content: Option<String>,
}

impl Message {
    pub fn new(role: &str, content: impl Into<String>) -> Message {
        Message {
            role: role.into(),
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
            reasoning_content: None,
        }
    }

    pub fn tool_result(call_id: &str, content: String) -> Message {
        Message {
            tool_call_id: Some(call_id.into()),
            ..Message::new("tool", content)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// A JSON document as a string, exactly as the model wrote it (it may be malformed).
    #[serde(default)]
    pub arguments: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: &'a [Message],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<&'a RawValue>,
    pub stream: bool,
    pub temperature: f32,
    pub max_tokens: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChatResponse {
    #[serde(default)]
    pub choices: Vec<Choice>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Choice {
    pub message: Message,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// vLLM answers errors either as `{"object":"error","message":..}` (older)
/// or `{"error":{"message":..}}` (newer); both are read.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error: Option<ErrorDetail>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub message: Option<String>,
}

impl ErrorBody {
    pub fn message_of(body: &str) -> String {
        let parsed: Option<ErrorBody> = serde_json::from_str(body).ok();
        parsed
            .and_then(|error| {
                error
                    .message
                    .or(error.error.and_then(|detail| detail.message))
            })
            .unwrap_or_else(|| body.chars().take(200).collect())
    }
}

/// Separates DeepSeek-R1's inline `<think>...</think>` from the answer, for
/// servers started without a reasoning parser. Returns (reasoning, answer).
pub fn split_think(content: &str) -> (Option<String>, String) {
    let Some(start) = content.find("<think>") else {
        // R1 often omits the opening tag and starts thinking at once.
        return match content.split_once("</think>") {
            Some((thought, answer)) => (Some(thought.trim().into()), answer.trim().into()),
            None => (None, content.trim().into()),
        };
    };
    let after = &content[start + "<think>".len()..];
    match after.split_once("</think>") {
        Some((thought, answer)) => {
            let before = content[..start].trim();
            let answer = format!("{before}{}", answer.trim());
            (Some(thought.trim().into()), answer.trim().into())
        }
        None => (Some(after.trim().into()), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_tags_are_split_from_the_answer() {
        let (thought, answer) =
            split_think("<think>travel is impossible</think>\n{\"action\":\"BLOCK\"}");
        assert_eq!(thought.as_deref(), Some("travel is impossible"));
        assert_eq!(answer, "{\"action\":\"BLOCK\"}");
        let (thought, answer) = split_think("no opening tag</think>done");
        assert_eq!(
            (thought.as_deref(), answer.as_str()),
            (Some("no opening tag"), "done")
        );
        assert_eq!(split_think("plain").0, None);
    }

    #[test]
    fn both_error_shapes_are_read() {
        assert_eq!(
            ErrorBody::message_of(
                r#"{"object":"error","message":"too long","type":"BadRequestError","param":null,"code":400}"#
            ),
            "too long"
        );
        assert_eq!(
            ErrorBody::message_of(
                r#"{"error":{"message":"busy","type":"ServiceUnavailable","code":503}}"#
            ),
            "busy"
        );
        assert_eq!(ErrorBody::message_of("gateway"), "gateway");
    }

    #[test]
    fn a_vllm_tool_call_reply_parses() {
        let body = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m",
          "choices":[{"index":0,"message":{"role":"assistant","content":null,
          "reasoning_content":"check the risk first",
          "tool_calls":[{"id":"chatcmpl-tool-1","type":"function","function":{"name":"transaction-risk","arguments":"{}"}}]},
          "logprobs":null,"finish_reason":"tool_calls","stop_reason":null}],
          "usage":{"prompt_tokens":1,"total_tokens":2,"completion_tokens":1}}"#;
        let reply: ChatResponse = serde_json::from_str(body).unwrap();
        let message = &reply.choices[0].message;
        assert_eq!(message.tool_calls[0].function.name, "transaction-risk");
        assert_eq!(
            message.reasoning_content.as_deref(),
            Some("check the risk first")
        );
    }
}
