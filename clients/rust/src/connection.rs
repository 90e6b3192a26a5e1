//! The connection: one reader task, one writer task, and request bookkeeping.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tidings_protocol::{ClientFrame, CloseCode, ServerFrame, StreamPosition};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::error::Error;
use crate::subscription::{Event, Publication, Room, Subscription};

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long a request waits for its reply.
    pub request_timeout: Duration,
    /// How long connecting (TCP, WebSocket handshake and `welcome`) may take.
    pub connect_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions { request_timeout: Duration::from_secs(10), connect_timeout: Duration::from_secs(10) }
    }
}

/// A connection to a Tidings server. Cheap to clone; all clones share the connection, which closes when the last
/// clone and every [`Subscription`] are dropped, or on [`Client::close`].
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

type Answer = Result<Value, Error>;

pub(crate) struct Shared {
    session: String,
    options: ClientOptions,
    outgoing: mpsc::UnboundedSender<Message>,
    next_id: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    requests: HashMap<u64, oneshot::Sender<Answer>>,
    topics: HashMap<String, mpsc::UnboundedSender<Event>>,
    /// Set when the connection ends: `Some(code)` when the server sent a close frame.
    closed: Option<Option<CloseCode>>,
}

impl Client {
    /// Connects to a Tidings WebSocket endpoint (`ws://host/realtime/ws`) and waits for its `welcome`.
    pub async fn connect(url: &str) -> Result<Client, Error> {
        Client::connect_with(url, ClientOptions::default()).await
    }

    /// Connects with non-default options.
    pub async fn connect_with(url: &str, options: ClientOptions) -> Result<Client, Error> {
        let opening = async {
            let (ws, _) = tokio_tungstenite::connect_async(url).await.map_err(|e| Error::Connect(e.to_string()))?;
            let (sink, mut stream) = ws.split();
            let session = welcome(&mut stream).await?;
            Ok::<_, Error>((sink, stream, session))
        };
        let (mut sink, mut stream, session) = tokio::time::timeout(options.connect_timeout, opening)
            .await
            .map_err(|_| Error::Connect(format!("no welcome within {:?}", options.connect_timeout)))??;
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        let shared = Arc::new(Shared {
            session,
            options,
            outgoing,
            next_id: AtomicU64::new(1),
            state: Mutex::new(State::default()),
        });
        tokio::spawn(async move {
            while let Some(message) = to_send.recv().await {
                let closing = matches!(message, Message::Close(_));
                if sink.send(message).await.is_err() || closing {
                    break;
                }
            }
        });
        let reader = Arc::downgrade(&shared);
        tokio::spawn(async move {
            let mut close = None;
            while let Some(message) = stream.next().await {
                let Some(shared) = reader.upgrade() else { return };
                match message {
                    Ok(Message::Text(text)) => shared.dispatch(text.as_bytes()),
                    Ok(Message::Close(frame)) => {
                        close = frame.map(|f| CloseCode(f.code.into()));
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "connection failed");
                        break;
                    }
                }
            }
            if let Some(shared) = reader.upgrade() {
                shared.end(close);
            }
        });
        Ok(Client { shared })
    }

    /// The session id the server assigned.
    pub fn session_id(&self) -> &str {
        &self.shared.session
    }

    /// The close code the server ended the connection with, once it has ended: `Some(None)` when it ended without
    /// a close frame.
    pub fn closed(&self) -> Option<Option<CloseCode>> {
        self.shared.state.lock().expect("client state lock").closed
    }

    /// Subscribes to a topic. Publications already on their way are not lost: the subscription receives everything
    /// published after the server registered it, including what arrives before this call returns.
    pub async fn subscribe(&self, topic: &str) -> Result<Subscription, Error> {
        let events = self.shared.listen(topic)?;
        let reply = self.shared.request::<()>("subscribe", topic, None).await;
        let position = self.shared.position(topic, reply)?;
        Ok(Subscription::new(self.clone(), topic.to_owned(), position, events))
    }

    /// Joins a room with `params` for its handler. The [`Room`] holds the handler's reply and the presence list,
    /// and yields publications and member join/leave events.
    pub async fn join<P: Serialize + ?Sized>(&self, room: &str, params: &P) -> Result<Room, Error> {
        let events = self.shared.listen(room)?;
        let reply = self.shared.request("join", room, Some(params)).await;
        let position = self.shared.position(room, reply.clone())?;
        let reply = reply.expect("position() fails on an error reply");
        let presence = match serde_json::from_value(reply["presence"].clone()) {
            Ok(presence) => presence,
            Err(e) => {
                self.shared.abandon(room);
                return Err(Error::Decode(e.to_string()));
            }
        };
        let subscription = Subscription::new(self.clone(), room.to_owned(), position, events);
        Ok(Room::new(subscription, presence, reply.get("reply").cloned().unwrap_or(Value::Null)))
    }

    /// Publishes `data` to a topic (if its handler lets clients publish). Returns the publication's position.
    pub async fn publish<T: Serialize + ?Sized>(&self, topic: &str, data: &T) -> Result<StreamPosition, Error> {
        let reply = self.shared.request("publish", topic, Some(data)).await?;
        serde_json::from_value(reply["position"].clone()).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Sends a message to a topic's handler and waits for its reply, decoded as `R` (use `Value` for any, `()` to
    /// ignore it). The session must have subscribed to or joined the topic.
    pub async fn request<T: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        topic: &str,
        message: &T,
    ) -> Result<R, Error> {
        let reply = self.shared.request("message", topic, Some(message)).await?;
        serde_json::from_value(reply).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Reads a topic's retained history after `since` (from the oldest retained when `None`), at most `limit`
    /// publications. Returns them with `true` when some after `since` were lost.
    pub async fn history(
        &self,
        topic: &str,
        since: Option<&StreamPosition>,
        limit: Option<u32>,
    ) -> Result<(Vec<Publication>, bool), Error> {
        let frame = ClientFrame {
            kind: "history".into(),
            id: Some(self.shared.next_id()),
            topic: Some(topic.into()),
            since: since.cloned(),
            limit,
            ..Default::default()
        };
        let reply = self.shared.send_request(frame).await?;
        let gap = reply["gap"].as_bool().unwrap_or(false);
        let publications = reply["publications"]
            .as_array()
            .ok_or_else(|| Error::Decode("history reply without publications".into()))?
            .iter()
            .map(|p| Publication {
                topic: topic.to_owned(),
                offset: p["offset"].as_u64().unwrap_or(0),
                epoch: p["epoch"].as_str().unwrap_or_default().to_owned(),
                data: p["data"].clone(),
            })
            .collect();
        Ok((publications, gap))
    }

    /// Closes the connection normally (1000).
    pub async fn close(&self) {
        let frame = CloseFrame { code: WsCloseCode::Normal, reason: "".into() };
        let _ = self.shared.outgoing.send(Message::Close(Some(frame)));
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl Shared {
    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("client state lock")
    }

    /// Starts routing a topic's events to a new channel, before the request that makes the server send them.
    fn listen(&self, topic: &str) -> Result<mpsc::UnboundedReceiver<Event>, Error> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = self.lock();
        if let Some(closed) = state.closed {
            return Err(Error::Closed(closed));
        }
        if state.topics.contains_key(topic) {
            return Err(Error::Refused {
                code: "already_subscribed".into(),
                message: "this client already listens to the topic".into(),
            });
        }
        state.topics.insert(topic.to_owned(), tx);
        Ok(rx)
    }

    pub(crate) fn forget(&self, topic: &str) {
        self.lock().topics.remove(topic);
    }

    /// Gives up on a topic whose subscribe or join went wrong after the server may have done it: stop listening,
    /// and tell the server to undo it (a no-op there if it never happened).
    fn abandon(&self, topic: &str) {
        self.forget(topic);
        self.notify("unsubscribe", topic);
    }

    /// The position in a subscribe or join reply. On failure the topic is abandoned: a refusal changed nothing on
    /// the server, but a timed-out or undecodable answer may have.
    fn position(&self, topic: &str, reply: Answer) -> Result<StreamPosition, Error> {
        let decoded =
            reply.and_then(|r| serde_json::from_value(r["position"].clone()).map_err(|e| Error::Decode(e.to_string())));
        match &decoded {
            Err(Error::Refused { .. }) => self.forget(topic),
            Err(_) => self.abandon(topic),
            Ok(_) => {}
        }
        decoded
    }

    pub(crate) async fn request<T: Serialize + ?Sized>(&self, kind: &str, topic: &str, data: Option<&T>) -> Answer {
        let raw: Option<Box<RawValue>> =
            data.map(serde_json::value::to_raw_value).transpose().map_err(|e| Error::Decode(e.to_string()))?;
        let frame = ClientFrame {
            kind: kind.into(),
            id: Some(self.next_id()),
            topic: Some(topic.into()),
            data: raw.as_deref(),
            ..Default::default()
        };
        self.send_request(frame).await
    }

    /// Sends a request that asks for no answer (no id).
    pub(crate) fn notify(&self, kind: &str, topic: &str) {
        let frame = ClientFrame { kind: kind.into(), topic: Some(topic.into()), ..Default::default() };
        if let Ok(text) = serde_json::to_string(&frame) {
            let _ = self.outgoing.send(Message::text(text));
        }
    }

    async fn send_request(&self, frame: ClientFrame<'_>) -> Answer {
        let id = frame.id.expect("requests carry an id");
        let text = serde_json::to_string(&frame).map_err(|e| Error::Decode(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.lock();
            if let Some(closed) = state.closed {
                return Err(Error::Closed(closed));
            }
            state.requests.insert(id, tx);
        }
        if self.outgoing.send(Message::text(text)).is_err() {
            self.lock().requests.remove(&id);
            return Err(Error::Closed(None));
        }
        match tokio::time::timeout(self.options.request_timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(Error::Closed(self.lock().closed.flatten())),
            Err(_) => {
                self.lock().requests.remove(&id);
                Err(Error::Timeout)
            }
        }
    }

    /// Routes one server frame.
    fn dispatch(&self, text: &[u8]) {
        let frame: ServerFrame = match serde_json::from_slice(text) {
            Ok(frame) => frame,
            Err(e) => {
                // A reply this client cannot read (say, a number beyond f64 in someone's payload) still answers
                // its request, so that the caller gets an error rather than a timeout.
                match recover_id(text) {
                    Some(id) => self.answer(id, Err(Error::Decode(e.to_string()))),
                    None => tracing::warn!(error = %e, "dropping a frame this client cannot decode"),
                }
                return;
            }
        };
        let (topic, event) = match frame {
            ServerFrame::Reply { id, data, .. } => return self.answer(id, Ok(data)),
            ServerFrame::Error { id: Some(id), code, message, .. } => {
                return self.answer(id, Err(Error::Refused { code, message }))
            }
            ServerFrame::Error { id: None, code, message, .. } => {
                tracing::warn!(code, message, "the server reported an error");
                return;
            }
            ServerFrame::Welcome { .. } => return,
            ServerFrame::Pub { topic, offset, epoch, data, .. } => {
                (topic.clone(), Event::Publication(Publication { topic, offset, epoch, data }))
            }
            ServerFrame::Push { topic, data, .. } => (topic, Event::Push(data)),
            ServerFrame::MemberJoined { topic, member, .. } => (topic, Event::MemberJoined(member)),
            ServerFrame::MemberLeft { topic, member, .. } => (topic, Event::MemberLeft(member)),
        };
        let state = self.lock();
        if let Some(events) = state.topics.get(&topic) {
            let _ = events.send(event);
        }
    }

    fn answer(&self, id: u64, answer: Answer) {
        if let Some(waiting) = self.lock().requests.remove(&id) {
            let _ = waiting.send(answer);
        }
    }

    /// The connection ended: fail pending requests and end every subscription's stream.
    fn end(&self, close: Option<CloseCode>) {
        let mut state = self.lock();
        state.closed = Some(close);
        for (_, waiting) in state.requests.drain() {
            let _ = waiting.send(Err(Error::Closed(close)));
        }
        state.topics.clear();
    }
}

/// Reads frames until `welcome`, returning the session id.
async fn welcome<S>(stream: &mut S) -> Result<String, Error>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => {
                return match serde_json::from_str(&text) {
                    Ok(ServerFrame::Welcome { session, .. }) => Ok(session),
                    _ => Err(Error::Connect(format!("expected a welcome frame, got {text}"))),
                };
            }
            Some(Ok(Message::Close(frame))) => return Err(Error::Closed(frame.map(|f| CloseCode(f.code.into())))),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(Error::Connect(e.to_string())),
            None => return Err(Error::Closed(None)),
        }
    }
}

/// The `id` of a reply or error frame whose other fields did not decode.
fn recover_id(text: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "type")]
        kind: String,
        id: Option<u64>,
    }
    let answer: Answer = serde_json::from_slice(text).ok()?;
    matches!(answer.kind.as_str(), "reply" | "error").then_some(answer.id).flatten()
}
