//! Polls that land on a node other than the one holding their session (a load balancer without sticky sessions):
//! forwarded to the session's node over the broker's control channel, answered there exactly as a local poll.
//!
//! The answer travels back as one tagged body: `F` then the JSON array of frames, `A` for "drop the connection"
//! (`Hub::drop_connection`), `G` when the session is gone there too (the poll then starts a new session here).

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use tidings_core::{BrokerError, Connect, ForwardFuture, Hub, Identity, ResumeFrom};
use tracing::Instrument;

use crate::endpoint::{json_array, wait_for_frames, Answer};
use crate::LongPollConfig;

/// The forwarded service's name.
const SERVICE: &str = "longpoll.poll";
/// How much longer than the hold the poll's node waits for the owner's answer.
const MARGIN: Duration = Duration::from_secs(5);

#[derive(Serialize, Deserialize)]
struct PollRequest {
    session: String,
    ack: u64,
    /// The identity the poll's node authenticated: the owner checks it is the session's.
    user: Option<String>,
}

/// Lets other nodes forward polls to this one.
pub(crate) fn serve(hub: &Hub, config: &LongPollConfig) {
    let config = config.clone();
    hub.serve_forwarded(SERVICE, move |hub: Hub, body: Bytes| -> ForwardFuture {
        let config = config.clone();
        Box::pin(async move {
            let request: PollRequest =
                serde_json::from_slice(&body).map_err(|e| format!("malformed forwarded poll: {e}"))?;
            let identity = Identity { user: request.user, ..Identity::default() };
            let resume = ResumeFrom { session: request.session, ack: request.ack };
            let span = tracing::info_span!("longpoll", forwarded = true, session = %resume.session);
            let Some(attachment) = hub.resume(&Connect::resuming(identity, Some(resume))) else {
                return Ok(Bytes::from_static(b"G"));
            };
            attachment.carried_by(crate::TRANSPORT_NAME);
            Ok(match wait_for_frames(&config, attachment).instrument(span).await {
                Answer::Frames(frames) => {
                    let array = json_array(&frames);
                    let mut out = BytesMut::with_capacity(1 + array.len());
                    out.put_u8(b'F');
                    out.put_slice(&array);
                    out.freeze()
                }
                Answer::Abort => Bytes::from_static(b"A"),
                Answer::Body(_) | Answer::Unavailable => unreachable!("local answers are frames"),
            })
        })
    });
}

/// Answers a poll for a session this node does not have from the node that has it; `None` when no node has it,
/// and the poll is this node's to answer (a new session). When the node that has it does not answer in time, the
/// poll fails (503): starting a new session here would strand the client's session there.
pub(crate) async fn poll_elsewhere(hub: &Hub, config: &LongPollConfig, connect: &Connect) -> Option<Answer> {
    let resume = connect.resume.as_ref()?;
    let node = match hub.locate_session(&resume.session).await {
        Ok(Some(node)) => node,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "could not look up the session's node");
            return None;
        }
    };
    let request = PollRequest { session: resume.session.clone(), ack: resume.ack, user: connect.identity.user.clone() };
    let body = Bytes::from(serde_json::to_vec(&request).expect("plain data encodes"));
    match hub.forward(&node, SERVICE, body, config.hold + MARGIN).await {
        Ok(answer) => match answer.first() {
            Some(b'F') => Some(Answer::Body(answer.slice(1..))),
            Some(b'A') => Some(Answer::Abort),
            _ => None,
        },
        Err(BrokerError::NoSuchNode(_)) => None,
        Err(e) => {
            tracing::warn!(%node, error = %e, "the session's node did not answer a forwarded poll");
            Some(Answer::Unavailable)
        }
    }
}
