//! RFC 6455 section 4.2: the opening handshake, checked strictly.

use actix_web::http::header::{self, HeaderMap, HeaderName};
use actix_web::http::{StatusCode, Version};
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};

/// The GUID every WebSocket server appends to the client's key.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why an upgrade request was refused; the client gets it as an HTTP response, before any upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeError {
    /// 400, or 426 for a WebSocket version other than 13.
    pub status: StatusCode,
    /// What was wrong, sent as the response body.
    pub reason: &'static str,
}

impl HandshakeError {
    fn bad(reason: &'static str) -> Self {
        HandshakeError { status: StatusCode::BAD_REQUEST, reason }
    }

    /// The HTTP response for this refusal.
    pub fn response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UPGRADE_REQUIRED {
            response.insert_header((header::SEC_WEBSOCKET_VERSION, "13"));
        }
        response.content_type("text/plain; charset=utf-8").body(self.reason)
    }
}

/// Checks an upgrade request and returns the `Sec-WebSocket-Accept` value for the response.
///
/// Requires HTTP/1.1 or later, `Upgrade: websocket`, `Connection: upgrade` (as one token among others), exactly
/// one `Sec-WebSocket-Key` that is 16 bytes in base64, and `Sec-WebSocket-Version: 13`.
pub fn accept_key(req: &HttpRequest) -> Result<String, HandshakeError> {
    if req.version() < Version::HTTP_11 {
        return Err(HandshakeError::bad("WebSocket needs HTTP/1.1"));
    }
    let headers = req.headers();
    if !has_token(headers, &header::UPGRADE, "websocket") {
        return Err(HandshakeError::bad("missing `Upgrade: websocket`"));
    }
    if !has_token(headers, &header::CONNECTION, "upgrade") {
        return Err(HandshakeError::bad("missing `Connection: upgrade`"));
    }
    let mut versions = headers.get_all(header::SEC_WEBSOCKET_VERSION);
    if versions.next().and_then(|v| v.to_str().ok()).map(str::trim) != Some("13") || versions.next().is_some() {
        return Err(HandshakeError {
            status: StatusCode::UPGRADE_REQUIRED,
            reason: "unsupported Sec-WebSocket-Version; this server speaks 13",
        });
    }
    let mut keys = headers.get_all(header::SEC_WEBSOCKET_KEY);
    let key = match (keys.next(), keys.next()) {
        (Some(key), None) => key.as_bytes().trim_ascii(),
        (None, _) => return Err(HandshakeError::bad("missing Sec-WebSocket-Key")),
        (Some(_), Some(_)) => return Err(HandshakeError::bad("more than one Sec-WebSocket-Key")),
    };
    match BASE64.decode(key) {
        Ok(nonce) if nonce.len() == 16 => Ok(accept_for(key)),
        _ => Err(HandshakeError::bad("Sec-WebSocket-Key must be 16 bytes in base64")),
    }
}

/// `base64(sha1(key ++ GUID))`.
pub fn accept_for(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID);
    BASE64.encode(sha.finalize())
}

/// Whether a comma-separated header (possibly repeated) holds `token`, compared case-insensitively.
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn valid() -> TestRequest {
        TestRequest::get()
            .insert_header((header::UPGRADE, "websocket"))
            .insert_header((header::CONNECTION, "keep-alive, Upgrade"))
            .insert_header((header::SEC_WEBSOCKET_VERSION, "13"))
            .insert_header((header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ=="))
    }

    #[test]
    fn rfc_example_key() {
        // RFC 6455 section 1.3.
        assert_eq!(accept_key(&valid().to_http_request()).unwrap(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn refusals() {
        let check = |req: TestRequest| accept_key(&req.to_http_request()).unwrap_err();
        assert_eq!(check(valid().insert_header((header::UPGRADE, "h2c"))).reason, "missing `Upgrade: websocket`");
        assert_eq!(check(valid().insert_header((header::CONNECTION, "close"))).reason, "missing `Connection: upgrade`");
        assert_eq!(
            check(valid().insert_header((header::SEC_WEBSOCKET_VERSION, "8"))).status,
            StatusCode::UPGRADE_REQUIRED
        );
        assert_eq!(
            check(valid().insert_header((header::SEC_WEBSOCKET_KEY, "c2hvcnQ="))).reason,
            "Sec-WebSocket-Key must be 16 bytes in base64"
        );
        assert_eq!(
            check(valid().append_header((header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ=="))).reason,
            "more than one Sec-WebSocket-Key"
        );
        assert_eq!(check(valid().version(Version::HTTP_10)).reason, "WebSocket needs HTTP/1.1");
    }
}
