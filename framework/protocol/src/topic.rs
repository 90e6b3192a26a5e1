//! Topic names: what a valid one looks like.

/// The longest topic name accepted, in bytes.
pub const MAX_TOPIC_LEN: usize = 255;

/// Why a topic name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_TOPIC_LEN`] bytes.
    TooLong,
    /// The name holds a character outside the allowed set.
    BadCharacter(char),
}

impl std::fmt::Display for TopicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TopicError::Empty => write!(f, "topic name is empty"),
            TopicError::TooLong => write!(f, "topic name is longer than {MAX_TOPIC_LEN} bytes"),
            TopicError::BadCharacter(c) => {
                write!(f, "topic name contains {c:?}; allowed: A-Z a-z 0-9 and : _ - . / @ = +")
            }
        }
    }
}

impl std::error::Error for TopicError {}

/// Checks a topic name: 1 to 255 bytes of ASCII letters, digits and `: _ - . / @ = +`.
///
/// The set is deliberately small: topic names end up in logs, metrics labels, Redis keys and URLs, and `*` is
/// reserved for handler patterns.
///
/// ```
/// use tidings_protocol::topic::{validate, TopicError};
/// assert!(validate("chat:lobby").is_ok());
/// assert_eq!(validate("chat:*"), Err(TopicError::BadCharacter('*')));
/// ```
pub fn validate(name: &str) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::Empty);
    }
    if name.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong);
    }
    match name.chars().find(|c| !is_topic_char(*c)) {
        Some(c) => Err(TopicError::BadCharacter(c)),
        None => Ok(()),
    }
}

fn is_topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.' | '/' | '@' | '=' | '+')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(validate(""), Err(TopicError::Empty));
        assert!(validate(&"a".repeat(MAX_TOPIC_LEN)).is_ok());
        assert_eq!(validate(&"a".repeat(MAX_TOPIC_LEN + 1)), Err(TopicError::TooLong));
        assert_eq!(validate("a b"), Err(TopicError::BadCharacter(' ')));
        assert_eq!(validate("é"), Err(TopicError::BadCharacter('é')));
        assert!(validate("ticker:AAPL/1m@x=y+z_w-v.u").is_ok());
    }
}
