//! Why a connection ends.

use std::borrow::Cow;

use tidings_protocol::CloseCode;

/// A close code with a short reason, sent to the client when the server ends a connection.
///
/// ```
/// use tidings_core::Close;
/// use tidings_protocol::CloseCode;
/// let close = Close::new(CloseCode::GOING_AWAY, "server shutting down");
/// assert!(close.code.should_reconnect());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The code (see [`CloseCode`] for which ones invite a reconnect).
    pub code: CloseCode,
    /// A short reason for humans; WebSocket allows at most 123 bytes.
    pub reason: Cow<'static, str>,
}

impl Close {
    /// A close with a code and reason.
    pub fn new(code: CloseCode, reason: impl Into<Cow<'static, str>>) -> Self {
        Close { code, reason: reason.into() }
    }

    /// The session ended normally.
    pub fn normal() -> Self {
        Close::new(CloseCode::NORMAL, "")
    }

    /// A late request named a session its client had closed.
    pub fn closed_by_client() -> Self {
        Close::new(CloseCode::NORMAL, "the session was closed by its client")
    }

    /// Another connection took the session over (a resume, or the client moving to another transport): this
    /// one is done, and its client must not take the session back with it.
    pub fn superseded() -> Self {
        Close::new(CloseCode::SUPERSEDED, "the session continues on a newer connection")
    }

    /// The server is shutting down; reconnect elsewhere or later.
    pub fn going_away() -> Self {
        Close::new(CloseCode::GOING_AWAY, "server shutting down")
    }

    /// The session's outbound queue overflowed.
    pub fn slow_consumer() -> Self {
        Close::new(CloseCode::SLOW_CONSUMER, "outbound queue overflow")
    }
}
