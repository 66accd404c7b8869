//! The LLM agent's metrics: escalations by result, fallbacks by reason,
//! tool calls, latency and the circuit breaker's state.

use super::LatencyHistogram;
use std::sync::atomic::{AtomicU64, Ordering};

/// Escalation → final decision: 1 ms to 30 s.
pub const AGENT_BOUNDS_NS: &[u64] = &[
    1_000_000,
    5_000_000,
    25_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    1_500_000_000,
    2_000_000_000,
    5_000_000_000,
    30_000_000_000,
];

/// Why an escalation fell back to the engine's decision (a bounded label set).
pub const FALLBACK_REASONS: [&str; 4] = ["timeout", "error", "breaker_open", "queue_full"];

#[derive(Debug)]
pub struct AgentMetrics {
    pub escalations: AtomicU64,
    pub decided: AtomicU64,
    fallbacks: [AtomicU64; 4],
    /// Final decisions the agent changed (within bounds).
    pub changed: AtomicU64,
    pub tool_calls: AtomicU64,
    pub tool_errors: AtomicU64,
    /// 0 closed, 1 open, 2 half-open.
    pub breaker_state: AtomicU64,
    pub latency: LatencyHistogram,
}

impl Default for AgentMetrics {
    fn default() -> Self {
        AgentMetrics {
            escalations: AtomicU64::new(0),
            decided: AtomicU64::new(0),
            fallbacks: Default::default(),
            changed: AtomicU64::new(0),
            tool_calls: AtomicU64::new(0),
            tool_errors: AtomicU64::new(0),
            breaker_state: AtomicU64::new(0),
            latency: LatencyHistogram::new(AGENT_BOUNDS_NS),
        }
    }
}

impl AgentMetrics {
    /// Counts a fallback; an unknown reason counts as "error".
    pub fn fallback(&self, reason: &str) {
        let index = FALLBACK_REASONS
            .iter()
            .position(|known| *known == reason)
            .unwrap_or(1);
        self.fallbacks[index].fetch_add(1, Ordering::Relaxed);
    }

    pub fn fallbacks(&self) -> Vec<(&'static str, u64)> {
        FALLBACK_REASONS
            .iter()
            .zip(&self.fallbacks)
            .map(|(reason, count)| (*reason, count.load(Ordering::Relaxed)))
            .collect()
    }
}
