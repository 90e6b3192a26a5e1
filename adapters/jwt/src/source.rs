//! Where a connect request carries its token.

use std::borrow::Cow;
use std::fmt;

use tidings_core::ConnectRequest;

use crate::refusal::Refusal;

/// The WebSocket subprotocol that carries a token: `tidings.token.<jwt>`. Browsers cannot set headers on a
/// WebSocket, but they can offer subprotocols, and a JWT (base64url and dots) is made of valid subprotocol
/// characters.
///
/// ```
/// let offered = format!("tidings.v1, {}{}", tidings_jwt::SUBPROTOCOL_PREFIX, "eyJhbGciOi.eyJzdWIi.c2ln");
/// assert_eq!(offered, "tidings.v1, tidings.token.eyJhbGciOi.eyJzdWIi.c2ln");
/// ```
pub const SUBPROTOCOL_PREFIX: &str = "tidings.token.";

/// The query parameter that carries a token when query tokens are enabled
/// ([`query_tokens`](crate::JwtAuthenticatorBuilder::query_tokens)).
///
/// ```
/// assert_eq!(tidings_jwt::QUERY_PARAMETER, "access_token");
/// ```
pub const QUERY_PARAMETER: &str = "access_token";

/// The cookie that carries a token unless configured otherwise
/// ([`token_cookie`](crate::JwtAuthenticatorBuilder::token_cookie)).
///
/// ```
/// assert_eq!(tidings_jwt::DEFAULT_COOKIE, "tidings_token");
/// ```
pub const DEFAULT_COOKIE: &str = "tidings_token";

/// Which places are searched for a token, in order: the `Authorization: Bearer` header, the cookie, the WebSocket
/// subprotocol, then (only when enabled) the query.
#[derive(Debug, Clone)]
pub(crate) struct TokenSources {
    pub(crate) cookie: Option<String>,
    pub(crate) query: bool,
}

/// Where a token was found, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Header,
    Cookie,
    Subprotocol,
    Query,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Header => "authorization header",
            Source::Cookie => "cookie",
            Source::Subprotocol => "websocket subprotocol",
            Source::Query => "query",
        })
    }
}

impl TokenSources {
    /// The request's token and where it was.
    ///
    /// A token in the query while query tokens are disabled is refused outright, even next to a token elsewhere:
    /// the token has leaked into the URL (and so into access logs, proxies and browser history) already, and a
    /// client doing that should learn so at once rather than work by accident.
    pub(crate) fn find<'r>(&self, request: &'r ConnectRequest) -> Result<(Cow<'r, str>, Source), Refusal> {
        if !self.query && request.query(QUERY_PARAMETER).is_some() {
            return Err(Refusal::QueryTokensDisabled);
        }
        if let Some(token) = request.bearer_token() {
            return Ok((Cow::Borrowed(token), Source::Header));
        }
        if let Some(token) = self.cookie.as_deref().and_then(|name| request.cookie(name)).filter(|t| !t.is_empty()) {
            return Ok((Cow::Borrowed(token), Source::Cookie));
        }
        let offered = request.websocket_protocols().find_map(|p| p.strip_prefix(SUBPROTOCOL_PREFIX));
        if let Some(token) = offered.filter(|t| !t.is_empty()) {
            return Ok((Cow::Borrowed(token), Source::Subprotocol));
        }
        if self.query {
            if let Some(token) = request.query(QUERY_PARAMETER).filter(|t| !t.is_empty()) {
                return Ok((Cow::Owned(token), Source::Query));
            }
        }
        Err(Refusal::NoToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(query: bool) -> TokenSources {
        TokenSources { cookie: Some(DEFAULT_COOKIE.into()), query }
    }

    fn found(sources: &TokenSources, request: &ConnectRequest) -> Result<(String, Source), Refusal> {
        sources.find(request).map(|(token, source)| (token.into_owned(), source))
    }

    #[test]
    fn searches_header_cookie_subprotocol_then_query() {
        let all = ConnectRequest::new("websocket", None, "access_token=q")
            .with_header("Authorization", "Bearer h")
            .with_header("Cookie", "tidings_token=c")
            .with_header("Sec-WebSocket-Protocol", "tidings.v1, tidings.token.s");
        assert_eq!(found(&sources(true), &all), Ok(("h".into(), Source::Header)));
        let no_header = ConnectRequest::new("websocket", None, "access_token=q")
            .with_header("Cookie", "tidings_token=c")
            .with_header("Sec-WebSocket-Protocol", "tidings.v1, tidings.token.s");
        assert_eq!(found(&sources(true), &no_header), Ok(("c".into(), Source::Cookie)));
        let subprotocol = ConnectRequest::new("websocket", None, "access_token=q")
            .with_header("Sec-WebSocket-Protocol", "tidings.v1, tidings.token.s");
        assert_eq!(found(&sources(true), &subprotocol), Ok(("s".into(), Source::Subprotocol)));
        let query = ConnectRequest::new("sse", None, "x=1&access_token=q%2Eb");
        assert_eq!(found(&sources(true), &query), Ok(("q.b".into(), Source::Query)));
    }

    #[test]
    fn a_query_token_is_refused_unless_enabled_even_beside_another() {
        let request = ConnectRequest::new("sse", None, "access_token=q").with_header("Authorization", "Bearer h");
        assert_eq!(found(&sources(false), &request), Err(Refusal::QueryTokensDisabled));
    }

    #[test]
    fn empty_or_absent_tokens_are_no_token() {
        let request = ConnectRequest::new("websocket", None, "")
            .with_header("Authorization", "Basic dXNlcjpwYXNz")
            .with_header("Cookie", "tidings_token=; other=x")
            .with_header("Sec-WebSocket-Protocol", "tidings.token.");
        assert_eq!(found(&sources(false), &request), Err(Refusal::NoToken));
        let cookie_off = TokenSources { cookie: None, query: false };
        let request = ConnectRequest::new("sse", None, "").with_header("Cookie", "tidings_token=c");
        assert_eq!(found(&cookie_off, &request), Err(Refusal::NoToken));
    }
}
