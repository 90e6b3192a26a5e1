//! Reading a JWKS document (RFC 7517) into keys, each bound to its algorithms like a configured key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};

use crate::algorithm::{Algorithm, Family};
use crate::error::ConfigError;
use crate::key::{ec_algorithm, Key};

/// How far a JWKS document is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trust {
    /// A file or string from the server's own configuration: may hold HMAC secrets (`oct` keys).
    Local,
    /// A document fetched from a URL: `oct` keys are skipped, because a secret published at a URL is no secret, and
    /// anyone who read it could sign tokens.
    Published,
}

/// The usable keys of a JWKS document. Keys that cannot verify signatures here (encryption keys, unknown key types,
/// other curves) are skipped with a warning: a provider's JWKS commonly lists more than one service needs. A document
/// with no usable key at all is an error.
pub(crate) fn parse(document: &[u8], origin: &str, trust: Trust) -> Result<Vec<Key>, ConfigError> {
    let error = |detail: String| ConfigError::Jwks { origin: origin.to_owned(), detail };
    let document: Value = serde_json::from_slice(document).map_err(|e| error(format!("not JSON: {e}")))?;
    let entries = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| error("no \"keys\" array (a JWKS document is {\"keys\": [...]})".into()))?;

    let mut keys = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let kid = entry.get("kid").and_then(Value::as_str);
        match entry.as_object().ok_or("not an object").and_then(|jwk| key_of(jwk, trust)) {
            Ok(key) => keys.push(match kid {
                Some(kid) => key.with_kid(kid),
                None => key,
            }),
            Err(reason) => tracing::warn!(jwks = origin, index, kid, reason, "skipped a JWKS key"),
        }
    }
    if keys.is_empty() {
        return Err(error(format!("none of its {} keys can verify signatures", entries.len())));
    }
    Ok(keys)
}

fn key_of(jwk: &Map<String, Value>, trust: Trust) -> Result<Key, &'static str> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if text("use").is_some_and(|usage| usage != "sig") {
        return Err("not a signature key (\"use\" is not \"sig\")");
    }
    if let Some(operations) = jwk.get("key_ops") {
        let verifies = operations.as_array().is_some_and(|ops| ops.iter().any(|op| op == "verify"));
        if !verifies {
            return Err("not a verification key (\"key_ops\" lacks \"verify\")");
        }
    }
    if jwk.contains_key("d") {
        // The private part of an asymmetric key: whoever published this leaked it, and tokens it signed prove nothing.
        return Err("holds a private key (\"d\"): a JWKS must publish public keys only");
    }
    let (family, mut algorithms, decoding) = match text("kty") {
        Some("RSA") => {
            let decoding = DecodingKey::from_rsa_components(required(jwk, "n")?, required(jwk, "e")?)
                .map_err(|_| "bad RSA parameters")?;
            (Family::Rsa, Algorithm::of_family(Family::Rsa).collect::<Vec<_>>(), decoding)
        }
        Some("EC") => {
            let decoding = DecodingKey::from_ec_components(required(jwk, "x")?, required(jwk, "y")?)
                .map_err(|_| "bad EC parameters")?;
            let algorithm = match (text("crv"), ec_algorithm(&decoding)) {
                (Some("P-256"), Some(alg @ Algorithm::ES256)) | (Some("P-384"), Some(alg @ Algorithm::ES384)) => alg,
                _ => return Err("unsupported curve, or coordinates that do not match it (P-256 and P-384 only)"),
            };
            (Family::Ec, vec![algorithm], decoding)
        }
        Some("OKP") => {
            if text("crv") != Some("Ed25519") {
                return Err("unsupported curve (Ed25519 only)");
            }
            let decoding = DecodingKey::from_ed_components(required(jwk, "x")?).map_err(|_| "bad Ed25519 key")?;
            (Family::Ed, vec![Algorithm::EdDSA], decoding)
        }
        Some("oct") if trust == Trust::Published => return Err("an HMAC secret (\"oct\") in a published JWKS"),
        Some("oct") => {
            let secret = URL_SAFE_NO_PAD.decode(required(jwk, "k")?).map_err(|_| "bad oct key")?;
            let key = Key::hmac(&secret).map_err(|_| "an HMAC secret shorter than 32 bytes")?;
            let algorithms = narrow(key.algorithms().to_vec(), text("alg"))?;
            return Ok(Key::new(Family::Hmac, algorithms, DecodingKey::from_secret(&secret)));
        }
        Some(_) => return Err("unsupported key type"),
        None => return Err("no \"kty\""),
    };
    algorithms = narrow(algorithms, text("alg"))?;
    Key::checked(family, algorithms, decoding).map_err(|_| "a key the crypto backend cannot load")
}

/// A JWK's `alg`, when present, binds the key to that one algorithm, which must be of the key's own family.
fn narrow(algorithms: Vec<Algorithm>, alg: Option<&str>) -> Result<Vec<Algorithm>, &'static str> {
    let Some(alg) = alg else { return Ok(algorithms) };
    let alg: Algorithm = alg.parse().map_err(|_| "unsupported \"alg\"")?;
    if algorithms.contains(&alg) {
        Ok(vec![alg])
    } else {
        Err("\"alg\" does not match the key type")
    }
}

fn required<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, &'static str> {
    jwk.get(name).and_then(Value::as_str).ok_or("a required parameter is missing")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../tests/keys/jwks.json");

    #[test]
    fn reads_each_key_type_with_its_kid() {
        let keys = parse(FIXTURE.as_bytes(), "fixture", Trust::Published).unwrap();
        let summary: Vec<_> = keys.iter().map(|k| (k.kid().unwrap(), k.algorithms().to_vec())).collect();
        assert_eq!(
            summary,
            [("rsa-1", vec![Algorithm::RS256]), ("ec-1", vec![Algorithm::ES256]), ("ed-1", vec![Algorithm::EdDSA])]
        );
    }

    #[test]
    fn skips_keys_it_must_not_use() {
        let secret = URL_SAFE_NO_PAD.encode([9u8; 40]);
        let document = serde_json::json!({"keys": [
            {"kty": "oct", "k": secret, "kid": "hmac"},
            {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
            {"kty": "OKP", "crv": "Ed25519", "x": "J5IxAfc5SmyK2kXwbHldoQ40-YHF5ulwm1IRkHBIdOk", "d": "AA"},
            {"kty": "OKP", "crv": "Ed25519", "x": "J5IxAfc5SmyK2kXwbHldoQ40-YHF5ulwm1IRkHBIdOk", "alg": "RS256"},
            {"kty": "OKP", "crv": "Ed25519", "x": "J5IxAfc5SmyK2kXwbHldoQ40-YHF5ulwm1IRkHBIdOk", "key_ops": ["sign"]},
            {"kty": "XYZ"},
            "not an object",
        ]})
        .to_string();
        let published = parse(document.as_bytes(), "test", Trust::Published);
        assert!(
            matches!(published, Err(ConfigError::Jwks { detail, .. }) if detail == "none of its 8 keys can verify signatures")
        );
        let local = parse(document.as_bytes(), "test", Trust::Local).unwrap();
        assert_eq!(local.len(), 1);
        assert_eq!((local[0].kid(), local[0].algorithms()), (Some("hmac"), &[Algorithm::HS256][..]));
    }

    #[test]
    fn refuses_what_is_not_a_jwks() {
        assert!(parse(b"{", "test", Trust::Local).is_err());
        assert!(parse(b"{\"keys\": {}}", "test", Trust::Local).is_err());
        assert!(parse(b"[]", "test", Trust::Local).is_err());
    }
}
