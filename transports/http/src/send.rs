//! `POST <prefix>/send?session=<id>`: client frames for a session whose downstream is SSE or long polling.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, Resource};
use bytes::Bytes;
use serde_json::value::RawValue;
use tidings_core::{Close, CloseCode, Hub, ResumeFrom, SessionHandle};

use crate::cors::Cors;
use crate::forward;
use crate::params::connect_request;
use crate::NO_STORE;

struct SendEndpoint {
    hub: Hub,
    cors: Arc<Cors>,
    /// The largest body read (a batch of frames, each within the hub's limit).
    limit: usize,
}

/// A send's body, read up to the endpoint's limit.
pub(crate) enum Body {
    /// The whole body.
    Complete(Bytes),
    /// The body passed the limit (the rest was not read): the session ends, as after an oversized message.
    TooLarge { limit: usize },
}

/// The upstream endpoint as an actix-web resource at `/send` (relative to the scope it is mounted in).
///
/// The body holds one client frame (a JSON object) or several (a JSON array); they are handed to the session in
/// order, and answered on its downstream. See `docs/protocol.md`, "Sending with HTTP".
pub fn send_resource(hub: &Hub) -> Resource {
    let cors = Arc::new(Cors::of(hub));
    forward::serve(hub);
    // Room for a batch of frames, each within the hub's limit; a single frame over it is refused below. The body
    // is read here rather than by actix-web's extractor, whose own 413 would carry no CORS headers and leave the
    // session as it was.
    let limit = body_limit(hub);
    web::resource("/send")
        .app_data(web::Data::new(SendEndpoint { hub: hub.clone(), cors, limit }))
        .route(web::post().to(send))
        .route(web::method(actix_web::http::Method::OPTIONS).to(preflight))
}

async fn preflight(req: HttpRequest, endpoint: web::Data<SendEndpoint>) -> HttpResponse {
    endpoint.cors.preflight(&req)
}

/// The largest `POST /send` body: 16 frames of the hub's largest message, and at least 64 KiB.
fn body_limit(hub: &Hub) -> usize {
    hub.config().max_message_bytes.saturating_mul(16).max(64 * 1024)
}

async fn send(req: HttpRequest, payload: web::Payload, endpoint: web::Data<SendEndpoint>) -> HttpResponse {
    let (status, text) = match read_body(payload, endpoint.limit).await {
        Ok(body) => answer(&req, body, &endpoint.hub).await,
        Err(e) => (400, format!("could not read the body: {e}")),
    };
    let mut builder = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    endpoint.cors.apply(&req, &mut builder);
    builder.insert_header(NO_STORE).body(text)
}

/// Reads a body, stopping (without reading the rest) as soon as it passes `limit` bytes.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Body, actix_web::error::PayloadError> {
    use futures_util::StreamExt;
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Ok(Body::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Body::Complete(body.freeze()))
}

async fn answer(req: &HttpRequest, body: Body, hub: &Hub) -> (u16, String) {
    let id = match ResumeFrom::from_query(req.query_string()) {
        Ok(Some(named)) => named.session,
        _ => return (400, "missing session parameter".into()),
    };
    let request = connect_request(req, "send");
    let Some(session) = hub.session(&id) else {
        // Maybe another node holds it (no sticky sessions): that node answers.
        return match forward::send_elsewhere(hub, &request, &id, body).await {
            Some(answer) => answer,
            None => (404, "no such session; reconnect".into()),
        };
    };
    if let Err(refusal) = hub.check_sender(&request, &session).await {
        return (refusal.status, refusal.reason.into_owned());
    }
    deliver(hub, &session, &body).await
}

/// Hands the frames of a body to a session of this node, in order.
pub(crate) async fn deliver(hub: &Hub, session: &SessionHandle, body: &Body) -> (u16, String) {
    let body = match body {
        Body::Complete(body) => body,
        Body::TooLarge { limit } => {
            tracing::info!(session = %session.id(), limit, "send body over the limit");
            let max = hub.config().max_message_bytes;
            session.close(Close::new(CloseCode::MESSAGE_TOO_BIG, format!("messages are limited to {max} bytes")));
            return (413, format!("a send's body is limited to {limit} bytes"));
        }
    };
    let frames = match split_frames(body) {
        Ok(frames) => frames,
        Err(e) => {
            tracing::info!(session = %session.id(), error = %e, "refused a malformed send");
            return (400, e);
        }
    };
    let max = hub.config().max_message_bytes;
    if let Some(big) = frames.iter().find(|f| f.get().len() > max) {
        tracing::info!(session = %session.id(), size = big.get().len(), "client message over the size limit");
        session.close(Close::new(CloseCode::MESSAGE_TOO_BIG, format!("messages are limited to {max} bytes")));
        return (413, format!("messages are limited to {max} bytes"));
    }
    for frame in frames {
        if session.receive(Bytes::copy_from_slice(frame.get().as_bytes())).await.is_err() {
            return (404, "the session ended; reconnect".into());
        }
    }
    (204, String::new())
}

/// The frames of a body: one JSON object, or an array of objects.
fn split_frames(body: &[u8]) -> Result<Vec<&RawValue>, String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let frames: Vec<&RawValue> = match first {
        Some(b'[') => serde_json::from_slice(body).map_err(|e| format!("malformed body: {e}"))?,
        Some(b'{') => vec![serde_json::from_slice(body).map_err(|e| format!("malformed body: {e}"))?],
        _ => return Err("the body must be a JSON object or an array of objects".into()),
    };
    match frames.iter().find(|f| !f.get().starts_with('{')) {
        Some(_) => Err("every frame must be a JSON object".into()),
        None => Ok(frames),
    }
}

#[cfg(test)]
mod tests {
    use super::split_frames;

    #[test]
    fn bodies() {
        assert_eq!(split_frames(br#" {"type":"ack","seq":1}"#).unwrap().len(), 1);
        assert_eq!(split_frames(br#"[{"type":"a"},{"type":"b"}]"#).unwrap().len(), 2);
        assert!(split_frames(br#"[{"type":"a"},3]"#).is_err());
        assert!(split_frames(b"").is_err());
        assert!(split_frames(b"[{").is_err());
        assert!(split_frames(b"\"x\"").is_err());
    }
}
