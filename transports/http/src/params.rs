//! The query parameters of a connect request.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use tidings_core::ResumeFrom;

/// What a connect request (`GET <prefix>/sse`, `GET <prefix>/poll`) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectParams {
    /// The session to resume, if any (`session` and `ack`, or an SSE `Last-Event-ID`).
    pub resume: Option<ResumeFrom>,
}

/// A connect request refused before any stream starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRefused {
    /// 400 for bad parameters, 503 while the hub shuts down.
    pub status: StatusCode,
    /// Why, for the response body.
    pub reason: String,
}

impl ConnectRefused {
    /// The plain-text HTTP response.
    pub fn response(&self) -> HttpResponse {
        HttpResponse::build(self.status).body(self.reason.clone())
    }

    fn bad_request(reason: impl Into<String>) -> Self {
        ConnectRefused { status: StatusCode::BAD_REQUEST, reason: reason.into() }
    }
}

/// Reads `v`, `session` and `ack` (and, for SSE reconnects, `Last-Event-ID`), or refuses with 400 (bad
/// parameters) or 503 (the hub is shutting down).
pub fn connect_params(req: &HttpRequest, hub: &tidings_core::Hub) -> Result<ConnectParams, ConnectRefused> {
    let query = req.query_string();
    for pair in query.split('&') {
        if let Some(("v", version)) = pair.split_once('=') {
            if version != tidings_core::protocol::VERSION.to_string() {
                return Err(ConnectRefused::bad_request(format!(
                    "unsupported protocol version {version:?}; this server speaks {}",
                    tidings_core::protocol::VERSION
                )));
            }
        }
    }
    let mut resume = ResumeFrom::from_query(query).map_err(ConnectRefused::bad_request)?;
    if resume.is_none() {
        resume =
            req.headers().get("Last-Event-ID").and_then(|id| id.to_str().ok()).and_then(ResumeFrom::from_last_event_id);
    }
    // A client that resumes may still collect what its closing session holds; nothing new starts.
    if resume.is_none() && hub.is_shutting_down() {
        return Err(ConnectRefused { status: StatusCode::SERVICE_UNAVAILABLE, reason: "server shutting down".into() });
    }
    Ok(ConnectParams { resume })
}
