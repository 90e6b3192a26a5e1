//! Sessions: one logical client each, an `actix` actor that owns the client's subscriptions and memberships and
//! handles its requests one at a time.

mod actor;
mod outbox;
mod requests;

use std::sync::Arc;

use bytes::Bytes;
use tidings_protocol::encode::EncodingCache;

pub(crate) use actor::{End, Inbound, Session};
pub(crate) use outbox::Outbox;
pub use outbox::PushError;
pub(crate) use requests::SessionState;

use crate::identity::{Identity, SessionId};

/// What the rest of the hub holds of a session: its id, identity and outbound queue. Shared by the actor, the
/// topic subscriber sets and the transport loop.
pub(crate) struct SessionRef {
    pub(crate) id: SessionId,
    pub(crate) identity: Identity,
    pub(crate) outbox: Outbox,
}

impl SessionRef {
    pub(crate) fn new(identity: Identity, config: &crate::HubConfig) -> Arc<Self> {
        Arc::new(SessionRef {
            id: SessionId::random(),
            identity,
            outbox: Outbox::new(config.outbox_max_frames, config.outbox_max_bytes),
        })
    }

    /// Queues a frame body for this session; `cache` when the same body goes to other sessions too.
    pub(crate) fn push_shared(&self, body: Bytes, cache: Option<Arc<EncodingCache>>) -> Result<u64, PushError> {
        let result = self.outbox.push(body, cache);
        if result == Err(PushError::Overflow) {
            tracing::warn!(session = %self.id, "outbound queue overflowed; closing the session as a slow consumer");
        }
        result
    }

    /// Queues a frame body for this session only.
    pub(crate) fn push(&self, body: Bytes) -> Result<u64, PushError> {
        self.push_shared(body, None)
    }
}
