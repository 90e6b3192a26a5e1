//! A connect request, as authenticators see it: independent of the HTTP library the transport runs on.

use std::net::IpAddr;

/// What a client sent to connect: its headers, query string and address, and the transport it came through.
///
/// Transports build it from their HTTP request; tests build it by hand.
///
/// ```
/// use tidings_core::ConnectRequest;
/// let request = ConnectRequest::new("websocket", Some([127, 0, 0, 1].into()), "v=1&token=a%20b")
///     .with_header("Authorization", "Bearer abc.def")
///     .with_header("Cookie", "theme=dark; session=xyz");
/// assert_eq!(request.bearer_token(), Some("abc.def"));
/// assert_eq!(request.cookie("session"), Some("xyz"));
/// assert_eq!(request.query("token").as_deref(), Some("a b"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConnectRequest {
    transport: &'static str,
    peer: Option<IpAddr>,
    query: String,
    /// Names in lowercase.
    headers: Vec<(String, String)>,
}

impl ConnectRequest {
    /// A request through `transport` from `peer`, with this query string (without the `?`).
    pub fn new(transport: &'static str, peer: Option<IpAddr>, query: impl Into<String>) -> Self {
        ConnectRequest { transport, peer, query: query.into(), headers: Vec::new() }
    }

    /// Adds a header (names are compared without regard to case).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// The transport's name (`websocket`, `sse`, `longpoll`).
    pub fn transport(&self) -> &str {
        self.transport
    }

    /// The client's address, when the transport knows it.
    pub fn peer(&self) -> Option<IpAddr> {
        self.peer
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).next()
    }

    /// Every value of a header, in order.
    pub fn header_values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.to_ascii_lowercase();
        self.headers.iter().filter(move |(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.header("authorization")?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.header_values("cookie")
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value.trim_matches('"'))
    }

    /// The subprotocols a WebSocket client offered (`Sec-WebSocket-Protocol`), in order.
    pub fn websocket_protocols(&self) -> impl Iterator<Item = &str> + '_ {
        self.header_values("sec-websocket-protocol").flat_map(|v| v.split(',')).map(str::trim).filter(|p| !p.is_empty())
    }

    /// A query parameter, percent-decoded (`+` as a space).
    pub fn query(&self, name: &str) -> Option<String> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(key, _)| percent_decode(key) == name)
            .map(|(_, value)| percent_decode(value))
    }

    /// The raw query string.
    pub fn query_string(&self) -> &str {
        &self.query
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_authenticators_need() {
        let r = ConnectRequest::new("sse", None, "a=1&token=x%2By+z&flag&bad=%zz&end=%4")
            .with_header("COOKIE", "a=1; tok=\"q\"")
            .with_header("cookie", "b=2")
            .with_header("Sec-WebSocket-Protocol", "tidings.v1, tidings.token.abc")
            .with_header("authorization", "Basic xyz");
        assert_eq!(r.query("token").as_deref(), Some("x+y z"));
        assert_eq!(r.query("flag").as_deref(), Some(""));
        assert_eq!(r.query("bad").as_deref(), Some("%zz"));
        assert_eq!(r.query("end").as_deref(), Some("%4"));
        assert_eq!(r.query("missing"), None);
        assert_eq!((r.cookie("tok"), r.cookie("b"), r.cookie("c")), (Some("q"), Some("2"), None));
        assert_eq!(r.websocket_protocols().collect::<Vec<_>>(), ["tidings.v1", "tidings.token.abc"]);
        assert_eq!(r.bearer_token(), None);
    }
}
