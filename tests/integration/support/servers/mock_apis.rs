//! Loopback stand-ins for what Claude Code talks to, as handlers for
//! [`Server`](crate::support::servers::Server): the Anthropic Messages API and an MCP
//! server (streamable HTTP transport). Each implements what Claude Code
//! 2.1.328 sends in print mode, as logged from the real client:
//!
//! - API: `HEAD /api/hello` at start-up (a connectivity check), then
//!   `POST /v1/messages?beta=true` with `"stream": true`, answered with
//!   server-sent events. Like the real API, a request without the expected
//!   key is answered `401` with an `authentication_error`.
//! - MCP: `POST` of JSON-RPC `server/discover` (a probe for newer protocol
//!   versions, answered "method not found" as an older server does),
//!   `initialize`, `notifications/initialized`, `tools/list`, and a `GET`
//!   for a server-to-client event stream, which this server does not offer
//!   (`405`, as the transport allows).

use serde_json::{Value, json};

use super::{Reply, Request};

/// The text of the mock model's every answer.
pub const ANSWER: &str = "pong from the loopback Messages API";

/// The MCP mock's one tool.
pub const TOOL: &str = "whoami";

/// The request target without its query.
pub fn path(request: &Request) -> &str {
    request.target.split('?').next().unwrap_or_default()
}

/// A handler for the Anthropic API that accepts `key` only.
pub fn anthropic_api(key: String) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    move |request| match (request.method.as_str(), path(request)) {
        (_, "/api/hello") => Reply::status(200, "text/plain", ""),
        ("POST", "/v1/messages") if request.header("x-api-key") != Some(key.as_str()) => {
            api_error(401, "authentication_error", "invalid x-api-key")
        }
        ("POST", "/v1/messages") => messages(request),
        _ => api_error(404, "not_found_error", "not found"),
    }
}

/// An error in the API's format.
fn api_error(status: u16, kind: &str, message: &str) -> Reply {
    let body = json!({"type": "error", "error": {"type": kind, "message": message}});
    Reply::status(status, "application/json", &body.to_string())
}

/// Answers a Messages request with [`ANSWER`], streamed or not as asked.
fn messages(request: &Request) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return api_error(400, "invalid_request_error", "body is not JSON");
    };
    let model = body["model"].as_str().unwrap_or("mock-model");
    let usage = json!({"input_tokens": 1, "output_tokens": 1});
    if body["stream"] != Value::Bool(true) {
        let message = json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": ANSWER}],
            "stop_reason": "end_turn", "stop_sequence": null, "usage": usage,
        });
        return Reply::json(&message.to_string());
    }
    let start = json!({
        "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage,
    });
    let events = [
        (
            "message_start",
            json!({"type": "message_start", "message": start}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "text_delta", "text": ANSWER}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta",
                   "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                   "usage": {"output_tokens": 1}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    let stream: String = events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
    Reply::status(200, "text/event-stream", &stream)
}

/// The JSON-RPC method of an MCP request, if it is one.
pub fn mcp_method(request: &Request) -> Option<String> {
    let message: Value = serde_json::from_slice(&request.body).ok()?;
    Some(message["method"].as_str()?.to_owned())
}

/// A handler for an MCP server with one tool, [`TOOL`].
pub fn mcp_server(request: &Request) -> Reply {
    if request.method != "POST" {
        return Reply::status(405, "text/plain", "");
    }
    let Ok(message) = serde_json::from_slice::<Value>(&request.body) else {
        return Reply::status(400, "text/plain", "not JSON");
    };
    let Some(id) = message.get("id") else {
        // A notification: accepted, nothing to answer.
        return Reply::status(202, "text/plain", "");
    };
    let params = &message["params"];
    let outcome = match message["method"].as_str().unwrap_or_default() {
        "initialize" => Ok(json!({
            "protocolVersion": params["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "credbox-test-mcp", "version": "0.1.0"},
        })),
        "tools/list" => Ok(json!({"tools": [{
            "name": TOOL,
            "description": "Says who the caller is.",
            "inputSchema": {"type": "object", "properties": {}},
        }]})),
        "ping" => Ok(json!({})),
        _ => Err(json!({"code": -32601, "message": "Method not found"})),
    };
    let response = match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => json!({"jsonrpc": "2.0", "id": id, "error": error}),
    };
    Reply::json(&response.to_string())
}
