//! Test handlers without sockets: an in-process client on a real hub.
//!
//! [`TestClient`] connects through an in-process [`Transport`] (the same trait the WebSocket transport implements),
//! so a test exercises the real session, router, handlers, broker and presence; only the socket is missing.
//!
//! ```
//! use serde_json::json;
//! use tidings_core::testkit::TestClient;
//! use tidings_core::{async_trait, Context, Handler, Hub, Joined, Refusal};
//!
//! struct Echo;
//! #[async_trait]
//! impl Handler for Echo {
//!     type Join = ();
//!     type Message = serde_json::Value;
//!     type Reply = serde_json::Value;
//!     async fn message(&self, ctx: &Context, msg: serde_json::Value) -> Result<Option<serde_json::Value>, Refusal> {
//!         ctx.broadcast(&msg).await?;
//!         Ok(Some(json!({ "echo": msg })))
//!     }
//! }
//!
//! # actix_rt::System::new().block_on(async {
//! let hub = Hub::builder().handler("echo:*", Echo).build().unwrap();
//! let mut ann = TestClient::connect(&hub).await;
//! ann.join("echo:1", ()).await.unwrap();
//! assert_eq!(ann.message("echo:1", json!("hi")).await.unwrap(), json!({ "echo": "hi" }));
//! assert_eq!(ann.expect_broadcast("echo:1").await, json!("hi"));
//! # });
//! ```

pub mod brokers;

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};
use tidings_protocol::{EncodedFrame, Member, ServerFrame};
use tokio::sync::mpsc;

use crate::close::Close;
use crate::hub::Hub;
use crate::identity::{Identity, SessionId};
use crate::transport::{Transport, TransportError};

/// What the in-process transport hands to its client.
enum Downstream {
    Frame(Vec<u8>),
    Closed(Close),
}

/// The in-process transport: two channels.
struct InProcess {
    to_client: mpsc::UnboundedSender<Downstream>,
    from_client: mpsc::UnboundedReceiver<Bytes>,
}

#[async_trait(?Send)]
impl Transport for InProcess {
    fn name(&self) -> &'static str {
        "in-process"
    }

    async fn send(&mut self, frames: &[EncodedFrame]) -> Result<(), TransportError> {
        for frame in frames {
            self.to_client
                .send(Downstream::Frame(frame.to_vec()))
                .map_err(|_| TransportError::Lost("test client dropped".into()))?;
        }
        Ok(())
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        Ok(self.from_client.recv().await)
    }

    async fn close(&mut self, close: Close) {
        let _ = self.to_client.send(Downstream::Closed(close));
    }
}

/// An error answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// The error code.
    pub code: String,
    /// The message.
    pub message: String,
}

/// A client connected to a hub in-process. Its helpers panic with a description of what arrived instead when an
/// expected frame does not come within the timeout (2 seconds unless [`TestClient::set_timeout`] says otherwise),
/// like an assertion.
///
/// Frames that a helper was not looking for are kept, in order, for the next helper: `expect_broadcast` after a
/// `join` still finds a publication that arrived before the join's reply.
pub struct TestClient {
    hub: Hub,
    session: SessionId,
    to_server: Option<mpsc::UnboundedSender<Bytes>>,
    from_server: mpsc::UnboundedReceiver<Downstream>,
    pending: VecDeque<ServerFrame>,
    closed: Option<Close>,
    next_id: u64,
    timeout: Duration,
    resumed: bool,
    last_seq: std::cell::Cell<u64>,
}

impl TestClient {
    /// Connects an anonymous client.
    pub async fn connect(hub: &Hub) -> TestClient {
        TestClient::connect_as(hub, Identity::anonymous()).await
    }

    /// Connects a client with the given identity.
    pub async fn connect_as(hub: &Hub, identity: Identity) -> TestClient {
        TestClient::connect_with(hub, crate::Connect::new(identity)).await
    }

    /// Connects as `connect` says: to resume a session, say. [`TestClient::resumed`] tells whether it did.
    pub async fn connect_with(hub: &Hub, connect: crate::Connect) -> TestClient {
        let (to_server, from_client) = mpsc::unbounded_channel();
        let (to_client, mut from_server) = mpsc::unbounded_channel();
        let transport = InProcess { to_client, from_client };
        let served = hub.clone();
        let resuming_after = connect.resume.as_ref().map_or(0, |r| r.ack);
        actix::spawn(async move { served.serve(transport, connect).await });
        let (session, resumed) = match from_server.recv().await {
            Some(Downstream::Frame(bytes)) => match serde_json::from_slice(&bytes) {
                Ok(ServerFrame::Welcome { session, resumed, .. }) => (session, resumed),
                other => panic!("expected a welcome frame, got {other:?}"),
            },
            Some(Downstream::Closed(close)) => panic!("the hub refused the connection: {close:?}"),
            None => panic!("the hub dropped the connection"),
        };
        let session = SessionId::from_wire(session);
        TestClient {
            hub: hub.clone(),
            session,
            to_server: Some(to_server),
            from_server,
            pending: VecDeque::new(),
            closed: None,
            next_id: 1,
            timeout: Duration::from_secs(2),
            resumed,
            last_seq: std::cell::Cell::new(if resumed { resuming_after } else { 0 }),
        }
    }

    /// Whether this connection continues an existing session (`welcome.resumed`).
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// The highest `seq` this client has received (and acknowledged): where a resume continues from.
    pub fn last_seq(&self) -> u64 {
        self.last_seq.get()
    }

    /// How long helpers wait for an expected frame.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// This client's session id.
    pub fn session_id(&self) -> &str {
        self.session.as_str()
    }

    /// Sends raw text, as a client with a bug (or an attacker) would.
    pub fn send_raw(&self, text: impl Into<Bytes>) {
        if let Some(tx) = &self.to_server {
            let _ = tx.send(text.into());
        }
    }

    /// Sends a request and waits for its answer: the reply's data, or the error.
    pub async fn request(&mut self, kind: &str, topic: &str, data: Option<Value>) -> Result<Value, ErrorReply> {
        let id = self.next_id;
        self.next_id += 1;
        let mut frame = json!({ "type": kind, "id": id, "topic": topic });
        if let Some(data) = data {
            frame["data"] = data;
        }
        self.send_raw(frame.to_string());
        let answer = self
            .take(&format!("the answer to request {id} ({kind} {topic})"), |f| match f {
                ServerFrame::Reply { id: i, .. } | ServerFrame::Error { id: Some(i), .. } => *i == id,
                _ => false,
            })
            .await;
        match answer {
            ServerFrame::Reply { data, .. } => Ok(data),
            ServerFrame::Error { code, message, .. } => Err(ErrorReply { code, message }),
            _ => unreachable!("take returns a matching frame"),
        }
    }

    /// Subscribes to a topic; the reply holds its `position`.
    pub async fn subscribe(&mut self, topic: &str) -> Result<Value, ErrorReply> {
        self.request("subscribe", topic, None).await
    }

    /// Unsubscribes from a topic.
    pub async fn unsubscribe(&mut self, topic: &str) -> Result<Value, ErrorReply> {
        self.request("unsubscribe", topic, None).await
    }

    /// Joins a room with `params`; the reply holds `presence`, `position` and the handler's `reply`.
    pub async fn join(&mut self, topic: &str, params: impl Serialize) -> Result<Value, ErrorReply> {
        let params = serde_json::to_value(params).expect("join parameters encode as JSON");
        self.request("join", topic, Some(params)).await
    }

    /// Leaves a room.
    pub async fn leave(&mut self, topic: &str) -> Result<Value, ErrorReply> {
        self.request("leave", topic, None).await
    }

    /// Sends a message to the topic's handler (Phoenix's `push`) and returns its reply (`null` when none).
    pub async fn message(&mut self, topic: &str, data: impl Serialize) -> Result<Value, ErrorReply> {
        let data = serde_json::to_value(data).expect("message encodes as JSON");
        self.request("message", topic, Some(data)).await
    }

    /// Publishes to a topic as a client.
    pub async fn publish(&mut self, topic: &str, data: impl Serialize) -> Result<Value, ErrorReply> {
        let data = serde_json::to_value(data).expect("publication encodes as JSON");
        self.request("publish", topic, Some(data)).await
    }

    /// Waits for the next publication of `topic` and returns its data.
    pub async fn expect_broadcast(&mut self, topic: &str) -> Value {
        match self
            .take(
                &format!("a publication on {topic}"),
                |f| matches!(f, ServerFrame::Pub { topic: t, .. } if t == topic),
            )
            .await
        {
            ServerFrame::Pub { data, .. } => data,
            _ => unreachable!("take returns a matching frame"),
        }
    }

    /// Waits for the next `push` for `topic` and returns its data.
    pub async fn expect_push(&mut self, topic: &str) -> Value {
        match self
            .take(&format!("a push on {topic}"), |f| matches!(f, ServerFrame::Push { topic: t, .. } if t == topic))
            .await
        {
            ServerFrame::Push { data, .. } => data,
            _ => unreachable!("take returns a matching frame"),
        }
    }

    /// Waits for the next `member_joined` of `room`.
    pub async fn expect_member_joined(&mut self, room: &str) -> Member {
        match self
            .take(
                &format!("member_joined on {room}"),
                |f| matches!(f, ServerFrame::MemberJoined { topic, .. } if topic == room),
            )
            .await
        {
            ServerFrame::MemberJoined { member, .. } => member,
            _ => unreachable!("take returns a matching frame"),
        }
    }

    /// Waits for the next `member_left` of `room`.
    pub async fn expect_member_left(&mut self, room: &str) -> Member {
        match self
            .take(
                &format!("member_left on {room}"),
                |f| matches!(f, ServerFrame::MemberLeft { topic, .. } if topic == room),
            )
            .await
        {
            ServerFrame::MemberLeft { member, .. } => member,
            _ => unreachable!("take returns a matching frame"),
        }
    }

    /// Waits for the next `error` frame that answers no request (a malformed frame's).
    pub async fn expect_error(&mut self) -> ErrorReply {
        match self.take("an error without a request id", |f| matches!(f, ServerFrame::Error { id: None, .. })).await {
            ServerFrame::Error { code, message, .. } => ErrorReply { code, message },
            _ => unreachable!("take returns a matching frame"),
        }
    }

    /// The next frame, whatever it is.
    pub async fn next_frame(&mut self) -> ServerFrame {
        self.take("any frame", |_| true).await
    }

    /// Asserts that no frame arrives within `quiet`.
    pub async fn assert_no_frame(&mut self, quiet: Duration) {
        if let Some(frame) = self.pending.front() {
            panic!("expected no frame, but {frame:?} is waiting");
        }
        if let Ok(Some(down)) = tokio::time::timeout(quiet, self.from_server.recv()).await {
            match down {
                Downstream::Frame(bytes) => panic!("expected no frame, got {}", String::from_utf8_lossy(&bytes)),
                Downstream::Closed(close) => panic!("expected no frame, but the connection closed: {close:?}"),
            }
        }
    }

    /// Waits until the server closes the connection, and returns its close.
    pub async fn expect_closed(&mut self) -> Close {
        let deadline = tokio::time::Instant::now() + self.timeout;
        while self.closed.is_none() {
            match tokio::time::timeout_at(deadline, self.from_server.recv()).await {
                Ok(Some(Downstream::Frame(bytes))) => {
                    let frame = self.receive(&bytes);
                    self.pending.push_back(frame);
                }
                Ok(Some(Downstream::Closed(close))) => self.closed = Some(close),
                Ok(None) => panic!("the connection ended without a close"),
                Err(_) => panic!("the server did not close the connection within {:?}", self.timeout),
            }
        }
        self.closed.clone().expect("set above")
    }

    /// Closes the connection and waits until the session has left all its topics and its handlers were told.
    pub async fn disconnect(mut self) {
        self.to_server = None;
        self.hub.session_ended(&self.session).await;
    }

    /// Decodes a frame and acknowledges it, as a real client does, so that the session can forget it.
    fn receive(&self, bytes: &[u8]) -> ServerFrame {
        let frame = decode(bytes);
        if let Some(seq) = frame.seq() {
            assert_eq!(seq, self.last_seq.get() + 1, "frames must arrive in seq order without gaps or doubles");
            self.last_seq.set(seq);
            self.send_raw(format!(r#"{{"type":"ack","seq":{seq}}}"#));
        }
        frame
    }

    async fn take(&mut self, what: &str, wanted: impl Fn(&ServerFrame) -> bool) -> ServerFrame {
        if let Some(i) = self.pending.iter().position(&wanted) {
            return self.pending.remove(i).expect("index from position");
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if let Some(close) = &self.closed {
                panic!("waiting for {what}, but the connection closed with {close:?}; unread: {:?}", self.pending);
            }
            match tokio::time::timeout_at(deadline, self.from_server.recv()).await {
                Ok(Some(Downstream::Frame(bytes))) => {
                    let frame = self.receive(&bytes);
                    if wanted(&frame) {
                        return frame;
                    }
                    self.pending.push_back(frame);
                }
                Ok(Some(Downstream::Closed(close))) => self.closed = Some(close),
                Ok(None) => panic!("waiting for {what}, but the connection ended"),
                Err(_) => panic!("waiting for {what}: nothing within {:?}; unread: {:?}", self.timeout, self.pending),
            }
        }
    }
}

fn decode(bytes: &[u8]) -> ServerFrame {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("the server sent an invalid frame ({e}): {}", String::from_utf8_lossy(bytes)))
}
