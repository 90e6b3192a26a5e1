//! Frames a client sends: the flat wire form ([`ClientFrame`]) and the checked request it stands for
//! ([`Request`]).
//!
//! Decoding is two steps on purpose: the flat form can be read from any JSON object, so that even a frame with an
//! unknown `type` or a missing field still yields its `id`, and the error reply can name the request it answers.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::codes::ErrorCode;
use crate::position::StreamPosition;
use crate::topic;

/// A client frame as it appears on the wire: a JSON object with a `type` and the fields that type uses.
///
/// `data` is kept as raw JSON text, so that the server can forward a client's payload without parsing and
/// re-encoding it.
///
/// ```
/// use tidings_protocol::{ClientFrame, Request};
/// let frame = ClientFrame::decode(br#"{"type":"subscribe","id":1,"topic":"news"}"#).unwrap();
/// assert_eq!(frame.id, Some(1));
/// assert!(matches!(frame.request(), Ok(Request::Subscribe { topic: "news", since: None })));
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClientFrame<'a> {
    /// The frame type: `subscribe`, `unsubscribe`, `join`, `leave`, `message`, `publish`, `history`, `ack`,
    /// `refresh` or `close`.
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    /// The request id. When present, the server answers with exactly one `reply` or `error` carrying it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The topic (or room) the request is about.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Cow<'a, str>>,
    /// The payload, as raw JSON.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a RawValue>,
    /// For `history`: return publications after this position. For `subscribe` and `join`: first send the
    /// retained publications after this position (recovery after a session was lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<StreamPosition>,
    /// For `ack`: the client has processed every server frame up to this sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// For `refresh`: fresh credentials (a token) that extend the session.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub token: Option<Cow<'a, str>>,
    /// For `history`: return at most this many publications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A client frame checked against the protocol: the type is known and its required fields are present and valid.
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    /// Start receiving the topic's publications.
    Subscribe {
        /// The topic.
        topic: &'a str,
        /// Recover: first send the retained publications after this position.
        since: Option<&'a StreamPosition>,
    },
    /// Stop receiving the topic's publications (for a joined room, the same as `Leave`).
    Unsubscribe {
        /// The topic.
        topic: &'a str,
    },
    /// Become a member of a room: presence, join/leave events, and its publications.
    Join {
        /// The room.
        topic: &'a str,
        /// Parameters for the room's handler (a nickname, say); `None` when absent or `null`.
        data: Option<&'a RawValue>,
        /// Recover: first send the retained publications after this position.
        since: Option<&'a StreamPosition>,
    },
    /// Stop being a member of a room.
    Leave {
        /// The room.
        topic: &'a str,
    },
    /// Send a message to the topic's handler, which may reply, broadcast, or both.
    Message {
        /// The topic.
        topic: &'a str,
        /// The message; `None` when absent or `null`.
        data: Option<&'a RawValue>,
    },
    /// Publish directly to the topic's subscribers, if its handler allows clients to.
    Publish {
        /// The topic.
        topic: &'a str,
        /// The payload to publish.
        data: &'a RawValue,
    },
    /// Read the topic's retained history.
    History {
        /// The topic.
        topic: &'a str,
        /// Only publications after this position; from the oldest retained when `None`.
        since: Option<&'a StreamPosition>,
        /// At most this many publications (the server also applies its own cap).
        limit: Option<u32>,
    },
    /// The client has processed every server frame up to `seq`: the session may forget them.
    Ack {
        /// The highest sequence number processed.
        seq: u64,
    },
    /// The client is done: end the session (it will not resume).
    Close,
    /// Fresh credentials, sent before the current ones expire.
    Refresh {
        /// The new token.
        token: &'a str,
    },
}

/// Why a client frame could not be turned into a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The request id, when the frame carried one, so that the error can answer it.
    pub id: Option<u64>,
    /// The error code to send.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
}

impl<'a> ClientFrame<'a> {
    /// Reads the wire form of a frame. Fails with [`ErrorCode::BAD_FRAME`] when the bytes are not a JSON object
    /// with a string `type` and correctly typed fields.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, FrameError> {
        serde_json::from_slice(bytes).map_err(|e| FrameError {
            id: recover_id(bytes),
            code: ErrorCode::BAD_FRAME,
            message: format!("malformed frame: {e}"),
        })
    }

    /// Checks the frame and returns the request it stands for.
    pub fn request(&'a self) -> Result<Request<'a>, FrameError> {
        let topic = || self.topic_checked();
        Ok(match &*self.kind {
            "subscribe" => Request::Subscribe { topic: topic()?, since: self.since.as_ref() },
            "unsubscribe" => Request::Unsubscribe { topic: topic()? },
            "join" => Request::Join { topic: topic()?, data: self.data_present(), since: self.since.as_ref() },
            "leave" => Request::Leave { topic: topic()? },
            "message" => Request::Message { topic: topic()?, data: self.data_present() },
            "publish" => {
                let topic = topic()?;
                let data = self.data_present().ok_or_else(|| self.error(ErrorCode::BAD_FRAME, "publish needs data"))?;
                Request::Publish { topic, data }
            }
            "history" => Request::History { topic: topic()?, since: self.since.as_ref(), limit: self.limit },
            "ack" => Request::Ack { seq: self.seq.ok_or_else(|| self.error(ErrorCode::BAD_FRAME, "ack needs seq"))? },
            "close" => Request::Close,
            "refresh" => Request::Refresh {
                token: self
                    .token
                    .as_deref()
                    .ok_or_else(|| self.error(ErrorCode::BAD_FRAME, "refresh needs a token"))?,
            },
            other => {
                return Err(self.error(ErrorCode::UNKNOWN_TYPE, format!("unknown frame type {other:?}")));
            }
        })
    }

    fn topic_checked(&self) -> Result<&str, FrameError> {
        let name = self.topic.as_deref().ok_or_else(|| self.error(ErrorCode::BAD_FRAME, "missing topic"))?;
        topic::validate(name).map_err(|e| self.error(ErrorCode::BAD_TOPIC, e.to_string()))?;
        Ok(name)
    }

    fn data_present(&self) -> Option<&'a RawValue> {
        self.data.filter(|d| d.get() != "null")
    }

    fn error(&self, code: ErrorCode, message: impl Into<String>) -> FrameError {
        FrameError { id: self.id, code, message: message.into() }
    }
}

/// Finds the `id` of a frame whose other fields did not decode, so that its error can still name it.
fn recover_id(bytes: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<u64>,
    }
    serde_json::from_slice::<IdOnly>(bytes).ok().and_then(|f| f.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<String, FrameError> {
        let frame = ClientFrame::decode(json.as_bytes())?;
        frame.request().map(|r| format!("{r:?}"))
    }

    #[test]
    fn valid_requests() {
        assert!(check(r#"{"type":"subscribe","topic":"a"}"#).unwrap().starts_with("Subscribe"));
        assert!(check(r#"{"type":"join","id":2,"topic":"room:1","data":{"nick":"x"}}"#).unwrap().starts_with("Join"));
        assert!(check(r#"{"type":"history","topic":"a","since":{"offset":3,"epoch":"e"},"limit":5}"#).is_ok());
        assert!(check(r#"{"type":"publish","topic":"a","data":[1,2]}"#).is_ok());
        assert!(check(r#"{"type":"subscribe","topic":"a","since":{"offset":3,"epoch":"e"}}"#)
            .unwrap()
            .contains("offset: 3"));
        assert_eq!(check(r#"{"type":"ack","seq":12}"#).unwrap(), "Ack { seq: 12 }");
        assert_eq!(check(r#"{"type":"close"}"#).unwrap(), "Close");
        assert_eq!(check(r#"{"type":"refresh","id":3,"token":"t"}"#).unwrap(), r#"Refresh { token: "t" }"#);
        // Unknown fields are ignored, for forward compatibility.
        assert!(check(r#"{"type":"leave","topic":"a","extra":true}"#).is_ok());
    }

    #[test]
    fn errors_keep_the_request_id() {
        let e = check(r#"{"type":"dance","id":9}"#).unwrap_err();
        assert_eq!((e.id, e.code), (Some(9), ErrorCode::UNKNOWN_TYPE));
        let e = check(r#"{"type":"subscribe","id":4}"#).unwrap_err();
        assert_eq!((e.id, e.code), (Some(4), ErrorCode::BAD_FRAME));
        let e = check(r#"{"type":"subscribe","id":5,"topic":"a b"}"#).unwrap_err();
        assert_eq!((e.id, e.code), (Some(5), ErrorCode::BAD_TOPIC));
        let e = check(r#"{"type":"publish","id":6,"topic":"a","data":null}"#).unwrap_err();
        assert_eq!((e.id, e.code), (Some(6), ErrorCode::BAD_FRAME));
        let e = check(r#"{"type":"ack","id":8}"#).unwrap_err();
        assert_eq!((e.id, e.code), (Some(8), ErrorCode::BAD_FRAME));
        let e = check(r#"{"type":5,"id":7}"#).unwrap_err();
        assert_eq!((e.id, e.code), (Some(7), ErrorCode::BAD_FRAME));
    }

    proptest::proptest! {
        /// Any bytes: decoding never panics, and an error always carries a code.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            if let Ok(frame) = ClientFrame::decode(&bytes) {
                let _ = frame.request();
            }
        }

        /// JSON objects with the protocol's field names and arbitrary values: a request or a coded error.
        #[test]
        fn arbitrary_frames(kind in "[a-z_]{0,12}", id in proptest::option::of(proptest::num::u64::ANY),
                            topic in proptest::option::of("[ -~]{0,40}"), data in "[0-9a-z\\[\\]{}\":,. ]{0,40}") {
            let mut frame = serde_json::json!({ "type": kind, "topic": topic });
            if let Some(id) = id {
                frame["id"] = id.into();
            }
            let text = frame.to_string().replacen('}', &format!(",\"data\":{data}}}"), 1);
            match ClientFrame::decode(text.as_bytes()) {
                Ok(frame) => {
                    if let Err(e) = frame.request() {
                        proptest::prop_assert_eq!(e.id, id);
                        proptest::prop_assert!(!e.code.as_str().is_empty());
                    }
                }
                Err(e) => proptest::prop_assert_eq!(e.code, ErrorCode::BAD_FRAME),
            }
        }
    }

    #[test]
    fn garbage_is_a_bad_frame() {
        for junk in ["", "{", "[]", "null", "\"subscribe\"", "{\"type\":\"x\"", "\u{0}"] {
            let e = check(junk).unwrap_err();
            assert_eq!(e.code, ErrorCode::BAD_FRAME, "{junk:?}");
            assert_eq!(e.id, None);
        }
    }
}
