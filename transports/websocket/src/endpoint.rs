//! The Tidings endpoint: the upgrade route that runs a session on each connection.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use tidings_core::{Connect, Hub, Identity, ResumeFrom};
use tracing::Instrument;

use crate::connection::Connection;
use crate::upgrade::upgrade;
use crate::WebSocketConfig;

pub(crate) struct Endpoint {
    pub(crate) hub: Hub,
    pub(crate) config: Arc<WebSocketConfig>,
}

/// `GET <prefix>/ws`: checks the protocol version and the handshake, answers 101, and runs the session on the
/// upgraded connection.
pub(crate) async fn serve(req: HttpRequest, payload: web::Payload, endpoint: web::Data<Endpoint>) -> HttpResponse {
    let peer = req.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    if let Some(version) = requested_version(&req) {
        if version != tidings_core::protocol::VERSION.to_string() {
            tracing::info!(peer, version, "refused a WebSocket for an unsupported protocol version");
            return HttpResponse::BadRequest().body(format!(
                "unsupported protocol version {version:?}; this server speaks {}",
                tidings_core::protocol::VERSION
            ));
        }
    }
    let resume = match ResumeFrom::from_query(req.query_string()) {
        Ok(resume) => resume,
        Err(e) => return HttpResponse::BadRequest().body(e),
    };
    // A client that resumes may still collect what its closing session holds; nothing new starts.
    if resume.is_none() && endpoint.hub.is_shutting_down() {
        return HttpResponse::ServiceUnavailable().body("server shutting down");
    }
    let (response, socket) = match upgrade(&req, payload, &endpoint.config, endpoint.hub.config().max_message_bytes) {
        Ok(upgraded) => upgraded,
        Err(refusal) => return refusal.response(),
    };
    let hub = endpoint.hub.clone();
    let span = tracing::info_span!("websocket", peer, deflate = socket.compressed());
    let connect = Connect::resuming(Identity::anonymous(), resume);
    actix_web::rt::spawn(async move { hub.serve(Connection(socket), connect).await }.instrument(span));
    response
}

/// The `v` query parameter, when present.
fn requested_version(req: &HttpRequest) -> Option<String> {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("v").cloned())
}
