//! `POST <prefix>/send?session=<id>`: client frames for a session whose downstream is SSE or long polling.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse, Resource};
use bytes::Bytes;
use serde_json::value::RawValue;
use tidings_core::{Close, CloseCode, Hub, ResumeFrom};

use crate::cors::Cors;
use crate::params::connect_request;
use crate::NO_STORE;

struct SendEndpoint {
    hub: Hub,
    cors: Arc<Cors>,
}

/// The upstream endpoint as an actix-web resource at `/send` (relative to the scope it is mounted in).
///
/// The body holds one client frame (a JSON object) or several (a JSON array); they are handed to the session in
/// order, and answered on its downstream. See `docs/protocol.md`, "Sending with HTTP".
pub fn send_resource(hub: &Hub) -> Resource {
    let cors = Arc::new(Cors::of(hub));
    // Room for a batch of frames, each within the hub's limit; a single frame over it is refused below.
    let limit = hub.config().max_message_bytes.saturating_mul(16).max(64 * 1024);
    web::resource("/send")
        .app_data(web::Data::new(SendEndpoint { hub: hub.clone(), cors }))
        .app_data(web::PayloadConfig::new(limit))
        .route(web::post().to(send))
        .route(web::method(actix_web::http::Method::OPTIONS).to(preflight))
}

async fn preflight(req: HttpRequest, endpoint: web::Data<SendEndpoint>) -> HttpResponse {
    endpoint.cors.preflight(&req)
}

async fn send(req: HttpRequest, body: Bytes, endpoint: web::Data<SendEndpoint>) -> HttpResponse {
    let response = |status: actix_web::http::StatusCode, text: String| {
        let mut builder = HttpResponse::build(status);
        endpoint.cors.apply(&req, &mut builder);
        builder.insert_header(NO_STORE).body(text)
    };
    let session = match ResumeFrom::from_query(req.query_string()) {
        Ok(Some(named)) => endpoint.hub.session(&named.session),
        _ => return response(actix_web::http::StatusCode::BAD_REQUEST, "missing session parameter".into()),
    };
    let Some(session) = session else {
        return response(actix_web::http::StatusCode::NOT_FOUND, "no such session; reconnect".into());
    };
    if let Err(refusal) = endpoint.hub.check_sender(&connect_request(&req, "send"), &session).await {
        let status =
            actix_web::http::StatusCode::from_u16(refusal.status).unwrap_or(actix_web::http::StatusCode::FORBIDDEN);
        return response(status, refusal.reason.into_owned());
    }
    let frames = match split_frames(&body) {
        Ok(frames) => frames,
        Err(e) => {
            tracing::info!(session = %session.id(), error = %e, "refused a malformed send");
            return response(actix_web::http::StatusCode::BAD_REQUEST, e);
        }
    };
    let max = endpoint.hub.config().max_message_bytes;
    if let Some(big) = frames.iter().find(|f| f.get().len() > max) {
        tracing::info!(session = %session.id(), size = big.get().len(), "client message over the size limit");
        session.close(Close::new(CloseCode::MESSAGE_TOO_BIG, format!("messages are limited to {max} bytes")));
        return response(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("messages are limited to {max} bytes"),
        );
    }
    for frame in frames {
        if session.receive(Bytes::copy_from_slice(frame.get().as_bytes())).await.is_err() {
            return response(actix_web::http::StatusCode::NOT_FOUND, "the session ended; reconnect".into());
        }
    }
    response(actix_web::http::StatusCode::NO_CONTENT, String::new())
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
