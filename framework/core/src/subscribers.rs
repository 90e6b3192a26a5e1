//! Node-local fan-out: which sessions of this node receive each topic.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use tidings_protocol::encode::EncodingCache;
use tidings_protocol::StreamPosition;

use crate::identity::SessionId;
use crate::session::{Queued, SessionRef};

/// What one fan-out did: frames queued (or held for a recovering session), and unsent publications replaced.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Delivered {
    pub(crate) queued: u64,
    pub(crate) replaced: u64,
}

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
    /// at least one recipient, and once for all of them. `position` is the publication's, when the body is one;
    /// `conflate` when it may replace the topic's previous publication in a lagging session's queue.
    pub(crate) fn deliver(
        &self,
        topic: &str,
        exclude: Option<&SessionId>,
        position: Option<&StreamPosition>,
        conflate: bool,
        body: impl FnOnce() -> Bytes,
    ) -> Delivered {
        let mut delivered = Delivered::default();
        let Some(sessions) = self.topics.get(topic) else { return delivered };
        let body = body();
        // One cache for every copy, so that a transport compresses (or otherwise re-encodes) the body once.
        let cache = Arc::new(EncodingCache::default());
        for (id, session) in sessions.iter() {
            if Some(id) == exclude {
                continue;
            }
            let publication = position.map(|position| (topic, position));
            match session.push_shared(body.clone(), Some(cache.clone()), publication, conflate) {
                Ok(Queued::New | Queued::Held) => delivered.queued += 1,
                Ok(Queued::Replaced) => delivered.replaced += 1,
                Ok(Queued::Duplicate | Queued::Missed) | Err(_) => {}
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
