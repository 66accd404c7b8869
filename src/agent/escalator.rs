//! One escalation from start to final decision: a bounded queue and a
//! concurrency limit in front of the agent, the circuit breaker, the
//! deadline, the bounds on the verdict, and the fallback to the engine's
//! decision on timeout, error, open breaker or full queue.

use super::breaker::{Breaker, BreakerState};
use super::client::VllmClient;
use super::config::AgentConfig;
use super::escalation::Escalation;
use super::investigator::Investigator;
use super::policy;
use super::registry::Registry;
use super::report;
use super::session::{FinalDecision, Session};
use super::tools::{ToolError, Toolbox};
use super::transcript::Step;
use super::verdict::AgentVerdict;
use crate::domain::{Action, AgentReview, AgentStatus, Transaction};
use crate::engine::{Engine, Outcome};
use crate::telemetry::Telemetry;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;
use tokio::sync::Semaphore;

#[derive(Debug, Error)]
pub enum AgentError {
    #[error("agent: {0}")]
    Client(#[from] super::client::ClientError),
    #[error("agent tools: {0}")]
    Tools(#[from] ToolError),
    #[error("{0}")]
    Mcp(#[from] super::mcp::McpError),
    #[error("agent: cannot start its runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

pub struct Escalator {
    config: AgentConfig,
    investigator: Investigator,
    breaker: Breaker,
    slots: Semaphore,
    /// Escalations queued or running.
    in_line: AtomicUsize,
    telemetry: Arc<Telemetry>,
    registry: Registry,
}

/// Escalations remembered for MCP clients.
const REMEMBERED: usize = 10_000;

/// Leaves the line however the escalation ends (a cancelled future included).
struct InLine<'a>(&'a AtomicUsize);

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Escalator {
    pub fn new(
        config: &AgentConfig,
        engine: Arc<Engine>,
        telemetry: Arc<Telemetry>,
    ) -> Result<Escalator, AgentError> {
        let toolbox = Arc::new(Toolbox::new(engine, &config.tools)?);
        let client = VllmClient::new(config)?;
        telemetry
            .agent
            .configured
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(Escalator {
            investigator: Investigator::new(client, toolbox, config.max_steps),
            breaker: Breaker::new(&config.breaker),
            slots: Semaphore::new(config.concurrency),
            in_line: AtomicUsize::new(0),
            config: config.clone(),
            telemetry,
            registry: Registry::new(REMEMBERED),
        })
    }

    pub fn toolbox(&self) -> &Arc<Toolbox> {
        self.investigator.toolbox()
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Does this outcome go to the agent?
    pub fn wants(&self, outcome: &Outcome) -> bool {
        policy::should_escalate(&self.config.escalate, &outcome.decision)
    }

    /// The final outcome of an escalated transaction: the agent's verdict
    /// within bounds, or the engine's decision marked as a fallback.
    pub async fn review(&self, transaction: Transaction, outcome: Outcome) -> Outcome {
        self.review_watched(transaction, outcome, None).await
    }

    /// As `review`, showing each step of the investigation to `watcher` as
    /// it happens.
    pub async fn review_watched(
        &self,
        transaction: Transaction,
        outcome: Outcome,
        watcher: Option<tokio::sync::mpsc::UnboundedSender<Step>>,
    ) -> Outcome {
        let started = Instant::now();
        let metrics = &self.telemetry.agent;
        metrics.escalations.fetch_add(1, Ordering::Relaxed);
        let escalation = Arc::new(Escalation::from_outcome(transaction, &outcome));
        self.registry.remember(escalation.clone());
        let mut session = Session::new(escalation, self.investigator.model());
        session.watcher = watcher;
        let result = self.attempt(&mut session).await;
        metrics
            .breaker_state
            .store(self.breaker.state().gauge(), Ordering::Relaxed);
        let case_id = session.case_id.clone();
        let outcome = self.settle(outcome, session, result, started);
        if let Some(case_id) = case_id {
            self.archive_case(&case_id).await;
        }
        outcome
    }

    /// Copies the case's folder to S3 when an archive is configured: once a
    /// case is closed, and after each MCP call that wrote to it.
    pub async fn archive_case(&self, case_id: &str) {
        let toolbox = self.toolbox();
        let Some(archive) = toolbox.archive() else {
            return;
        };
        let folder = toolbox.cases().folder(case_id);
        if let Err(error) = archive.upload(&folder, case_id).await {
            tracing::error!(case_id, %error, "the case was not archived to S3");
        }
    }

    async fn attempt(&self, session: &mut Session) -> Result<AgentVerdict, &'static str> {
        let waiting = self.in_line.fetch_add(1, Ordering::Relaxed);
        let _in_line = InLine(&self.in_line);
        // Checked before the breaker, so a half-open trial always reports back.
        if waiting >= self.config.concurrency + self.config.queue {
            return Err("queue_full");
        }
        if !self.breaker.allow() {
            return Err("breaker_open");
        }
        let investigation = async {
            let _slot = self
                .slots
                .acquire()
                .await
                .map_err(|error| error.to_string())?;
            self.investigator
                .investigate(session)
                .await
                .map_err(|error| error.to_string())
        };
        match tokio::time::timeout(self.config.deadline.as_std(), investigation).await {
            Ok(Ok(verdict)) => {
                self.breaker.success();
                session.transcript.verdict = Some(verdict.clone());
                Ok(verdict)
            }
            Ok(Err(error)) => {
                self.breaker.failure();
                session.transcript.error = Some(error);
                Err("error")
            }
            Err(_) => {
                self.breaker.failure();
                session.transcript.error = Some("deadline passed".into());
                Err("timeout")
            }
        }
    }

    fn settle(
        &self,
        mut outcome: Outcome,
        mut session: Session,
        result: Result<AgentVerdict, &'static str>,
        started: Instant,
    ) -> Outcome {
        let metrics = &self.telemetry.agent;
        let engine_action = outcome.decision.action;
        let engine_risk = outcome.decision.risk_score;
        let final_decision = match &result {
            Ok(verdict) => {
                let action = policy::bounded(
                    engine_action,
                    outcome.hard_block,
                    verdict.action,
                    &self.config.bounds,
                );
                metrics.decided.fetch_add(1, Ordering::Relaxed);
                FinalDecision {
                    action,
                    // The agent's score only where its action stood.
                    risk_score: if action == verdict.action {
                        verdict.risk_score
                    } else {
                        engine_risk
                    },
                    status: "DECIDED".into(),
                    explanation: Some(super::mask::mask_text(&verdict.explanation)),
                }
            }
            Err(reason) => {
                metrics.fallback(reason);
                FinalDecision {
                    action: engine_action,
                    risk_score: engine_risk,
                    status: format!("FALLBACK ({reason})"),
                    explanation: None,
                }
            }
        };
        if final_decision.action != engine_action {
            metrics.changed.fetch_add(1, Ordering::Relaxed);
        }
        let elapsed = started.elapsed();
        metrics.latency.record_ns(elapsed.as_nanos() as u64);
        session.transcript.elapsed_ms = elapsed.as_secs_f64() * 1_000.0;
        self.count_tools(&session);
        session.outcome = Some(final_decision.clone());
        self.close_case(&session);
        if let Some(learning) = outcome.deferred_learning.take() {
            if final_decision.action == Action::Approve {
                self.investigator
                    .toolbox()
                    .engine()
                    .learn_deferred(&learning);
            }
        }
        apply(
            &mut outcome,
            &session,
            &final_decision,
            result.err(),
            elapsed.as_millis() as i64,
        );
        outcome
    }

    fn count_tools(&self, session: &Session) {
        let metrics = &self.telemetry.agent;
        for step in session.transcript.tool_calls() {
            metrics.tool_calls.fetch_add(1, Ordering::Relaxed);
            if matches!(step, Step::Tool { ok: false, .. }) {
                metrics.tool_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A case the agent opened gets the full transcript and a final report.
    fn close_case(&self, session: &Session) {
        let Some(case_id) = &session.case_id else {
            return;
        };
        self.registry
            .set_case(&session.escalation.decision.transaction_id, case_id);
        let cases = self.toolbox().cases();
        let transcript = serde_json::to_vec_pretty(&session.transcript).unwrap_or_default();
        let written = cases
            .write(case_id, "transcript.json", &transcript)
            .and_then(|_| report::store(cases, case_id, &report::build(session, None)));
        if let Err(error) = written {
            tracing::error!(%error, case_id, "cannot write the case's transcript or report");
        }
    }
}

/// Writes the final decision into the outcome's records.
fn apply(
    outcome: &mut Outcome,
    session: &Session,
    final_decision: &FinalDecision,
    fallback: Option<&'static str>,
    latency_ms: i64,
) {
    let decision = &mut outcome.decision;
    let review = AgentReview {
        status: if fallback.is_some() {
            AgentStatus::Fallback
        } else {
            AgentStatus::Decided
        },
        fallback_reason: fallback.map(str::to_owned),
        engine_action: decision.action,
        engine_risk_score: decision.risk_score,
        explanation: final_decision.explanation.clone(),
        case_id: session.case_id.clone(),
        latency_ms,
    };
    decision.action = final_decision.action;
    decision.risk_score = final_decision.risk_score;
    decision.agent = Some(review);
    if final_decision.action == Action::Approve {
        outcome.alert = None;
    } else if outcome.alert.is_none() {
        // Raised from APPROVE: alert like any REVIEW or BLOCK.
        outcome.alert = Some(Box::new(crate::engine::alert_for(decision)));
    }
    if let Some(alert) = outcome.alert.as_mut() {
        alert.action = final_decision.action;
        alert.risk_score = final_decision.risk_score;
    }
    if let Some(case) = outcome.case.as_mut() {
        case.action = final_decision.action;
        case.risk_score = final_decision.risk_score;
        case.status = if fallback.is_some() {
            "AGENT_FALLBACK".into()
        } else {
            "AGENT_DECIDED".into()
        };
        if let Some(case_id) = &session.case_id {
            case.case_id = case_id.clone();
        }
        case.agent_transcript = serde_json::to_string(&session.transcript).ok();
    }
}
