//! The application's side of a topic: the [`Handler`] trait and what it is given and returns.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tidings_protocol::{ErrorCode, StreamPosition};

use crate::hub::{Hub, PublishError};
use crate::identity::{Identity, SessionId};
use crate::session::{PushError, SessionRef};

/// Application code for the topics matching a pattern (`chat:*`), registered with
/// [`HubBuilder::handler`](crate::HubBuilder::handler).
///
/// Every method has a default, so a handler implements only what its topics need. Payloads are typed: the
/// framework decodes `join` parameters into [`Handler::Join`] and client messages into [`Handler::Message`]
/// (a serde-tagged enum routes several kinds of message), and a frame whose data does not decode is answered
/// with `bad_payload` before the handler sees it.
///
/// Calls for one session are made one at a time, in the order its frames arrived.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use tidings_core::{async_trait, Context, Handler, Joined, Refusal};
///
/// struct ChatRoom;
///
/// #[derive(Deserialize)]
/// struct JoinParams { nick: String }
///
/// #[derive(Deserialize)]
/// struct Say { text: String }
///
/// #[derive(Serialize)]
/// struct Said<'a> { nick: &'a str, text: String }
///
/// #[async_trait]
/// impl Handler for ChatRoom {
///     type Join = JoinParams;
///     type Message = Say;
///     type Reply = ();
///
///     async fn join(&self, _ctx: &Context, params: JoinParams) -> Result<Joined<()>, Refusal> {
///         if params.nick.is_empty() {
///             return Err(Refusal::forbidden("a nickname is required"));
///         }
///         Ok(Joined::new().meta(&serde_json::json!({ "nick": params.nick })))
///     }
///
///     async fn message(&self, ctx: &Context, say: Say) -> Result<Option<()>, Refusal> {
///         let nick = ctx.member_meta().and_then(|m| m["nick"].as_str().map(str::to_owned)).unwrap_or_default();
///         ctx.broadcast(&Said { nick: &nick, text: say.text }).await.map_err(Refusal::from)?;
///         Ok(None)
///     }
/// }
/// ```
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Parameters of a `join` (decoded from `null` when the client sends none, so `()` accepts that).
    type Join: DeserializeOwned + Send;
    /// A client message (`message` frames). A type with no data (`()`, a unit struct) takes a message whatever its
    /// `data` (a topic that takes no client messages answers `unsupported` either way).
    type Message: DeserializeOwned + Send;
    /// What replies carry.
    type Reply: Serialize + Send + Sync;

    /// A client asks to subscribe to `ctx.topic()` (or to read its history). Default: allowed.
    async fn subscribe(&self, ctx: &Context) -> Result<(), Refusal> {
        let _ = ctx;
        Ok(())
    }

    /// A client asks to join the room `ctx.topic()`. Return its presence metadata and an optional reply, or refuse.
    /// Default: accepted with no metadata.
    async fn join(&self, ctx: &Context, params: Self::Join) -> Result<Joined<Self::Reply>, Refusal> {
        let _ = (ctx, params);
        Ok(Joined::new())
    }

    /// A client that subscribed to or joined `ctx.topic()` sends a message. Return a reply, or `None` for an empty
    /// one; broadcast or push through `ctx`. Default: refused with `unsupported`.
    async fn message(&self, ctx: &Context, message: Self::Message) -> Result<Option<Self::Reply>, Refusal> {
        let _ = (ctx, message);
        Err(Refusal::new(ErrorCode::UNSUPPORTED, "this topic does not take client messages"))
    }

    /// A client asks to publish `data` to every subscriber of `ctx.topic()`. Default: refused, as clients
    /// publishing directly is a choice an application makes topic by topic.
    async fn publish(&self, ctx: &Context, data: Payload<'_>) -> Result<(), Refusal> {
        let _ = (ctx, data);
        Err(Refusal::forbidden("clients may not publish to this topic"))
    }

    /// The client left the room or unsubscribed, by its own request.
    async fn leave(&self, ctx: &Context) {
        let _ = ctx;
    }

    /// The session ended while subscribed to or joined to `ctx.topic()`: called once per such topic.
    async fn disconnect(&self, ctx: &Context) {
        let _ = ctx;
    }
}

/// A handler for topics anyone may subscribe to and publish to (a public feed, a benchmark), with no checks of its
/// own: the hub's authenticator, the credentials' topic patterns and the limits still apply.
///
/// ```
/// use tidings_core::{AllowAnonymous, Hub, OpenTopic};
/// let hub = Hub::builder().handler("news:*", OpenTopic).authenticator(AllowAnonymous).build().unwrap();
/// # drop(hub);
/// ```
pub struct OpenTopic;

#[async_trait]
impl Handler for OpenTopic {
    type Join = ();
    type Message = ();
    type Reply = ();
    async fn publish(&self, _ctx: &Context, _data: Payload<'_>) -> Result<(), Refusal> {
        Ok(())
    }
}

/// A successful join: the member's presence metadata and an optional reply for the joining client.
#[derive(Debug, Clone)]
pub struct Joined<R> {
    /// Sent back to the joining client in the join reply.
    pub reply: Option<R>,
    /// The member's presence metadata, seen by every member.
    pub meta: Value,
}

impl<R> Joined<R> {
    /// Accepted, with no reply and no metadata.
    pub fn new() -> Self {
        Joined { reply: None, meta: Value::Null }
    }

    /// Adds a reply for the joining client.
    pub fn reply(mut self, reply: R) -> Self {
        self.reply = Some(reply);
        self
    }

    /// Sets the presence metadata. A value that cannot be represented as JSON is stored as `null`.
    pub fn meta(mut self, meta: &impl Serialize) -> Self {
        self.meta = serde_json::to_value(meta).unwrap_or(Value::Null);
        self
    }
}

impl<R> Default for Joined<R> {
    fn default() -> Self {
        Joined::new()
    }
}

/// A handler's refusal, sent to the client as an `error` frame with this code and message.
///
/// ```
/// use tidings_core::Refusal;
/// let r = Refusal::new(tidings_core::ErrorCode::new("room_full"), "the room has 50 members");
/// assert_eq!(r.code.as_str(), "room_full");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refusal {
    /// The error code.
    pub code: ErrorCode,
    /// Why, for humans.
    pub message: Cow<'static, str>,
}

impl Refusal {
    /// A refusal with any code.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Refusal { code, message: message.into() }
    }

    /// The client is not allowed to do this.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Refusal::new(ErrorCode::FORBIDDEN, message)
    }

    /// The request's data is not acceptable.
    pub fn bad_payload(message: impl Into<Cow<'static, str>>) -> Self {
        Refusal::new(ErrorCode::BAD_PAYLOAD, message)
    }
}

impl From<PublishError> for Refusal {
    fn from(e: PublishError) -> Self {
        let code = match e {
            PublishError::BadTopic(_) => ErrorCode::BAD_TOPIC,
            PublishError::Encode(_) => ErrorCode::BAD_PAYLOAD,
            PublishError::Broker(_) => ErrorCode::UNAVAILABLE,
        };
        Refusal::new(code, e.to_string())
    }
}

/// A client's raw JSON payload, for handlers that check it before it is published as-is.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a>(pub(crate) &'a RawValue);

impl Payload<'_> {
    /// Decodes the payload.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Refusal> {
        serde_json::from_str(self.0.get()).map_err(|e| Refusal::bad_payload(e.to_string()))
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }
}

/// What a handler call knows: the topic, the session and its identity, and the hub to act on.
#[derive(Clone)]
pub struct Context {
    hub: Hub,
    topic: Arc<str>,
    session: Arc<SessionRef>,
    member_meta: Option<Arc<Value>>,
}

impl Context {
    pub(crate) fn new(hub: Hub, topic: Arc<str>, session: Arc<SessionRef>, member_meta: Option<Arc<Value>>) -> Self {
        Context { hub, topic, session, member_meta }
    }

    /// The concrete topic (`chat:lobby`, not the pattern `chat:*`).
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The session making the request.
    pub fn session_id(&self) -> &SessionId {
        &self.session.id
    }

    /// Who the session is.
    pub fn identity(&self) -> &Identity {
        &self.session.identity
    }

    /// The session's presence metadata in this room, when it is a member.
    pub fn member_meta(&self) -> Option<&Value> {
        self.member_meta.as_deref()
    }

    /// The hub, to publish to other topics or read presence and history.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Publishes `data` to every subscriber and member of this topic (including this session, if subscribed).
    pub async fn broadcast<T: Serialize + ?Sized>(&self, data: &T) -> Result<StreamPosition, PublishError> {
        self.hub.publish(&self.topic, data).await
    }

    /// Sends `data` to this session only, as a `push` frame for this topic.
    pub fn push<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), PushError> {
        let raw = serde_json::value::to_raw_value(data).map_err(|_| PushError::Encode)?;
        self.session.push(tidings_protocol::encode::push_body(&self.topic, &raw)).map(drop)
    }
}

/// The handler as the session calls it: raw JSON in and out. Implemented for every [`Handler`].
#[async_trait]
pub(crate) trait ErasedHandler: Send + Sync {
    async fn subscribe(&self, ctx: &Context) -> Result<(), Refusal>;
    async fn join(&self, ctx: &Context, data: Option<&RawValue>) -> Result<(Option<Box<RawValue>>, Value), Refusal>;
    async fn message(&self, ctx: &Context, data: Option<&RawValue>) -> Result<Option<Box<RawValue>>, Refusal>;
    async fn publish(&self, ctx: &Context, data: &RawValue) -> Result<(), Refusal>;
    async fn leave(&self, ctx: &Context);
    async fn disconnect(&self, ctx: &Context);
}

fn decode<T: DeserializeOwned>(data: Option<&RawValue>) -> Result<T, Refusal> {
    serde_json::from_str(data.map_or("null", RawValue::get)).map_err(|e| Refusal::bad_payload(e.to_string()))
}

/// Whether `T` has no data: a zero-sized type that decodes from `null` (`()`, a unit struct).
fn carries_no_data<T: DeserializeOwned>() -> bool {
    std::mem::size_of::<T>() == 0 && serde_json::from_str::<T>("null").is_ok()
}

fn encode<T: Serialize>(value: Option<T>) -> Result<Option<Box<RawValue>>, Refusal> {
    value
        .map(|v| serde_json::value::to_raw_value(&v))
        .transpose()
        .map_err(|e| Refusal::new(ErrorCode::INTERNAL, format!("reply could not be encoded: {e}")))
}

#[async_trait]
impl<H: Handler> ErasedHandler for H {
    async fn subscribe(&self, ctx: &Context) -> Result<(), Refusal> {
        Handler::subscribe(self, ctx).await
    }

    async fn join(&self, ctx: &Context, data: Option<&RawValue>) -> Result<(Option<Box<RawValue>>, Value), Refusal> {
        let joined = Handler::join(self, ctx, decode(data)?).await?;
        Ok((encode(joined.reply)?, joined.meta))
    }

    async fn message(&self, ctx: &Context, data: Option<&RawValue>) -> Result<Option<Box<RawValue>>, Refusal> {
        let message = match decode(data) {
            Ok(message) => message,
            // A message type that carries no data (`()`, as for topics that take no client messages) answers
            // `data` as it answers no data, rather than as a malformed message: `unsupported` from the default
            // `message`.
            Err(_) if carries_no_data::<H::Message>() => decode(None)?,
            Err(refusal) => return Err(refusal),
        };
        encode(Handler::message(self, ctx, message).await?)
    }

    async fn publish(&self, ctx: &Context, data: &RawValue) -> Result<(), Refusal> {
        Handler::publish(self, ctx, Payload(data)).await
    }

    async fn leave(&self, ctx: &Context) {
        Handler::leave(self, ctx).await
    }

    async fn disconnect(&self, ctx: &Context) {
        Handler::disconnect(self, ctx).await
    }
}
