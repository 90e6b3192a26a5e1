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
