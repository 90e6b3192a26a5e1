//! Keys, tokens and requests for the integration tests. Every test binary uses a part of this module.
#![allow(dead_code)]

pub(crate) mod jwks_server;

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm as J, EncodingKey, Header};
use serde_json::{json, Value};
use tidings_core::{AuthRefusal, Authenticator, ConnectRequest, Identity};
use tidings_jwt::{Algorithm, JwtAuthenticator, JwtAuthenticatorBuilder, Key};

/// 64 bytes: long enough for HS512.
pub(crate) const HMAC_SECRET: &[u8; 64] = b"tidings-jwt test secret: sixty-four bytes, enough for HS512 ....";

/// A test key file (tests/keys/).
pub(crate) fn key_file(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) fn rsa_public() -> Key {
    Key::rsa_pem(key_file("rsa-public.pem")).unwrap()
}

pub(crate) fn rsa_private() -> EncodingKey {
    EncodingKey::from_rsa_pem(&key_file("rsa-private.pem")).unwrap()
}

pub(crate) fn rsa2_private() -> EncodingKey {
    EncodingKey::from_rsa_pem(&key_file("rsa2-private.pem")).unwrap()
}

pub(crate) fn hmac_private() -> EncodingKey {
    EncodingKey::from_secret(HMAC_SECRET)
}

pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Claims that pass the default checks: a user, and an expiry ten minutes away.
pub(crate) fn claims(user: &str) -> Value {
    json!({"sub": user, "exp": now() + 600})
}

/// Signs `claims` as an identity provider would.
pub(crate) fn sign(alg: J, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub(crate) fn hs256(claims: &Value) -> String {
    sign(J::HS256, None, &hmac_private(), claims)
}

pub(crate) fn rs256(claims: &Value) -> String {
    sign(J::RS256, None, &rsa_private(), claims)
}

/// An authenticator accepting HS256 tokens signed with [`HMAC_SECRET`], after `configure`.
pub(crate) fn hs256_authenticator(
    configure: impl FnOnce(JwtAuthenticatorBuilder) -> JwtAuthenticatorBuilder,
) -> JwtAuthenticator {
    let builder = JwtAuthenticator::builder().algorithms([Algorithm::HS256]).key(Key::hmac(HMAC_SECRET).unwrap());
    configure(builder).build().unwrap()
}

/// A WebSocket connect request from 127.0.0.1 with `Authorization: Bearer <token>`.
pub(crate) fn bearer(token: &str) -> ConnectRequest {
    ConnectRequest::new("websocket", Some([127, 0, 0, 1].into()), "")
        .with_header("Authorization", &format!("Bearer {token}"))
}

pub(crate) async fn accepted(auth: &JwtAuthenticator, request: &ConnectRequest) -> Identity {
    match auth.authenticate(request).await {
        Ok(identity) => identity,
        Err(refusal) => panic!("refused: {refusal}"),
    }
}

/// The refusal, after checking it is a 401 and does not echo `token`.
pub(crate) async fn refused(auth: &JwtAuthenticator, request: &ConnectRequest) -> AuthRefusal {
    let refusal = auth.authenticate(request).await.expect_err("accepted a token that should be refused");
    assert_eq!(refusal.status, 401, "{refusal}");
    refusal
}

/// The reason an authenticator refuses a bearer token, after checking the refusal is a 401 that does not echo it.
pub(crate) async fn refusal_of(auth: &JwtAuthenticator, token: &str) -> String {
    let refusal = refused(auth, &bearer(token)).await;
    if !token.is_empty() {
        assert!(!refusal.reason.contains(token), "the reason echoes the token");
    }
    refusal.reason.into_owned()
}

/// Runs a test's body with a time limit, so that a hang fails the test rather than CI.
pub(crate) async fn within<T>(limit: Duration, body: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, body).await.expect("the test took too long")
}
