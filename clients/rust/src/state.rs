//! What the client's connection is doing, for applications to show or react to.

use tidings_protocol::CloseCode;

use crate::options::TransportKind;

/// The state of a client's connection; watch it with [`Client::state_changes`](crate::Client::state_changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Connected on `transport`, in session `session`.
    Connected {
        /// The transport in use.
        transport: TransportKind,
        /// The session id (it changes when the server could not resume the session and started a new one).
        session: String,
    },
    /// The connection was lost; the client is reconnecting. `attempt` counts rounds that failed so far.
    Reconnecting {
        /// Reconnect rounds that failed since the connection was lost.
        attempt: u32,
        /// How the connection was lost: the server's close code (4003: the credentials expired and were not
        /// refreshed, so the client reconnects with a token obtained afresh), or `None` when it was lost without
        /// one.
        lost_with: Option<CloseCode>,
        /// The HTTP status (401 or 403) when the last round ended with the server refusing the credentials;
        /// after [`MAX_AUTH_REFUSALS`](crate::MAX_AUTH_REFUSALS) consecutive refusals the client gives up, with
        /// [`ConnectionState::Unauthorized`].
        refused: Option<u16>,
    },
    /// The client is closed for good: by [`Client::close`](crate::Client::close), by a close code that says not
    /// to reconnect (given here), or after `max_reconnect_attempts`.
    Closed(Option<CloseCode>),
    /// The client is closed for good because the server refused its credentials (HTTP 401 or 403) on
    /// [`MAX_AUTH_REFUSALS`](crate::MAX_AUTH_REFUSALS) consecutive reconnect attempts, each with the token the
    /// [`TokenSource`](crate::TokenSource) gave for it. Pending and later requests fail with
    /// [`Error::Unauthorized`](crate::Error::Unauthorized).
    Unauthorized {
        /// The last refusal's HTTP status.
        status: u16,
        /// The last refusal's reason.
        reason: String,
    },
}

impl ConnectionState {
    /// Whether the client is closed for good ([`ConnectionState::Closed`] or [`ConnectionState::Unauthorized`]).
    pub fn is_closed(&self) -> bool {
        matches!(self, ConnectionState::Closed(_) | ConnectionState::Unauthorized { .. })
    }
}
