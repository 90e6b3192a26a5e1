//! The token's header, read before any key is chosen, and trusted for nothing but picking among what the server
//! already allows.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use crate::algorithm::Algorithm;
use crate::refusal::{printable, Refusal};

/// What the header asks for: an algorithm (still to be checked against the configured ones) and maybe a key id.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TokenHeader {
    /// The `alg`: one this crate knows, or the printable form of one it does not (`none`, say), for the refusal.
    pub(crate) alg: Result<Algorithm, String>,
    pub(crate) kid: Option<String>,
}

/// Reads the header of a compact JWS (`header.payload.signature`).
pub(crate) fn read(token: &str) -> Result<TokenHeader, Refusal> {
    let mut parts = token.split('.');
    let (Some(header), Some(_payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let json = URL_SAFE_NO_PAD.decode(header).map_err(|_| Refusal::Malformed)?;
    let Ok(Value::Object(header)) = serde_json::from_slice::<Value>(&json) else {
        return Err(Refusal::Malformed);
    };
    // RFC 7515 4.1.11: a recipient that does not understand a critical extension must refuse the token. This crate
    // understands none, and `b64: false` (RFC 7797) in particular would change what the signature covers.
    if header.contains_key("crit") {
        return Err(Refusal::UnsupportedCritical);
    }
    let alg = match header.get("alg") {
        Some(Value::String(name)) => name.parse().map_err(|_| printable(name)),
        _ => return Err(Refusal::Malformed),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(Refusal::Malformed),
    };
    Ok(TokenHeader { alg, kid })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header))
    }

    #[test]
    fn reads_alg_and_kid() {
        let header = read(&token(r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#)).unwrap();
        assert_eq!(header, TokenHeader { alg: Ok(Algorithm::ES256), kid: Some("k1".into()) });
        assert_eq!(read(&token(r#"{"alg":"none"}"#)).unwrap().alg, Err("none".into()));
        assert_eq!(read(&token(r#"{"alg":"a\nb"}"#)).unwrap().alg, Err("(unprintable)".into()));
    }

    #[test]
    fn refuses_what_is_not_a_jws_header() {
        for bad in ["", "a.b", "a.b.c.d", "!!!.e30.sig"] {
            assert_eq!(read(bad), Err(Refusal::Malformed), "{bad}");
        }
        for header in [r#"[]"#, r#"{}"#, r#"{"alg":1}"#, r#"{"alg":"HS256","kid":7}"#, "not json"] {
            assert_eq!(read(&token(header)), Err(Refusal::Malformed), "{header}");
        }
        assert_eq!(read(&token(r#"{"alg":"HS256","crit":["b64"],"b64":false}"#)), Err(Refusal::UnsupportedCritical));
    }
}
