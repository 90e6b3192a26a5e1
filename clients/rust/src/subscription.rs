//! Subscriptions and rooms: streams of a topic's events.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use serde::Serialize;
use serde_json::Value;
use tidings_protocol::{Member, Missed, StreamPosition};
use tokio::sync::mpsc;

use crate::client::Client;
use crate::error::Error;

/// A publication of a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    /// The topic.
    pub topic: String,
    /// Its offset in the topic.
    pub offset: u64,
    /// The topic's history epoch.
    pub epoch: String,
    /// The payload.
    pub data: Value,
}

/// Something that happened on a topic or room.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A publication.
    Publication(Publication),
    /// A message from the server to this client only.
    Push(Value),
    /// A member joined the room.
    MemberJoined(Member),
    /// A member left the room.
    MemberLeft(Member),
    /// The server lost the session and the client subscribed again, but some publications made meanwhile were no
    /// longer in the topic's history (or were more than recovery sends at once): they are missed, and state
    /// derived from the topic should be reloaded. (Those recovered came before this, as usual publications.)
    /// `missed` says which offsets, as the server reported them (see [`Missed`]; a range still retained can be
    /// read with [`Client::history`](crate::Client::history)); `None` from a server that does not say.
    Gap {
        /// The offsets missed.
        missed: Option<Missed>,
    },
    /// The room's member list, replaced after the client joined it again in a new session (members may have come
    /// and gone unseen). [`Room::next`] applies it to [`Room::presence`].
    Presence(Vec<Member>),
}

/// A subscription to a topic: a stream of its [`Event`]s. It lasts across reconnections, and ends when the client
/// is closed (or when subscribing again in a new session is refused). Dropping it unsubscribes.
pub struct Subscription {
    client: Client,
    topic: String,
    position: StreamPosition,
    events: mpsc::UnboundedReceiver<Event>,
    /// False once `unsubscribe` or `leave` took care of the server side, so that `Drop` does not.
    live: bool,
}

impl Subscription {
    pub(crate) fn new(
        client: Client,
        topic: String,
        position: StreamPosition,
        events: mpsc::UnboundedReceiver<Event>,
    ) -> Self {
        Subscription { client, topic, position, events, live: true }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The topic's position when the subscription started.
    pub fn position(&self) -> &StreamPosition {
        &self.position
    }

    /// The next event; `None` once the subscription has ended.
    pub async fn next(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The next publication, skipping other events.
    pub async fn next_publication(&mut self) -> Option<Publication> {
        loop {
            if let Event::Publication(p) = self.events.recv().await? {
                return Some(p);
            }
        }
    }

    /// Stops the subscription and waits for the server to confirm. (Dropping it stops it too, without waiting.)
    pub async fn unsubscribe(mut self) -> Result<(), Error> {
        self.end("unsubscribe").await
    }

    async fn end(&mut self, kind: &str) -> Result<(), Error> {
        self.live = false;
        self.client.shared().forget(&self.topic);
        self.client.shared().request::<()>(kind, &self.topic, None, false).await.map(drop)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if self.live {
            self.client.shared().forget(&self.topic);
            // On a joined room, `unsubscribe` leaves it.
            self.client.shared().notify("unsubscribe", &self.topic);
        }
    }
}

impl Stream for Subscription {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.events.poll_recv(cx)
    }
}

/// Membership of a room (left when dropped): its events, the handler's reply to the join, and the presence list, kept current as
/// member events are read.
pub struct Room {
    subscription: Subscription,
    presence: Vec<Member>,
    reply: Value,
}

impl Room {
    pub(crate) fn new(subscription: Subscription, presence: Vec<Member>, reply: Value) -> Self {
        Room { subscription, presence, reply }
    }

    /// The room.
    pub fn topic(&self) -> &str {
        &self.subscription.topic
    }

    /// What the room's handler replied to the join (`null` when nothing).
    pub fn reply(&self) -> &Value {
        &self.reply
    }

    /// The members: the list received on join, updated by every member event read since.
    pub fn presence(&self) -> &[Member] {
        &self.presence
    }

    /// The next event; member events update [`Room::presence`]. `None` once the membership has ended.
    pub async fn next(&mut self) -> Option<Event> {
        let event = self.subscription.next().await?;
        match &event {
            Event::MemberJoined(member) => {
                self.presence.retain(|m| m.session != member.session);
                self.presence.push(member.clone());
            }
            Event::MemberLeft(member) => self.presence.retain(|m| m.session != member.session),
            Event::Presence(members) => self.presence.clone_from(members),
            _ => {}
        }
        Some(event)
    }

    /// Sends a message to the room's handler and returns its reply (`null` when none).
    pub async fn send<T: Serialize + ?Sized>(&self, message: &T) -> Result<Value, Error> {
        self.subscription.client.request(&self.subscription.topic, message).await
    }

    /// Leaves the room.
    pub async fn leave(mut self) -> Result<(), Error> {
        self.subscription.end("leave").await
    }
}
