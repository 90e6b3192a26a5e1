//! Names of the keys and channels the adapter uses, all under the configured prefix.
//!
//! - `<p>:m:<topic>`: hash of the topic's epoch `e` and last offset `o`;
//! - `<p>:h:<topic>`: list of the topic's retained publications (JSON payloads), oldest first;
//! - `<p>:c:<topic>`: pub/sub channel of the topic's publications and events;
//! - `<p>:pm:<room>` / `<p>:pz:<room>`: hash of a room's members / sorted set of their expiry times;
//! - `<p>:pseq`: counter giving members their join order;
//! - `<p>:s:<session>`: the node holding a session;
//! - `<p>:n:<node>`: pub/sub channel of requests and answers for one node;
//! - `<p>:ctl`: pub/sub channel of notices to every node.

#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Keys { prefix: prefix.to_owned() }
    }

    pub(crate) fn meta(&self, topic: &str) -> String {
        format!("{}:m:{topic}", self.prefix)
    }

    pub(crate) fn history(&self, topic: &str) -> String {
        format!("{}:h:{topic}", self.prefix)
    }

    pub(crate) fn channel(&self, topic: &str) -> String {
        format!("{}:c:{topic}", self.prefix)
    }

    /// The topic of a topic channel's name.
    pub(crate) fn topic_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel.strip_prefix(self.prefix.as_str())?.strip_prefix(":c:")
    }

    pub(crate) fn members(&self, room: &str) -> String {
        format!("{}:pm:{room}", self.prefix)
    }

    pub(crate) fn member_expiry(&self, room: &str) -> String {
        format!("{}:pz:{room}", self.prefix)
    }

    pub(crate) fn join_counter(&self) -> String {
        format!("{}:pseq", self.prefix)
    }

    pub(crate) fn session(&self, session: &str) -> String {
        format!("{}:s:{session}", self.prefix)
    }

    pub(crate) fn node(&self, node: &str) -> String {
        format!("{}:n:{node}", self.prefix)
    }

    pub(crate) fn control(&self) -> String {
        format!("{}:ctl", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn topic_channels_round_trip() {
        let keys = super::Keys::new("app");
        assert_eq!(keys.topic_of(&keys.channel("chat:lobby")), Some("chat:lobby"));
        assert_eq!(keys.topic_of(&keys.node("n1")), None);
        assert_eq!(keys.topic_of("other:c:x"), None);
    }
}
