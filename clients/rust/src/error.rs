//! Client errors.

use tidings_protocol::CloseCode;

/// What can go wrong.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// No transport could be opened (refused, bad URL, handshake refused by the server, no `welcome` in time).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The client is closed for good; the close code when the server sent one.
    #[error("connection closed ({})", .0.map_or("no close code".to_string(), |c| c.0.to_string()))]
    Closed(Option<CloseCode>),
    /// No answer arrived within the request timeout.
    #[error("request timed out")]
    Timeout,
    /// The server answered with an error.
    #[error("{code}: {message}")]
    Refused {
        /// The error code (see `docs/protocol.md`).
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// A reply did not have the expected shape.
    #[error("unexpected reply: {0}")]
    Decode(String),
    /// The server lost the session (it started a new one) after the request was sent and before its answer came:
    /// the request may or may not have been carried out.
    #[error("the session was lost before the answer came")]
    SessionLost,
    /// Too many frames are waiting to be sent (the connection is down, or far behind).
    #[error("too many frames waiting to be sent")]
    QueueFull,
    /// The server refused the client's credentials when it connected: HTTP 401 (no token, or one that does not
    /// check out: expired, badly signed...) or 403 (not allowed). Retrying with the same credentials would fail
    /// again. [`Client::connect`](crate::Client::connect) returns it at the first refusal; a client that was
    /// connected closes with it after [`MAX_AUTH_REFUSALS`](crate::MAX_AUTH_REFUSALS) consecutive refusals while
    /// reconnecting (see [`ConnectionState::Unauthorized`](crate::ConnectionState::Unauthorized)).
    #[error("the server refused the credentials ({status}): {reason}")]
    Unauthorized {
        /// The HTTP status: 401 or 403.
        status: u16,
        /// The server's explanation (the response body, shortened).
        reason: String,
    },
}

impl Error {
    /// The error code when the server refused the request.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}
