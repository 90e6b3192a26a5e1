//! The hub: the handle applications and transports share.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use serde::Serialize;
use serde_json::value::RawValue;
use tidings_protocol::{encode, CloseCode, Member, StreamPosition};
use tokio::sync::Notify;

use crate::auth::{Authenticator, NotConfigured, SharedAuthenticator};
use crate::broker::{Broker, BrokerError, BrokerSink, Delivery, ForwardFuture, HistoryPage, MemoryBroker};
use crate::close::Close;
use crate::closed::ClosedSessions;
use crate::cluster::ForwardService;
use crate::config::HubConfig;
use crate::handler::{ErasedHandler, Handler};
use crate::identity::SessionId;
use crate::limits::Counters;
use crate::metrics::Metrics;
use crate::presence::{MemoryPresence, Presence};
use crate::router::{PatternError, Router};
use crate::session::SessionRef;
use crate::subscribers::Subscribers;

/// The center of a Tidings application: topics, rooms, sessions and handlers. Cheap to clone (one `Arc`); every
/// clone is the same hub.
///
/// Build one with [`Hub::builder`], mount it on actix-web with the `tidings` crate, and publish from anywhere:
///
/// ```
/// # async fn example() -> Result<(), tidings_core::PublishError> {
/// let hub = tidings_core::Hub::builder().build().expect("valid configuration");
/// let position = hub.publish("ticker:AAPL", &serde_json::json!({ "price": 187.5 })).await?;
/// assert_eq!(position.offset, 1);
/// # Ok(()) }
/// # actix_rt::System::new().block_on(example()).unwrap();
/// ```
#[derive(Clone)]
pub struct Hub {
    pub(crate) inner: Arc<HubInner>,
}

pub(crate) struct HubInner {
    config: HubConfig,
    router: Router,
    broker: Arc<dyn Broker>,
    presence: Arc<dyn Presence>,
    pub(crate) subscribers: Subscribers,
    pub(crate) sessions: DashMap<SessionId, Arc<SessionRef>>,
    pub(crate) metrics: Arc<Metrics>,
    /// Topics whose publications are conflated for lagging clients (see [`HubBuilder::conflate`]).
    conflated: Router<()>,
    authenticator: SharedAuthenticator,
    counters: Counters,
    shutting_down: AtomicBool,
    session_ended: Notify,
    closed: ClosedSessions,
    pub(crate) forward_services: DashMap<&'static str, Arc<dyn ForwardService>>,
    /// Per topic: whether the broker was asked for its deliveries. Changes are made one at a time per topic (the
    /// lock), so that a subscribe and an unsubscribe racing on the same topic reach the broker in the order that
    /// leaves it matching the subscriber set.
    interest: DashMap<Arc<str>, Arc<tokio::sync::Mutex<bool>>>,
}

/// Why a publication failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The topic name is not valid.
    #[error("invalid topic: {0}")]
    BadTopic(#[from] tidings_protocol::topic::TopicError),
    /// The payload could not be encoded as JSON.
    #[error("payload could not be encoded as JSON: {0}")]
    Encode(#[from] serde_json::Error),
    /// The broker failed (see [`BrokerError`]).
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

impl Hub {
    /// Starts building a hub.
    pub fn builder() -> HubBuilder {
        HubBuilder::default()
    }

    /// The hub's limits.
    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// Publishes `data` to every subscriber and member of `topic`, on every node. Returns the publication's
    /// position. Callable from any thread or task.
    pub async fn publish<T: Serialize + ?Sized>(&self, topic: &str, data: &T) -> Result<StreamPosition, PublishError> {
        let raw = serde_json::value::to_raw_value(data)?;
        self.publish_raw(topic, raw.into()).await
    }

    /// Publishes an already-encoded JSON payload (no re-encoding: the text is forwarded as it is).
    pub async fn publish_raw(&self, topic: &str, data: Arc<RawValue>) -> Result<StreamPosition, PublishError> {
        tidings_protocol::topic::validate(topic)?;
        Ok(self.inner.broker.publish(topic, data).await?)
    }

    /// Reads a topic's retained history after `since` (from the oldest kept when `None`).
    pub async fn history(
        &self,
        topic: &str,
        since: Option<&StreamPosition>,
        limit: usize,
    ) -> Result<HistoryPage, BrokerError> {
        self.inner.broker.history(topic, since, limit).await
    }

    /// The members of a room, in join order.
    pub async fn presence_of(&self, room: &str) -> Result<Vec<Member>, BrokerError> {
        self.inner.presence.list(room).await
    }

    /// How many sessions this node holds.
    pub fn session_count(&self) -> usize {
        self.inner.sessions.len()
    }

    /// The ids of this node's sessions.
    pub fn session_ids(&self) -> Vec<SessionId> {
        self.inner.sessions.iter().map(|s| s.key().clone()).collect()
    }

    /// How many sessions of this node receive `topic`.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.inner.subscribers.count(topic)
    }

    /// Whether [`Hub::shutdown`] has begun: transports refuse new connections from then on.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::Acquire)
    }

    /// Closes every session with 1001 (going away) after the frames already queued for it are sent, refuses new
    /// ones, and waits up to `timeout` for the transports to finish their close handshakes. Returns how many
    /// sessions were still open when it gave up waiting.
    pub async fn shutdown(&self, timeout: Duration) -> usize {
        self.inner.shutting_down.store(true, Ordering::Release);
        let sessions: Vec<Arc<SessionRef>> = self.inner.sessions.iter().map(|s| s.value().clone()).collect();
        for session in sessions {
            session.close(Close::going_away());
        }
        let all_ended = async {
            loop {
                // Registered before the check, so that a session ending in between still wakes us.
                let ended = self.inner.session_ended.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                if self.inner.sessions.is_empty() {
                    break;
                }
                ended.await;
            }
        };
        let _ = tokio::time::timeout(timeout, all_ended).await;
        let left = self.inner.sessions.len();
        tracing::info!(sessions_left = left, "hub shut down");
        left
    }

    /// Waits until the session `id` has ended and left all its topics.
    #[cfg(any(test, feature = "testkit"))]
    pub(crate) async fn session_ended(&self, id: &SessionId) {
        loop {
            let ended = self.inner.session_ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if !self.inner.sessions.contains_key(id) {
                return;
            }
            ended.await;
        }
    }

    pub(crate) fn route(&self, topic: &str) -> Option<Arc<dyn ErasedHandler>> {
        self.inner.router.route(topic).cloned()
    }

    pub(crate) fn broker(&self) -> &dyn Broker {
        &*self.inner.broker
    }

    pub(crate) fn presence(&self) -> &dyn Presence {
        &*self.inner.presence
    }

    pub(crate) fn register(&self, session: &Arc<SessionRef>) {
        self.inner.counters.add(session.peer, session.identity.user.as_deref());
        self.inner.sessions.insert(session.id.clone(), session.clone());
        // A shutdown that began while this session was being created must still close it.
        if self.is_shutting_down() {
            session.outbox.close(Close::going_away());
        }
    }

    pub(crate) fn authenticator(&self) -> &dyn Authenticator {
        &*self.inner.authenticator
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    pub(crate) fn session_ref(&self, id: &str) -> Option<Arc<SessionRef>> {
        self.inner.sessions.get(id).map(|s| s.value().clone())
    }

    /// The client of `session` closed it: a late request naming it gets a close, not a new session.
    pub(crate) fn closed_by_client(&self, session: &SessionId) {
        self.inner.closed.insert(session);
    }

    /// Whether the client of session `id` closed it (recently: see `ClosedSessions`).
    pub(crate) fn was_closed_by_client(&self, id: &str) -> bool {
        self.inner.closed.contains(id)
    }

    pub(crate) fn unregister(&self, session: &SessionId) {
        if let Some((_, session)) = self.inner.sessions.remove(session) {
            self.inner.counters.remove(session.peer, session.identity.user.as_deref());
        }
        self.inner.session_ended.notify_waiters();
    }

    /// Makes `session` a local subscriber of `topic`, asking the broker for the topic if it is new on this node.
    /// Returns once the broker delivers the topic here.
    pub(crate) async fn add_subscriber(&self, topic: &str, session: &Arc<SessionRef>) -> Result<(), BrokerError> {
        self.inner.subscribers.add(topic, session);
        if let Err(e) = self.sync_interest(topic).await {
            self.inner.subscribers.remove(topic, &session.id);
            // Leaves the broker subscribed only if others still want the topic.
            let _ = self.sync_interest(topic).await;
            return Err(e);
        }
        Ok(())
    }

    pub(crate) async fn remove_subscriber(&self, topic: &str, session: &SessionId) {
        if self.inner.subscribers.remove(topic, session) {
            if let Err(e) = self.sync_interest(topic).await {
                tracing::warn!(topic, error = %e, "broker unsubscribe failed");
            }
        }
    }

    /// Tells the broker whether this node wants `topic`, from the subscriber set as it is once the topic's lock is
    /// held: whatever order racing subscribes and unsubscribes take, the last word matches the set.
    async fn sync_interest(&self, topic: &str) -> Result<(), BrokerError> {
        let (lock, mut subscribed) = loop {
            let lock = self.inner.interest.entry(topic.into()).or_default().clone();
            let subscribed = lock.lock_owned().await;
            // The entry may have been dropped (and another made) while this task waited for it: go by the current one.
            if self.inner.interest.get(topic).is_some_and(|current| Arc::ptr_eq(&current, &lock_of(&subscribed))) {
                break (lock_of(&subscribed), subscribed);
            }
        };
        let wanted = self.inner.subscribers.count(topic) > 0;
        if wanted && !*subscribed {
            self.inner.broker.subscribe(topic).await?;
            *subscribed = true;
        } else if !wanted && *subscribed {
            *subscribed = false;
            self.inner.broker.unsubscribe(topic).await?;
        }
        if !*subscribed {
            // Nothing to remember; a later subscriber creates the entry again. Removed while the lock is held, so
            // that a task waiting on it sees it is stale.
            self.inner.interest.remove_if(topic, |_, entry| Arc::ptr_eq(entry, &lock));
        }
        Ok(())
    }
}

/// The mutex an owned guard locks.
fn lock_of(guard: &tokio::sync::OwnedMutexGuard<bool>) -> Arc<tokio::sync::Mutex<bool>> {
    tokio::sync::OwnedMutexGuard::mutex(guard).clone()
}

impl Hub {}

/// Delivers what the broker hands over to this node's subscribers. Holds the hub weakly: the broker is owned by
/// the hub, and a strong reference back would keep both alive forever.
struct HubSink(Weak<HubInner>);

impl BrokerSink for HubSink {
    fn deliver(&self, delivery: Delivery) {
        let Some(hub) = self.0.upgrade() else { return };
        match delivery {
            Delivery::Publication(p) => {
                let body = || encode::publication_body(&p.topic, &p.position, &p.data);
                let conflate = !hub.conflated.is_empty() && hub.conflated.route(&p.topic).is_some();
                let delivered = hub.subscribers.deliver(&p.topic, None, Some(&p.position), conflate, body);
                Metrics::add(&hub.metrics.publications, 1);
                Metrics::add(&hub.metrics.messages_out, delivered.queued);
                if delivered.replaced > 0 {
                    Metrics::add(&hub.metrics.conflated, delivered.replaced);
                }
            }
            Delivery::Event { topic, body, exclude } => {
                let delivered = hub.subscribers.deliver(&topic, exclude.as_ref(), None, false, || body);
                Metrics::add(&hub.metrics.messages_out, delivered.queued);
            }
            Delivery::Reset { topic, reason } => {
                let sessions = hub.subscribers.sessions(&topic);
                tracing::warn!(%topic, reason, sessions = sessions.len(), "topic continuity lost; closing its subscribers");
                for session in sessions {
                    session.close(Close::new(CloseCode::INSUFFICIENT_STATE, reason.clone()));
                }
            }
        }
    }

    fn forwarded(&self, service: &str, body: Bytes) -> ForwardFuture {
        let Some(hub) = self.0.upgrade() else {
            return Box::pin(async { Err("this node is shutting down".to_owned()) });
        };
        let Some(handler) = hub.forward_services.get(service).map(|s| s.value().clone()) else {
            let service = service.to_owned();
            return Box::pin(async move { Err(format!("no forwarded service {service:?} on this node")) });
        };
        handler.call(Hub { inner: hub }, body)
    }
}

/// Builds a [`Hub`].
///
/// ```
/// use tidings_core::{async_trait, Handler, Hub, HubConfig};
///
/// struct Ticker;
/// #[async_trait]
/// impl Handler for Ticker {
///     type Join = ();
///     type Message = ();
///     type Reply = ();
/// }
///
/// let hub = Hub::builder()
///     .handler("ticker:*", Ticker)
///     .config(HubConfig { max_subscriptions: 500, ..Default::default() })
///     .build()
///     .unwrap();
/// # drop(hub);
/// ```
#[derive(Default)]
pub struct HubBuilder {
    config: HubConfig,
    handlers: Vec<(String, Arc<dyn ErasedHandler>)>,
    conflated: Vec<String>,
    broker: Option<Arc<dyn Broker>>,
    presence: Option<Arc<dyn Presence>>,
    authenticator: Option<SharedAuthenticator>,
}

impl HubBuilder {
    /// Registers the handler for topics matching `pattern`: a topic name, or a prefix ending in `*` (`chat:*`).
    /// Only topics with a handler can be subscribed to, joined, messaged or published to by clients.
    pub fn handler(mut self, pattern: impl Into<String>, handler: impl Handler) -> Self {
        self.handlers.push((pattern.into(), Arc::new(handler)));
        self
    }

    /// Conflates the publications of topics matching `pattern` (a topic, or a prefix ending in `*`) for clients
    /// that fall behind: a publication still waiting in a client's queue when a newer one of the same topic
    /// arrives is replaced by it. A client whose queue is empty whenever a publication arrives receives every
    /// one; a lagging one receives the latest value of each topic instead of a growing backlog (the number of
    /// those publications never makes it a slow consumer; the byte limit still applies). For topics whose
    /// publications each carry the whole current state: prices, positions, gauges. Offsets of a conflated topic
    /// skip for such a client (and only increase); its recovery from history is unchanged. See
    /// `docs/guide/topics.md`.
    ///
    /// ```
    /// use tidings_core::{AllowAnonymous, Hub, OpenTopic};
    /// let hub = Hub::builder()
    ///     .handler("ticker:*", OpenTopic)
    ///     .conflate("ticker:*")
    ///     .authenticator(AllowAnonymous)
    ///     .build()
    ///     .unwrap();
    /// # drop(hub);
    /// ```
    pub fn conflate(mut self, pattern: impl Into<String>) -> Self {
        self.conflated.push(pattern.into());
        self
    }

    /// Sets the limits.
    pub fn config(mut self, config: HubConfig) -> Self {
        self.config = config;
        self
    }

    /// Uses `broker` instead of the default [`MemoryBroker`].
    pub fn broker(mut self, broker: impl Broker) -> Self {
        self.broker = Some(Arc::new(broker));
        self
    }

    /// Decides who may connect. Without one the hub refuses every connection with 401: accepting anonymous
    /// clients takes [`AllowAnonymous`](crate::AllowAnonymous).
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// Uses `presence` instead of the default [`MemoryPresence`].
    pub fn presence(mut self, presence: impl Presence) -> Self {
        self.presence = Some(Arc::new(presence));
        self
    }

    /// Builds the hub. Fails when a pattern is invalid or registered twice.
    pub fn build(self) -> Result<Hub, PatternError> {
        let mut router = Router::default();
        for (pattern, handler) in self.handlers {
            router.add(&pattern, handler)?;
        }
        let mut conflated = Router::default();
        for pattern in &self.conflated {
            match conflated.add(pattern, ()) {
                Ok(()) | Err(PatternError::Duplicate(_)) => {}
                Err(invalid) => return Err(invalid),
            }
        }
        let broker = self.broker.unwrap_or_else(|| Arc::new(MemoryBroker::default()));
        let inner = Arc::new(HubInner {
            metrics: Arc::default(),
            conflated,
            closed: ClosedSessions::new(self.config.resume_window),
            forward_services: DashMap::new(),
            interest: DashMap::new(),
            config: self.config,
            router,
            broker: broker.clone(),
            presence: self.presence.unwrap_or_else(|| Arc::new(MemoryPresence::default())),
            subscribers: Subscribers::default(),
            sessions: DashMap::new(),
            authenticator: self.authenticator.unwrap_or_else(|| Arc::new(NotConfigured)),
            counters: Counters::default(),
            shutting_down: AtomicBool::new(false),
            session_ended: Notify::new(),
        });
        broker.attach(Arc::new(HubSink(Arc::downgrade(&inner))));
        Ok(Hub { inner })
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("sessions", &self.session_count()).finish_non_exhaustive()
    }
}
