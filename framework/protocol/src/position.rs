//! Where a publication sits in its topic's stream.

use serde::{Deserialize, Serialize};

/// The position of a publication in a topic: its `offset` (1 for the first publication, then one more for each)
/// within an `epoch`, a string that changes whenever the topic's history is lost (a restart of an in-memory broker,
/// for example), so that an offset from an old epoch is never mistaken for one of the new.
///
/// ```
/// use tidings_protocol::StreamPosition;
/// let p = StreamPosition { offset: 7, epoch: "a1b2".into() };
/// assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"offset":7,"epoch":"a1b2"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamPosition {
    /// Offset of the publication within its topic; 0 means "before the first publication".
    pub offset: u64,
    /// Identifies the lifetime of the topic's history.
    pub epoch: String,
}

/// Publications of a topic that a client was not sent and that the answer telling it so does not hold: offsets
/// `from..=to` of the topic's current epoch. `from` is `None` when the start is unknown (the client's position was
/// in another epoch, or beyond the end of the stream, which was rolled back): then everything after that position
/// in its own epoch was missed too, and `to` may be 0 (nothing of the current epoch missed).
///
/// A range that is still retained can be read with `history` (which reports its own gap if it is not).
///
/// ```
/// use tidings_protocol::Missed;
/// let m = Missed { from: Some(4), to: 9 };
/// assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"from":4,"to":9}"#);
/// assert_eq!(serde_json::to_string(&Missed { from: None, to: 2 }).unwrap(), r#"{"to":2}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Missed {
    /// The first offset missed, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<u64>,
    /// The last offset missed, in the topic's current epoch (0 when none of it).
    pub to: u64,
}

impl Missed {
    /// This range followed by `to` (the offsets after it up to `to`, with no hole between them).
    pub fn through(&self, to: u64) -> Missed {
        Missed { from: self.from, to: to.max(self.to) }
    }
}
