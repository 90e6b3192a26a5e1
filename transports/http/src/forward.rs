//! `POST /send` for a session another node holds (a load balancer without sticky sessions): this node checks the
//! sender's origin and credentials, and forwards the body to the session's node, which checks that the sender is
//! the session's user and hands the frames over. Its answer is `<status> <text>`.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use tidings_core::{BrokerError, ConnectRequest, ForwardFuture, Hub};

use crate::send::{deliver, Body};

/// The forwarded service's name.
const SERVICE: &str = "http.send";
/// How long to wait for the session's node: a send waits only while the session's inbound queue is full.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Precedes the body, on a line of its own.
#[derive(Serialize, Deserialize)]
struct SendHeader {
    session: String,
    /// The sender's identity, as this node authenticated it.
    user: Option<String>,
    /// Set (with an empty body) when the body passed this limit at the receiving node: the session's node ends the
    /// session as after an oversized message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    too_large: Option<usize>,
}

/// Lets other nodes forward sends to this one.
pub(crate) fn serve(hub: &Hub) {
    hub.serve_forwarded(SERVICE, |hub: Hub, request: Bytes| -> ForwardFuture {
        Box::pin(async move {
            let split = request.iter().position(|b| *b == b'\n').ok_or("malformed forwarded send")?;
            let header: SendHeader =
                serde_json::from_slice(&request[..split]).map_err(|e| format!("malformed forwarded send: {e}"))?;
            let (status, text) = match hub.session(&header.session) {
                None => (404, "no such session; reconnect".to_owned()),
                Some(session) if session.identity().user != header.user => {
                    tracing::info!(session = %session.id(), "forwarded send refused: another identity's session");
                    (403, "this session belongs to another identity".to_owned())
                }
                Some(session) => {
                    let body = match header.too_large {
                        Some(limit) => Body::TooLarge { limit },
                        None => Body::Complete(request.slice(split + 1..)),
                    };
                    deliver(&hub, &session, &body).await
                }
            };
            Ok(Bytes::from(format!("{status} {text}")))
        })
    });
}

/// Answers a send for a session this node does not have from the node that has it; `None` when no node has it.
pub(crate) async fn send_elsewhere(
    hub: &Hub,
    request: &ConnectRequest,
    session: &str,
    body: Body,
) -> Option<(u16, String)> {
    let node = match hub.locate_session(session).await {
        Ok(Some(node)) => node,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "could not look up the session's node");
            return None;
        }
    };
    let identity = match hub.sender_identity(request).await {
        Ok(identity) => identity,
        Err(refusal) => return Some((refusal.status, refusal.reason.into_owned())),
    };
    let (too_large, body) = match body {
        Body::Complete(body) => (None, body),
        Body::TooLarge { limit } => (Some(limit), Bytes::new()),
    };
    let header = SendHeader { session: session.to_owned(), user: identity.user, too_large };
    let header = serde_json::to_vec(&header).expect("plain data encodes");
    let mut forwarded = BytesMut::with_capacity(header.len() + 1 + body.len());
    forwarded.put_slice(&header);
    forwarded.put_u8(b'\n');
    forwarded.put_slice(&body);
    match hub.forward(&node, SERVICE, forwarded.freeze(), TIMEOUT).await {
        Ok(answer) => {
            let text = String::from_utf8_lossy(&answer);
            let (status, text) = text.split_once(' ').unwrap_or((&text, ""));
            Some((status.parse().unwrap_or(502), text.to_owned()))
        }
        // The node is gone, and the session with it.
        Err(BrokerError::NoSuchNode(_)) => None,
        Err(e) => {
            tracing::warn!(%node, error = %e, "the session's node did not answer a forwarded send");
            Some((503, "the session's node did not answer; retry".into()))
        }
    }
}
