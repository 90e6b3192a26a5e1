//! Node-level continuity of each topic this node receives.
//!
//! Redis pub/sub is at-most-once: a node whose connection drops misses what was published meanwhile. Offsets make
//! every loss visible: a publication that does not follow the last one delivered here (a hole, or another epoch)
//! holds the topic's deliveries back while the missing ones are read from history and delivered first, in order.
//! When history cannot fill the hole, or the stream was reset, the topic's local subscribers are closed with 4004
//! (`Delivery::Reset`) and their clients are told of the gap when they subscribe again with `since`. The same check
//! runs for every topic after the pub/sub connection comes back.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::Mutex;
use serde_json::value::RawValue;
use tidings_core::{Delivery, Publication};
use tidings_protocol::StreamPosition;

use crate::broker::Shared;

/// Publications held back during one recovery; beyond that the topic is reset rather than buffered further.
const MAX_HELD: usize = 65_536;
/// A history page read while recovering.
const PAGE: usize = 1024;
/// How long recovery retries while Redis does not answer, before it gives up and resets the topic.
const RETRIES: u32 = 50;
const RETRY_DELAY: Duration = Duration::from_millis(200);

#[derive(Default)]
pub(crate) struct Continuity {
    topics: DashMap<Arc<str>, Arc<Mutex<Tracker>>>,
    /// Topics that got publications on this node only while Redis was unreachable.
    diverged: Mutex<HashSet<Arc<str>>>,
    /// Whether a task is resetting the diverged topics.
    resetting: AtomicBool,
}

#[derive(Default)]
struct Tracker {
    /// The last publication delivered here.
    last: Option<StreamPosition>,
    /// Where the stream was when this node subscribed, until a publication arrives.
    floor: Option<StreamPosition>,
    /// While a recovery runs: the publications that arrived meanwhile.
    held: Option<Vec<Publication>>,
    /// Offsets given to local-only publications (while Redis is unreachable).
    local_offset: u64,
}

impl Continuity {
    pub(crate) fn track(&self, topic: &str) {
        self.topics.entry(topic.into()).or_default();
    }

    pub(crate) fn topics(&self) -> Vec<Arc<str>> {
        self.topics.iter().map(|t| t.key().clone()).collect()
    }

    pub(crate) fn untrack(&self, topic: &str) {
        self.topics.remove(topic);
    }

    pub(crate) fn set_floor(&self, topic: &str, position: StreamPosition) {
        if let Some(tracker) = self.tracker(topic) {
            let mut tracker = tracker.lock();
            if tracker.last.is_none() {
                tracker.floor = Some(position);
            }
        }
    }

    fn tracker(&self, topic: &str) -> Option<Arc<Mutex<Tracker>>> {
        self.topics.get(topic).map(|t| t.value().clone())
    }

    /// A publication from Redis pub/sub.
    pub(crate) fn receive(&self, shared: &Arc<Shared>, publication: Publication) {
        let Some(tracker) = self.tracker(&publication.topic) else { return };
        let mut t = tracker.lock();
        if let Some(held) = &mut t.held {
            if held.len() < MAX_HELD {
                held.push(publication);
            }
            return;
        }
        let position = &publication.position;
        match &t.last {
            Some(last) if last.epoch == position.epoch && position.offset <= last.offset => {}
            Some(last) if last.epoch == position.epoch && position.offset == last.offset + 1 => {
                t.last = Some(position.clone());
                deliver(shared, publication);
            }
            // The first publication since subscribing: it must follow the position read then (a stream that did
            // not exist then starts at offset 1, in an epoch nobody knew).
            None if t
                .floor
                .as_ref()
                .is_none_or(|f| position.offset <= f.offset + 1 && (f.epoch == position.epoch || f.offset == 0)) =>
            {
                t.last = Some(position.clone());
                deliver(shared, publication);
            }
            _ => {
                tracing::info!(topic = %publication.topic, offset = position.offset, "publications missing; recovering them from history");
                let topic = publication.topic.clone();
                t.held = Some(vec![publication]);
                drop(t);
                tokio::spawn(recover(shared.clone(), topic, tracker.clone()));
            }
        }
    }

    /// After a reconnect: checks every topic for publications missed while the connection was down.
    pub(crate) fn check_all(&self, shared: &Arc<Shared>) {
        for entry in self.topics.iter() {
            let mut t = entry.value().lock();
            if t.held.is_none() && (t.last.is_some() || t.floor.is_some()) {
                t.held = Some(Vec::new());
                tokio::spawn(recover(shared.clone(), entry.key().clone(), entry.value().clone()));
            }
        }
    }

    /// A publication made while Redis is unreachable reaches this node's subscribers, in an epoch of this node's
    /// own, so that any position taken from it reads as a gap later.
    pub(crate) fn deliver_local(&self, shared: &Arc<Shared>, topic: &str, data: Arc<RawValue>) {
        let Some(tracker) = self.tracker(topic) else { return };
        self.diverged.lock().insert(topic.into());
        let mut t = tracker.lock();
        t.local_offset += 1;
        let position = StreamPosition { offset: t.local_offset, epoch: format!("{}-local", shared.config.node_id) };
        t.last = Some(position.clone());
        deliver(shared, Publication { topic: topic.into(), position, data });
    }

    /// Resets the topics that diverged while Redis was unreachable, unless a reset already runs: each gets a new
    /// epoch, and every node is told (see `pubsub`). A topic whose reset fails stays for the next attempt.
    pub(crate) fn reset_diverged(&self, shared: &Arc<Shared>) {
        if self.diverged.lock().is_empty() || self.resetting.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let topics: Vec<Arc<str>> = shared.continuity.diverged.lock().drain().collect();
            for topic in topics {
                if !crate::pubsub::reset_everywhere(&shared, &topic).await {
                    shared.continuity.diverged.lock().insert(topic);
                }
            }
            shared.continuity.resetting.store(false, Ordering::Release);
        });
    }

    /// Another node (or this one) reset the topic's stream: its subscribers here are told.
    pub(crate) fn reset(&self, shared: &Arc<Shared>, topic: &str, reason: &str) {
        let Some(tracker) = self.tracker(topic) else { return };
        let mut t = tracker.lock();
        t.last = None;
        t.floor = None;
        send_reset(shared, topic, reason);
    }
}

fn deliver(shared: &Shared, publication: Publication) {
    if let Some(sink) = shared.sink() {
        sink.deliver(Delivery::Publication(publication));
    }
}

fn send_reset(shared: &Shared, topic: &str, reason: &str) {
    if let Some(sink) = shared.sink() {
        sink.deliver(Delivery::Reset { topic: topic.into(), reason: reason.to_owned() });
    }
}

/// Fills the topic's hole from history, then delivers what was held back, until the stream here is contiguous.
async fn recover(shared: Arc<Shared>, topic: Arc<str>, tracker: Arc<Mutex<Tracker>>) {
    let mut failures = 0;
    loop {
        // The node stopped receiving the topic (and maybe started again, with a tracker of its own): done.
        if !shared.continuity.tracker(&topic).is_some_and(|current| Arc::ptr_eq(&current, &tracker)) {
            return;
        }
        let since = {
            let t = tracker.lock();
            t.last.clone().or_else(|| t.floor.clone())
        };
        let page = match &since {
            Some(since) => match shared.history(&topic, Some(since), PAGE).await {
                Ok(page) => Some(page),
                Err(e) => {
                    failures += 1;
                    if failures < RETRIES {
                        tracing::debug!(%topic, error = %e, "history unavailable; retrying the recovery");
                        tokio::time::sleep(RETRY_DELAY).await;
                        continue;
                    }
                    tracing::warn!(%topic, error = %e, "history stayed unavailable; resetting the topic");
                    None
                }
            },
            None => None,
        };
        let mut t = tracker.lock();
        let Some(held) = t.held.take() else { return };
        match page {
            Some(page) if !page.gap() && held.len() < MAX_HELD => {
                let mut last = since.expect("a page was read from a position");
                // Without a gap, a position in another epoch can only be "seen nothing" (offset 0).
                last.epoch.clone_from(&page.position.epoch);
                for publication in page.publications {
                    if publication.position.offset > last.offset {
                        last = publication.position.clone();
                        deliver(&shared, publication);
                    }
                }
                let more_history = last.offset < page.position.offset;
                let mut rest = held;
                rest.sort_by_key(|p| p.position.offset);
                let mut waiting = Vec::new();
                for publication in rest {
                    let position = &publication.position;
                    if position.epoch == last.epoch && position.offset <= last.offset {
                        continue;
                    }
                    if waiting.is_empty() && position.epoch == last.epoch && position.offset == last.offset + 1 {
                        last = position.clone();
                        deliver(&shared, publication);
                    } else {
                        waiting.push(publication);
                    }
                }
                t.last = Some(last);
                if !more_history && waiting.is_empty() {
                    tracing::debug!(%topic, "stream contiguous again");
                    return;
                }
                // Still a hole (history read in pages, or it moved on meanwhile): another round.
                t.held = Some(waiting);
            }
            _ => {
                // History cannot fill the hole: the subscribers here must learn of the gap from history itself.
                send_reset(&shared, &topic, "publications were lost between nodes; subscribe again with since");
                t.last = None;
                t.floor = None;
                let mut rest = held;
                rest.sort_by_key(|p| p.position.offset);
                for publication in rest {
                    t.last = Some(publication.position.clone());
                    deliver(&shared, publication);
                }
                return;
            }
        }
    }
}
