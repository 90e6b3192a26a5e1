//! [`RedisBroker`]: the [`Broker`] of a hub that runs on several nodes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use serde_json::value::RawValue;
use tidings_core::{
    broker_missed_without_stream as missed_without_stream, broker_read_window as read_window, Broker, BrokerError,
    BrokerSink, HistoryPage, Publication, SessionId,
};
use tidings_protocol::StreamPosition;
use tokio::sync::{mpsc, oneshot};

use crate::config::RedisConfig;
use crate::continuity::Continuity;
use crate::forward::Pending;
use crate::keys::Keys;
use crate::presence::RedisPresence;
use crate::pubsub::{self, Command};
use crate::scripts::Scripts;
use crate::RedisAdapterError;

/// The epoch reported for a topic that has no stream in Redis: no stream ever gets it (real epochs are 16 hex
/// digits), and offset 0 in it means "seen nothing".
const NO_STREAM_EPOCH: &str = "0";
/// A session's location outlives any resume window; refreshed whenever the session is announced again.
const SESSION_LOCATION_TTL_SECS: u64 = 24 * 3600;

/// State shared by the broker, its pub/sub task and the continuity checks.
pub(crate) struct Shared {
    pub(crate) config: RedisConfig,
    pub(crate) keys: Keys,
    pub(crate) scripts: Arc<Scripts>,
    pub(crate) conn: ConnectionManager,
    pub(crate) sink: OnceLock<Arc<dyn BrokerSink>>,
    pub(crate) continuity: Continuity,
    pub(crate) pending: Pending,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    /// Whether the pub/sub connection is up (publications from other nodes are arriving).
    pub(crate) connected: AtomicBool,
}

impl Shared {
    pub(crate) fn sink(&self) -> Option<&Arc<dyn BrokerSink>> {
        self.sink.get()
    }

    /// The topic's publications after `since` (see [`Broker::history`]).
    pub(crate) async fn history(
        &self,
        topic: &str,
        since: Option<&StreamPosition>,
        limit: usize,
    ) -> Result<HistoryPage, BrokerError> {
        let after = since.map_or(-1, |s| s.offset as i64);
        let epoch = since.map_or("", |s| s.epoch.as_str());
        let (stream_epoch, last, oldest, payloads): (String, u64, u64, Vec<String>) = self
            .scripts
            .history
            .key(self.keys.meta(topic))
            .key(self.keys.history(topic))
            .arg(after)
            .arg(epoch)
            .arg(limit.max(1))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        if stream_epoch.is_empty() {
            // No stream: offset 0 ("seen nothing") in any epoch has missed nothing; a later offset has.
            let position = StreamPosition { offset: 0, epoch: NO_STREAM_EPOCH.into() };
            return Ok(HistoryPage { publications: Vec::new(), position, missed: missed_without_stream(since) });
        }
        // The script picked the same first offset by the same rules.
        let (first, missed) = read_window(since, &stream_epoch, last, oldest);
        let topic: Arc<str> = topic.into();
        let mut publications = Vec::with_capacity(if limit == 0 { 0 } else { payloads.len() });
        for (i, payload) in payloads.into_iter().enumerate().take(limit) {
            let data = RawValue::from_string(payload).map_err(|e| BrokerError::Unavailable(e.to_string()))?;
            let position = StreamPosition { offset: first + i as u64, epoch: stream_epoch.clone() };
            publications.push(Publication { topic: topic.clone(), position, data: data.into() });
        }
        Ok(HistoryPage { publications, position: StreamPosition { offset: last, epoch: stream_epoch }, missed })
    }
}

/// The errors of a connection that is down (as opposed to a command Redis refused). A timeout is not one: the
/// command may have run, so a publication that timed out may be out there, and is not delivered locally as well.
pub(crate) fn is_unreachable(e: &redis::RedisError) -> bool {
    (e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal()) && !e.is_timeout()
}

pub(crate) fn unavailable(e: redis::RedisError) -> BrokerError {
    BrokerError::Unavailable(format!("redis: {e}"))
}

pub(crate) fn random_epoch() -> String {
    let bits: u64 = rand::random();
    format!("{bits:016x}")
}

/// A [`Broker`] on Redis, for a hub that runs on several nodes. See the crate docs.
pub struct RedisBroker {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl RedisBroker {
    /// Connects to Redis (the server must be reachable now; later outages are survived) and starts listening on
    /// this node's channels. Call it on the runtime the hub runs on.
    pub async fn connect(config: RedisConfig) -> Result<RedisBroker, RedisAdapterError> {
        config.validate().map_err(RedisAdapterError::Config)?;
        let client = redis::Client::open(config.url.as_str())?;
        let manager_config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(config.command_timeout))
            .set_connection_timeout(Some(config.command_timeout))
            .set_min_delay(config.min_backoff)
            .set_max_delay(config.max_backoff)
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client.clone(), manager_config).await?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            keys: Keys::new(&config.prefix),
            config,
            scripts: Arc::new(Scripts::new()),
            conn,
            sink: OnceLock::new(),
            continuity: Continuity::default(),
            pending: Pending::default(),
            commands,
            connected: AtomicBool::new(false),
        });
        let (ready, connected) = oneshot::channel();
        let task = tokio::spawn(pubsub::run(shared.clone(), client, receiver, Some(ready)));
        let _ = tokio::time::timeout(shared.config.command_timeout * 2, connected).await;
        Ok(RedisBroker { shared, task })
    }

    /// Presence on the same Redis server, for [`HubBuilder::presence`](tidings_core::HubBuilder::presence).
    pub fn presence(&self) -> RedisPresence {
        RedisPresence::new(&self.shared)
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.shared.config.node_id
    }

    /// Whether the pub/sub connection to Redis is up.
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }
}

impl Drop for RedisBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[async_trait]
impl Broker for RedisBroker {
    fn attach(&self, sink: Arc<dyn BrokerSink>) {
        if self.shared.sink.set(sink).is_err() {
            tracing::warn!("RedisBroker attached to a second hub; deliveries keep going to the first");
        }
    }

    async fn publish(&self, topic: &str, data: Arc<RawValue>) -> Result<StreamPosition, BrokerError> {
        let shared = &self.shared;
        let config = &shared.config;
        let result: redis::RedisResult<(String, u64)> = shared
            .scripts
            .publish
            .key(shared.keys.meta(topic))
            .key(shared.keys.history(topic))
            .arg(data.get())
            .arg(config.history_size)
            .arg(config.history_ttl.as_secs().max(1))
            .arg(config.meta_ttl.as_secs().max(1))
            .arg(random_epoch())
            .arg(shared.keys.channel(topic))
            .invoke_async(&mut shared.conn.clone())
            .await;
        match result {
            Ok((epoch, offset)) => Ok(StreamPosition { offset, epoch }),
            Err(e) if is_unreachable(&e) => {
                // Local delivery goes on; the other nodes learn of the divergence when Redis is back.
                shared.continuity.deliver_local(shared, topic, data);
                Err(BrokerError::LocalOnly(format!("redis unreachable: {e}")))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn broadcast(&self, topic: &str, body: Bytes, exclude: Option<SessionId>) -> Result<(), BrokerError> {
        let exclude_text = exclude.as_ref().map_or("-", |s| s.as_str());
        let mut message = Vec::with_capacity(2 + exclude_text.len() + body.len());
        message.push(b'e');
        message.extend_from_slice(exclude_text.as_bytes());
        message.push(b' ');
        message.extend_from_slice(&body);
        let result: redis::RedisResult<u64> =
            self.shared.conn.clone().publish(self.shared.keys.channel(topic), message).await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unreachable(&e) => {
                if let Some(sink) = self.shared.sink() {
                    sink.deliver(tidings_core::Delivery::Event { topic: topic.into(), body, exclude });
                }
                Err(BrokerError::LocalOnly(format!("redis unreachable: {e}")))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn history(
        &self,
        topic: &str,
        since: Option<&StreamPosition>,
        limit: usize,
    ) -> Result<HistoryPage, BrokerError> {
        self.shared.history(topic, since, limit).await
    }

    async fn subscribe(&self, topic: &str) -> Result<(), BrokerError> {
        let shared = &self.shared;
        shared.continuity.track(topic);
        let (done, confirmed) = oneshot::channel();
        let sent = shared.commands.send(Command::Subscribe(shared.keys.channel(topic), done));
        let result = match sent {
            Ok(()) => confirmed.await.unwrap_or_else(|_| Err("the pub/sub task stopped".into())),
            Err(_) => Err("the pub/sub task stopped".into()),
        };
        if let Err(e) = result {
            shared.continuity.untrack(topic);
            return Err(BrokerError::Unavailable(format!("cannot subscribe to {topic:?} on redis: {e}")));
        }
        // Where the stream is now: what a later outage must be recovered from, if nothing arrives before it.
        match shared.history(topic, None, 0).await {
            Ok(page) => shared.continuity.set_floor(topic, page.position),
            Err(e) => tracing::debug!(topic, error = %e, "could not read the stream's position"),
        }
        Ok(())
    }

    async fn unsubscribe(&self, topic: &str) -> Result<(), BrokerError> {
        self.shared.continuity.untrack(topic);
        let _ = self.shared.commands.send(Command::Unsubscribe(self.shared.keys.channel(topic)));
        Ok(())
    }

    async fn register_session(&self, session: &str) -> Result<(), BrokerError> {
        let key = self.shared.keys.session(session);
        let node = self.shared.config.node_id.as_str();
        let result: redis::RedisResult<()> =
            self.shared.conn.clone().set_ex(key, node, SESSION_LOCATION_TTL_SECS).await;
        result.map_err(unavailable)
    }

    async fn unregister_session(&self, session: &str) -> Result<(), BrokerError> {
        let result: redis::RedisResult<u64> = self.shared.conn.clone().del(self.shared.keys.session(session)).await;
        result.map(|_| ()).map_err(unavailable)
    }

    async fn locate_session(&self, session: &str) -> Result<Option<String>, BrokerError> {
        let result: redis::RedisResult<Option<String>> =
            self.shared.conn.clone().get(self.shared.keys.session(session)).await;
        let node = result.map_err(unavailable)?;
        Ok(node.filter(|node| *node != self.shared.config.node_id))
    }

    async fn forward(&self, node: &str, service: &str, body: Bytes, timeout: Duration) -> Result<Bytes, BrokerError> {
        crate::forward::request(&self.shared, node, service, body, timeout).await
    }
}
