//! Who is in which room.
//!
//! Kept apart from the [`Broker`](crate::Broker) (as Centrifugo splits its PresenceManager from its Broker): a
//! deployment may keep history in one place and presence in another, and presence has its own expiry rules.

use async_trait::async_trait;
use dashmap::DashMap;
use tidings_protocol::Member;

use crate::broker::BrokerError;

/// Stores the members of each room.
#[async_trait]
pub trait Presence: Send + Sync + 'static {
    /// Adds (or replaces) the member with `member.session` in `room`.
    async fn add(&self, room: &str, member: Member) -> Result<(), BrokerError>;
    /// Removes the member with this session id from `room`; returns it if it was there.
    async fn remove(&self, room: &str, session: &str) -> Result<Option<Member>, BrokerError>;
    /// The room's members, in the order they joined.
    async fn list(&self, room: &str) -> Result<Vec<Member>, BrokerError>;
}

/// Presence for a single node, in memory; the hub's default.
#[derive(Default)]
pub struct MemoryPresence {
    rooms: DashMap<String, Vec<Member>>,
}

#[async_trait]
impl Presence for MemoryPresence {
    async fn add(&self, room: &str, member: Member) -> Result<(), BrokerError> {
        let mut members = self.rooms.entry(room.to_owned()).or_default();
        match members.iter_mut().find(|m| m.session == member.session) {
            Some(existing) => *existing = member,
            None => members.push(member),
        }
        Ok(())
    }

    async fn remove(&self, room: &str, session: &str) -> Result<Option<Member>, BrokerError> {
        let removed = match self.rooms.get_mut(room) {
            Some(mut members) => members.iter().position(|m| m.session == session).map(|i| members.remove(i)),
            None => return Ok(None),
        };
        // Empty rooms are dropped, so that the map does not keep every room ever joined.
        self.rooms.remove_if(room, |_, members| members.is_empty());
        Ok(removed)
    }

    async fn list(&self, room: &str) -> Result<Vec<Member>, BrokerError> {
        Ok(self.rooms.get(room).map(|m| m.clone()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn member(session: &str, nick: &str) -> Member {
        Member { session: session.into(), user: None, meta: json!({ "nick": nick }) }
    }

    #[actix_rt::test]
    async fn add_replace_remove_in_join_order() {
        let p = MemoryPresence::default();
        p.add("r", member("a", "ann")).await.unwrap();
        p.add("r", member("b", "bob")).await.unwrap();
        p.add("r", member("a", "anna")).await.unwrap();
        let list = p.list("r").await.unwrap();
        assert_eq!(list, [member("a", "anna"), member("b", "bob")]);
        assert_eq!(p.remove("r", "a").await.unwrap(), Some(member("a", "anna")));
        assert_eq!(p.remove("r", "a").await.unwrap(), None);
        p.remove("r", "b").await.unwrap();
        assert!(p.rooms.is_empty());
    }
}
