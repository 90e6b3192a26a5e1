//! The core of Tidings, a real-time pub/sub framework for actix-web.
//!
//! Most applications import the `tidings` facade crate, which re-exports this one and mounts the transports. This
//! crate holds everything that does not depend on a transport, an authentication scheme or a broker:
//!
//! | piece | what it is |
//! |---|---|
//! | [`Hub`] | topics, rooms, sessions and handlers; built with [`Hub::builder`], cloned cheaply |
//! | [`Handler`] | application code for a topic pattern: join, subscribe, message, publish, leave, disconnect |
//! | [`Transport`] | how any transport attaches a client to a session ([`Hub::serve`]) |
//! | [`Broker`] | offsets, history and cross-node delivery; [`MemoryBroker`] by default |
//! | [`Presence`] | room members; [`MemoryPresence`] by default |
//! | `testkit` | (feature `testkit`) an in-process client to test handlers without sockets |
//!
//! Each client is a session: an `actix` actor that handles the client's requests in order, with a bounded
//! outbound queue whose frames carry a sequence number. A publication is encoded once and its bytes shared by
//! every recipient. See `docs/` in the repository for the protocol and a guide per concept.

mod attach;
mod auth;
pub mod broker;
mod close;
mod closed;
mod cluster;
mod config;
mod handler;
mod hub;
mod identity;
mod limits;
mod metrics;
mod presence;
mod router;
mod session;
mod subscribers;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
mod transport;

pub use async_trait::async_trait;
pub use attach::{AttachError, Attachment, Connect, ResumeFrom, SessionGone, SessionHandle};
pub use auth::{authenticate_with, AllowAnonymous, AuthRefusal, Authenticator, ConnectRequest};
pub use broker::{
    missed_without_stream as broker_missed_without_stream, read_window as broker_read_window, Broker, BrokerError,
    BrokerSink, Delivery, ForwardFuture, HistoryPage, MemoryBroker, MemoryBrokerConfig, Publication,
};
pub use close::Close;
pub use cluster::ForwardService;
pub use config::HubConfig;
pub use handler::{Context, Handler, Joined, OpenTopic, Payload, Refusal};
pub use hub::{Hub, HubBuilder, PublishError};
pub use identity::{Identity, SessionId};
pub use limits::{Limits, Rate};
pub use metrics::{HubMetrics, TopicSubscribers};
pub use presence::{MemoryPresence, Presence};
pub use router::PatternError;
pub use session::{Next, PushError};
pub use tidings_protocol as protocol;
pub use tidings_protocol::{CloseCode, EncodedFrame, ErrorCode, Member, StreamPosition};
pub use transport::{Transport, TransportError};
