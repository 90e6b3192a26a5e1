//! Sessions: one logical client each, an `actix` actor that owns the client's subscriptions and memberships and
//! handles its requests one at a time. A session outlives its connections: see `attach`.

mod actor;
mod outbox;
mod requests;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tidings_protocol::encode::EncodingCache;
use tidings_protocol::{ClientFrame, Request};

pub(crate) use actor::{Detached, End, Inbound, Session};
pub(crate) use outbox::Outbox;
pub use outbox::{Next, PushError};
pub(crate) use requests::SessionState;

use crate::close::Close;
use crate::identity::{Identity, SessionId};

/// What the rest of the hub holds of a session: its id, identity and outbound queue. Shared by the actor, the
/// topic subscriber sets and the connections attached to it.
pub(crate) struct SessionRef {
    pub(crate) id: SessionId,
    pub(crate) identity: Identity,
    /// The address the session was created from (for the per-address limit).
    pub(crate) peer: Option<std::net::IpAddr>,
    pub(crate) outbox: Outbox,
    /// When the session's credentials expire (moved by in-band refreshes).
    pub(crate) expires_at: parking_lot::Mutex<Option<std::time::SystemTime>>,
    /// The session's message-rate bucket.
    bucket: parking_lot::Mutex<crate::limits::Bucket>,
    rate: crate::limits::Rate,
    /// The session's actor, set once it has started.
    pub(crate) actor: OnceLock<actix::Addr<Session>>,
}

/// Where a client frame goes.
pub(crate) enum Routed {
    /// It was an acknowledgement, applied at once: acks never wait behind a slow handler.
    Acked,
    /// A request, for the actor to handle in order.
    Request(Inbound),
}

impl SessionRef {
    pub(crate) fn new(identity: Identity, peer: Option<std::net::IpAddr>, config: &crate::HubConfig) -> Arc<Self> {
        let rate = config.limits.messages_per_second.clone();
        Arc::new(SessionRef {
            id: SessionId::random(),
            expires_at: parking_lot::Mutex::new(identity.expires_at),
            identity,
            peer,
            outbox: Outbox::new(config.outbox_max_frames, config.outbox_max_bytes),
            bucket: parking_lot::Mutex::new(crate::limits::Bucket::full(&rate)),
            rate,
            actor: OnceLock::new(),
        })
    }

    /// Takes one of the session's message tokens: `Some(wait)` when the client is over its rate and its frame must
    /// wait that long.
    pub(crate) fn throttle(&self) -> Option<std::time::Duration> {
        let wait = self.bucket.lock().take(&self.rate);
        if let Some(wait) = wait {
            tracing::debug!(session = %self.id, ?wait, "client over its message rate; throttled");
        }
        wait
    }

    /// Queues a frame body for this session; `cache` when the same body goes to other sessions too, and the
    /// topic and offset when it is a publication.
    pub(crate) fn push_shared(
        &self,
        body: Bytes,
        cache: Option<Arc<EncodingCache>>,
        publication: Option<(&str, u64)>,
    ) -> Result<(), PushError> {
        let result = self.outbox.push(body, cache, publication);
        if result == Err(PushError::Overflow) {
            tracing::warn!(session = %self.id, "outbound queue overflowed; closing the session as a slow consumer");
            self.end_if_detached();
        }
        result
    }

    /// Queues a frame body for this session only.
    pub(crate) fn push(&self, body: Bytes) -> Result<(), PushError> {
        self.push_shared(body, None, None)
    }

    /// Ends the session with `close`, after the frames already queued are sent.
    pub(crate) fn close(&self, close: Close) {
        self.outbox.close(close);
        self.end_if_detached();
    }

    /// Queues recovered publications and releases the held ones (see `Outbox::release`), closing the session as
    /// a slow consumer when they overflow its queue.
    pub(crate) fn release(&self, recovered: Vec<Bytes>, last: u64) {
        if self.outbox.release(recovered, last) == Err(PushError::Overflow) {
            tracing::warn!(session = %self.id, "recovered publications overflowed the queue; closing the session");
            self.end_if_detached();
        }
    }

    /// A closing session with no connection, and nothing left to deliver before its close, ends now rather than
    /// at the end of its resume window. (With frames left, a client that comes back within the window gets them
    /// and then the close.)
    fn end_if_detached(&self) {
        if !self.outbox.is_attached() && !self.outbox.has_unsent() {
            if let Some(actor) = self.actor.get() {
                actor.do_send(End { generation: None });
            }
        }
    }

    /// Sorts a client frame: acknowledgements are applied here, anything else goes to the actor.
    pub(crate) fn route(&self, frame: Bytes) -> Routed {
        // Only a frame that mentions "ack" is parsed here; requests are parsed once, by the actor.
        if frame.windows(5).any(|w| w == b"\"ack\"") {
            if let Ok(decoded) = ClientFrame::decode(&frame) {
                if let Ok(Request::Ack { seq }) = decoded.request() {
                    self.outbox.ack(seq);
                    return Routed::Acked;
                }
            }
        }
        Routed::Request(Inbound(frame))
    }
}
