//! Finds the handler for a topic.

use std::collections::HashMap;
use std::sync::Arc;

use crate::handler::ErasedHandler;

/// Handlers (or per-topic options) by pattern. A pattern is a topic name (exact match) or a prefix followed by `*` (`chat:*` matches
/// `chat:lobby`, `*` alone matches every topic). The most specific pattern wins: an exact name, then the longest
/// prefix.
pub(crate) struct Router<T = Arc<dyn ErasedHandler>> {
    exact: HashMap<String, T>,
    /// Sorted longest prefix first.
    prefixes: Vec<(String, T)>,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Router { exact: HashMap::new(), prefixes: Vec::new() }
    }
}

/// Why a pattern was refused at registration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is not a valid topic name with an optional trailing `*`.
    #[error("invalid topic pattern {pattern:?}: {reason}")]
    Invalid {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two handlers were registered for the same pattern.
    #[error("two handlers for the topic pattern {0:?}")]
    Duplicate(String),
}

impl<T> Router<T> {
    pub(crate) fn add(&mut self, pattern: &str, handler: T) -> Result<(), PatternError> {
        let invalid = |reason: String| PatternError::Invalid { pattern: pattern.to_owned(), reason };
        match pattern.strip_suffix('*') {
            Some(prefix) => {
                if !prefix.is_empty() {
                    tidings_protocol::topic::validate(prefix).map_err(|e| invalid(e.to_string()))?;
                }
                if self.prefixes.iter().any(|(p, _)| p == prefix) {
                    return Err(PatternError::Duplicate(pattern.to_owned()));
                }
                self.prefixes.push((prefix.to_owned(), handler));
                self.prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
            }
            None => {
                tidings_protocol::topic::validate(pattern).map_err(|e| invalid(e.to_string()))?;
                if self.exact.insert(pattern.to_owned(), handler).is_some() {
                    return Err(PatternError::Duplicate(pattern.to_owned()));
                }
            }
        }
        Ok(())
    }

    /// Whether no pattern was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefixes.is_empty()
    }

    pub(crate) fn route(&self, topic: &str) -> Option<&T> {
        self.exact
            .get(topic)
            .or_else(|| self.prefixes.iter().find(|(prefix, _)| topic.starts_with(prefix.as_str())).map(|(_, h)| h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_pattern_wins() {
        let mut router = Router::default();
        router.add("*", "all").unwrap();
        router.add("chat:*", "chat").unwrap();
        router.add("chat:vip:*", "vip").unwrap();
        router.add("chat:lobby", "lobby").unwrap();
        assert_eq!(router.route("chat:lobby"), Some(&"lobby"));
        assert_eq!(router.route("chat:vip:1"), Some(&"vip"));
        assert_eq!(router.route("chat:x"), Some(&"chat"));
        assert_eq!(router.route("news"), Some(&"all"));
    }

    #[test]
    fn no_match_and_bad_patterns() {
        let mut router = Router::default();
        assert!(router.is_empty());
        router.add("chat:*", "chat").unwrap();
        assert!(!router.is_empty());
        assert!(router.route("chat").is_none());
        assert!(router.route("news").is_none());
        assert!(matches!(router.add("a*b", "x"), Err(PatternError::Invalid { .. })));
        assert!(matches!(router.add("a b*", "x"), Err(PatternError::Invalid { .. })));
        assert_eq!(router.add("chat:*", "again"), Err(PatternError::Duplicate("chat:*".into())));
    }
}
