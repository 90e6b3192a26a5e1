//! Error codes (in `error` frames) and close codes (when a connection ends).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The `code` of an `error` frame: a short `snake_case` string.
///
/// The constants are the codes the framework itself sends. Handlers may refuse with codes of their own
/// (`ErrorCode::new("room_full")`); clients should treat an unknown code like [`ErrorCode::FORBIDDEN`].
///
/// ```
/// use tidings_protocol::ErrorCode;
/// assert_eq!(ErrorCode::FORBIDDEN.as_str(), "forbidden");
/// assert_eq!(ErrorCode::new("room_full").as_str(), "room_full");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorCode(Cow<'static, str>);

impl ErrorCode {
    /// The frame is not a JSON object, or a field has the wrong type, or a required field is missing.
    pub const BAD_FRAME: ErrorCode = ErrorCode::from_static("bad_frame");
    /// The frame's `type` is not one this protocol version knows.
    pub const UNKNOWN_TYPE: ErrorCode = ErrorCode::from_static("unknown_type");
    /// The topic name is not valid (see `docs/protocol.md`, "Topic names").
    pub const BAD_TOPIC: ErrorCode = ErrorCode::from_static("bad_topic");
    /// No handler is registered for a pattern matching this topic.
    pub const UNKNOWN_TOPIC: ErrorCode = ErrorCode::from_static("unknown_topic");
    /// The topic's handler refused the request.
    pub const FORBIDDEN: ErrorCode = ErrorCode::from_static("forbidden");
    /// The `data` of the request does not have the shape the topic's handler expects.
    pub const BAD_PAYLOAD: ErrorCode = ErrorCode::from_static("bad_payload");
    /// The topic's handler does not take client messages.
    pub const UNSUPPORTED: ErrorCode = ErrorCode::from_static("unsupported");
    /// `subscribe` for a topic the session already subscribed to or joined.
    pub const ALREADY_SUBSCRIBED: ErrorCode = ErrorCode::from_static("already_subscribed");
    /// `unsubscribe` or `message` for a topic the session has neither subscribed to nor joined.
    pub const NOT_SUBSCRIBED: ErrorCode = ErrorCode::from_static("not_subscribed");
    /// `join` for a room the session is already a member of.
    pub const ALREADY_JOINED: ErrorCode = ErrorCode::from_static("already_joined");
    /// `leave` for a room the session is not a member of.
    pub const NOT_JOINED: ErrorCode = ErrorCode::from_static("not_joined");
    /// A `refresh` carried credentials the server does not accept (expired, invalid, or another user's).
    pub const UNAUTHORIZED: ErrorCode = ErrorCode::from_static("unauthorized");
    /// The session holds as many subscriptions and memberships as the server allows.
    pub const TOO_MANY_SUBSCRIPTIONS: ErrorCode = ErrorCode::from_static("too_many_subscriptions");
    /// The broker could not complete the request (for example, it could not reach Redis); retrying may work.
    pub const UNAVAILABLE: ErrorCode = ErrorCode::from_static("unavailable");
    /// The handler failed unexpectedly. The details are in the server's log, not in the frame.
    pub const INTERNAL: ErrorCode = ErrorCode::from_static("internal");
    /// The handler did not answer within the server's deadline (`HubConfig::handler_timeout`); the request was
    /// abandoned, and the session's next requests go on.
    pub const TIMEOUT: ErrorCode = ErrorCode::from_static("timeout");
    /// The session ended while the request was being handled; the request was abandoned.
    pub const SESSION_ENDING: ErrorCode = ErrorCode::from_static("session_ending");

    /// A code known at compile time.
    pub const fn from_static(code: &'static str) -> Self {
        ErrorCode(Cow::Borrowed(code))
    }

    /// Any code, for application-defined refusals.
    pub fn new(code: impl Into<Cow<'static, str>>) -> Self {
        ErrorCode(code.into())
    }

    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A WebSocket close code, also used by the other transports to say why a connection ended.
///
/// Each code tells the client whether to reconnect ([`CloseCode::should_reconnect`]): codes that mean "the server
/// went away or the connection was unhealthy" invite a reconnect with backoff; codes that mean "this client did
/// something the server will never accept" tell it to give up and report the error.
///
/// ```
/// use tidings_protocol::CloseCode;
/// assert!(CloseCode::GOING_AWAY.should_reconnect());
/// assert!(!CloseCode::PROTOCOL_ERROR.should_reconnect());
/// assert!(CloseCode(4100).should_reconnect());
/// assert!(!CloseCode(4600).should_reconnect());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// The session ended normally. Do not reconnect.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// The server is shutting down or restarting. Reconnect.
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// The client broke the WebSocket protocol (unmasked frame, bad opcode, ...). Give up.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// The client sent a binary message; protocol v1 is JSON text. Give up.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// The client sent a text message that is not valid UTF-8. Give up.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// The client broke a server policy. Give up.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// The client sent a message over the server's size limit. Give up (resending it would fail again).
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// The server failed unexpectedly. Reconnect with backoff.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// The server is restarting. Reconnect with backoff.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// The server is overloaded. Reconnect with backoff.
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// The client did not read fast enough and its outbound queue overflowed. Reconnect.
    pub const SLOW_CONSUMER: CloseCode = CloseCode(4000);
    /// Nothing was heard from the client (not even a pong) within the idle timeout. Reconnect.
    pub const IDLE_TIMEOUT: CloseCode = CloseCode(4001);
    /// The session's credentials expired and were not refreshed in band. Reconnect with fresh credentials.
    pub const CREDENTIALS_EXPIRED: CloseCode = CloseCode(4003);
    /// The server can no longer vouch for the continuity of a topic the session receives (publications may have
    /// been lost between nodes, or the topic's history was reset). Reconnect: the new session subscribes with
    /// `since` and learns from the reply's `gap` what it missed.
    pub const INSUFFICIENT_STATE: CloseCode = CloseCode(4004);
    /// The session was resumed on a newer connection; this one is obsolete. Do not reconnect it.
    pub const SUPERSEDED: CloseCode = CloseCode(4500);

    /// Whether a client should reconnect (with backoff) after the server closed with this code.
    ///
    /// Reconnect: 1001, 1006 (connection lost without a close frame), 1011, 1012, 1013, and 4000-4499.
    /// Give up: everything else, including 1000 and 4500-4999.
    pub fn should_reconnect(self) -> bool {
        matches!(self.0, 1001 | 1006 | 1011 | 1012 | 1013 | 4000..=4499)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
