//! The topology's `agent:` section: what escalates, how long the agent may
//! take, how far it may move a decision, where vLLM is and what the tools use.

use crate::domain::Action;
use crate::duration::Span;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8000/v1";
pub const DEFAULT_MODEL: &str = "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// OpenAI-compatible base URL ending in `/v1`; else `FD_VLLM_URL`.
    pub base_url: Option<String>,
    /// Else `FD_VLLM_MODEL`, else DeepSeek-R1-Distill-Qwen-32B.
    pub model: Option<String>,
    /// Else `FD_VLLM_API_KEY`; none is sent when neither is set.
    pub api_key: Option<String>,
    pub escalate: EscalateConfig,
    /// How long an escalated decision may wait for the agent (queue included).
    pub deadline: Span,
    /// Investigations running at once.
    pub concurrency: usize,
    /// Escalations waiting for a free slot; beyond it they fall back at once.
    pub queue: usize,
    /// Model turns per investigation before it gives up (fallback).
    pub max_steps: usize,
    /// Ask vLLM for SSE chunks instead of one JSON body.
    pub stream: bool,
    /// Extra attempts on 429 and 5xx, with exponential backoff from `backoff`.
    pub retries: u32,
    pub backoff: Span,
    pub breaker: BreakerConfig,
    pub bounds: BoundsConfig,
    pub tools: ToolsConfig,
    /// Serve the six tools over MCP (streamable HTTP) on this address.
    pub mcp: Option<McpConfig>,
    /// Threads of a runtime of the agent's own, so that its HTTP work and
    /// tools cannot hold up the sinks; none: the pipeline's runtime.
    pub threads: Option<usize>,
}

/// The most threads `threads` may ask for.
const MAX_AGENT_THREADS: usize = 64;

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            base_url: None,
            model: None,
            api_key: None,
            escalate: EscalateConfig::default(),
            deadline: Span(1_500),
            concurrency: 8,
            queue: 256,
            max_steps: 8,
            stream: false,
            retries: 2,
            backoff: Span(50),
            breaker: BreakerConfig::default(),
            bounds: BoundsConfig::default(),
            tools: ToolsConfig::default(),
            mcp: None,
            threads: None,
        }
    }
}

/// Which engine decisions go to the agent: any listed action, or a risk
/// score inside the band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalateConfig {
    pub actions: Vec<Action>,
    pub risk_min: Option<i32>,
    pub risk_max: Option<i32>,
}

impl Default for EscalateConfig {
    fn default() -> Self {
        EscalateConfig {
            actions: vec![Action::Block],
            risk_min: Some(40),
            risk_max: Some(79),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failures: u32,
    /// How long it stays open before one trial call is let through.
    pub open_for: Span,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures: 5,
            open_for: Span(10_000),
        }
    }
}

/// How far the agent may lower the engine's action (raising is always allowed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BoundsConfig {
    /// Action levels the agent may lower by: 0 = raise only.
    pub max_lower_steps: u8,
    /// The lowest action an engine BLOCK may become (never APPROVE).
    pub block_floor: Action,
}

impl Default for BoundsConfig {
    fn default() -> Self {
        BoundsConfig {
            max_lower_steps: 1,
            block_floor: Action::Review,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolsConfig {
    /// Case store: one folder per case with the case, transcript and report.
    pub case_dir: PathBuf,
    pub email: EmailConfig,
    /// Copy each closed case to S3 as well (the case store stays the local directory).
    pub case_archive: Option<super::case_archive::CaseArchiveConfig>,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        ToolsConfig {
            case_dir: PathBuf::from("cases"),
            email: EmailConfig::default(),
            case_archive: None,
        }
    }
}

/// Amazon SES v2 by default; the endpoint and credentials come from the
/// standard AWS chain (`AWS_ENDPOINT_URL_SESV2`, `AWS_ACCESS_KEY_ID`, ...).
/// With `smtp`, through that SMTP server instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    pub from: String,
    pub to: Vec<String>,
    /// Else the AWS chain's region, else us-west-2.
    pub region: Option<String>,
    /// Else `AWS_ENDPOINT_URL_SESV2` / `AWS_ENDPOINT_URL` (the AWS chain).
    pub endpoint_url: Option<String>,
    pub smtp: Option<SmtpConfig>,
}

/// An SMTP relay. Credentials, when the relay wants them, come from
/// `FD_SMTP_USERNAME` and `FD_SMTP_PASSWORD`, never from the topology file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default)]
    pub security: SmtpSecurity,
}

fn default_smtp_port() -> u16 {
    587
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Upgrade to TLS with STARTTLS (port 587), required.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// Plain text: only for a relay on the same host or a test server.
    None,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            from: "fraud-alerts@example.com".into(),
            to: vec!["fraud-team@example.com".into()],
            region: None,
            endpoint_url: None,
            smtp: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    pub listen: String,
    /// `Host` names (optionally `name:port`) the server answers besides
    /// loopback and its own address, e.g. the Service's DNS names; `*`
    /// answers any (only behind a network policy). Guards against DNS
    /// rebinding.
    pub allowed_hosts: Vec<String>,
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            listen: "127.0.0.1:8080".into(),
            allowed_hosts: Vec::new(),
        }
    }
}

impl AgentConfig {
    pub fn base_url(&self) -> String {
        setting(&self.base_url, "FD_VLLM_URL").unwrap_or_else(|| DEFAULT_BASE_URL.into())
    }

    pub fn model(&self) -> String {
        setting(&self.model, "FD_VLLM_MODEL").unwrap_or_else(|| DEFAULT_MODEL.into())
    }

    pub fn api_key(&self) -> Option<String> {
        setting(&self.api_key, "FD_VLLM_API_KEY")
    }

    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.deadline.0 == 0 {
            problems.push("deadline: must be above 0".into());
        }
        if self.concurrency == 0 || self.max_steps == 0 {
            problems.push("concurrency and max_steps must be at least 1".into());
        }
        if self.bounds.block_floor == Action::Approve {
            problems.push("bounds.block_floor: a BLOCK may never become APPROVE".into());
        }
        let band = (self.escalate.risk_min, self.escalate.risk_max);
        if let (Some(min), Some(max)) = band {
            if !(0..=100).contains(&min) || !(min..=100).contains(&max) {
                problems.push(format!(
                    "escalate: need 0 <= risk_min ({min}) <= risk_max ({max}) <= 100"
                ));
            }
        }
        if self.tools.email.to.is_empty() {
            problems.push("tools.email.to: at least one recipient".into());
        }
        if self
            .threads
            .is_some_and(|threads| !(1..=MAX_AGENT_THREADS).contains(&threads))
        {
            problems.push(format!("threads: from 1 to {MAX_AGENT_THREADS}"));
        }
        problems
    }
}

fn setting(configured: &Option<String>, variable: &str) -> Option<String> {
    configured
        .clone()
        .filter(|value| !value.is_empty())
        .or_else(|| {
            std::env::var(variable)
                .ok()
                .filter(|value| !value.is_empty())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_a_block_floor_of_approve_is_not() {
        assert!(AgentConfig::default().problems().is_empty());
        let mut config = AgentConfig::default();
        config.bounds.block_floor = Action::Approve;
        config.escalate.risk_min = Some(90);
        config.escalate.risk_max = Some(10);
        assert_eq!(config.problems().len(), 2, "{:?}", config.problems());
    }

    #[test]
    fn an_own_runtime_needs_at_least_one_thread() {
        // tokio panics on a runtime of 0 worker threads: refuse it at load.
        for (threads, problems) in [(Some(0), 1), (Some(65), 1), (Some(2), 0), (None, 0)] {
            let config = AgentConfig {
                threads,
                ..AgentConfig::default()
            };
            assert_eq!(config.problems().len(), problems, "{threads:?}");
        }
    }

    #[test]
    fn parses_from_yaml_with_durations() {
        let config: AgentConfig = serde_yaml::from_str(
            "deadline: 800ms\nescalate: {actions: [BLOCK, REVIEW]}\nbounds: {max_lower_steps: 0}\n",
        )
        .unwrap();
        assert_eq!(config.deadline, Span(800));
        assert_eq!(config.escalate.actions, vec![Action::Block, Action::Review]);
        assert_eq!(config.bounds.max_lower_steps, 0);
    }
}
