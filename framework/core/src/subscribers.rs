//! Node-local fan-out: which sessions of this node receive each topic.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use tidings_protocol::encode::EncodingCache;

use crate::identity::SessionId;
use crate::session::SessionRef;

/// Sessions by topic. Fan-out holds the topic's shard read lock while it pushes into each session's outbox, which
/// is a short lock and a `Notify` per recipient; it never waits on a session.
#[derive(Default)]
pub(crate) struct Subscribers {
    topics: DashMap<Arc<str>, HashMap<SessionId, Arc<SessionRef>>>,
}

impl Subscribers {
    /// Adds a session to a topic; true when it is the topic's first local subscriber.
    pub(crate) fn add(&self, topic: &str, session: &Arc<SessionRef>) -> bool {
        let mut sessions = self.topics.entry(topic.into()).or_default();
        let first = sessions.is_empty();
        sessions.insert(session.id.clone(), session.clone());
        first
    }

    /// Removes a session from a topic; true when the topic has no local subscriber left.
    pub(crate) fn remove(&self, topic: &str, session: &SessionId) -> bool {
        if let Some(mut sessions) = self.topics.get_mut(topic) {
            sessions.remove(session);
        }
        self.topics.remove_if(topic, |_, sessions| sessions.is_empty()).is_some()
    }

    /// Pushes a frame body to every local subscriber of `topic` but `exclude`. The body is built only if there is
    /// at least one recipient, and once for all of them. `offset` is the publication's, when the body is one;
    /// `conflate` when it may replace the topic's previous publication in a lagging session's queue.
    /// Returns how many sessions it was queued for.
    pub(crate) fn deliver(
        &self,
        topic: &str,
        exclude: Option<&SessionId>,
        offset: Option<u64>,
        conflate: bool,
        body: impl FnOnce() -> Bytes,
    ) -> usize {
        let Some(sessions) = self.topics.get(topic) else { return 0 };
        let body = body();
        // One cache for every copy, so that a transport compresses (or otherwise re-encodes) the body once.
        let cache = Arc::new(EncodingCache::default());
        let mut delivered = 0;
        for (id, session) in sessions.iter() {
            let publication = offset.map(|offset| (topic, offset));
            if Some(id) != exclude
                && session.push_shared(body.clone(), Some(cache.clone()), publication, conflate).is_ok()
            {
                delivered += 1;
            }
        }
        delivered
    }

    /// The sessions of this node that receive `topic`.
    pub(crate) fn sessions(&self, topic: &str) -> Vec<Arc<SessionRef>> {
        self.topics.get(topic).map(|s| s.values().cloned().collect()).unwrap_or_default()
    }

    /// Every topic with sessions of this node, and how many.
    pub(crate) fn counts(&self) -> Vec<(String, usize)> {
        self.topics.iter().map(|entry| (entry.key().to_string(), entry.value().len())).collect()
    }

    /// How many sessions of this node receive `topic`.
    pub(crate) fn count(&self, topic: &str) -> usize {
        self.topics.get(topic).map_or(0, |s| s.len())
    }
}
