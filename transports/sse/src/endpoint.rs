//! `GET <prefix>/sse`: the event stream.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::stream;
use tidings_core::Hub;
use tidings_http::{admit, Cors};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::connection::SseConnection;
use crate::SseConfig;

pub(crate) struct Endpoint {
    pub(crate) hub: Hub,
    pub(crate) config: SseConfig,
    pub(crate) cors: Arc<Cors>,
}

/// Chunks of events waiting for the client's connection to take them. Small: a slow reader should slow the
/// session's loop (which then applies its write timeout), not pile bytes up here.
const BODY_CHUNKS: usize = 4;

pub(crate) async fn preflight(req: HttpRequest, endpoint: web::Data<Endpoint>) -> HttpResponse {
    endpoint.cors.preflight(&req)
}

pub(crate) async fn stream(req: HttpRequest, endpoint: web::Data<Endpoint>) -> HttpResponse {
    let connect = match admit(&req, &endpoint.hub, "sse").await {
        Ok(connect) => connect,
        Err(refusal) => return refusal.response(),
    };
    let (body, chunks) = mpsc::channel::<Bytes>(BODY_CHUNKS);
    let retry = format!("retry: {}\n\n", endpoint.config.retry.as_millis());
    let _ = body.try_send(Bytes::from(retry));
    let mut heartbeat = tokio::time::interval(endpoint.config.heartbeat);
    heartbeat.reset();
    let connection = SseConnection { body, session: None, resumed_after: 0, heartbeat };
    let hub = endpoint.hub.clone();
    let peer = req.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let span = tracing::info_span!("sse", peer);
    actix_web::rt::spawn(async move { hub.serve(connection, connect).await }.instrument(span));

    let events = stream::unfold(chunks, |mut chunks| async move {
        let chunk = chunks.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), chunks))
    });
    let mut response = HttpResponse::Ok();
    endpoint.cors.apply(&req, &mut response);
    response
        .insert_header((header::CONTENT_TYPE, "text/event-stream; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache, no-transform"))
        // Compression middleware would buffer the stream; proxies (nginx) are asked not to.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events)
}
