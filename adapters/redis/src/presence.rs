//! [`RedisPresence`]: room members shared by every node, with an expiry so that a crashed node's members go.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use tidings_core::{BrokerError, Presence};
use tidings_protocol::{encode, Member};

use crate::broker::{unavailable, Shared};
use crate::keys::Keys;
use crate::scripts::Scripts;

/// Members refreshed concurrently (pipelined on the one connection) per batch.
const REFRESH_BATCH: usize = 256;

/// A [`Presence`] on Redis, from [`RedisBroker::presence`](crate::RedisBroker::presence).
///
/// Each member carries an expiry time that its node pushes forward every third of
/// [`RedisConfig::presence_ttl`](crate::RedisConfig::presence_ttl). A node that stops (crash, network partition)
/// stops refreshing its members; the first listing or refresh after their expiry removes them, and the node that
/// removes them announces their leave to the room.
pub struct RedisPresence {
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

struct Inner {
    conn: ConnectionManager,
    keys: Keys,
    scripts: Arc<Scripts>,
    ttl: Duration,
    /// This node's members, by room and session: the JSON the refresh writes again.
    local: DashMap<(String, String), String>,
}

impl RedisPresence {
    pub(crate) fn new(shared: &Shared) -> Self {
        let inner = Arc::new(Inner {
            conn: shared.conn.clone(),
            keys: shared.keys.clone(),
            scripts: shared.scripts.clone(),
            ttl: shared.config.presence_ttl,
            local: DashMap::new(),
        });
        let task = tokio::spawn(refresh_forever(inner.clone()));
        RedisPresence { inner, task }
    }
}

impl Drop for RedisPresence {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Inner {
    /// The keys outlive their members by a margin; a room nobody refreshes disappears by itself.
    fn key_ttl(&self) -> u64 {
        (self.ttl.as_secs() * 4).max(2)
    }

    async fn write(&self, room: &str, session: &str, json: &str) -> redis::RedisResult<()> {
        self.scripts
            .presence_add
            .key(self.keys.members(room))
            .key(self.keys.member_expiry(room))
            .key(self.keys.join_counter())
            .arg(session)
            .arg(json)
            .arg(self.ttl.as_millis() as u64)
            .arg(self.key_ttl())
            .invoke_async::<u64>(&mut self.conn.clone())
            .await
            .map(|_| ())
    }

    /// Pushes a member's expiry forward; a member swept meanwhile (this node was cut off for longer than the TTL)
    /// is written again if it is still this node's.
    async fn refresh_member(&self, room: &str, session: &str) -> redis::RedisResult<()> {
        let still: u64 = self
            .scripts
            .presence_refresh
            .key(self.keys.members(room))
            .key(self.keys.member_expiry(room))
            .arg(session)
            .arg(self.ttl.as_millis() as u64)
            .arg(self.key_ttl())
            .invoke_async(&mut self.conn.clone())
            .await?;
        if still == 0 {
            if let Some(json) = self.local.get(&(room.to_owned(), session.to_owned())).map(|j| j.value().clone()) {
                tracing::info!(room, session, "member was swept while this node was cut off; adding it again");
                self.write(room, session, &json).await?;
            }
        }
        Ok(())
    }

    /// Lists a room's live members, removing those whose expiry passed and announcing their leave.
    async fn list(&self, room: &str) -> Result<Vec<Member>, BrokerError> {
        let (live, expired): (Vec<String>, Vec<String>) = self
            .scripts
            .presence_list
            .key(self.keys.members(room))
            .key(self.keys.member_expiry(room))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        for member in in_join_order(expired) {
            tracing::info!(room, session = member.session, "member expired (its node stopped refreshing it)");
            let body = encode::presence_body(false, room, &member);
            let mut message = b"e- ".to_vec();
            message.extend_from_slice(&body);
            let sent: redis::RedisResult<u64> = self.conn.clone().publish(self.keys.channel(room), message).await;
            if let Err(e) = sent {
                tracing::warn!(room, error = %e, "could not announce an expired member's leave");
            }
        }
        Ok(in_join_order(live))
    }

    /// Refreshes this node's members, and removes (announcing their leave) the expired members of its rooms.
    async fn refresh(&self) {
        let members: Vec<(String, String)> = self.local.iter().map(|e| e.key().clone()).collect();
        for batch in members.chunks(REFRESH_BATCH) {
            let writes = batch.iter().map(|(room, session)| self.refresh_member(room, session));
            for result in futures_util::future::join_all(writes).await {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "could not refresh presence");
                    return;
                }
            }
        }
        let mut rooms: Vec<String> = members.into_iter().map(|(room, _)| room).collect();
        rooms.sort_unstable();
        rooms.dedup();
        for room in rooms {
            if let Err(e) = self.list(&room).await {
                tracing::warn!(room, error = %e, "could not sweep expired members");
            }
        }
    }
}

async fn refresh_forever(inner: Arc<Inner>) {
    let mut every = tokio::time::interval(inner.ttl / 3);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        inner.refresh().await;
    }
}

/// Entries are `<join number> <member JSON>`.
fn in_join_order(entries: Vec<String>) -> Vec<Member> {
    let mut members: Vec<(u64, Member)> = entries
        .iter()
        .filter_map(|entry| {
            let (seq, json) = entry.split_once(' ')?;
            Some((seq.parse().ok()?, serde_json::from_str(json).ok()?))
        })
        .collect();
    members.sort_by_key(|(seq, _)| *seq);
    members.into_iter().map(|(_, member)| member).collect()
}

#[async_trait]
impl Presence for RedisPresence {
    async fn add(&self, room: &str, member: Member) -> Result<(), BrokerError> {
        let json = serde_json::to_string(&member).map_err(|e| BrokerError::Unavailable(e.to_string()))?;
        self.inner.write(room, &member.session, &json).await.map_err(unavailable)?;
        self.inner.local.insert((room.to_owned(), member.session), json);
        Ok(())
    }

    async fn remove(&self, room: &str, session: &str) -> Result<Option<Member>, BrokerError> {
        self.inner.local.remove(&(room.to_owned(), session.to_owned()));
        let old: Option<String> = self
            .inner
            .scripts
            .presence_remove
            .key(self.inner.keys.members(room))
            .key(self.inner.keys.member_expiry(room))
            .arg(session)
            .invoke_async(&mut self.inner.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(old.and_then(|entry| in_join_order(vec![entry]).pop()))
    }

    async fn list(&self, room: &str) -> Result<Vec<Member>, BrokerError> {
        self.inner.list(room).await
    }
}
