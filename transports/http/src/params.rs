//! Admitting a connect request: protocol version, resume parameters, and the hub's checks (origin, rates,
//! authentication, limits).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use tidings_core::{Connect, ConnectRequest, ResumeFrom};

/// A connect request refused before any upgrade or stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRefused {
    /// 400 bad parameters, 401/403 authentication or origin, 429 limits, 503 shutting down.
    pub status: StatusCode,
    /// Why, for the response body.
    pub reason: String,
}

impl ConnectRefused {
    /// The plain-text HTTP response.
    pub fn response(&self) -> HttpResponse {
        HttpResponse::build(self.status).content_type("text/plain; charset=utf-8").body(self.reason.clone())
    }

    fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        ConnectRefused { status, reason: reason.into() }
    }
}

/// The request as the hub's authenticator sees it.
pub fn connect_request(req: &HttpRequest, transport: &'static str) -> ConnectRequest {
    let peer = req.peer_addr().map(|a| a.ip());
    let mut request = ConnectRequest::new(transport, peer, req.query_string());
    for (name, value) in req.headers() {
        if let Ok(value) = value.to_str() {
            request = request.with_header(name.as_str(), value);
        }
    }
    request
}

/// Runs every check of a connect request (`GET <prefix>/ws`, `/sse`, `/poll`): the `v` parameter, the resume
/// parameters (`session` and `ack`, or an SSE `Last-Event-ID`), shutdown (new sessions only), and
/// [`Hub::admit`](tidings_core::Hub::admit). Returns what to attach with.
pub async fn admit(
    req: &HttpRequest,
    hub: &tidings_core::Hub,
    transport: &'static str,
) -> Result<Connect, ConnectRefused> {
    let query = req.query_string();
    for pair in query.split('&') {
        if let Some(("v", version)) = pair.split_once('=') {
            if version != tidings_core::protocol::VERSION.to_string() {
                return Err(ConnectRefused::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unsupported protocol version {version:?}; this server speaks {}",
                        tidings_core::protocol::VERSION
                    ),
                ));
            }
        }
    }
    let mut resume = ResumeFrom::from_query(query).map_err(|e| ConnectRefused::new(StatusCode::BAD_REQUEST, e))?;
    if resume.is_none() {
        resume =
            req.headers().get("Last-Event-ID").and_then(|id| id.to_str().ok()).and_then(ResumeFrom::from_last_event_id);
    }
    // A client that resumes may still collect what its closing session holds; nothing new starts.
    if resume.is_none() && hub.is_shutting_down() {
        return Err(ConnectRefused::new(StatusCode::SERVICE_UNAVAILABLE, "server shutting down"));
    }
    let request = connect_request(req, transport);
    let identity = hub.admit(&request, resume.as_ref()).await.map_err(|refusal| {
        let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::FORBIDDEN);
        ConnectRefused::new(status, refusal.reason)
    })?;
    let flag = |name: &str| query.split('&').any(|pair| pair.strip_prefix(name) == Some("=1"));
    // `next=1`: a long poll continuing its client's polling, which must not take the session back from a
    // transport the client has just moved it to (it gets a 4500 close instead).
    let connect = Connect::resuming(identity, resume).from_peer(request.peer()).carried_by(transport);
    let connect = if flag("next") { connect.continuing() } else { connect };
    Ok(connect.with_heartbeat(flag("heartbeat")))
}
