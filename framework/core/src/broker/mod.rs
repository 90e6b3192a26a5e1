//! The scaling seam: where publications get their offsets, where history is kept, and how publications reach
//! every node.
//!
//! The hub hands every publication to its [`Broker`]. The broker assigns the offset, stores the publication in the
//! topic's bounded history, and delivers it to every node with local subscribers (with [`MemoryBroker`], the one
//! node it lives in) through the [`BrokerSink`] the hub attached. Nothing in the hub assumes which broker it has.

mod memory;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::value::RawValue;
use tidings_protocol::StreamPosition;

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
}

/// Where a broker delivers: implemented by the hub.
pub trait BrokerSink: Send + Sync + 'static {
    /// Fans a delivery out to this node's subscribers. Must not block: it is called on the broker's own tasks.
    fn deliver(&self, delivery: Delivery);
}

/// A page of a topic's history.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// Publications after the requested position, oldest first.
    pub publications: Vec<Publication>,
    /// The topic's latest position (offset 0 when nothing was ever published in this epoch).
    pub position: StreamPosition,
    /// True when publications after the requested position were lost: they fell out of the bounded history, or
    /// the epoch changed. The client missed messages it cannot recover.
    pub gap: bool,
}

/// Errors a broker reports.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BrokerError {
    /// The broker's backing service could not be reached or failed; the operation may succeed later.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
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
}
