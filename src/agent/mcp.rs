//! The six tools over the Model Context Protocol (the official `rmcp` SDK),
//! streamable HTTP at `/mcp` and HTTP+SSE at `/sse` (`mcp_sse`), for outside
//! agents and UIs. A call names an escalated transaction by `transaction_id`;
//! the tools then act exactly as in the detector's own tool loop (same
//! toolbox, same case store).

use super::config::McpConfig;
use super::escalator::Escalator;
use super::mcp_sse::SseSessions;
use super::session::Session;
use super::tools::{description, parameters, TOOL_NAMES};
use axum::response::IntoResponse;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
#[error("MCP server on {address}: {error}")]
pub struct McpError {
    address: String,
    error: std::io::Error,
}

/// The tools that write to a case's folder.
const WRITES_THE_CASE: [&str; 2] = ["fraud-logger", "report-generator"];

#[derive(Clone)]
pub struct FraudTools {
    escalator: Arc<Escalator>,
}

impl FraudTools {
    pub fn new(escalator: Arc<Escalator>) -> FraudTools {
        FraudTools { escalator }
    }

    async fn run(
        &self,
        name: &str,
        arguments: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let transaction_id = arguments["transaction_id"]
            .as_str()
            .ok_or("transaction_id is required")?;
        let entry = self
            .escalator
            .registry()
            .get(transaction_id)
            .ok_or_else(|| format!("{transaction_id} is not a recently escalated transaction"))?;
        let mut session = Session::new(entry.escalation, "mcp-client");
        session.case_id = entry.case_id;
        let result = self
            .escalator
            .toolbox()
            .call(name, &arguments.to_string(), &mut session)
            .await
            .map_err(|error| error.to_string());
        if let Some(case_id) = &session.case_id {
            self.escalator.registry().set_case(transaction_id, case_id);
            // An MCP client's case has no closing step: its S3 copy follows
            // each write instead.
            if WRITES_THE_CASE.contains(&name) {
                self.escalator.archive_case(case_id).await;
            }
        }
        result
    }
}

pub fn tools() -> Vec<Tool> {
    TOOL_NAMES
        .iter()
        .map(|name| {
            let mut schema = parameters(name);
            schema["required"] = serde_json::json!(["transaction_id"]);
            let schema = match schema {
                serde_json::Value::Object(object) => object,
                _ => serde_json::Map::new(),
            };
            Tool::new(*name, description(name), schema)
        })
        .collect()
}

impl ServerHandler for FraudTools {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info.name = env!("CARGO_PKG_NAME").into();
        info.server_info.version = env!("CARGO_PKG_VERSION").into();
        info.instructions = Some(
            "fraud-detector's investigation tools; name an escalated transaction by transaction_id."
                .into(),
        );
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !TOOL_NAMES.contains(&request.name.as_ref()) {
            return Err(ErrorData::invalid_params(
                format!("unknown tool {}", request.name),
                None,
            ));
        }
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let result = match self.run(&request.name, arguments).await {
            Ok(value) => CallToolResult::success(vec![ContentBlock::text(value.to_string())]),
            Err(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
        };
        Ok(result.into())
    }
}

/// Serves the tools at `http://<listen>/mcp` (streamable HTTP) and
/// `http://<listen>/sse` (HTTP+SSE) until the process ends; returns once the
/// port is bound.
pub async fn serve(
    config: &McpConfig,
    escalator: Arc<Escalator>,
) -> Result<std::net::SocketAddr, McpError> {
    let fail = |error| McpError {
        address: config.listen.clone(),
        error,
    };
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(fail)?;
    let address = listener.local_addr().map_err(fail)?;
    let hosts = Arc::new(allowed_hosts(config, address));
    let mut streamable = StreamableHttpServerConfig::default();
    streamable.legacy_session_mode = false;
    streamable.json_response = true;
    // One Host check guards both transports (the layer below) instead of
    // rmcp's for /mcp and ours for /sse.
    streamable.allowed_hosts = Vec::new();
    let tools = FraudTools::new(escalator);
    let sse = SseSessions::new(tools.clone()).router();
    let service = StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(LocalSessionManager::default()),
        streamable,
    );
    let router = axum::Router::new()
        .nest_service("/mcp", service)
        .merge(sse)
        .layer(axum::middleware::from_fn(move |request, next| {
            refuse_other_hosts(hosts.clone(), request, next)
        }));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "MCP server stopped");
        }
    });
    tracing::info!(%address, "MCP server listening on /mcp (streamable HTTP) and /sse (HTTP+SSE)");
    Ok(address)
}

/// Loopback, the bound address and the configured names; none (no check)
/// when the configuration says `*`.
fn allowed_hosts(config: &McpConfig, address: std::net::SocketAddr) -> Vec<String> {
    if config.allowed_hosts.iter().any(|host| host == "*") {
        return Vec::new();
    }
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
    hosts.push(address.ip().to_string());
    hosts.extend(config.allowed_hosts.iter().cloned());
    hosts
}

/// Refuses a request whose `Host` is not allowed (against DNS rebinding).
async fn refuse_other_hosts(
    hosts: Arc<Vec<String>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if hosts.is_empty() || host_is_allowed(host, &hosts) {
        return next.run(request).await;
    }
    let refusal = format!("Host {host:?} is not allowed (FD_MCP_ALLOWED_HOSTS)");
    (axum::http::StatusCode::FORBIDDEN, refusal).into_response()
}

/// `allowed` entries are `name` (any port) or `name:port`; IPv6 in brackets.
fn host_is_allowed(host: &str, allowed: &[String]) -> bool {
    let (name, port) = split_authority(host);
    allowed.iter().any(|entry| {
        let (allowed_name, allowed_port) = split_authority(entry);
        allowed_name.eq_ignore_ascii_case(name) && (allowed_port.is_none() || allowed_port == port)
    })
}

fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        let (name, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (name, after.strip_prefix(':'));
    }
    match authority.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, Some(port)),
        _ => (authority, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_by_name_and_optional_port() {
        let allowed: Vec<String> = ["localhost", "fraud-detector.fraud:8080", "::1"]
            .map(String::from)
            .into();
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "fraud-detector.fraud:8080",
            "[::1]:80",
        ] {
            assert!(host_is_allowed(host, &allowed), "{host}");
        }
        for host in [
            "evil.example",
            "fraud-detector.fraud:9000",
            "fraud-detector.fraud",
            "",
        ] {
            assert!(!host_is_allowed(host, &allowed), "{host}");
        }
    }

    #[test]
    fn a_star_turns_the_check_off_and_names_add_to_loopback() {
        let address: std::net::SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let mut config = McpConfig {
            listen: "0.0.0.0:8080".into(),
            allowed_hosts: vec!["fraud-detector".into()],
        };
        let hosts = allowed_hosts(&config, address);
        assert!(
            hosts.contains(&"fraud-detector".to_owned()) && hosts.contains(&"localhost".to_owned())
        );
        config.allowed_hosts.push("*".into());
        assert!(allowed_hosts(&config, address).is_empty());
    }
}
