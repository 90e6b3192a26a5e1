//! The scaling seam: where publications get their offsets, where history is kept, and how publications reach
//! every node.
//!
//! The hub hands every publication to its [`Broker`]. The broker assigns the offset, stores the publication in the
//! topic's bounded history, and delivers it to every node with local subscribers (with [`MemoryBroker`], the one
//! node it lives in) through the [`BrokerSink`] the hub attached. Nothing in the hub assumes which broker it has.

mod memory;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::value::RawValue;
use tidings_protocol::{Missed, StreamPosition};

pub use memory::{MemoryBroker, MemoryBrokerConfig};

use crate::identity::SessionId;

/// A publication with its position in its topic.
#[derive(Debug, Clone)]
pub struct Publication {
    /// The topic.
    pub topic: Arc<str>,
    /// Offset and epoch, assigned by the broker.
    pub position: StreamPosition,
    /// The payload as JSON text, shared by every copy of the publication.
    pub data: Arc<RawValue>,
}

/// What a broker delivers to the nodes it serves.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A publication, to every local subscriber of its topic.
    Publication(Publication),
    /// An already-encoded frame body that is not part of the topic's stream (presence changes, for example): it
    /// gets no offset and is not kept in history.
    Event {
        /// The topic whose subscribers receive it.
        topic: Arc<str>,
        /// The frame body (see `tidings_protocol::encode`).
        body: Bytes,
        /// A session that must not receive it (the one the event is about).
        exclude: Option<SessionId>,
    },
    /// The broker can no longer vouch that this node's subscribers of `topic` received every publication (a gap
    /// it could not fill from history, or a reset stream): they are closed with 4004, so that their clients
    /// subscribe again with `since` and are told of the gap.
    Reset {
        /// The topic.
        topic: Arc<str>,
        /// Why, for the logs and the close reason.
        reason: String,
    },
}

/// Where a broker delivers: implemented by the hub.
pub trait BrokerSink: Send + Sync + 'static {
    /// Fans a delivery out to this node's subscribers. Must not block: it is called on the broker's own tasks.
    fn deliver(&self, delivery: Delivery);

    /// Answers a request another node forwarded to this one with [`Broker::forward`]: `service` names the
    /// handler (registered with [`Hub::serve_forwarded`](crate::Hub::serve_forwarded)).
    fn forwarded(&self, service: &str, body: Bytes) -> ForwardFuture;
}

/// The answer to a forwarded request, or why there is none.
pub type ForwardFuture = Pin<Box<dyn Future<Output = Result<Bytes, String>> + Send>>;

/// A page of a topic's history.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// Publications after the requested position, oldest first.
    pub publications: Vec<Publication>,
    /// The topic's latest position (offset 0 when nothing was ever published in this epoch).
    pub position: StreamPosition,
    /// Publications after the requested position that were lost (they fell out of the bounded history, or the
    /// epoch changed), when some were: the client missed messages it cannot recover, and which.
    pub missed: Option<Missed>,
}

impl HistoryPage {
    /// Whether publications after the requested position were lost.
    pub fn gap(&self) -> bool {
        self.missed.is_some()
    }
}

/// What a read after `since` missed of a topic that has no stream at all (nothing retained, no offsets kept): a
/// position past 0 belonged to a stream that is gone.
pub fn missed_without_stream(since: Option<&StreamPosition>) -> Option<Missed> {
    since.filter(|s| s.offset > 0).map(|_| Missed { from: None, to: 0 })
}

/// Which retained publications answer a read after `since`, and whether some it needs are gone: the rules of
/// every broker (`docs/protocol.md`, "Recovering from history"). `epoch` and `last` are the stream's, `oldest` its
/// oldest retained offset (`last + 1` when it retains none). Returns the first offset to answer with, and what is
/// missed.
///
/// ```
/// use tidings_core::broker_read_window as window;
/// use tidings_protocol::{Missed, StreamPosition};
/// let at = |offset| StreamPosition { offset, epoch: "e".into() };
/// assert_eq!(window(Some(&at(7)), "e", 9, 3), (8, None));
/// // 2 is no longer retained
/// assert_eq!(window(Some(&at(1)), "e", 9, 3), (3, Some(Missed { from: Some(2), to: 2 })));
/// // the stream was reset: what came after 7 in the old epoch is unknown, and 1 and 2 of the new one are gone
/// assert_eq!(window(Some(&at(7)), "other", 9, 3), (3, Some(Missed { from: None, to: 2 })));
/// assert_eq!(window(None, "e", 9, 3), (3, None));
/// // the stream went back
/// assert_eq!(window(Some(&at(12)), "e", 9, 3), (3, Some(Missed { from: None, to: 2 })));
/// ```
pub fn read_window(since: Option<&StreamPosition>, epoch: &str, last: u64, oldest: u64) -> (u64, Option<Missed>) {
    let lost_before_oldest = |from| (from < oldest).then(|| Missed { from: Some(from), to: oldest - 1 });
    match since {
        None => (oldest, None),
        // Offset 0 means "seen nothing yet", whatever the epoch: everything retained comes after it.
        Some(since) if since.offset == 0 => (oldest, lost_before_oldest(1)),
        Some(since) if since.epoch != epoch => (oldest, Some(Missed { from: None, to: oldest - 1 })),
        // Beyond the end of the stream: it was rolled back (a restored backup, say) and its offsets will be reused.
        Some(since) if since.offset > last => (oldest, Some(Missed { from: None, to: oldest - 1 })),
        // The oldest offset a complete answer needs is since + 1; history may have dropped it.
        Some(since) => ((since.offset + 1).max(oldest), lost_before_oldest(since.offset + 1)),
    }
}

/// Errors a broker reports.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BrokerError {
    /// The broker's backing service could not be reached or failed; the operation may succeed later.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// The publication reached this node's subscribers only: the shared service is unreachable, so other nodes
    /// did not get it and it is not in the shared history. Their subscribers are told of the gap once the
    /// service is back.
    #[error("delivered on this node only: {0}")]
    LocalOnly(String),
    /// A forwarded request's node is not there (it stopped): whatever it held is gone.
    #[error("node {0} is not listening")]
    NoSuchNode(String),
}

/// Moves publications between nodes, assigns offsets and keeps history.
///
/// Implementations must deliver the publications of one topic in offset order, and must never block the calling
/// task for long: they are called from session actors and from `Hub::publish`.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Called once when the hub is built: where this node's deliveries go.
    fn attach(&self, sink: Arc<dyn BrokerSink>);

    /// Publishes to a topic: assigns the next offset, keeps the publication in history, and delivers it.
    async fn publish(&self, topic: &str, data: Arc<RawValue>) -> Result<StreamPosition, BrokerError>;

    /// Delivers an event that is not part of the topic's stream (see [`Delivery::Event`]).
    async fn broadcast(&self, topic: &str, body: Bytes, exclude: Option<SessionId>) -> Result<(), BrokerError>;

    /// Reads the topic's history after `since` (from the oldest retained publication when `None`), at most `limit`
    /// publications.
    async fn history(
        &self,
        topic: &str,
        since: Option<&StreamPosition>,
        limit: usize,
    ) -> Result<HistoryPage, BrokerError>;

    /// This node now has local subscribers of `topic` and wants its deliveries.
    async fn subscribe(&self, topic: &str) -> Result<(), BrokerError>;

    /// This node no longer has local subscribers of `topic`.
    async fn unsubscribe(&self, topic: &str) -> Result<(), BrokerError>;

    /// Records that session `session` lives on this node, so that a request for it reaching another node can be
    /// forwarded here. A single-node broker has nothing to do.
    async fn register_session(&self, _session: &str) -> Result<(), BrokerError> {
        Ok(())
    }

    /// The session ended.
    async fn unregister_session(&self, _session: &str) -> Result<(), BrokerError> {
        Ok(())
    }

    /// The node (another than this one) that holds `session`, if any.
    async fn locate_session(&self, _session: &str) -> Result<Option<String>, BrokerError> {
        Ok(None)
    }

    /// Sends a request to `node`'s handler for `service` (the control channel between nodes) and waits up to
    /// `timeout` for its answer.
    async fn forward(
        &self,
        _node: &str,
        _service: &str,
        _body: Bytes,
        _timeout: Duration,
    ) -> Result<Bytes, BrokerError> {
        Err(BrokerError::Unavailable("this broker serves a single node".into()))
    }
}
