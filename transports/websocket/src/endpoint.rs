//! The Tidings endpoint: the upgrade route that runs a session on each connection.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use tidings_core::Hub;
use tracing::Instrument;

use crate::connection::Connection;
use crate::upgrade::upgrade;
use crate::WebSocketConfig;

/// The WebSocket subprotocol name of Tidings protocol v1, selected when a client offers it.
pub const SUBPROTOCOL: &str = "tidings.v1";

pub(crate) struct Endpoint {
    pub(crate) hub: Hub,
    pub(crate) config: Arc<WebSocketConfig>,
}

/// `GET <prefix>/ws`: admits the request (protocol version, resume parameters, origin, rates, authentication,
/// limits), checks the handshake, answers 101, and runs the session on the upgraded connection.
pub(crate) async fn serve(req: HttpRequest, payload: web::Payload, endpoint: web::Data<Endpoint>) -> HttpResponse {
    let peer = req.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let connect = match tidings_http::admit(&req, &endpoint.hub, "websocket").await {
        Ok(connect) => connect,
        Err(refusal) => return refusal.response(),
    };
    let max_message = endpoint.hub.config().max_message_bytes;
    let (mut response, socket) = match upgrade(&req, payload, &endpoint.config, max_message) {
        Ok(upgraded) => upgraded,
        Err(refusal) => return refusal.response(),
    };
    // Browsers that pass credentials as a subprotocol (they cannot set headers) also offer the protocol's own name,
    // which the response must select or the browser fails the connection.
    let mut offered = req.headers().get_all(header::SEC_WEBSOCKET_PROTOCOL).filter_map(|v| v.to_str().ok());
    if offered.any(|v| v.split(',').any(|p| p.trim() == SUBPROTOCOL)) {
        response.headers_mut().insert(header::SEC_WEBSOCKET_PROTOCOL, header::HeaderValue::from_static(SUBPROTOCOL));
    }
    let hub = endpoint.hub.clone();
    let span = tracing::info_span!("websocket", peer, deflate = socket.compressed());
    actix_web::rt::spawn(async move { hub.serve(Connection(socket), connect).await }.instrument(span));
    response
}
