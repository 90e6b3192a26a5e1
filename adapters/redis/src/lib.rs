//! Redis scaling adapter for Tidings: run one hub on many nodes.
//!
//! - [`RedisBroker`] (a [`Broker`](tidings_core::Broker)): each publication gets its offset and enters the topic's
//!   bounded history in one Lua script on Redis, which also publishes it on the topic's pub/sub channel; every node
//!   with local subscribers of the topic receives it there, in offset order. Nodes forward long-polling requests to
//!   the node holding the session, so no sticky sessions are needed.
//! - [`RedisPresence`] (a [`Presence`](tidings_core::Presence)): room members in Redis with an expiry that each
//!   node refreshes for its own members, so a crashed node's members leave within [`RedisConfig::presence_ttl`].
//!
//! ```no_run
//! # async fn example() -> Result<(), tidings_redis::RedisAdapterError> {
//! use tidings_core::{AllowAnonymous, Hub};
//! use tidings_redis::{RedisBroker, RedisConfig};
//!
//! let broker = RedisBroker::connect(RedisConfig::new("redis://127.0.0.1:6379/")).await?;
//! let hub = Hub::builder()
//!     .presence(broker.presence())
//!     .broker(broker)
//!     .authenticator(AllowAnonymous)
//!     .build()
//!     .expect("valid handlers");
//! # drop(hub); Ok(()) }
//! ```
//!
//! What Redis holds, the guarantees and the failure modes are in `docs/scaling.md`.

mod broker;
mod config;
mod continuity;
mod forward;
mod keys;
mod presence;
mod pubsub;
mod scripts;

pub use broker::RedisBroker;
pub use config::RedisConfig;
pub use presence::RedisPresence;

/// Why the adapter could not start.
#[derive(Debug, thiserror::Error)]
pub enum RedisAdapterError {
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Redis could not be reached or answered with an error.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}
