//! MCP's HTTP+SSE transport (protocol 2024-11-05), which seed 000's clients
//! use (`http://<host>:8080/sse`) and `rmcp` no longer serves. A client opens
//! `GET /sse`, is told where to post (`endpoint` event), posts each JSON-RPC
//! message to `/messages/?session_id=…` (202 Accepted), and reads every
//! reply as a `message` event on the stream it opened. Each stream is one
//! MCP session served by `rmcp` over a pair of channels, so the protocol
//! itself (initialize, tools/list, tools/call) stays rmcp's.

use super::mcp::FraudTools;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use dashmap::DashMap;
use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::serve_server;
use std::convert::Infallible;
use std::sync::Arc;

/// Messages a slow client may leave unread before the session stops taking
/// more; bounded so a stuck client cannot grow memory.
const SESSION_BUFFER: usize = 64;

#[derive(Clone)]
pub struct SseSessions {
    tools: FraudTools,
    inboxes: Arc<DashMap<String, mpsc::Sender<ClientJsonRpcMessage>>>,
}

#[derive(serde::Deserialize)]
pub struct SessionQuery {
    session_id: String,
}

impl SseSessions {
    pub fn new(tools: FraudTools) -> SseSessions {
        SseSessions {
            tools,
            inboxes: Arc::new(DashMap::new()),
        }
    }

    pub fn router(self) -> axum::Router {
        axum::Router::new()
            .route("/sse", axum::routing::get(open_stream))
            .route("/messages/", axum::routing::post(post_message))
            .with_state(self)
    }

    /// Starts an rmcp session whose input is what the client posts and whose
    /// output is the returned stream of events.
    fn open(&self) -> impl Stream<Item = Result<Event, Infallible>> {
        let session_id = format!("{:032x}", rand::random::<u128>());
        let (inbox, client_messages) = mpsc::channel::<ClientJsonRpcMessage>(SESSION_BUFFER);
        let (replies, server_messages) = mpsc::channel::<ServerJsonRpcMessage>(SESSION_BUFFER);
        self.inboxes.insert(session_id.clone(), inbox);
        let tools = self.tools.clone();
        tokio::spawn(async move {
            match serve_server(tools, (replies, client_messages)).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(error) => tracing::debug!(%error, "MCP SSE session ended before initialize"),
            }
        });
        let endpoint = Event::default()
            .event("endpoint")
            .data(format!("/messages/?session_id={session_id}"));
        let closing = SessionGuard {
            session_id,
            inboxes: self.inboxes.clone(),
        };
        futures::stream::once(async move { Ok(endpoint) }).chain(server_messages.map(
            move |message| {
                let _session = &closing; // dropped with the stream: the session ends
                let data = serde_json::to_string(&message).unwrap_or_else(|error| {
                    tracing::error!(%error, "an MCP reply does not serialize");
                    String::new()
                });
                Ok(Event::default().event("message").data(data))
            },
        ))
    }
}

/// Forgets the session when the client's stream closes, which closes the
/// session's input and so ends its rmcp service.
struct SessionGuard {
    session_id: String,
    inboxes: Arc<DashMap<String, mpsc::Sender<ClientJsonRpcMessage>>>,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.inboxes.remove(&self.session_id);
    }
}

async fn open_stream(State(sessions): State<SseSessions>) -> impl IntoResponse {
    Sse::new(sessions.open()).keep_alive(KeepAlive::default())
}

async fn post_message(
    State(sessions): State<SseSessions>,
    Query(query): Query<SessionQuery>,
    body: axum::body::Bytes,
) -> (StatusCode, String) {
    let message: ClientJsonRpcMessage = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("not a JSON-RPC message: {error}"),
            )
        }
    };
    let inbox = sessions
        .inboxes
        .get(&query.session_id)
        .map(|entry| entry.value().clone());
    let Some(mut inbox) = inbox else {
        return (StatusCode::NOT_FOUND, "no such session".into());
    };
    match inbox.send(message).await {
        Ok(()) => (StatusCode::ACCEPTED, "Accepted".into()),
        Err(_) => (StatusCode::GONE, "the session has ended".into()),
    }
}
