//! The in-process broker: offsets, bounded history and delivery within one node.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use dashmap::DashMap;
use parking_lot::Mutex;
use serde_json::value::RawValue;
use tidings_protocol::StreamPosition;

use super::{Broker, BrokerError, BrokerSink, Delivery, HistoryPage, Publication};
use crate::identity::SessionId;

/// How much history [`MemoryBroker`] keeps.
#[derive(Debug, Clone)]
pub struct MemoryBrokerConfig {
    /// Publications kept per topic; older ones are dropped.
    pub history_size: usize,
    /// How long a publication stays in history.
    pub history_ttl: Duration,
}

impl Default for MemoryBrokerConfig {
    fn default() -> Self {
        MemoryBrokerConfig { history_size: 256, history_ttl: Duration::from_secs(600) }
    }
}

/// The embedded broker for a single node, and the hub's default.
///
/// Each topic's history lives in memory, bounded by count and age. A topic's log is created by its first
/// publication with a fresh random epoch, and dropped once all its publications have expired (reads never create
/// one), so memory follows what was published recently, not every topic ever named. A client holding an offset
/// from a dropped log, or from before a restart, gets `gap: true` rather than the wrong messages.
///
/// ```
/// use tidings_core::{Hub, MemoryBroker, MemoryBrokerConfig};
/// let broker = MemoryBroker::new(MemoryBrokerConfig { history_size: 1000, ..Default::default() });
/// let hub = Hub::builder().broker(broker).build().unwrap();
/// # drop(hub);
/// ```
pub struct MemoryBroker {
    config: MemoryBrokerConfig,
    logs: DashMap<Arc<str>, Arc<Mutex<TopicLog>>>,
    sink: OnceLock<Arc<dyn BrokerSink>>,
    /// The epoch reported for topics without a log; no log ever gets it.
    empty_epoch: Arc<str>,
    created: Instant,
    /// Milliseconds after `created` of the last sweep for expired logs.
    last_sweep_ms: AtomicU64,
}

struct TopicLog {
    epoch: Arc<str>,
    /// Offset of the latest publication; 0 before the first.
    last_offset: u64,
    entries: VecDeque<(Instant, Publication)>,
}

fn random_epoch() -> Arc<str> {
    let bits: u64 = rand::random();
    format!("{bits:016x}").into()
}

impl TopicLog {
    fn new() -> Self {
        TopicLog { epoch: random_epoch(), last_offset: 0, entries: VecDeque::new() }
    }

    fn position(&self) -> StreamPosition {
        StreamPosition { offset: self.last_offset, epoch: self.epoch.to_string() }
    }

    fn expire(&mut self, config: &MemoryBrokerConfig, now: Instant) {
        while self.entries.len() > config.history_size {
            self.entries.pop_front();
        }
        while self.entries.front().is_some_and(|(at, _)| now.duration_since(*at) > config.history_ttl) {
            self.entries.pop_front();
        }
    }
}

impl MemoryBroker {
    /// A broker with the given history bounds.
    pub fn new(config: MemoryBrokerConfig) -> Self {
        MemoryBroker {
            config,
            logs: DashMap::new(),
            sink: OnceLock::new(),
            empty_epoch: random_epoch(),
            created: Instant::now(),
            last_sweep_ms: AtomicU64::new(0),
        }
    }

    /// The topic's log, created if this is its first publication.
    fn log_for_publish(&self, topic: &str) -> Arc<Mutex<TopicLog>> {
        if let Some(log) = self.logs.get(topic) {
            return log.clone();
        }
        self.sweep();
        self.logs.entry(topic.into()).or_insert_with(|| Arc::new(Mutex::new(TopicLog::new()))).clone()
    }

    /// Drops the logs whose publications have all expired, at most four times per TTL. Run when a new log is
    /// about to be created, which is when the number of logs can grow.
    fn sweep(&self) {
        let now_ms = self.created.elapsed().as_millis() as u64;
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        let period = (self.config.history_ttl.as_millis() as u64 / 4).max(1);
        if now_ms.saturating_sub(last) < period
            || self.last_sweep_ms.compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        let now = Instant::now();
        self.logs.retain(|_, log| {
            let mut log = log.lock();
            log.expire(&self.config, now);
            !log.entries.is_empty()
        });
    }

    fn deliver(&self, delivery: Delivery) {
        if let Some(sink) = self.sink.get() {
            sink.deliver(delivery);
        }
    }
}

impl Default for MemoryBroker {
    fn default() -> Self {
        MemoryBroker::new(MemoryBrokerConfig::default())
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    fn attach(&self, sink: Arc<dyn BrokerSink>) {
        if self.sink.set(sink).is_err() {
            tracing::warn!("MemoryBroker attached to a second hub; deliveries keep going to the first");
        }
    }

    async fn publish(&self, topic: &str, data: Arc<RawValue>) -> Result<StreamPosition, BrokerError> {
        let log = self.log_for_publish(topic);
        let mut log = log.lock();
        log.last_offset += 1;
        let position = log.position();
        let publication = Publication { topic: topic.into(), position: position.clone(), data };
        if self.config.history_size > 0 {
            log.entries.push_back((Instant::now(), publication.clone()));
            log.expire(&self.config, Instant::now());
        }
        // Delivered under the topic's lock, so that concurrent publishers cannot deliver out of offset order.
        self.deliver(Delivery::Publication(publication));
        Ok(position)
    }

    async fn broadcast(&self, topic: &str, body: Bytes, exclude: Option<SessionId>) -> Result<(), BrokerError> {
        self.deliver(Delivery::Event { topic: topic.into(), body, exclude });
        Ok(())
    }

    async fn history(
        &self,
        topic: &str,
        since: Option<&StreamPosition>,
        limit: usize,
    ) -> Result<HistoryPage, BrokerError> {
        let Some(log) = self.logs.get(topic).map(|log| log.clone()) else {
            // Nothing retained. Offset 0 ("seen nothing") in any epoch has missed nothing; a later offset has.
            let position = StreamPosition { offset: 0, epoch: self.empty_epoch.to_string() };
            return Ok(HistoryPage { publications: Vec::new(), position, missed: super::missed_without_stream(since) });
        };
        let mut log = log.lock();
        log.expire(&self.config, Instant::now());
        let position = log.position();
        let oldest_kept = log.entries.front().map_or(log.last_offset + 1, |(_, p)| p.position.offset);
        let (first, missed) = super::read_window(since, &log.epoch, log.last_offset, oldest_kept);
        let publications =
            log.entries.iter().map(|(_, p)| p).filter(|p| p.position.offset >= first).take(limit).cloned().collect();
        Ok(HistoryPage { publications, position, missed })
    }

    async fn subscribe(&self, _topic: &str) -> Result<(), BrokerError> {
        // One node: every publication is delivered locally anyway.
        Ok(())
    }

    async fn unsubscribe(&self, _topic: &str) -> Result<(), BrokerError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(n: u64) -> Arc<RawValue> {
        serde_json::value::to_raw_value(&n).unwrap().into()
    }

    #[actix_rt::test]
    async fn offsets_history_and_gaps() {
        let broker = MemoryBroker::new(MemoryBrokerConfig { history_size: 3, ..Default::default() });
        crate::testkit::brokers::check_history_rules(&broker, "t").await;
    }

    #[actix_rt::test]
    async fn reads_create_nothing_and_expired_logs_are_dropped() {
        let config = MemoryBrokerConfig { history_size: 10, history_ttl: Duration::from_millis(40) };
        let broker = MemoryBroker::new(config);
        for n in 0..100 {
            let page = broker.history(&format!("probe:{n}"), None, 10).await.unwrap();
            assert_eq!((page.position.offset, page.gap()), (0, false));
        }
        assert!(broker.logs.is_empty(), "reading unknown topics must not allocate logs");

        let old = broker.publish("old", raw(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        broker.publish("new", raw(1)).await.unwrap();
        assert!(broker.logs.get("old").is_none(), "the expired log was swept when a new one was created");
        // A reader of the dropped log is told it has a gap; one that had seen nothing is not.
        assert!(broker.history("old", Some(&old), 10).await.unwrap().gap());
        let nothing_seen = StreamPosition { offset: 0, epoch: "whatever".into() };
        assert!(!broker.history("new", Some(&nothing_seen), 10).await.unwrap().gap());
    }

    #[actix_rt::test]
    async fn history_expires_by_age() {
        let config = MemoryBrokerConfig { history_size: 10, history_ttl: Duration::from_millis(30) };
        let broker = MemoryBroker::new(config);
        broker.publish("t", raw(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        let page = broker.history("t", None, 10).await.unwrap();
        assert!(page.publications.is_empty());
        assert_eq!(page.position.offset, 1);
    }
}
