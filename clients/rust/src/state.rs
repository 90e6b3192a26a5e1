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
    },
    /// The client is closed for good: by [`Client::close`](crate::Client::close), by a close code that says not
    /// to reconnect (given here), or after `max_reconnect_attempts`.
    Closed(Option<CloseCode>),
}
