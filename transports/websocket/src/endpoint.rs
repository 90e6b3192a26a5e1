//! The actix-web side: the upgrade route.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use tidings_core::{Hub, Identity};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::body::ResponseBody;
use crate::connection::Connection;
use crate::handshake::accept_key;
use crate::WebSocketConfig;

/// How many write batches may wait for the socket before `send` waits (and the session's queue takes the strain).
const OUTPUT_BUFFER: usize = 8;

pub(crate) struct Endpoint {
    pub(crate) hub: Hub,
    pub(crate) config: Arc<WebSocketConfig>,
}

/// `GET <prefix>/ws`: checks the handshake and the protocol version, answers 101, and runs the session on the
/// upgraded connection.
pub(crate) async fn upgrade(req: HttpRequest, payload: web::Payload, endpoint: web::Data<Endpoint>) -> HttpResponse {
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
    let accept = match accept_key(&req) {
        Ok(accept) => accept,
        Err(e) => {
            tracing::info!(peer, reason = e.reason, "refused a WebSocket handshake");
            return e.response();
        }
    };
    if endpoint.hub.is_shutting_down() {
        return HttpResponse::ServiceUnavailable().body("server shutting down");
    }
    let (output, frames) = mpsc::channel::<Bytes>(OUTPUT_BUFFER);
    let (abort, aborted) = oneshot::channel();
    let max_message = endpoint.hub.config().max_message_bytes;
    let connection = Connection::new(payload, output, abort, &endpoint.config, max_message);
    let hub = endpoint.hub.clone();
    let span = tracing::info_span!("websocket", peer);
    actix_web::rt::spawn(async move { hub.serve(connection, Identity::anonymous()).await }.instrument(span));

    HttpResponse::SwitchingProtocols()
        .upgrade("websocket")
        .insert_header((header::SEC_WEBSOCKET_ACCEPT, accept))
        .streaming(ResponseBody::new(frames, aborted))
}

/// The `v` query parameter, when present.
fn requested_version(req: &HttpRequest) -> Option<String> {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("v").cloned())
}
