//! The tool loop: the model calls tools (vLLM's auto tool choice) until it
//! answers; the answer is read as the structured verdict, and if it is not
//! one, a last call asks for it under `response_format: json_schema`.
//! Every prompt, reply, reasoning and tool call lands in the transcript.

use super::client::{CallOptions, ClientError, VllmClient};
use super::mask::mask_text;
use super::prompt;
use super::protocol::{split_think, Message};
use super::session::Session;
use super::tools::{definitions, Toolbox};
use super::transcript::Step;
use super::verdict::{self, AgentVerdict};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum InvestigationError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("no verdict after {0} model turns")]
    StepLimit(usize),
    #[error("{0}")]
    Verdict(String),
}

pub struct Investigator {
    client: VllmClient,
    toolbox: Arc<Toolbox>,
    tools: Box<RawValue>,
    response_format: Box<RawValue>,
    max_steps: usize,
}

impl Investigator {
    pub fn new(client: VllmClient, toolbox: Arc<Toolbox>, max_steps: usize) -> Investigator {
        Investigator {
            client,
            toolbox,
            tools: serialized(&definitions()),
            response_format: serialized(&verdict::response_format()),
            max_steps,
        }
    }

    pub fn model(&self) -> &str {
        self.client.model()
    }

    pub fn toolbox(&self) -> &Arc<Toolbox> {
        &self.toolbox
    }

    pub async fn investigate(
        &self,
        session: &mut Session,
    ) -> Result<AgentVerdict, InvestigationError> {
        let mut messages = vec![
            Message::new("system", prompt::SYSTEM),
            Message::new("user", prompt::case_brief(&session.escalation)),
        ];
        for message in &messages {
            session.record(Step::Prompt {
                role: message.role.clone(),
                content: message.content.clone().unwrap_or_default(),
            });
        }
        let with_tools = CallOptions {
            tools: Some(&self.tools),
            response_format: None,
        };
        for _ in 0..self.max_steps {
            let (reply, answer) = self.turn(&messages, &with_tools, session).await?;
            if reply.tool_calls.is_empty() {
                return match verdict::parse(&answer) {
                    Ok(found) => Ok(found),
                    Err(_) => self.ask_for_verdict(messages, reply, session).await,
                };
            }
            let calls = reply.tool_calls.clone();
            messages.push(Message {
                content: Some(answer),
                reasoning_content: None,
                ..reply
            });
            for call in calls {
                let result = self
                    .run_tool(
                        &call.function.name,
                        &call.function.arguments,
                        &call.id,
                        session,
                    )
                    .await;
                messages.push(Message::tool_result(&call.id, result.to_string()));
            }
        }
        Err(InvestigationError::StepLimit(self.max_steps))
    }

    /// One model call, recorded; returns the reply and its answer without `<think>`.
    async fn turn(
        &self,
        messages: &[Message],
        options: &CallOptions<'_>,
        session: &mut Session,
    ) -> Result<(Message, String), InvestigationError> {
        let started = Instant::now();
        let reply = self.client.chat(messages, options).await?;
        let (inline, answer) = split_think(reply.content.as_deref().unwrap_or(""));
        let reasoning = reply.reasoning_content.clone().or(inline);
        session.record(Step::Model {
            reasoning: reasoning.as_deref().map(mask_text),
            content: (!answer.is_empty()).then(|| mask_text(&answer)),
            tool_calls: reply.tool_calls.clone(),
            elapsed_ms: millis(started),
        });
        Ok((reply, answer))
    }

    async fn ask_for_verdict(
        &self,
        mut messages: Vec<Message>,
        reply: Message,
        session: &mut Session,
    ) -> Result<AgentVerdict, InvestigationError> {
        messages.push(Message {
            reasoning_content: None,
            ..reply
        });
        messages.push(Message::new("user", prompt::VERDICT_REQUEST));
        session.record(Step::Prompt {
            role: "user".into(),
            content: prompt::VERDICT_REQUEST.into(),
        });
        let structured = CallOptions {
            tools: None,
            response_format: Some(&self.response_format),
        };
        let (_, answer) = self.turn(&messages, &structured, session).await?;
        verdict::parse(&answer).map_err(InvestigationError::Verdict)
    }

    /// Runs a tool; failures (malformed arguments included) become an
    /// `{"error": ...}` result for the model, never a crash.
    async fn run_tool(
        &self,
        name: &str,
        arguments: &str,
        call_id: &str,
        session: &mut Session,
    ) -> Value {
        let started = Instant::now();
        let result = self.toolbox.call(name, arguments, session).await;
        let (ok, result) = match result {
            Ok(value) => (true, value),
            Err(error) => (false, json!({"error": error.to_string()})),
        };
        session.record(Step::Tool {
            name: name.into(),
            call_id: call_id.into(),
            arguments: mask_text(arguments),
            ok,
            result: result.clone(),
            elapsed_ms: millis(started),
        });
        result
    }
}

fn millis(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1_000.0
}

/// A constant part of every request, serialized once.
fn serialized(value: &Value) -> Box<RawValue> {
    // A `Value` has string keys only: serializing it cannot fail.
    serde_json::value::to_raw_value(value).expect("a JSON value serializes")
}
