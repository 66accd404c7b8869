//! The six tools over the Model Context Protocol (the official `rmcp` SDK),
//! streamable HTTP at `/mcp`, for outside agents and UIs. A call names an
//! escalated transaction by `transaction_id`; the tools then act exactly as
//! in the detector's own tool loop (same toolbox, same case store).

use super::escalator::Escalator;
use super::session::Session;
use super::tools::{description, parameters, TOOL_NAMES};
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

/// Serves the tools at `http://<listen>/mcp` until the process ends; returns
/// once the port is bound.
pub async fn serve(
    listen: &str,
    escalator: Arc<Escalator>,
) -> Result<std::net::SocketAddr, McpError> {
    let fail = |error| McpError {
        address: listen.to_owned(),
        error,
    };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(fail)?;
    let address = listener.local_addr().map_err(fail)?;
    let mut config = StreamableHttpServerConfig::default();
    config.legacy_session_mode = false;
    config.json_response = true;
    config.allowed_hosts.push(address.ip().to_string());
    config.allowed_hosts.push(address.to_string());
    let tools = FraudTools::new(escalator);
    let service = StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "MCP server stopped");
        }
    });
    tracing::info!(%address, "MCP server listening on /mcp");
    Ok(address)
}
