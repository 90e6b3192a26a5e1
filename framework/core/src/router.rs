//! Finds the handler for a topic.

use std::collections::HashMap;
use std::sync::Arc;

use crate::handler::ErasedHandler;

/// Handlers by pattern. A pattern is a topic name (exact match) or a prefix followed by `*` (`chat:*` matches
/// `chat:lobby`, `*` alone matches every topic). The most specific pattern wins: an exact name, then the longest
/// prefix.
#[derive(Default)]
pub(crate) struct Router {
    exact: HashMap<String, Arc<dyn ErasedHandler>>,
    /// Sorted longest prefix first.
    prefixes: Vec<(String, Arc<dyn ErasedHandler>)>,
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

impl Router {
    pub(crate) fn add(&mut self, pattern: &str, handler: Arc<dyn ErasedHandler>) -> Result<(), PatternError> {
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

    pub(crate) fn route(&self, topic: &str) -> Option<&Arc<dyn ErasedHandler>> {
        self.exact
            .get(topic)
            .or_else(|| self.prefixes.iter().find(|(prefix, _)| topic.starts_with(prefix.as_str())).map(|(_, h)| h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::{Context, Refusal};
    use async_trait::async_trait;
    use serde_json::value::RawValue;
    use serde_json::Value;

    /// A handler that refuses everything with its own name, so routing is visible.
    struct Named(&'static str);

    #[async_trait]
    impl ErasedHandler for Named {
        async fn subscribe(&self, _: &Context) -> Result<(), Refusal> {
            Err(Refusal::forbidden(self.0))
        }
        async fn join(&self, _: &Context, _: Option<&RawValue>) -> Result<(Option<Box<RawValue>>, Value), Refusal> {
            unreachable!()
        }
        async fn message(&self, _: &Context, _: Option<&RawValue>) -> Result<Option<Box<RawValue>>, Refusal> {
            unreachable!()
        }
        async fn publish(&self, _: &Context, _: &RawValue) -> Result<(), Refusal> {
            unreachable!()
        }
        async fn leave(&self, _: &Context) {}
        async fn disconnect(&self, _: &Context) {}
    }

    fn name_of(router: &Router, topic: &str) -> Option<String> {
        let handler = router.route(topic)?;
        let ctx = crate::testkit_support::context(topic);
        let refusal = futures_util::FutureExt::now_or_never(handler.subscribe(&ctx)).unwrap().unwrap_err();
        Some(refusal.message.into_owned())
    }

    #[test]
    fn most_specific_pattern_wins() {
        let mut router = Router::default();
        router.add("*", Arc::new(Named("all"))).unwrap();
        router.add("chat:*", Arc::new(Named("chat"))).unwrap();
        router.add("chat:vip:*", Arc::new(Named("vip"))).unwrap();
        router.add("chat:lobby", Arc::new(Named("lobby"))).unwrap();
        assert_eq!(name_of(&router, "chat:lobby").as_deref(), Some("lobby"));
        assert_eq!(name_of(&router, "chat:vip:1").as_deref(), Some("vip"));
        assert_eq!(name_of(&router, "chat:x").as_deref(), Some("chat"));
        assert_eq!(name_of(&router, "news").as_deref(), Some("all"));
    }

    #[test]
    fn no_match_and_bad_patterns() {
        let mut router = Router::default();
        router.add("chat:*", Arc::new(Named("chat"))).unwrap();
        assert!(router.route("chat").is_none());
        assert!(router.route("news").is_none());
        assert!(matches!(router.add("a*b", Arc::new(Named("x"))), Err(PatternError::Invalid { .. })));
        assert!(matches!(router.add("a b*", Arc::new(Named("x"))), Err(PatternError::Invalid { .. })));
        assert_eq!(router.add("chat:*", Arc::new(Named("again"))), Err(PatternError::Duplicate("chat:*".into())));
    }
}
