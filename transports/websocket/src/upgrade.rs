//! From an HTTP upgrade request to a [`WebSocket`]: handshake, extension negotiation, the 101 response.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::body::ResponseBody;
use crate::deflate::Deflater;
use crate::extension::negotiate;
use crate::handshake::{accept_key, HandshakeError};
use crate::socket::WebSocket;
use crate::WebSocketConfig;

/// How many write batches may wait for the socket before a send waits.
const OUTPUT_BUFFER: usize = 8;

/// Checks an upgrade request, negotiates permessage-deflate (when `config.deflate` allows it), and returns the 101
/// response to send and the connection. A bad handshake is an error whose [`HandshakeError::response`] is the HTTP
/// refusal to send instead.
///
/// `max_message` limits every client message, inflated size included (1009 beyond it).
///
/// ```no_run
/// use actix_web::{web, HttpRequest, HttpResponse};
/// use tidings_websocket::{upgrade, Incoming, OpCode, WebSocketConfig};
///
/// /// An echo endpoint.
/// async fn echo(req: HttpRequest, payload: web::Payload) -> HttpResponse {
///     let (response, mut ws) = match upgrade(&req, payload, &WebSocketConfig::default(), 1 << 20) {
///         Ok(ok) => ok,
///         Err(refusal) => return refusal.response(),
///     };
///     actix_web::rt::spawn(async move {
///         while let Ok(Some(message)) = ws.recv().await {
///             let sent = match message {
///                 Incoming::Text(text) => ws.send(OpCode::Text, &text).await,
///                 Incoming::Binary(data) => ws.send(OpCode::Binary, &data).await,
///             };
///             if sent.is_err() {
///                 break;
///             }
///         }
///     });
///     response
/// }
/// ```
pub fn upgrade(
    req: &HttpRequest,
    payload: web::Payload,
    config: &WebSocketConfig,
    max_message: usize,
) -> Result<(HttpResponse, WebSocket<web::Payload>), HandshakeError> {
    let accept = accept_key(req).inspect_err(|e| {
        tracing::info!(peer = ?req.peer_addr(), reason = e.reason, "refused a WebSocket handshake");
    })?;
    let offers = req.headers().get_all(header::SEC_WEBSOCKET_EXTENSIONS).filter_map(|v| v.to_str().ok());
    let negotiated = config.deflate.as_ref().and_then(|deflate| Some((deflate, negotiate(offers, deflate)?)));

    let (output, frames) = mpsc::channel::<Bytes>(OUTPUT_BUFFER);
    let (abort, aborted) = oneshot::channel();
    let mut response = HttpResponse::SwitchingProtocols();
    response.upgrade("websocket").insert_header((header::SEC_WEBSOCKET_ACCEPT, accept));
    let deflater = negotiated.map(|(deflate, params)| {
        response.insert_header((header::SEC_WEBSOCKET_EXTENSIONS, params.response()));
        Deflater::new(deflate.clone(), params, config.stats.clone())
    });
    let socket = WebSocket::new(payload, output, abort, config, max_message, deflater);
    Ok((response.streaming(ResponseBody::new(frames, aborted)), socket))
}
