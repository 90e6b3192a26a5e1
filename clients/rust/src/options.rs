//! Client settings.

use std::fmt;
use std::time::Duration;

use crate::ack::AckPolicy;
use crate::backoff::Backoff;
use crate::credentials::TokenSource;

/// A way of carrying protocol frames (see `docs/protocol.md`, "Transports and endpoints").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// `GET {base}/ws`: frames both ways on one WebSocket.
    WebSocket,
    /// `GET {base}/sse`: frames down as Server-Sent Events; up with `POST {base}/send`.
    Sse,
    /// `GET {base}/poll`: frames down one batch per request; up with `POST {base}/send`.
    LongPoll,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::WebSocket => "WebSocket",
            TransportKind::Sse => "SSE",
            TransportKind::LongPoll => "long polling",
        })
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long a request waits for its reply.
    pub request_timeout: Duration,
    /// How long [`Client::connect`](crate::Client::connect) may take in all, trying each transport in turn.
    pub connect_timeout: Duration,
    /// How long one transport attempt may take to open and deliver its `welcome`; past it, that attempt has failed
    /// (the race has usually started the next transports long before).
    pub open_timeout: Duration,
    /// The transports to use, most preferred first. Connecting races them: the first starts, and every
    /// `race_delay` without a `welcome` the next starts beside it (at once when one fails); the first `welcome`
    /// wins. The winner is remembered for the endpoint (see `remember_transport`) and goes first next time. While
    /// connected on a lesser one, the client probes the better ones (see `upgrade`).
    pub transports: Vec<TransportKind>,
    /// How long a transport has to deliver its `welcome` before the next one starts beside it.
    pub race_delay: Duration,
    /// Remember, for this process, which transport reached the endpoint, and start with it next time.
    pub remember_transport: bool,
    /// While connected on a lesser transport, probe the better ones after this delay, doubling after each failed
    /// round up to `upgrade_max_delay`, and move the session onto one that opens (nothing is lost or doubled).
    /// `None`: never.
    pub upgrade: Option<Duration>,
    /// The longest delay between two upgrade probes.
    pub upgrade_max_delay: Duration,
    /// Delays between reconnect attempts.
    pub backoff: Backoff,
    /// How many reconnect rounds (each trying the transports in order) to make after a connection is lost before
    /// giving up and closing the client; `None` to keep trying, `Some(0)` never to reconnect.
    pub max_reconnect_attempts: Option<u32>,
    /// When to acknowledge the frames received.
    pub ack: AckPolicy,
    /// How many frames may wait to be sent (while disconnected, say). Past it, sending fails with
    /// [`Error::QueueFull`](crate::Error::QueueFull).
    pub max_queued_frames: usize,
    /// A connection that receives nothing at all (not even the server's pings) for this long is taken for lost.
    /// The server pings every 25 seconds (WebSocket) or 15 (SSE) and holds a poll for 25 seconds, by default.
    pub idle_timeout: Duration,
    /// The credentials: a token sent as `Authorization: Bearer <token>` on every request of every transport, from
    /// a fixed string or a callback asked before every connect attempt. `None` (the default) sends none, for
    /// servers that take anonymous clients or cookies. Extend a session past its token's expiry with
    /// [`Client::refresh`](crate::Client::refresh); a session whose credentials expire is closed with 4003, and the
    /// client reconnects with a token obtained afresh.
    pub token: Option<TokenSource>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(20),
            open_timeout: Duration::from_secs(5),
            transports: vec![TransportKind::WebSocket, TransportKind::Sse, TransportKind::LongPoll],
            race_delay: Duration::from_millis(300),
            remember_transport: true,
            upgrade: Some(Duration::from_secs(1)),
            upgrade_max_delay: Duration::from_secs(300),
            backoff: Backoff::default(),
            max_reconnect_attempts: None,
            ack: AckPolicy::default(),
            max_queued_frames: 1024,
            idle_timeout: Duration::from_secs(60),
            token: None,
        }
    }
}
