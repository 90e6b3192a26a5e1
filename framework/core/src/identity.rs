//! Who a session is.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// The identity of a session's client, as established when it connected.
///
/// ```
/// use tidings_core::Identity;
/// let ann = Identity::user("ann");
/// assert_eq!(ann.user.as_deref(), Some("ann"));
/// assert!(Identity::anonymous().user.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// The authenticated user id; `None` for an anonymous client.
    pub user: Option<String>,
    /// Claims about the user (from a token, say), for handlers to authorise with.
    pub claims: Value,
    /// When the credentials expire: the session is closed with 4003 then, unless the client refreshed them in
    /// band before. `None`: they do not expire.
    pub expires_at: Option<std::time::SystemTime>,
    /// Topic patterns (`chat:*`, `news:today`) this client may use at all, checked before any handler; `None`:
    /// every topic (the handlers decide). Set from a token claim by the JWT authenticator.
    pub topics: Option<Vec<String>>,
}

impl Identity {
    /// An anonymous client.
    pub fn anonymous() -> Self {
        Identity::default()
    }

    /// A client known as `user`, without further claims.
    pub fn user(user: impl Into<String>) -> Self {
        Identity { user: Some(user.into()), ..Identity::default() }
    }

    /// Whether the identity allows `topic` (see [`Identity::topics`]).
    ///
    /// ```
    /// let mut ann = tidings_core::Identity::user("ann");
    /// assert!(ann.allows_topic("anything"));
    /// ann.topics = Some(vec!["chat:*".into(), "news:today".into()]);
    /// assert!(ann.allows_topic("chat:lobby") && ann.allows_topic("news:today"));
    /// assert!(!ann.allows_topic("news:tomorrow") && !ann.allows_topic("admin"));
    /// ```
    pub fn allows_topic(&self, topic: &str) -> bool {
        self.topics.as_ref().is_none_or(|patterns| {
            patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => topic.starts_with(prefix),
                None => p == topic,
            })
        })
    }
}

/// A session id: 128 bits from a cryptographically secure generator (seeded by the OS), as 32 hex digits, so that it
/// cannot be guessed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Arc<str>);

impl SessionId {
    /// A new random id.
    pub fn random() -> Self {
        let bits: u128 = rand::random();
        SessionId(format!("{bits:032x}").into())
    }

    /// An id as a client or another node reported it (it names a session; it does not make one).
    pub fn from_wire(id: impl Into<Arc<str>>) -> Self {
        SessionId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SessionId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// Lets maps keyed by `SessionId` be searched with the id a client sent, without allocating.
impl std::borrow::Borrow<str> for SessionId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_32_hex_digits_and_distinct() {
        let a = SessionId::random();
        let b = SessionId::random();
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
