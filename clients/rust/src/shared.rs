//! State shared by the client handles and the driver: requests waiting for answers, topics and their event
//! channels, the outgoing queue and the connection state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tidings_protocol::{ClientFrame, CloseCode, Member, Missed, StreamPosition};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch};

use crate::credentials::Credentials;
use crate::error::Error;
use crate::options::ClientOptions;
use crate::state::ConnectionState;
use crate::subscription::{Event, Publication};

pub(crate) type Answer = Result<Value, Error>;

/// A frame waiting to be sent, with the id of the request it carries (if any), so that the driver can note when
/// it went out: a request sent in a session that is then lost fails, one still queued goes to the next session.
pub(crate) struct Outgoing {
    pub(crate) text: String,
    pub(crate) id: Option<u64>,
}

/// What the client handles ask of the driver, besides sending frames.
pub(crate) enum Command {
    /// End the session and the client; `done` fires when that is done.
    Close(oneshot::Sender<()>),
}

/// The receiving ends the driver owns.
pub(crate) struct DriverEnds {
    pub(crate) queue: mpsc::Receiver<Outgoing>,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
}

pub(crate) struct Shared {
    pub(crate) options: ClientOptions,
    /// The token requests carry; the transports read it too.
    pub(crate) credentials: Arc<Credentials>,
    queue: mpsc::Sender<Outgoing>,
    commands: mpsc::UnboundedSender<Command>,
    next_id: AtomicU64,
    state: Mutex<State>,
    status: watch::Sender<ConnectionState>,
    /// The latest session id, kept apart from `status` because it outlives the `Connected` state.
    session: Mutex<String>,
}

#[derive(Default)]
struct State {
    requests: HashMap<u64, Pending>,
    topics: HashMap<String, Topic>,
}

struct Pending {
    waiter: Waiter,
    /// Written to a connection (rather than still queued).
    sent: bool,
}

enum Waiter {
    /// A caller awaits the answer. `confirms` names the topic a subscribe or join is for: its success makes the
    /// topic live (to be subscribed again in a new session), in the same step as the answer, so no session change
    /// can fall in between.
    User { answer: oneshot::Sender<Answer>, confirms: Option<String> },
    /// The driver subscribed again to a live topic in a new session.
    Resubscribe { topic: String },
}

struct Topic {
    events: mpsc::UnboundedSender<Event>,
    /// For a room, the parameters it was joined with: joining again in a new session needs them.
    join: Option<Box<RawValue>>,
    /// The subscribe or join succeeded.
    live: bool,
    /// The last publication processed, or the position the subscription started from: where to recover from.
    last: Option<StreamPosition>,
}

impl Shared {
    pub(crate) fn new(
        options: ClientOptions,
        credentials: Arc<Credentials>,
        initial: ConnectionState,
    ) -> (Arc<Shared>, DriverEnds) {
        let (queue, queue_rx) = mpsc::channel(options.max_queued_frames.max(1));
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let session = match &initial {
            ConnectionState::Connected { session, .. } => session.clone(),
            _ => String::new(),
        };
        let shared = Shared {
            session: Mutex::new(session),
            options,
            credentials,
            queue,
            commands,
            next_id: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            status: watch::Sender::new(initial),
        };
        (Arc::new(shared), DriverEnds { queue: queue_rx, commands: commands_rx })
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("client state lock")
    }

    pub(crate) fn status(&self) -> &watch::Sender<ConnectionState> {
        &self.status
    }

    pub(crate) fn set_status(&self, state: ConnectionState) {
        if let ConnectionState::Connected { session, .. } = &state {
            session.clone_into(&mut self.session.lock().expect("session lock"));
        }
        // Watchers hear of changes only: a welcome that changes nothing (a resumed long poll) is no news.
        self.status.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
    }

    pub(crate) fn session_id(&self) -> String {
        self.session.lock().expect("session lock").clone()
    }

    /// The close code once the client is closed for good (`None` when there was none: it gave up reconnecting,
    /// or the server refused its credentials).
    pub(crate) fn closed(&self) -> Option<Option<CloseCode>> {
        match &*self.status.borrow() {
            ConnectionState::Closed(code) => Some(*code),
            ConnectionState::Unauthorized { .. } => Some(None),
            _ => None,
        }
    }

    /// What a request fails with once the client is closed for good; `None` while it is not.
    pub(crate) fn closed_error(&self) -> Option<Error> {
        closed_error(&self.status.borrow())
    }

    pub(crate) fn command(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }

    /// Starts routing a topic's events to a new channel, before the request that makes the server send them.
    pub(crate) fn listen(
        &self,
        topic: &str,
        join: Option<Box<RawValue>>,
    ) -> Result<mpsc::UnboundedReceiver<Event>, Error> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = self.lock();
        if let Some(closed) = self.closed_error() {
            return Err(closed);
        }
        if state.topics.contains_key(topic) {
            return Err(Error::Refused {
                code: "already_subscribed".into(),
                message: "this client already listens to the topic".into(),
            });
        }
        state.topics.insert(topic.to_owned(), Topic { events: tx, join, live: false, last: None });
        Ok(rx)
    }

    pub(crate) fn forget(&self, topic: &str) {
        self.lock().topics.remove(topic);
    }

    /// Gives up on a topic whose subscribe or join went wrong after the server may have done it: stop listening,
    /// and tell the server to undo it (a no-op there if it never happened).
    pub(crate) fn abandon(&self, topic: &str) {
        self.forget(topic);
        self.notify("unsubscribe", topic);
    }

    /// The position in a subscribe or join reply. On failure the topic is abandoned: a refusal changed nothing on
    /// the server, nor did a request lost with its session, but a timed-out or undecodable answer may have.
    pub(crate) fn position(&self, topic: &str, reply: Answer) -> Result<StreamPosition, Error> {
        let decoded =
            reply.and_then(|r| serde_json::from_value(r["position"].clone()).map_err(|e| Error::Decode(e.to_string())));
        match &decoded {
            Err(Error::Refused { .. } | Error::SessionLost | Error::Closed(_) | Error::QueueFull) => self.forget(topic),
            Err(_) => self.abandon(topic),
            Ok(_) => {}
        }
        decoded
    }

    /// Sends a request about `topic` and waits for its answer. `confirms` for a subscribe or join.
    pub(crate) async fn request<T: Serialize + ?Sized>(
        &self,
        kind: &str,
        topic: &str,
        data: Option<&T>,
        confirms: bool,
    ) -> Answer {
        let raw: Option<Box<RawValue>> =
            data.map(serde_json::value::to_raw_value).transpose().map_err(|e| Error::Decode(e.to_string()))?;
        let frame = ClientFrame {
            kind: kind.into(),
            id: Some(self.next_id()),
            topic: Some(topic.into()),
            data: raw.as_deref(),
            ..Default::default()
        };
        self.send_request(frame, confirms.then(|| topic.to_owned())).await
    }

    /// Sends a frame that asks for no answer (no id).
    pub(crate) fn notify(&self, kind: &str, topic: &str) {
        let frame = ClientFrame { kind: kind.into(), topic: Some(topic.into()), ..Default::default() };
        if let Ok(text) = serde_json::to_string(&frame) {
            let _ = self.enqueue(Outgoing { text, id: None });
        }
    }

    pub(crate) async fn send_request(&self, frame: ClientFrame<'_>, confirms: Option<String>) -> Answer {
        let id = frame.id.expect("requests carry an id");
        let text = serde_json::to_string(&frame).map_err(|e| Error::Decode(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.lock();
            if let Some(closed) = self.closed_error() {
                return Err(closed);
            }
            state.requests.insert(id, Pending { waiter: Waiter::User { answer: tx, confirms }, sent: false });
        }
        if let Err(e) = self.enqueue(Outgoing { text, id: Some(id) }) {
            self.lock().requests.remove(&id);
            return Err(e);
        }
        match tokio::time::timeout(self.options.request_timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(self.closed_error().unwrap_or(Error::Closed(None))),
            Err(_) => {
                self.lock().requests.remove(&id);
                Err(Error::Timeout)
            }
        }
    }

    fn enqueue(&self, outgoing: Outgoing) -> Result<(), Error> {
        self.queue.try_send(outgoing).map_err(|e| match e {
            TrySendError::Full(_) => Error::QueueFull,
            TrySendError::Closed(_) => self.closed_error().unwrap_or(Error::Closed(None)),
        })
    }

    /// Notes that a request went out on a connection.
    pub(crate) fn mark_sent(&self, id: u64) {
        if let Some(pending) = self.lock().requests.get_mut(&id) {
            pending.sent = true;
        }
    }

    /// Routes the answer to request `id`.
    pub(crate) fn answer(&self, id: u64, answer: Answer) {
        let mut state = self.lock();
        let Some(pending) = state.requests.remove(&id) else { return };
        match pending.waiter {
            Waiter::User { answer: waiting, confirms } => {
                if let (Some(topic), Ok(reply)) = (confirms, &answer) {
                    if let Some(entry) = state.topics.get_mut(&topic) {
                        entry.live = true;
                        if entry.last.is_none() {
                            entry.last = serde_json::from_value(reply["position"].clone()).ok();
                        }
                    }
                }
                let _ = waiting.send(answer);
            }
            Waiter::Resubscribe { topic } => resubscribed(&mut state, &topic, answer),
        }
    }

    /// Delivers a publication, unless it is one already delivered (possible only around a resubscription).
    pub(crate) fn publication(&self, publication: Publication) {
        let mut state = self.lock();
        let Some(entry) = state.topics.get_mut(&publication.topic) else { return };
        if let Some(last) = &entry.last {
            if last.epoch == publication.epoch && publication.offset <= last.offset && last.offset > 0 {
                return;
            }
        }
        entry.last = Some(StreamPosition { offset: publication.offset, epoch: publication.epoch.clone() });
        let _ = entry.events.send(Event::Publication(publication));
    }

    pub(crate) fn deliver(&self, topic: &str, event: Event) {
        if let Some(entry) = self.lock().topics.get(topic) {
            let _ = entry.events.send(event);
        }
    }

    /// The server started a new session: requests sent in the old one fail (queued ones will go to the new one),
    /// and every live topic is subscribed or joined again from its last position. Returns the frames to send
    /// first on the new session.
    pub(crate) fn start_over(&self) -> Vec<String> {
        let mut state = self.lock();
        let lost: Vec<u64> = state.requests.iter().filter(|(_, p)| p.sent).map(|(id, _)| *id).collect();
        for id in lost {
            if let Some(Pending { waiter: Waiter::User { answer, .. }, .. }) = state.requests.remove(&id) {
                let _ = answer.send(Err(Error::SessionLost));
            }
        }
        let mut frames = Vec::new();
        let live: Vec<String> = state.topics.iter().filter(|(_, t)| t.live).map(|(name, _)| name.clone()).collect();
        for topic in live {
            let id = self.next_id();
            let entry = &state.topics[&topic];
            let frame = ClientFrame {
                kind: if entry.join.is_some() { "join" } else { "subscribe" }.into(),
                id: Some(id),
                topic: Some(topic.as_str().into()),
                data: entry.join.as_deref(),
                since: entry.last.clone(),
                ..Default::default()
            };
            match serde_json::to_string(&frame) {
                Ok(text) => frames.push(text),
                Err(_) => continue,
            }
            state.requests.insert(id, Pending { waiter: Waiter::Resubscribe { topic }, sent: true });
        }
        frames
    }

    /// The client is closed for good: fail pending requests and end every subscription's stream. `end` is
    /// [`ConnectionState::Closed`] or [`ConnectionState::Unauthorized`].
    pub(crate) fn finish(&self, end: ConnectionState) {
        debug_assert!(end.is_closed());
        let error = closed_error(&end).unwrap_or(Error::Closed(None));
        let mut state = self.lock();
        self.set_status(end);
        for (_, pending) in state.requests.drain() {
            if let Waiter::User { answer, .. } = pending.waiter {
                let _ = answer.send(Err(error.clone()));
            }
        }
        state.topics.clear();
    }
}

/// What requests fail with in state `state`, if it is an end.
fn closed_error(state: &ConnectionState) -> Option<Error> {
    match state {
        ConnectionState::Closed(code) => Some(Error::Closed(*code)),
        ConnectionState::Unauthorized { status, reason } => {
            Some(Error::Unauthorized { status: *status, reason: reason.clone() })
        }
        _ => None,
    }
}

/// The answer to a resubscription: tell the subscription what it missed, or end it when it was refused.
fn resubscribed(state: &mut State, topic: &str, answer: Answer) {
    let reply = match answer {
        Ok(reply) => reply,
        Err(e) => {
            // Refused in the new session (the handler changed its mind, a nickname got taken): the subscription
            // cannot go on, and its stream ends.
            tracing::warn!(topic, error = %e, "subscribing again in a new session failed");
            state.topics.remove(topic);
            return;
        }
    };
    let Some(entry) = state.topics.get_mut(topic) else { return };
    if let Ok(position) = serde_json::from_value::<StreamPosition>(reply["position"].clone()) {
        // A new epoch with nothing of it recovered yet: later publications count from here. (Recovered ones came
        // before this reply and already moved `last` on.)
        if entry.last.as_ref().is_none_or(|last| last.epoch != position.epoch) {
            entry.last = Some(position);
        }
    }
    if entry.join.is_some() {
        if let Ok(presence) = serde_json::from_value::<Vec<Member>>(reply["presence"].clone()) {
            let _ = entry.events.send(Event::Presence(presence));
        }
    }
    if reply["gap"].as_bool() == Some(true) {
        let missed = serde_json::from_value::<Missed>(reply["missed"].clone()).ok();
        let _ = entry.events.send(Event::Gap { missed });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::options::TransportKind;

    fn shared() -> Arc<Shared> {
        let initial = ConnectionState::Connected { transport: TransportKind::WebSocket, session: "s1".into() };
        Shared::new(ClientOptions::default(), Arc::new(Credentials::new(None)), initial).0
    }

    fn position(offset: u64, epoch: &str) -> StreamPosition {
        StreamPosition { offset, epoch: epoch.into() }
    }

    /// A topic whose subscribe (or join, with `join`) succeeded, last at `last`.
    fn live_topic(
        shared: &Shared,
        name: &str,
        join: Option<Value>,
        last: Option<StreamPosition>,
    ) -> mpsc::UnboundedReceiver<Event> {
        let raw = join.map(|j| serde_json::value::to_raw_value(&j).unwrap());
        let events = shared.listen(name, raw).unwrap();
        let mut state = shared.lock();
        let topic = state.topics.get_mut(name).unwrap();
        topic.live = true;
        topic.last = last;
        events
    }

    fn pending(shared: &Shared, id: u64, sent: bool) -> oneshot::Receiver<Answer> {
        let (answer, rx) = oneshot::channel();
        shared.lock().requests.insert(id, Pending { waiter: Waiter::User { answer, confirms: None }, sent });
        rx
    }

    fn publication(topic: &str, offset: u64, epoch: &str) -> Publication {
        Publication { topic: topic.into(), offset, epoch: epoch.into(), data: json!(offset) }
    }

    #[test]
    fn starting_over_fails_sent_requests_and_subscribes_again_from_the_last_position() {
        let shared = shared();
        let _news = live_topic(&shared, "news:a", None, Some(position(5, "e")));
        let _room = live_topic(&shared, "room:r", Some(json!({ "nick": "ann" })), Some(position(0, "e")));
        let _pending = shared.listen("news:pending", None).unwrap();
        // Ids of their own: `next_id` numbers the resubscriptions from 1.
        let mut sent = pending(&shared, 1001, true);
        let mut queued = pending(&shared, 1002, false);

        let mut frames: Vec<Value> = shared.start_over().iter().map(|f| serde_json::from_str(f).unwrap()).collect();
        frames.sort_by_key(|f| f["topic"].as_str().unwrap().to_owned());
        assert_eq!(frames.len(), 2, "live topics only: {frames:?}");
        assert_eq!(frames[0]["type"], "subscribe");
        assert_eq!(frames[0]["since"], json!({ "offset": 5, "epoch": "e" }));
        assert_eq!((frames[1]["type"].clone(), frames[1]["data"].clone()), (json!("join"), json!({ "nick": "ann" })));
        assert!(frames.iter().all(|f| f["id"].is_u64()));

        assert!(matches!(sent.try_recv(), Ok(Err(Error::SessionLost))));
        assert!(queued.try_recv().is_err(), "a request still queued goes to the new session");
        assert_eq!(shared.lock().requests.len(), 3, "the queued one and two resubscriptions");
    }

    #[test]
    fn a_resubscription_reports_gaps_and_new_presence_and_a_refusal_ends_the_stream() {
        let shared = shared();
        let mut news = live_topic(&shared, "news:a", None, Some(position(5, "e")));
        let mut room = live_topic(&shared, "room:r", Some(json!({})), Some(position(0, "e")));
        let mut gone = live_topic(&shared, "room:gone", Some(json!({})), None);
        let ids: HashMap<String, u64> = shared
            .start_over()
            .iter()
            .map(|f| serde_json::from_str::<Value>(f).unwrap())
            .map(|f| (f["topic"].as_str().unwrap().to_owned(), f["id"].as_u64().unwrap()))
            .collect();

        let missed = json!({ "from": 4, "to": 6 });
        shared.answer(
            ids["news:a"],
            Ok(json!({ "position": { "offset": 9, "epoch": "e" }, "gap": true, "missed": missed })),
        );
        assert_eq!(news.try_recv().unwrap(), Event::Gap { missed: Some(Missed { from: Some(4), to: 6 }) });
        let member = json!({ "session": "s2", "meta": { "nick": "ann" } });
        let reply = json!({ "presence": [member], "position": { "offset": 0, "epoch": "e" }, "gap": false });
        shared.answer(ids["room:r"], Ok(reply));
        match room.try_recv().unwrap() {
            Event::Presence(members) => assert_eq!(members[0].session, "s2"),
            other => panic!("{other:?}"),
        }
        assert!(room.try_recv().is_err(), "no gap");
        let refusal = Error::Refused { code: "nick_taken".into(), message: "".into() };
        shared.answer(ids["room:gone"], Err(refusal));
        assert!(matches!(gone.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
    }

    #[test]
    fn a_publication_already_delivered_is_not_delivered_again() {
        let shared = shared();
        let mut news = live_topic(&shared, "news:a", None, Some(position(5, "e")));
        for (offset, epoch) in [(4, "e"), (5, "e"), (6, "e"), (6, "e"), (1, "f"), (2, "f")] {
            shared.publication(publication("news:a", offset, epoch));
        }
        let mut got = Vec::new();
        while let Ok(Event::Publication(p)) = news.try_recv() {
            got.push((p.offset, p.epoch));
        }
        assert_eq!(got, [(6, "e".to_owned()), (1, "f".to_owned()), (2, "f".to_owned())]);
    }

    #[test]
    fn a_successful_subscribe_makes_its_topic_live_at_the_replied_position() {
        let shared = shared();
        let _events = shared.listen("news:a", None).unwrap();
        let (answer, _rx) = oneshot::channel();
        let waiter = Waiter::User { answer, confirms: Some("news:a".into()) };
        shared.lock().requests.insert(7, Pending { waiter, sent: true });
        shared.answer(7, Ok(json!({ "position": { "offset": 3, "epoch": "e" }, "gap": false })));
        let state = shared.lock();
        assert!(state.topics["news:a"].live);
        assert_eq!(state.topics["news:a"].last, Some(position(3, "e")));
    }

    #[test]
    fn finishing_fails_everything_and_refuses_new_work() {
        let shared = shared();
        let mut events = live_topic(&shared, "news:a", None, None);
        let mut waiting = pending(&shared, 1, false);
        shared.finish(ConnectionState::Closed(Some(CloseCode::MESSAGE_TOO_BIG)));
        assert!(matches!(waiting.try_recv(), Ok(Err(Error::Closed(Some(CloseCode::MESSAGE_TOO_BIG))))));
        assert!(matches!(events.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
        assert_eq!(shared.closed(), Some(Some(CloseCode::MESSAGE_TOO_BIG)));
        assert!(matches!(shared.listen("news:b", None), Err(Error::Closed(_))));
    }

    #[test]
    fn refused_credentials_fail_everything_with_the_refusal() {
        let shared = shared();
        let mut events = live_topic(&shared, "news:a", None, None);
        let mut waiting = pending(&shared, 1, true);
        shared.finish(ConnectionState::Unauthorized { status: 401, reason: "token expired".into() });
        let refused = |e: &Error| matches!(e, Error::Unauthorized { status: 401, reason } if reason == "token expired");
        assert!(matches!(waiting.try_recv(), Ok(Err(e)) if refused(&e)));
        assert!(matches!(events.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
        assert_eq!(shared.closed(), Some(None), "closed for good, without a close code");
        assert!(matches!(shared.listen("news:b", None), Err(e) if refused(&e)));
    }
}
