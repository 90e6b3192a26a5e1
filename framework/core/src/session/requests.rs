//! What a session does with each client request.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tidings_protocol::{encode, ClientFrame, ErrorCode, Member, Missed, Request, StreamPosition};

use super::SessionRef;
use crate::broker::{BrokerError, HistoryPage};
use crate::close::Close;
use crate::handler::{Context, ErasedHandler, Refusal};
use crate::hub::Hub;

/// A topic the session is in: subscribed, or joined as a member with presence metadata.
struct Membership {
    /// `Some` for a room member (its presence metadata), `None` for a plain subscriber.
    member_meta: Option<Arc<Value>>,
}

type Outcome = Result<Option<Box<RawValue>>, Refusal>;

/// The state a session's requests read and change. Lives on the session actor's thread; the actor runs one
/// request at a time (see `Session`), so no two requests touch it at once and the `RefCell` borrows never collide.
pub(crate) struct SessionState {
    pub(crate) hub: Hub,
    pub(crate) me: Arc<SessionRef>,
    topics: RefCell<HashMap<Arc<str>, Membership>>,
    /// Set when the session is ending: a handler call in progress is abandoned at once.
    ending: tokio::sync::watch::Sender<bool>,
}

impl SessionState {
    pub(crate) fn new(hub: Hub, me: Arc<SessionRef>) -> Self {
        SessionState { hub, me, topics: RefCell::default(), ending: tokio::sync::watch::Sender::new(false) }
    }

    /// The session is ending: abandon the handler call in progress (the request then finishes the framework's part
    /// of its work, undoing what it must, and is answered `session_ending`).
    pub(crate) fn interrupt(&self) {
        self.ending.send_replace(true);
    }

    /// Runs one call into application code (a topic handler, the authenticator) for a request: within
    /// `HubConfig::handler_timeout`, and no longer than the session lives.
    async fn bounded<T>(&self, what: &'static str, topic: &str, call: impl Future<Output = T>) -> Result<T, Refusal> {
        let mut ending = self.ending.subscribe();
        tokio::select! {
            out = self.deadline(what, topic, call) => out,
            _ = ending.wait_for(|ending| *ending) => {
                tracing::debug!(topic, call = what, "the session ended during a handler call; abandoning it");
                Err(Refusal::new(ErrorCode::SESSION_ENDING, "the session ended while the request was handled"))
            }
        }
    }

    /// Runs one call into application code within `HubConfig::handler_timeout`.
    async fn deadline<T>(&self, what: &'static str, topic: &str, call: impl Future<Output = T>) -> Result<T, Refusal> {
        let limit = self.hub.config().handler_timeout;
        tokio::time::timeout(limit, call).await.map_err(|_| {
            tracing::warn!(topic, call = what, ?limit, "a handler did not answer within its deadline; abandoned");
            Refusal::new(ErrorCode::TIMEOUT, format!("the {what} handler did not answer within {limit:?}"))
        })
    }

    /// Decodes one client frame, handles it, and answers it: exactly one `reply` or `error` when it has an id.
    pub(crate) async fn handle_frame(&self, frame: Bytes) {
        let decoded = ClientFrame::decode(&frame);
        let checked = match &decoded {
            Ok(frame) => frame.request().map(|request| (frame.id, request)),
            Err(e) => Err(e.clone()),
        };
        let (id, request) = match checked {
            // Acknowledgements normally never get here (see `SessionRef::route`); they are never answered.
            Ok((_, Request::Ack { seq })) => return self.me.outbox.ack(seq),
            Ok((_, Request::Close)) => {
                tracing::info!("the client ended the session");
                self.hub.closed_by_client(&self.me.id);
                return self.me.close(Close::normal());
            }
            Ok(ok) => ok,
            Err(e) => {
                tracing::debug!(code = %e.code, message = %e.message, "refused a client frame");
                self.answer(e.id, Err(Refusal::new(e.code, e.message)));
                return;
            }
        };
        let outcome = match AssertUnwindSafe(self.dispatch(request)).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::error!(request = ?request, "a topic handler panicked; answering with `internal`");
                // A recovery cut short must not hold the topic's publications back for ever.
                self.me.outbox.unhold();
                Err(Refusal::new(ErrorCode::INTERNAL, "the handler failed"))
            }
        };
        if let Err(refusal) = &outcome {
            tracing::debug!(request = ?request, code = %refusal.code, "request refused");
        }
        self.answer(id, outcome);
    }

    fn answer(&self, id: Option<u64>, outcome: Outcome) {
        let body = match (id, outcome) {
            (Some(id), Ok(data)) => encode::reply_body(id, data.as_deref()),
            (id, Err(refusal)) => encode::error_body(id, &refusal.code, &refusal.message),
            // A request without an id asked for no answer.
            (None, Ok(_)) => return,
        };
        // A full or closed queue already ends the session; there is no one left to tell.
        let _ = self.me.push(body);
    }

    async fn dispatch(&self, request: Request<'_>) -> Outcome {
        match request {
            Request::Subscribe { topic, since } => self.subscribe(topic, since).await,
            Request::Unsubscribe { topic } => self.leave(topic, false).await,
            Request::Join { topic, data, since } => self.join(topic, data, since).await,
            Request::Leave { topic } => self.leave(topic, true).await,
            Request::Message { topic, data } => self.message(topic, data).await,
            Request::Publish { topic, data } => self.publish(topic, data).await,
            Request::History { topic, since, limit } => self.history(topic, since, limit).await,
            Request::Refresh { token } => self.refresh(token).await,
            Request::Ack { .. } | Request::Close => Ok(None),
        }
    }

    fn route(&self, topic: &str) -> Result<Arc<dyn ErasedHandler>, Refusal> {
        // The identity's own topic patterns (a token's claim) come before any handler.
        if !self.me.identity.allows_topic(topic) {
            return Err(Refusal::forbidden(format!("your credentials do not allow topic {topic:?}")));
        }
        self.hub.route(topic).ok_or_else(|| {
            Refusal::new(ErrorCode::UNKNOWN_TOPIC, format!("no handler is registered for topic {topic:?}"))
        })
    }

    /// Checks fresh credentials and moves the session's expiry to theirs.
    async fn refresh(&self, token: &str) -> Outcome {
        let identity =
            self.bounded("refresh", "", self.hub.authenticator().refresh(token)).await?.map_err(|refusal| {
                tracing::info!(reason = %refusal.reason, "refused an in-band refresh");
                Refusal::new(ErrorCode::UNAUTHORIZED, refusal.reason)
            })?;
        if identity.user != self.me.identity.user {
            tracing::warn!("refused an in-band refresh for another user");
            return Err(Refusal::new(ErrorCode::UNAUTHORIZED, "the credentials are another user's"));
        }
        *self.me.expires_at.lock() = identity.expires_at;
        if let Some(actor) = self.me.actor.get() {
            actor.do_send(super::actor::WatchExpiry);
        }
        let expires_at_ms = identity
            .expires_at
            .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64);
        tracing::debug!(?expires_at_ms, "credentials refreshed");
        reply(&serde_json::json!({ "expires_at": expires_at_ms }))
    }

    fn context(&self, topic: &str) -> Context {
        let meta = self.topics.borrow().get(topic).and_then(|m| m.member_meta.clone());
        Context::new(self.hub.clone(), topic.into(), self.me.clone(), meta)
    }

    fn check_room_for_one_more(&self) -> Result<(), Refusal> {
        let max = self.hub.config().max_subscriptions;
        if self.topics.borrow().len() >= max {
            return Err(Refusal::new(ErrorCode::TOO_MANY_SUBSCRIPTIONS, format!("at most {max} subscriptions")));
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &str, since: Option<&StreamPosition>) -> Outcome {
        let handler = self.route(topic)?;
        if self.topics.borrow().contains_key(topic) {
            return Err(Refusal::new(ErrorCode::ALREADY_SUBSCRIBED, "already subscribed to this topic"));
        }
        self.check_room_for_one_more()?;
        let ctx = self.context(topic);
        self.bounded("subscribe", topic, handler.subscribe(&ctx)).await??;
        self.start_receiving(topic, since.is_some()).await?;
        self.topics.borrow_mut().insert(topic.into(), Membership { member_meta: None });
        let answer = async {
            let missed = match since {
                Some(since) => self.recover(topic, since).await?,
                None => None,
            };
            reply(&Subscribed { position: self.position(topic).await?, gap: missed.is_some(), missed })
        };
        match answer.await {
            Ok(answer) => Ok(answer),
            Err(refusal) => {
                // Answered with an error, so the request must leave no trace.
                self.end_membership(topic).await;
                Err(refusal)
            }
        }
    }

    /// Becomes a local subscriber of `topic`; when the session will recover the topic from history, its live
    /// publications are held back from that moment until the recovered ones are queued.
    async fn start_receiving(&self, topic: &str, recovering: bool) -> Result<(), Refusal> {
        self.me.outbox.forget_latest(topic);
        if recovering {
            self.me.outbox.hold(topic);
        }
        let attached = self.hub.add_subscriber(topic, &self.me).await.map_err(unavailable);
        if attached.is_err() && recovering {
            self.me.outbox.unhold();
        }
        attached
    }

    /// Queues the retained publications after `since`, then releases the live ones held meanwhile; returns what
    /// the client missed (no longer retained, another epoch, or more than its queue can take).
    ///
    /// Recovery is bounded by the room in the session's queue (half of it, leaving the rest for what arrives
    /// meanwhile): when more was published since `since`, the newest publications are queued and the older ones
    /// reported as missed, one range from `since`, which the client may read with `history`. A long history
    /// therefore never overflows the queue and closes the client as a slow consumer.
    async fn recover(&self, topic: &str, since: &StreamPosition) -> Result<Option<Missed>, Refusal> {
        let recovered = self.read_recovery(topic, since).await;
        let (page, mut missed) = match recovered {
            Ok(read) => read,
            Err(e) => {
                self.me.outbox.unhold();
                return Err(unavailable(e));
            }
        };
        // Held live publications are released after the last offset the read returned (not the topic's end at the
        // time of the read: a bounded read may stop short of it, and what came between must not be dropped).
        let through = page.publications.last().map_or(page.position.offset, |p| p.position.offset);
        let (_, room_bytes) = self.me.outbox.room();
        let mut bodies: Vec<Bytes> =
            page.publications.iter().map(|p| encode::publication_body(topic, &p.position, &p.data)).collect();
        // The same bound in bytes: the oldest go first.
        let mut total: usize = bodies.iter().map(Bytes::len).sum();
        let mut skip = 0;
        while total > room_bytes / 2 && skip < bodies.len() {
            total -= bodies[skip].len();
            skip += 1;
        }
        if skip > 0 {
            let last_skipped = page.publications[skip - 1].position.offset;
            let first = page.publications[0].position.offset;
            missed = Some(missed.map_or(Missed { from: Some(first), to: last_skipped }, |m| m.through(last_skipped)));
            bodies.drain(..skip);
        }
        tracing::debug!(topic, since = since.offset, recovered = bodies.len(), ?missed, "recovered");
        self.me.release(bodies, through);
        Ok(missed)
    }

    /// The newest publications after `since` that fit in half the room of the session's queue, and what is missed.
    async fn read_recovery(
        &self,
        topic: &str,
        since: &StreamPosition,
    ) -> Result<(HistoryPage, Option<Missed>), BrokerError> {
        let (room, _) = self.me.outbox.room();
        let room = (room / 2).max(1);
        let broker = self.hub.broker();
        let page = broker.history(topic, Some(since), room).await?;
        let beyond = page.publications.last().is_some_and(|p| p.position.offset < page.position.offset);
        if page.publications.len() < room || !beyond {
            let missed = page.missed.clone();
            return Ok((page, missed));
        }
        // More than the room: read the newest instead, and report everything between as missed.
        let first = page.publications[0].position.offset;
        let skip_to = page.position.offset - room as u64;
        let newest = StreamPosition { offset: skip_to, epoch: page.position.epoch.clone() };
        let newer = broker.history(topic, Some(&newest), room).await?;
        let start = page.missed.as_ref().map_or(Some(first), |before| before.from);
        let missed = match &newer.missed {
            // The epoch changed between the two reads: the second read says what is missed.
            Some(changed) if changed.from.is_none() => changed.clone(),
            // History dropped more between the reads: one range from the start still.
            Some(changed) => Missed { from: start, to: changed.to.max(skip_to) },
            None => Missed { from: start, to: skip_to },
        };
        Ok((newer, Some(missed)))
    }

    async fn join(&self, topic: &str, data: Option<&RawValue>, since: Option<&StreamPosition>) -> Outcome {
        let handler = self.route(topic)?;
        let subscribed = match self.topics.borrow().get(topic) {
            Some(m) if m.member_meta.is_some() => {
                return Err(Refusal::new(ErrorCode::ALREADY_JOINED, "already a member of this room"))
            }
            Some(_) => true,
            None => false,
        };
        if !subscribed {
            self.check_room_for_one_more()?;
        }
        let ctx = self.context(topic);
        let (handler_reply, meta) = self.bounded("join", topic, handler.join(&ctx, data)).await??;
        let member = Member { session: self.me.id.to_string(), user: self.me.identity.user.clone(), meta };
        self.hub.presence().add(topic, member.clone()).await.map_err(unavailable)?;
        let recovering = !subscribed && since.is_some();
        if !subscribed {
            if let Err(refusal) = self.start_receiving(topic, recovering).await {
                let _ = self.hub.presence().remove(topic, self.me.id.as_str()).await;
                return Err(refusal);
            }
        }
        self.topics.borrow_mut().insert(topic.into(), Membership { member_meta: Some(Arc::new(member.meta.clone())) });
        let announcement = encode::presence_body(true, topic, &member);
        if let Err(e) = self.hub.broker().broadcast(topic, announcement, Some(self.me.id.clone())).await {
            tracing::warn!(topic, error = %e, "could not announce a join");
        }
        let answer = async {
            let missed = match since.filter(|_| recovering) {
                Some(since) => self.recover(topic, since).await?,
                None => None,
            };
            let presence = self.hub.presence().list(topic).await.map_err(unavailable)?;
            let position = self.position(topic).await?;
            let gap = missed.is_some();
            reply(&JoinReply { presence, position, gap, missed, reply: handler_reply.as_deref() })
        };
        match answer.await {
            Ok(answer) => Ok(answer),
            Err(refusal) => {
                // Answered with an error, so the join must be undone: out of presence (announced), and, unless the
                // session was subscribed before, out of the subscriber set.
                self.end_membership(topic).await;
                if subscribed {
                    self.hub.add_subscriber(topic, &self.me).await.map_err(unavailable)?;
                    self.topics.borrow_mut().insert(topic.into(), Membership { member_meta: None });
                }
                Err(refusal)
            }
        }
    }

    /// `leave` (when `room` is true) or `unsubscribe`.
    async fn leave(&self, topic: &str, room: bool) -> Outcome {
        let handler = self.route(topic)?;
        let joined = match self.topics.borrow().get(topic) {
            Some(m) => m.member_meta.is_some(),
            None if room => return Err(Refusal::new(ErrorCode::NOT_JOINED, "not a member of this room")),
            None => return Err(Refusal::new(ErrorCode::NOT_SUBSCRIBED, "not subscribed to this topic")),
        };
        if room && !joined {
            return Err(Refusal::new(ErrorCode::NOT_JOINED, "subscribed to this topic but not a member of it"));
        }
        let ctx = self.context(topic);
        self.end_membership(topic).await;
        // The session has left either way; the handler's failure to hear of it is the server's to log. Not abandoned
        // when the session ends meanwhile: `end` no longer lists the topic, so this is the handler's only word of it.
        let _ = self.deadline("leave", topic, handler.leave(&ctx)).await;
        Ok(None)
    }

    async fn message(&self, topic: &str, data: Option<&RawValue>) -> Outcome {
        let handler = self.route(topic)?;
        if !self.topics.borrow().contains_key(topic) {
            return Err(Refusal::new(ErrorCode::NOT_SUBSCRIBED, "join or subscribe to the topic before messaging it"));
        }
        let ctx = self.context(topic);
        self.bounded("message", topic, handler.message(&ctx, data)).await?
    }

    async fn publish(&self, topic: &str, data: &RawValue) -> Outcome {
        let handler = self.route(topic)?;
        let ctx = self.context(topic);
        self.bounded("publish", topic, handler.publish(&ctx, data)).await??;
        let position = self.hub.publish_raw(topic, data.to_owned().into()).await.map_err(Refusal::from)?;
        reply(&Published { position })
    }

    async fn history(&self, topic: &str, since: Option<&StreamPosition>, limit: Option<u32>) -> Outcome {
        let handler = self.route(topic)?;
        let ctx = self.context(topic);
        self.bounded("subscribe", topic, handler.subscribe(&ctx)).await??;
        let max = self.hub.config().max_history_page;
        let limit = limit.map_or(max, |l| (l as usize).min(max));
        let page = self.hub.broker().history(topic, since, limit).await.map_err(unavailable)?;
        let publications = page
            .publications
            .iter()
            .map(|p| HistoryEntry { offset: p.position.offset, epoch: &p.position.epoch, data: &p.data })
            .collect();
        let gap = page.gap();
        reply(&HistoryReply { publications, position: page.position, gap, missed: page.missed })
    }

    async fn position(&self, topic: &str) -> Result<StreamPosition, Refusal> {
        Ok(self.hub.broker().history(topic, None, 0).await.map_err(unavailable)?.position)
    }

    /// Takes the session out of `topic`: out of presence (announcing it) if a member, out of the subscriber set.
    async fn end_membership(&self, topic: &str) {
        let Some(membership) = self.topics.borrow_mut().remove(topic) else { return };
        self.hub.remove_subscriber(topic, &self.me.id).await;
        if membership.member_meta.is_some() {
            match self.hub.presence().remove(topic, self.me.id.as_str()).await {
                Ok(Some(member)) => {
                    let announcement = encode::presence_body(false, topic, &member);
                    if let Err(e) = self.hub.broker().broadcast(topic, announcement, Some(self.me.id.clone())).await {
                        tracing::warn!(topic, error = %e, "could not announce a leave");
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(topic, error = %e, "could not remove a member from presence"),
            }
        }
    }

    /// The session is over: leave every topic, tell each handler, and unregister from the hub.
    pub(crate) async fn end(&self) {
        let topics: Vec<Arc<str>> = self.topics.borrow().keys().cloned().collect();
        for topic in topics {
            let ctx = self.context(&topic);
            self.end_membership(&topic).await;
            if let Some(handler) = self.hub.route(&topic) {
                let told =
                    self.deadline("disconnect", &topic, AssertUnwindSafe(handler.disconnect(&ctx)).catch_unwind());
                if let Ok(Err(_)) = told.await {
                    tracing::error!(topic = &*topic, "a topic handler panicked in disconnect");
                }
            }
        }
        self.hub.unregister(&self.me.id);
        if let Err(e) = self.hub.broker().unregister_session(self.me.id.as_str()).await {
            tracing::warn!(error = %e, "could not remove the session's location");
        }
        tracing::debug!("session ended");
    }
}

fn unavailable(e: BrokerError) -> Refusal {
    Refusal::new(ErrorCode::UNAVAILABLE, e.to_string())
}

fn reply(data: &impl Serialize) -> Outcome {
    serde_json::value::to_raw_value(data)
        .map(Some)
        .map_err(|e| Refusal::new(ErrorCode::INTERNAL, format!("reply could not be encoded: {e}")))
}

#[derive(Serialize)]
struct Subscribed {
    position: StreamPosition,
    gap: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    missed: Option<Missed>,
}

#[derive(Serialize)]
struct Published {
    position: StreamPosition,
}

#[derive(Serialize)]
struct JoinReply<'a> {
    presence: Vec<Member>,
    position: StreamPosition,
    gap: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    missed: Option<Missed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct HistoryEntry<'a> {
    offset: u64,
    epoch: &'a str,
    data: &'a RawValue,
}

#[derive(Serialize)]
struct HistoryReply<'a> {
    publications: Vec<HistoryEntry<'a>>,
    position: StreamPosition,
    gap: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    missed: Option<Missed>,
}
