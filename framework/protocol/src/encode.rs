//! Server frame encoders.
//!
//! Every frame a session sends carries its own sequence number, yet a publication going to ten thousand sessions
//! must be encoded once. So a frame is split in two: a per-session prefix `{"seq":N,` written at send time, and a
//! shared body (`"type":"pub",...}`) encoded once into [`Bytes`] and reference-counted across all recipients.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::codes::ErrorCode;
use crate::position::{Missed, StreamPosition};
use crate::server_frame::Member;

/// A server frame ready to send: an optional sequence number and the shared body.
///
/// The JSON text of the frame is `{` + `"seq":N,` (when sequenced) + `body`.
///
/// ```
/// use tidings_protocol::encode::{self, EncodedFrame};
/// let body = encode::push_body("news", &serde_json::value::to_raw_value(&42).unwrap());
/// let frame = EncodedFrame { seq: Some(3), body, cache: None };
/// assert_eq!(frame.to_vec(), br#"{"seq":3,"type":"push","topic":"news","data":42}"#);
/// assert_eq!(frame.len(), frame.to_vec().len());
/// ```
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    /// The session sequence number; `None` for connection-scoped frames (`welcome`) that are never replayed.
    pub seq: Option<u64>,
    /// Everything after the opening brace and the sequence number, shared between recipients.
    pub body: Bytes,
    /// Encodings of `body` that transports derive once and share between every recipient of the same frame (a
    /// compressed form, say); `None` for frames with a single recipient.
    pub cache: Option<Arc<EncodingCache>>,
}

/// Derived encodings of a shared frame body, each computed by the first recipient's transport that needs it.
///
/// ```
/// use bytes::Bytes;
/// use tidings_protocol::encode::EncodingCache;
/// let cache = EncodingCache::default();
/// let mut computed = 0;
/// for _ in 0..3 {
///     let compressed = cache.get_or_insert_with(1, || { computed += 1; Bytes::from_static(b"z") });
///     assert_eq!(compressed, "z");
/// }
/// assert_eq!(computed, 1);
/// ```
#[derive(Debug, Default)]
pub struct EncodingCache {
    slots: Mutex<Vec<(u32, Bytes)>>,
}

impl EncodingCache {
    /// The encoding stored under `key`, computing and storing it first if this is the first call for `key`.
    /// Concurrent callers for the same key wait for the first one, so an encoding is computed once.
    pub fn get_or_insert_with(&self, key: u32, make: impl FnOnce() -> Bytes) -> Bytes {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, bytes)) = slots.iter().find(|(k, _)| *k == key) {
            return bytes.clone();
        }
        let bytes = make();
        slots.push((key, bytes.clone()));
        bytes
    }
}

impl EncodedFrame {
    /// The frame's per-session prefix: `{"seq":N,` or `{`.
    pub fn prefix(&self) -> SeqPrefix {
        SeqPrefix::new(self.seq)
    }

    /// Length of the whole frame in bytes.
    pub fn len(&self) -> usize {
        self.prefix().as_bytes().len() + self.body.len()
    }

    /// Always false: a frame holds at least its braces.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the whole frame to `out`.
    pub fn write_to(&self, out: &mut impl BufMut) {
        out.put_slice(self.prefix().as_bytes());
        out.put_slice(&self.body);
    }

    /// The whole frame as one buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.write_to(&mut out);
        out
    }
}

/// The per-session start of a frame, formatted on the stack.
#[derive(Debug, Clone, Copy)]
pub struct SeqPrefix {
    buf: [u8; 32],
    len: usize,
}

impl SeqPrefix {
    fn new(seq: Option<u64>) -> Self {
        let mut buf = [0u8; 32];
        let len = {
            let mut cursor = std::io::Cursor::new(&mut buf[..]);
            match seq {
                // 9 + at most 20 digits + 1 fits in 32 bytes, so the write cannot fail.
                Some(seq) => write!(cursor, "{{\"seq\":{seq},").expect("prefix fits"),
                None => cursor.write_all(b"{").expect("prefix fits"),
            }
            cursor.position() as usize
        };
        SeqPrefix { buf, len }
    }

    /// The prefix bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Builds a body: `"type":"<kind>"`, then the fields written by `fields`, then `}`.
fn body(kind: &str, write_fields: impl FnOnce(&mut Fields)) -> Bytes {
    let mut fields = Fields(BytesMut::with_capacity(64));
    fields.0.put_slice(b"\"type\":\"");
    fields.0.put_slice(kind.as_bytes());
    fields.0.put_u8(b'"');
    write_fields(&mut fields);
    fields.0.put_u8(b'}');
    fields.0.freeze()
}

struct Fields(BytesMut);

impl Fields {
    fn json(&mut self, name: &str, value: &(impl Serialize + ?Sized)) {
        self.0.put_u8(b',');
        self.0.put_u8(b'"');
        self.0.put_slice(name.as_bytes());
        self.0.put_slice(b"\":");
        // Serializing strings, numbers and our own structs into memory cannot fail.
        serde_json::to_writer((&mut self.0).writer(), value).expect("in-memory JSON encoding");
    }

    fn raw(&mut self, name: &str, value: &RawValue) {
        self.0.reserve(name.len() + value.get().len() + 4);
        self.0.put_u8(b',');
        self.0.put_u8(b'"');
        self.0.put_slice(name.as_bytes());
        self.0.put_slice(b"\":");
        self.0.put_slice(value.get().as_bytes());
    }
}

/// `welcome`: the first frame of every connection. `resumed` when it continues an existing session.
pub fn welcome(session: &str, protocol: u32, resumed: bool, resume_window_ms: u64) -> EncodedFrame {
    welcome_with_heartbeat(session, protocol, resumed, resume_window_ms, None)
}

/// `welcome` for a connection that gets a `ping` frame whenever nothing was sent for `heartbeat_ms`, which it
/// says (`"heartbeat_ms"`), so that the client knows how long a silence means a stalled stream.
pub fn welcome_with_heartbeat(
    session: &str,
    protocol: u32,
    resumed: bool,
    resume_window_ms: u64,
    heartbeat_ms: Option<u64>,
) -> EncodedFrame {
    let body = body("welcome", |f| {
        f.json("protocol", &protocol);
        f.json("session", session);
        f.json("resumed", &resumed);
        f.json("resume_window_ms", &resume_window_ms);
        if let Some(heartbeat_ms) = heartbeat_ms {
            f.json("heartbeat_ms", &heartbeat_ms);
        }
    });
    EncodedFrame { seq: None, body, cache: None }
}

/// `close`: the server ends the connection, on transports that have no close frame of their own.
pub fn close(code: u16, reason: &str) -> EncodedFrame {
    let body = body("close", |f| {
        f.json("code", &code);
        f.json("reason", reason);
    });
    EncodedFrame { seq: None, body, cache: None }
}

/// `ping`: a heartbeat, for a connection that asked for them (`heartbeat=1`); not numbered.
pub fn heartbeat() -> EncodedFrame {
    EncodedFrame { seq: None, body: Bytes::from_static(br#"{"type":"ping"}"#), cache: None }
}

/// `reply`: the successful answer to request `id`.
pub fn reply_body(id: u64, data: Option<&RawValue>) -> Bytes {
    body("reply", |f| {
        f.json("id", &id);
        if let Some(data) = data {
            f.raw("data", data);
        }
    })
}

/// `error`: the failed answer to request `id`, or a complaint about a frame without an id.
pub fn error_body(id: Option<u64>, code: &ErrorCode, message: &str) -> Bytes {
    body("error", |f| {
        if let Some(id) = id {
            f.json("id", &id);
        }
        f.json("code", code);
        f.json("message", message);
    })
}

/// `pub`: a publication of a topic, at its position.
pub fn publication_body(topic: &str, position: &StreamPosition, data: &RawValue) -> Bytes {
    body("pub", |f| {
        f.json("topic", topic);
        f.json("offset", &position.offset);
        f.json("epoch", &position.epoch);
        f.raw("data", data);
    })
}

/// `gap`: publications of a topic, in `epoch`, that the session was not sent (its client was away and its queue
/// full): the client may read the range with `history`.
pub fn gap_body(topic: &str, epoch: &str, missed: &Missed) -> Bytes {
    body("gap", |f| {
        f.json("topic", topic);
        f.json("epoch", epoch);
        f.json("missed", missed);
    })
}

/// `push`: a message from the server to one session, outside any topic's stream.
pub fn push_body(topic: &str, data: &RawValue) -> Bytes {
    body("push", |f| {
        f.json("topic", topic);
        f.raw("data", data);
    })
}

/// `member_joined` or `member_left`: a presence change in a room.
pub fn presence_body(joined: bool, topic: &str, member: &Member) -> Bytes {
    body(if joined { "member_joined" } else { "member_left" }, |f| {
        f.json("topic", topic);
        f.json("member", member);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server_frame::ServerFrame;
    use serde_json::json;

    fn raw(v: serde_json::Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(&v).unwrap()
    }

    fn decode(seq: Option<u64>, body: Bytes) -> ServerFrame {
        serde_json::from_slice(&EncodedFrame { seq, body, cache: None }.to_vec()).unwrap()
    }

    #[test]
    fn every_body_decodes_as_a_server_frame() {
        let pos = StreamPosition { offset: 12, epoch: "ep".into() };
        let member = Member { session: "s1".into(), user: Some("u\"1".into()), meta: json!({"nick": "ann"}) };
        let frames = [
            decode(None, welcome("s1", 1, true, 5000).body),
            decode(None, close(4000, "slow").body),
            decode(Some(1), reply_body(7, Some(&raw(json!({"a": 1}))))),
            decode(Some(2), reply_body(8, None)),
            decode(Some(3), error_body(Some(9), &ErrorCode::FORBIDDEN, "no \"way\"")),
            decode(Some(4), error_body(None, &ErrorCode::BAD_FRAME, "bad")),
            decode(Some(5), publication_body("t", &pos, &raw(json!([1, "x"])))),
            decode(Some(6), push_body("t", &raw(json!(null)))),
            decode(Some(7), presence_body(true, "t", &member)),
            decode(Some(u64::MAX), presence_body(false, "t", &member)),
        ];
        let text = format!("{frames:?}");
        assert!(text.contains("Welcome"), "{text}");
        assert!(matches!(&frames[0], ServerFrame::Welcome { resumed: true, resume_window_ms: 5000, .. }));
        assert!(matches!(&frames[1], ServerFrame::Close { code: 4000, .. }));
        assert!(matches!(&frames[6], ServerFrame::Pub { seq: 5, offset: 12, .. }));
        assert!(matches!(&frames[9], ServerFrame::MemberLeft { seq: u64::MAX, .. }));
        match &frames[4] {
            ServerFrame::Error { message, .. } => assert_eq!(message, "no \"way\""),
            other => panic!("{other:?}"),
        }
    }
}
