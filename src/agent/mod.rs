//! LLM escalation: risky decisions go to an agent (DeepSeek-R1 on vLLM) that
//! investigates with six real tools, acts (alerts, cases, reports) and
//! explains, within a deadline, never slowing other customers and never able
//! to lower a decision beyond the topology's bounds.

pub mod breaker;
pub mod case_archive;
pub mod case_store;
pub mod client;
pub mod config;
pub mod escalation;
pub mod escalator;
pub mod investigator;
pub mod mask;
pub mod mcp;
pub mod mcp_sse;
pub mod policy;
pub mod prompt;
pub mod protocol;
pub mod registry;
pub mod report;
pub mod session;
pub mod stream;
pub mod tools;
pub mod transcript;
pub mod verdict;

pub use config::AgentConfig;
pub use escalator::{AgentError, Escalator};
