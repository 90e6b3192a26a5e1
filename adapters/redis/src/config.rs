//! The adapter's settings.

use std::time::Duration;

/// Settings of [`RedisBroker`](crate::RedisBroker) and [`RedisPresence`](crate::RedisPresence).
///
/// ```
/// use std::time::Duration;
/// use tidings_redis::RedisConfig;
/// let config = RedisConfig { history_size: 1000, ..RedisConfig::new("redis://10.0.0.5:6379/2") };
/// assert_eq!(config.presence_ttl, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// The server, as a `redis://` (or `rediss://` with TLS support) URL.
    pub url: String,
    /// Prefix of every key and channel, so that several applications can share a Redis database.
    pub prefix: String,
    /// This node's id, unique in the cluster (random by default). Other nodes address forwarded requests to it.
    pub node_id: String,
    /// Publications kept per topic; 0 keeps no history (offsets are still assigned).
    pub history_size: usize,
    /// A topic's history is dropped this long after its last publication.
    pub history_ttl: Duration,
    /// A topic's offset and epoch are kept this long after its last publication (at least `history_ttl`); after
    /// that the topic starts a new epoch, and clients holding positions in the old one are told of a gap.
    pub meta_ttl: Duration,
    /// A member of a room whose node stops refreshing it (the node crashed) is gone after this long. The node
    /// refreshes its members every third of it.
    pub presence_ttl: Duration,
    /// How long a command may take before Redis counts as unreachable.
    pub command_timeout: Duration,
    /// Reconnect backoff: the first delay, doubled after each failure up to `max_backoff`.
    pub min_backoff: Duration,
    /// The longest delay between reconnection attempts.
    pub max_backoff: Duration,
}

impl RedisConfig {
    /// The defaults, with the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        let node: u64 = rand::random();
        RedisConfig {
            url: url.into(),
            prefix: "tidings".into(),
            node_id: format!("{node:016x}"),
            history_size: 256,
            history_ttl: Duration::from_secs(600),
            meta_ttl: Duration::from_secs(24 * 3600),
            presence_ttl: Duration::from_secs(30),
            command_timeout: Duration::from_secs(2),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.meta_ttl < self.history_ttl {
            return Err("meta_ttl must be at least history_ttl".into());
        }
        if self.presence_ttl < Duration::from_millis(300) {
            return Err("presence_ttl must be at least 300 ms".into());
        }
        if self.node_id.is_empty() || self.node_id.contains(char::is_whitespace) {
            return Err("node_id must be non-empty, without whitespace".into());
        }
        Ok(())
    }
}
