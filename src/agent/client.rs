//! The vLLM client: one chat-completions call (plain JSON or SSE stream),
//! retried with exponential backoff on 429 and 5xx.

use super::config::AgentConfig;
use super::protocol::{ChatRequest, ChatResponse, ErrorBody, Message};
use super::stream::StreamAssembler;
use serde_json::value::RawValue;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
    #[error("vLLM unreachable: {0}")]
    Transport(String),
    #[error("vLLM answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("vLLM's reply is malformed: {0}")]
    Malformed(String),
}

impl ClientError {
    fn retryable(&self) -> bool {
        match self {
            ClientError::Transport(_) => true,
            ClientError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

pub struct VllmClient {
    http: reqwest::Client,
    url: reqwest::Url,
    model: String,
    api_key: Option<String>,
    retries: u32,
    backoff: Duration,
    stream: bool,
}

/// What one call sends besides the conversation: JSON serialized once, as
/// it is the same in every call.
pub struct CallOptions<'a> {
    pub tools: Option<&'a RawValue>,
    pub response_format: Option<&'a RawValue>,
}

impl VllmClient {
    pub fn new(config: &AgentConfig) -> Result<VllmClient, ClientError> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(config.concurrency)
            .tcp_nodelay(true)
            .build()
            .map_err(|error| ClientError::Build(error.to_string()))?;
        let url = format!(
            "{}/chat/completions",
            config.base_url().trim_end_matches('/')
        );
        let url = reqwest::Url::parse(&url)
            .map_err(|error| ClientError::Build(format!("base_url {url}: {error}")))?;
        Ok(VllmClient {
            http,
            url,
            model: config.model(),
            api_key: config.api_key(),
            retries: config.retries,
            backoff: config.backoff.as_std(),
            stream: config.stream,
        })
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// One assistant message, after up to `retries` retries.
    pub async fn chat(
        &self,
        messages: &[Message],
        options: &CallOptions<'_>,
    ) -> Result<Message, ClientError> {
        let mut attempt = 0;
        loop {
            match self.attempt(messages, options).await {
                Err(error) if error.retryable() && attempt < self.retries => {
                    let wait = self.backoff * 2u32.saturating_pow(attempt);
                    tracing::debug!(%error, ?wait, "vLLM call retried");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn attempt(
        &self,
        messages: &[Message],
        options: &CallOptions<'_>,
    ) -> Result<Message, ClientError> {
        let request = ChatRequest {
            model: &self.model,
            messages,
            tools: options.tools,
            tool_choice: options.tools.map(|_| "auto"),
            response_format: options.response_format,
            stream: self.stream,
            temperature: 0.0,
            max_tokens: 2048,
        };
        let mut builder = self.http.post(self.url.clone()).json(&request);
        if let Some(key) = &self.api_key {
            builder = builder.bearer_auth(key);
        }
        let mut response = builder.send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(ClientError::Status {
                status: status.as_u16(),
                message: ErrorBody::message_of(&body),
            });
        }
        if self.stream {
            let mut assembler = StreamAssembler::default();
            while let Some(bytes) = response.chunk().await.map_err(transport)? {
                assembler.feed(&bytes).map_err(ClientError::Malformed)?;
            }
            return assembler.finish().map_err(ClientError::Malformed);
        }
        let body = response.bytes().await.map_err(transport)?;
        let reply: ChatResponse = serde_json::from_slice(&body)
            .map_err(|error| ClientError::Malformed(error.to_string()))?;
        reply
            .choices
            .into_iter()
            .next()
            .map(|choice| choice.message)
            .ok_or_else(|| ClientError::Malformed("no choices".into()))
    }
}

fn transport(error: reqwest::Error) -> ClientError {
    ClientError::Transport(error.to_string())
}
