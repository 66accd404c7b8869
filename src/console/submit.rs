//! Submit: an analyst pastes or picks a transaction; the running engine
//! decides it against the same state the stream builds, and the answer comes
//! back with every reason, its evidence and the model's opinion.
//!
//! A submission is a transaction: it joins the customer's state, and its
//! decision, alert and case are written to the topology's outputs (see
//! `outputs`). It is decided beside the workers, not routed through them, so
//! it is not ordered against the stream's transactions of the same customer.

use super::mask::mask_option;
use super::outputs::{Port, SOURCE};
use super::view::{LiveDecision, Origin};
use super::Console;
use crate::agent::Escalator;
use crate::codecs::{Codec, CodecKind};
use crate::domain::{now_millis, Alert, DeadLetter, Decision, Millis, RejectKind, Transaction};
use crate::engine::{locate, Engine, Outcome};
use crate::geo::Gazetteer;
use crate::sources::decode_transaction;
use crate::state::time::to_millis;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::StreamExt;

/// Seed 003's three transactions, one click away on the page.
const SEEDS: &str = include_str!("../../tests/fixtures/seed_003.jsonl");
const SEED_NAMES: [&str; 3] = ["Low risk", "High risk (demo scenario)", "Medium risk"];

#[derive(Serialize)]
struct Seed {
    name: &'static str,
    transaction: serde_json::Value,
}

pub async fn seeds() -> Response {
    let seeds: Vec<Seed> = SEEDS
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .zip(SEED_NAMES)
        .map(|(transaction, name)| Seed { name, transaction })
        .collect();
    Json(seeds).into_response()
}

/// The answer to a submission.
#[derive(Serialize)]
pub struct Submitted {
    pub decision: Decision,
    pub transaction: Transaction,
    /// Where the engine placed it (coordinates, or the gazetteer's for its place name).
    pub position: Option<(f64, f64)>,
    pub alert: Option<Alert>,
    pub case_id: Option<String>,
}

/// Decides, and when the agent wants the decision, waits for its review.
pub async fn submit(State(console): State<Arc<Console>>, body: Bytes) -> Response {
    let (transaction, outcome, port) = match decide(&console, &body).await {
        Ok(decided) => decided,
        Err(response) => return response,
    };
    let outcome = match console.agent().filter(|agent| agent.wants(&outcome)) {
        Some(agent) => agent.review(transaction.clone(), outcome).await,
        None => outcome,
    };
    if let Err(error) = write(&console, port, &transaction, &outcome).await {
        let answer = Json(serde_json::json!({ "error": error }));
        return (StatusCode::SERVICE_UNAVAILABLE, answer).into_response();
    }
    Json(submitted(transaction, outcome)).into_response()
}

/// As `submit`, as server-sent events: `decision` (the engine's), then for
/// an escalated transaction each `step` of the agent's investigation as it
/// happens and the `final` decision; `error` if it could not be written.
pub async fn submit_stream(State(console): State<Arc<Console>>, body: Bytes) -> Response {
    let (transaction, outcome, port) = match decide(&console, &body).await {
        Ok(decided) => decided,
        Err(response) => return response,
    };
    let (events, receiver) = mpsc::unbounded_channel::<Event>();
    let agent = console
        .agent()
        .filter(|agent| agent.wants(&outcome))
        .cloned();
    let engine_view = submitted(transaction.clone(), outcome.clone());
    let _ = events.send(json_event(
        "decision",
        &Escalated::new(engine_view, agent.is_some()),
    ));
    match agent {
        None => {
            if let Err(error) = write(&console, port, &transaction, &outcome).await {
                let _ = events.send(error_event(error));
            }
        }
        Some(agent) => {
            let investigation = Investigation {
                console,
                port,
                transaction,
                events,
            };
            tokio::spawn(investigation.run(agent, outcome));
        }
    }
    let stream = UnboundedReceiverStream::new(receiver).map(Ok::<Event, Infallible>);
    Sse::new(stream).into_response()
}

/// An escalated submission, streamed to the analyst as the agent works.
struct Investigation {
    console: Arc<Console>,
    port: Port,
    transaction: Transaction,
    events: mpsc::UnboundedSender<Event>,
}

impl Investigation {
    async fn run(self, agent: Arc<Escalator>, outcome: Outcome) {
        let Investigation {
            console,
            port,
            transaction,
            events,
        } = self;
        let (watcher, mut steps) = mpsc::unbounded_channel();
        let forward = events.clone();
        let forwarding = tokio::spawn(async move {
            while let Some(step) = steps.recv().await {
                let _ = forward.send(json_event("step", &step));
            }
        });
        let reviewed = agent
            .review_watched(transaction.clone(), outcome, Some(watcher))
            .await;
        // The watcher is dropped with the session: every step is forwarded first.
        let _ = forwarding.await;
        if let Err(error) = write(&console, port, &transaction, &reviewed).await {
            let _ = events.send(error_event(error));
            return;
        }
        let _ = events.send(json_event(
            "final",
            &Escalated::new(submitted(transaction, reviewed), false),
        ));
    }
}

/// Writes the decision to the outputs, then shows it; else says why not.
async fn write(
    console: &Console,
    port: Port,
    transaction: &Transaction,
    outcome: &Outcome,
) -> Result<(), String> {
    port.decided(outcome.clone())
        .await
        .map_err(|error| format!("the decision was made but not written: {error}"))?;
    show(console, transaction, outcome);
    Ok(())
}

fn error_event(error: String) -> Event {
    json_event("error", &serde_json::json!({ "error": error }))
}

/// The engine's decision, and whether the agent is about to review it.
#[derive(Serialize)]
struct Escalated {
    #[serde(flatten)]
    submitted: Submitted,
    escalated: bool,
}

impl Escalated {
    fn new(submitted: Submitted, escalated: bool) -> Escalated {
        Escalated {
            submitted,
            escalated,
        }
    }
}

fn json_event(name: &str, value: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(value)
        .unwrap_or_else(|_| Event::default().event("error").data("unserializable"))
}

/// Takes the submission in and decides it; a refused one is written to the
/// dead letters and answered with its letter.
async fn decide(console: &Console, body: &Bytes) -> Result<(Transaction, Outcome, Port), Response> {
    let Some(engine) = console.engine().cloned() else {
        return Err(unavailable());
    };
    let Some(port) = console.outputs.take_in() else {
        return Err(closed(&console.outputs));
    };
    let started = Instant::now();
    let decoded =
        decode_transaction(&Codec::new(CodecKind::Json), body).and_then(|transaction| match engine
            .already_decided(&transaction)
        {
            Some(reason) => Err((RejectKind::Duplicate, reason)),
            None => Ok(transaction),
        });
    let transaction = match decoded {
        Ok(transaction) => transaction,
        Err((kind, reason)) => {
            let letter = DeadLetter::new(SOURCE, "submission".into(), kind, reason, body);
            if let Err(error) = port.refused(letter.clone()).await {
                tracing::error!(%error, "a refused submission could not be dead-lettered");
            }
            return Err((StatusCode::UNPROCESSABLE_ENTITY, Json(letter)).into_response());
        }
    };
    // The model's runtime call blocks: keep it off the async threads.
    let decided = tokio::task::spawn_blocking(move || {
        let outcome = engine.decide(&transaction, stream_now(&engine), started);
        (transaction, outcome)
    })
    .await;
    match decided {
        Ok((transaction, outcome)) => Ok((transaction, outcome, port)),
        Err(_) => Err((StatusCode::INTERNAL_SERVER_ERROR, "the decision failed\n").into_response()),
    }
}

/// Into the live view and the counters, as the workers' decisions are.
fn show(console: &Console, transaction: &Transaction, outcome: &Outcome) {
    let mut shown = LiveDecision::of(outcome, Origin::Console);
    if outcome.case.is_none() {
        // Approvals carry no case: take merchant and place from the submission.
        shown.merchant = mask_option(&transaction.merchant);
        shown.location = mask_option(&transaction.location);
        shown.position = locate(Gazetteer::embedded(), transaction).position;
    }
    console.feed.push(Arc::new(shown));
    console.stats.record(&outcome.decision);
}

/// "Now" in the stream's event time: a submission without a timestamp is
/// placed there, not at the wall clock, which could lie far ahead of a
/// replayed stream and push the watermark (and expiry) with it.
fn stream_now(engine: &Engine) -> Millis {
    match engine.state().watermark() {
        0 => now_millis(),
        watermark => to_millis(watermark),
    }
}

/// Why no submission is taken: the pipeline has not attached its outputs
/// yet (starting; the HTTP server comes up first), or it drains.
pub(super) fn closed(outputs: &super::outputs::Outputs) -> Response {
    if outputs.has_opened() {
        draining()
    } else {
        unavailable()
    }
}

fn draining() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({"error": "the pipeline is draining: no new submissions"})),
    )
        .into_response()
}

pub fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({"error": "the engine is starting"})),
    )
        .into_response()
}

fn submitted(transaction: Transaction, outcome: Outcome) -> Submitted {
    let position = locate(Gazetteer::embedded(), &transaction).position;
    Submitted {
        decision: outcome.decision,
        transaction: masked(transaction),
        position,
        alert: outcome.alert.map(|alert| *alert),
        case_id: outcome.case.map(|case| case.case_id),
    }
}

fn masked(mut transaction: Transaction) -> Transaction {
    transaction.merchant = mask_option(&transaction.merchant);
    transaction.location = mask_option(&transaction.location);
    transaction.previous_location = mask_option(&transaction.previous_location);
    transaction.device_id = mask_option(&transaction.device_id);
    transaction.ip_address = mask_option(&transaction.ip_address);
    transaction.transaction_id = crate::agent::mask::mask_text(&transaction.transaction_id).into();
    transaction
}
