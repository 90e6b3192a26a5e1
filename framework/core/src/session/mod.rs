//! Sessions: one logical client each, an `actix` actor that owns the client's subscriptions and memberships and
//! handles its requests one at a time. A session outlives its connections: see `attach`.

mod actor;
mod outbox;
mod requests;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tidings_protocol::encode::EncodingCache;
use tidings_protocol::{ClientFrame, Request, StreamPosition};

pub(crate) use actor::{Detached, End, Inbound, Session};
pub use outbox::{Next, PushError};
pub(crate) use outbox::{Outbox, Queued};
pub(crate) use requests::SessionState;

use crate::close::Close;
use crate::identity::{Identity, SessionId};
use crate::metrics::Metrics;

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
    /// The name of the transport that carries (or last carried) the session, for the hub's metrics.
    pub(crate) transport: parking_lot::Mutex<&'static str>,
    metrics: Arc<Metrics>,
    /// Whether the session was counted as a slow consumer.
    counted_slow: std::sync::atomic::AtomicBool,
    /// Places in the session's inbound queue (`HubConfig::inbound_queue`): a client frame takes one before it is
    /// passed to the actor and gives it back once handled, so a transport waits (and stops reading from its client)
    /// while the session is that far behind.
    inbound: Arc<tokio::sync::Semaphore>,
}

/// Where a client frame goes.
pub(crate) enum Routed {
    /// It was an acknowledgement, applied at once: acks never wait behind a slow handler.
    Acked,
    /// A request, for the actor to handle in order (once it has a place in the inbound queue).
    Request(Bytes),
}

impl SessionRef {
    pub(crate) fn new(
        identity: Identity,
        peer: Option<std::net::IpAddr>,
        config: &crate::HubConfig,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
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
            transport: parking_lot::Mutex::new("unknown"),
            metrics,
            counted_slow: std::sync::atomic::AtomicBool::new(false),
            inbound: Arc::new(tokio::sync::Semaphore::new(config.inbound_queue.max(1))),
        })
    }

    /// A place in the inbound queue for a request, if one is free now.
    pub(crate) fn try_queue(&self, frame: Bytes) -> Result<Inbound, Bytes> {
        match self.inbound.clone().try_acquire_owned() {
            Ok(permit) => Ok(Inbound(frame, permit)),
            Err(_) => Err(frame),
        }
    }

    /// A place in the inbound queue for a request, once one is free.
    pub(crate) async fn queue(&self, frame: Bytes) -> Inbound {
        let permit = self.inbound.clone().acquire_owned().await.expect("the inbound semaphore is never closed");
        Inbound(frame, permit)
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
    /// topic and offset when it is a publication (`conflate`: one that may replace an older publication of the
    /// same topic still waiting in the queue).
    pub(crate) fn push_shared(
        &self,
        body: Bytes,
        cache: Option<Arc<EncodingCache>>,
        publication: Option<(&str, &StreamPosition)>,
        conflate: bool,
    ) -> Result<Queued, PushError> {
        let pushed = self.outbox.push(body, cache, publication, conflate);
        if pushed == Err(PushError::Overflow) {
            self.slow_consumer("outbound queue overflowed");
        }
        pushed
    }

    /// Queues a frame body for this session only.
    pub(crate) fn push(&self, body: Bytes) -> Result<(), PushError> {
        self.push_shared(body, None, None, false)?;
        Metrics::add(&self.metrics.messages_out, 1);
        Ok(())
    }

    /// The session is closing as a slow consumer: its queue overflowed.
    pub(crate) fn slow_consumer(&self, why: &str) {
        tracing::warn!(session = %self.id, why, "closing the session as a slow consumer");
        self.count_slow_consumer();
        self.end_if_detached();
    }

    /// Counts the session in `HubMetrics::slow_consumer_drops`, once whatever happens to it after (a stalled write
    /// and then an overflow, say).
    pub(crate) fn count_slow_consumer(&self) {
        if !self.counted_slow.swap(true, std::sync::atomic::Ordering::Relaxed) {
            Metrics::add(&self.metrics.slow_consumer_drops, 1);
        }
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
            self.slow_consumer("recovered publications overflowed the queue");
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
        Metrics::add(&self.metrics.messages_in, 1);
        Routed::Request(frame)
    }
}
