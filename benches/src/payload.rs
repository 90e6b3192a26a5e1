//! The messages the load generator publishes: `{"n":N,"t":T,"p":"xx…"}`, padded to a size, where `n` numbers the
//! publication (to count losses and duplicates) and `t` is when it was sent (nanoseconds on the generator's clock,
//! for latency). Receivers find both by scanning, without parsing the JSON.

/// A payload of about `size` bytes for publication `n`, sent at `t`.
pub fn make(n: u64, t: u64, size: usize) -> String {
    let mut s = format!("{{\"n\":{n},\"t\":{t},\"p\":\"");
    let pad = size.saturating_sub(s.len() + 2);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str("\"}");
    s
}

/// The number after the first occurrence of `key` (such as `"n":`) in `text`.
pub fn number_after(text: &[u8], key: &[u8]) -> Option<u64> {
    let at = text.windows(key.len()).position(|w| w == key)? + key.len();
    let digits = text[at..].iter().take_while(|b| b.is_ascii_digit());
    let mut value: u64 = 0;
    let mut any = false;
    for d in digits {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        any = true;
    }
    any.then_some(value)
}

/// The session id in a `welcome` frame (`"session":"…"`), or an empty string when there is none.
pub fn session_of(welcome: &str) -> &str {
    welcome.split("\"session\":\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = make(42, 123_456, 100);
        assert_eq!(p.len(), 100);
        assert!(serde_json::from_str::<serde_json::Value>(&p).is_ok());
        assert_eq!(number_after(p.as_bytes(), b"\"n\":"), Some(42));
        assert_eq!(number_after(p.as_bytes(), b"\"t\":"), Some(123_456));
        let framed = format!("{{\"type\":\"pub\",\"seq\":7,\"topic\":\"open:b\",\"offset\":3,\"data\":{p}}}");
        assert_eq!(number_after(framed.as_bytes(), b"\"seq\":"), Some(7));
        assert_eq!(number_after(framed.as_bytes(), b"\"n\":"), Some(42));
        assert_eq!(session_of(r#"{"type":"welcome","protocol":1,"session":"3f2a","resumed":false}"#), "3f2a");
        assert_eq!(session_of("{}"), "");
    }
}
