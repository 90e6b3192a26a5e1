//! Client errors.

use tidings_protocol::CloseCode;

/// What can go wrong.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The connection could not be opened (refused, bad URL, handshake refused by the server).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The connection is closed; the close code when the server sent one.
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
