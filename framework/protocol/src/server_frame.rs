//! Frames a server sends, as a client decodes them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A room member, as presence lists and `member_joined`/`member_left` events describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The member's session id. A user with two tabs open is two members.
    pub session: String,
    /// The authenticated user id, when the session has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Presence metadata set by the room's handler on join (a nickname, a cursor colour, ...).
    #[serde(default)]
    pub meta: Value,
}

/// A server frame, decoded.
///
/// Every frame but `welcome` and `close` carries `seq`, the session's sequence number: 1 for the first frame of the session,
/// then one more for each frame, whatever its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame of every connection (for long polling: of every poll that starts or replaces a session).
    Welcome {
        /// Protocol version the server speaks.
        protocol: u32,
        /// The session id.
        session: String,
        /// True when the connection continues the session the client asked to resume: frames it had not
        /// processed follow. False for a new session: the client must subscribe again (with `since` to recover).
        #[serde(default)]
        resumed: bool,
        /// How long, in milliseconds, the server keeps the session after its connection is lost.
        #[serde(default)]
        resume_window_ms: u64,
        /// When the client asked for heartbeats (`heartbeat=1`): the connection gets a `ping` frame whenever nothing
        /// was sent for this many milliseconds, so a longer silence means the stream is held somewhere.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        heartbeat_ms: Option<u64>,
    },
    /// A heartbeat, sent only to connections that asked for them (`heartbeat=1`) when nothing else was sent for
    /// a while. Not numbered.
    Ping,
    /// The server ended the connection (transports without close frames of their own: SSE, long polling).
    Close {
        /// The close code: whether to reconnect (see `CloseCode::should_reconnect`).
        code: u16,
        /// A short reason for humans.
        #[serde(default)]
        reason: String,
    },
    /// The successful answer to the request with this `id`.
    Reply {
        /// Sequence number.
        seq: u64,
        /// The request id.
        id: u64,
        /// Result data; absent when there is none.
        #[serde(default)]
        data: Value,
    },
    /// The failed answer to a request, or a complaint about a frame that had no id.
    Error {
        /// Sequence number.
        seq: u64,
        /// The request id, when the failed frame had one.
        #[serde(default)]
        id: Option<u64>,
        /// Machine-readable code (see `ErrorCode`).
        code: String,
        /// Human-readable explanation.
        message: String,
    },
    /// A publication of a subscribed topic or joined room.
    Pub {
        /// Sequence number.
        seq: u64,
        /// The topic.
        topic: String,
        /// The publication's offset in the topic.
        offset: u64,
        /// The topic's history epoch.
        epoch: String,
        /// The payload.
        data: Value,
    },
    /// Publications of a subscribed topic or joined room that this session was not sent: its client was away and
    /// its queue full. They may still be read with `history`.
    Gap {
        /// Sequence number.
        seq: u64,
        /// The topic.
        topic: String,
        /// The epoch of the missed offsets.
        epoch: String,
        /// The offsets missed.
        missed: crate::Missed,
    },
    /// A message from the server to this session only.
    Push {
        /// Sequence number.
        seq: u64,
        /// The topic it concerns.
        topic: String,
        /// The payload.
        data: Value,
    },
    /// Someone joined a room this session is a member of.
    MemberJoined {
        /// Sequence number.
        seq: u64,
        /// The room.
        topic: String,
        /// Who joined.
        member: Member,
    },
    /// Someone left a room this session is a member of.
    MemberLeft {
        /// Sequence number.
        seq: u64,
        /// The room.
        topic: String,
        /// Who left.
        member: Member,
    },
}

impl ServerFrame {
    /// The frame's sequence number (`None` for `welcome`).
    pub fn seq(&self) -> Option<u64> {
        match self {
            ServerFrame::Welcome { .. } | ServerFrame::Ping | ServerFrame::Close { .. } => None,
            ServerFrame::Reply { seq, .. }
            | ServerFrame::Error { seq, .. }
            | ServerFrame::Pub { seq, .. }
            | ServerFrame::Gap { seq, .. }
            | ServerFrame::Push { seq, .. }
            | ServerFrame::MemberJoined { seq, .. }
            | ServerFrame::MemberLeft { seq, .. } => Some(*seq),
        }
    }
}
