//! The hub's own metrics: counters kept on the hot paths with one relaxed atomic add each (per publication, not per
//! delivery, on the fan-out path; per replacement when a lagging client's topic is conflated), and a snapshot for
//! dashboards and exporters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters shared by the hub and its sessions.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) messages_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) publications: AtomicU64,
    pub(crate) slow_consumer_drops: AtomicU64,
    pub(crate) conflated: AtomicU64,
}

impl Metrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A snapshot of what a hub is doing, from [`Hub::metrics`](crate::Hub::metrics). Counters (`messages_in` and the
/// rest) only grow, from the hub's start: a rate is the difference of two snapshots over the time between them.
/// Everything is this node's own; with a cluster broker, add up the nodes' snapshots.
///
/// ```
/// # actix_rt::System::new().block_on(async {
/// let hub = tidings_core::Hub::builder().build().unwrap();
/// hub.publish("news:home", &"hello").await.unwrap();
/// let metrics = hub.metrics();
/// assert_eq!((metrics.sessions, metrics.publications), (0, 1));
/// # });
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HubMetrics {
    /// Live sessions, connected or waiting for their client to resume.
    pub sessions: usize,
    /// Live sessions by the transport that carries (or last carried) each: `"websocket"`, `"sse"`, `"longpoll"`,
    /// or a custom transport's name. A long-polling client counts while its session lives, not only during a poll.
    /// `"unknown"`: a custom transport that attaches sessions itself without
    /// [`Attachment::carried_by`](crate::Attachment::carried_by).
    pub connections: BTreeMap<&'static str, usize>,
    /// Frames received from clients (requests and messages; acknowledgements are not counted).
    pub messages_in: u64,
    /// Frames queued to clients: publications (one per recipient; a publication that replaced an unsent one counts
    /// in `conflated` instead), replies, presence events. Publications recovered from history are not counted.
    pub messages_out: u64,
    /// Publications delivered to this node (made here, or on other nodes for topics this node has subscribers to).
    pub publications: u64,
    /// Sessions that fell too far behind (close code 4000), each counted once: closed because their queue
    /// overflowed, or disconnected because their client accepted nothing within the write timeout while frames
    /// were being sent (such a session may still resume).
    pub slow_consumer_drops: u64,
    /// Publications that replaced an older one of the same topic in a lagging client's queue (topics registered
    /// with [`HubBuilder::conflate`](crate::HubBuilder::conflate)).
    pub conflated: u64,
}

impl HubMetrics {
    pub(crate) fn counters(metrics: &Metrics) -> Self {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        HubMetrics {
            messages_in: read(&metrics.messages_in),
            messages_out: read(&metrics.messages_out),
            publications: read(&metrics.publications),
            slow_consumer_drops: read(&metrics.slow_consumer_drops),
            conflated: read(&metrics.conflated),
            ..HubMetrics::default()
        }
    }
}

/// A topic and how many of this node's sessions receive it, from [`Hub::topics`](crate::Hub::topics).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopicSubscribers {
    /// The topic.
    pub topic: String,
    /// Sessions of this node subscribed to it or joined to it.
    pub subscribers: usize,
}

impl crate::Hub {
    /// What this hub is doing now: sessions by transport, and its counters (see [`HubMetrics`]). Walks the
    /// sessions: meant for a dashboard or an exporter once a second, not for every message.
    pub fn metrics(&self) -> HubMetrics {
        let mut snapshot = HubMetrics::counters(&self.inner.metrics);
        for session in self.inner.sessions.iter() {
            *snapshot.connections.entry(*session.transport.lock()).or_default() += 1;
        }
        snapshot.sessions = self.inner.sessions.len();
        snapshot
    }

    /// Every topic that sessions of this node subscribed to or joined, with how many, most subscribed first.
    pub fn topics(&self) -> Vec<TopicSubscribers> {
        let mut topics: Vec<_> = self
            .inner
            .subscribers
            .counts()
            .into_iter()
            .map(|(topic, subscribers)| TopicSubscribers { topic, subscribers })
            .collect();
        topics.sort_by(|a, b| b.subscribers.cmp(&a.subscribers).then_with(|| a.topic.cmp(&b.topic)));
        topics
    }
}
