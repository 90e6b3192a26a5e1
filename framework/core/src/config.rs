//! Hub-wide limits.

/// Limits that keep one client from costing the server more than its share. Every field has a safe default; see
/// `docs/protocol.md` for what a client sees when it hits one.
///
/// ```
/// let config = tidings_core::HubConfig { max_message_bytes: 16 * 1024, ..Default::default() };
/// assert_eq!(config.max_subscriptions, 128);
/// ```
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Largest client message accepted, in bytes. Larger ones close the connection with 1009.
    pub max_message_bytes: usize,
    /// Most frames waiting in one session's outbound queue. A session that falls further behind is closed with
    /// 4000 (slow consumer) and its queue freed.
    pub outbox_max_frames: usize,
    /// Most bytes waiting in one session's outbound queue (same policy as `outbox_max_frames`).
    pub outbox_max_bytes: usize,
    /// Most topics one session may subscribe to or join at once.
    pub max_subscriptions: usize,
    /// Most publications one `history` request returns.
    pub max_history_page: usize,
    /// Client frames a session accepts ahead of the one its handler is processing; beyond that the transport stops
    /// reading from the client until the session catches up (while still sending to it).
    pub inbound_queue: usize,
    /// How long a write to a client may wait for the connection to take it. A client that accepts nothing for this
    /// long is closed with 4000 (slow consumer), which a client may resume: its session waits for it for
    /// `resume_window`, keeping what was not delivered (up to the outbound queue's limits).
    pub write_timeout: std::time::Duration,
    /// How long one call into a topic handler (`subscribe`, `join`, `message`, `publish`, `leave`, `disconnect`)
    /// may take. A request whose handler takes longer is abandoned (the handler's future is dropped at its next
    /// `.await`) and answered with the error `timeout`; the session's next requests go on.
    pub handler_timeout: std::time::Duration,
    /// How long a session whose connection was lost waits for its client to resume it, on any transport, before it
    /// ends (leaving its rooms and topics).
    pub resume_window: std::time::Duration,
    /// How often a connection that asked for heartbeats (`heartbeat=1`, WebSocket and SSE) gets a `ping` frame
    /// when nothing else was sent: a client that can see neither WebSocket pings nor SSE comments (a browser)
    /// learns that way that a proxy holds its stream, and moves to another transport.
    pub heartbeat: std::time::Duration,
    /// Per-client limits: sessions per address and per user, connect rate, message rate.
    pub limits: crate::Limits,
    /// Origins (`https://app.example.com`) whose pages may connect, on every transport. Empty (the default):
    /// same origin only, that is, a browser's `Origin` must name the host the request was sent to. `"*"` allows
    /// any origin (for public, anonymous endpoints only). Clients that send no `Origin` (not browsers) are not
    /// affected. The HTTP transports' CORS headers follow the same list.
    pub allowed_origins: Vec<String>,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_message_bytes: 64 * 1024,
            outbox_max_frames: 4096,
            outbox_max_bytes: 8 * 1024 * 1024,
            max_subscriptions: 128,
            max_history_page: 1000,
            inbound_queue: 32,
            write_timeout: std::time::Duration::from_secs(10),
            handler_timeout: std::time::Duration::from_secs(10),
            resume_window: std::time::Duration::from_secs(120),
            heartbeat: std::time::Duration::from_secs(15),
            limits: crate::Limits::default(),
            allowed_origins: Vec::new(),
        }
    }
}
