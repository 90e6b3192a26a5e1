//! `GET <prefix>/poll`.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::FutureExt;
use tidings_core::protocol::encode;
use tidings_core::{AttachError, Attachment, Close, Connect, EncodedFrame, Hub, Next};
use tidings_http::{admit, Cors, NO_STORE};
use tracing::Instrument;

use crate::LongPollConfig;

pub(crate) struct Endpoint {
    pub(crate) hub: Hub,
    pub(crate) config: LongPollConfig,
    pub(crate) cors: Arc<Cors>,
}

pub(crate) async fn preflight(req: HttpRequest, endpoint: web::Data<Endpoint>) -> HttpResponse {
    endpoint.cors.preflight(&req)
}

/// What a poll answers.
pub(crate) enum Answer {
    Frames(Vec<EncodedFrame>),
    /// An answer already encoded (by the session's node, for a forwarded poll).
    Body(Bytes),
    /// The session's node did not answer a forwarded poll: 503, the client polls again.
    Unavailable,
    /// Drop the HTTP connection without an answer, as a network failure would (`Hub::drop_connection`).
    Abort,
}

pub(crate) async fn poll(req: HttpRequest, endpoint: web::Data<Endpoint>) -> HttpResponse {
    let connect = match admit(&req, &endpoint.hub, crate::TRANSPORT_NAME).await {
        Ok(connect) => connect,
        Err(refusal) => return refusal.response(),
    };
    let peer = req.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let span = tracing::info_span!("longpoll", peer, session = tracing::field::Empty);
    let answer = answer(&endpoint, connect).instrument(span).await;
    let mut response = HttpResponse::Ok();
    endpoint.cors.apply(&req, &mut response);
    response.insert_header((header::CONTENT_TYPE, "application/json")).insert_header(NO_STORE);
    match answer {
        Some(Answer::Frames(frames)) => response.body(json_array(&frames)),
        Some(Answer::Body(body)) => response.body(body),
        Some(Answer::Unavailable) => {
            let mut unavailable = HttpResponse::ServiceUnavailable();
            endpoint.cors.apply(&req, &mut unavailable);
            unavailable.insert_header(NO_STORE).body("the session's node did not answer; poll again")
        }
        Some(Answer::Abort) => {
            // An error from the body stream makes actix-web drop the connection mid-response.
            let failing = futures_util::stream::once(async {
                Err::<Bytes, _>(std::io::Error::other("connection dropped on request"))
            });
            response.streaming(failing)
        }
        None => HttpResponse::ServiceUnavailable().body("server shutting down"),
    }
}

async fn answer(endpoint: &Endpoint, connect: Connect) -> Option<Answer> {
    let named = connect.resume.as_ref().map(|resume| resume.session.as_str());
    if named.is_some_and(|id| endpoint.hub.session(id).is_none()) {
        if let Some(answer) = crate::forward::poll_elsewhere(&endpoint.hub, &endpoint.config, &connect).await {
            return Some(answer);
        }
    }
    let attachment = match endpoint.hub.attach(connect) {
        Ok(attachment) => attachment,
        // A poll the client sent before it closed the session: it no longer listens, the close ends the exchange.
        Err(AttachError::ClosedByClient) => {
            let close = Close::closed_by_client();
            return Some(Answer::Frames(vec![encode::close(close.code.0, &close.reason)]));
        }
        Err(AttachError::ShuttingDown) => return None,
        Err(AttachError::MovedElsewhere) => return Some(superseded()),
    };
    tracing::Span::current().record("session", tracing::field::display(attachment.session_id()));
    attachment.carried_by(crate::TRANSPORT_NAME);
    if attachment.resumed_from().is_none() {
        // A new session: its welcome is the whole answer; the next poll collects what follows.
        attachment.announce().await;
        let welcome = attachment.welcome();
        attachment.detach();
        return Some(Answer::Frames(vec![welcome]));
    }
    Some(wait_for_frames(&endpoint.config, attachment).await)
}

/// Waits up to the hold time for frames of the session `attachment` continues, and lets go of it.
pub(crate) async fn wait_for_frames(config: &LongPollConfig, attachment: Attachment) -> Answer {
    let mut frames = Vec::new();
    let next = tokio::time::timeout(config.hold, attachment.next(&mut frames, config.max_batch));
    match next.await {
        Ok(Next::Frames) if frames.len() >= config.max_batch => {
            // A full batch: the client polls again at once, and that poll carries what follows (a close too).
            attachment.detach();
            Answer::Frames(frames)
        }
        Ok(Next::Frames) => {
            // When these were the last frames before the session's close, the close goes in this answer too:
            // there may be no next poll to carry it. (The batch has room for the one frame looked at.)
            let mut more = Vec::new();
            match attachment.next(&mut more, 1).now_or_never() {
                Some(Next::Close(close)) => {
                    attachment.end();
                    frames.push(encode::close(close.code.0, &close.reason));
                }
                Some(Next::Frames) => {
                    frames.append(&mut more);
                    attachment.detach();
                }
                _ => attachment.detach(),
            }
            Answer::Frames(frames)
        }
        Ok(Next::Close(close)) => {
            tracing::info!(code = close.code.0, "session closed");
            attachment.end();
            Answer::Frames(vec![encode::close(close.code.0, &close.reason)])
        }
        // A newer poll took over: it answers instead.
        Ok(Next::Superseded) if attachment.current_transport() == crate::TRANSPORT_NAME => Answer::Frames(Vec::new()),
        // The client moved the session to another transport: this one is done, and must not poll it back.
        Ok(Next::Superseded) => superseded(),
        Ok(Next::Dropped) => {
            attachment.detach();
            Answer::Abort
        }
        Err(_held_long_enough) => {
            attachment.detach();
            Answer::Frames(Vec::new())
        }
    }
}

/// `[close 4500]`: the session went to a connection of another transport.
fn superseded() -> Answer {
    let close = Close::superseded();
    Answer::Frames(vec![encode::close(close.code.0, &close.reason)])
}

/// `[frame,frame,...]`: each frame's per-session prefix and its shared body, copied once into the answer.
pub(crate) fn json_array(frames: &[EncodedFrame]) -> Bytes {
    let mut out = BytesMut::with_capacity(2 + frames.iter().map(|f| f.len() + 1).sum::<usize>());
    out.put_u8(b'[');
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        frame.write_to(&mut out);
    }
    out.put_u8(b']');
    out.freeze()
}
