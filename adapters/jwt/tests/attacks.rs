//! One test per way a token can be wrong or forged: each is refused with a 401 and its specific reason.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use jsonwebtoken::{Algorithm as J, EncodingKey};
use serde_json::json;
use tidings_core::ConnectRequest;
use tidings_jwt::{Algorithm, JwtAuthenticator, Key};

#[tokio::test]
async fn no_token() {
    let auth = hs256_authenticator(|b| b);
    let request = ConnectRequest::new("sse", Some([10, 0, 0, 1].into()), "topic=x");
    assert_eq!(refused(&auth, &request).await.reason, "no token");
}

#[tokio::test]
async fn expired_token_beyond_the_leeway() {
    let auth = hs256_authenticator(|b| b); // 30 s of leeway
    let token = hs256(&json!({"sub": "ann", "exp": now() - 120}));
    assert_eq!(refusal_of(&auth, &token).await, "token expired");
}

#[tokio::test]
async fn expired_token_within_the_leeway_is_accepted() {
    let auth = hs256_authenticator(|b| b);
    let token = hs256(&json!({"sub": "ann", "exp": now() - 10}));
    assert_eq!(accepted(&auth, &bearer(&token)).await.user.as_deref(), Some("ann"));
}

#[tokio::test]
async fn leeway_is_configurable() {
    let auth = hs256_authenticator(|b| b.leeway(std::time::Duration::ZERO));
    let token = hs256(&json!({"sub": "ann", "exp": now() - 10}));
    assert_eq!(refusal_of(&auth, &token).await, "token expired");
}

#[tokio::test]
async fn not_before_in_the_future() {
    let auth = hs256_authenticator(|b| b);
    let token = hs256(&json!({"sub": "ann", "exp": now() + 600, "nbf": now() + 300}));
    assert_eq!(refusal_of(&auth, &token).await, "token not yet valid");
    let within_leeway = hs256(&json!({"sub": "ann", "exp": now() + 600, "nbf": now() + 10}));
    accepted(&auth, &bearer(&within_leeway)).await;
}

#[tokio::test]
async fn missing_exp_unless_not_required() {
    let token = hs256(&json!({"sub": "ann"}));
    assert_eq!(refusal_of(&hs256_authenticator(|b| b), &token).await, "missing claim exp");
    accepted(&hs256_authenticator(|b| b.require_exp(false)), &bearer(&token)).await;
    // A present `exp` is checked even when not required.
    let expired = hs256(&json!({"sub": "ann", "exp": now() - 120}));
    assert_eq!(refusal_of(&hs256_authenticator(|b| b.require_exp(false)), &expired).await, "token expired");
}

#[tokio::test]
async fn token_signed_with_another_key() {
    let rsa = JwtAuthenticator::builder().algorithms([Algorithm::RS256]).key(rsa_public()).build().unwrap();
    let forged = sign(J::RS256, None, &rsa2_private(), &claims("ann"));
    assert_eq!(refusal_of(&rsa, &forged).await, "signature does not match");

    let hmac = hs256_authenticator(|b| b);
    let forged = sign(J::HS256, None, &EncodingKey::from_secret(&[7; 64]), &claims("ann"));
    assert_eq!(refusal_of(&hmac, &forged).await, "signature does not match");
}

#[tokio::test]
async fn tampered_claims() {
    let auth = hs256_authenticator(|b| b);
    let token = hs256(&claims("ann"));
    let parts: Vec<&str> = token.split('.').collect();
    let promoted = URL_SAFE_NO_PAD.encode(json!({"sub": "admin", "exp": now() + 600}).to_string());
    let tampered = format!("{}.{promoted}.{}", parts[0], parts[2]);
    assert_eq!(refusal_of(&auth, &tampered).await, "signature does not match");
}

#[tokio::test]
async fn alg_none() {
    let auth = hs256_authenticator(|b| b);
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims("admin").to_string());
    let unsigned = format!("{header}.{payload}.");
    assert_eq!(refusal_of(&auth, &unsigned).await, "algorithm none not allowed");
    // The case-variants some libraries once let through.
    for alg in ["None", "NONE", "nOnE"] {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        assert_eq!(refusal_of(&auth, &format!("{header}.{payload}.")).await, format!("algorithm {alg} not allowed"));
    }
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_against_an_rs256_server() {
    // The classic confusion: the attacker takes the server's RSA public key (public, after all), uses its PEM bytes
    // as an HMAC secret, and hopes the server verifies with "its key" and the token's algorithm.
    let auth = JwtAuthenticator::builder().algorithms([Algorithm::RS256]).key(rsa_public()).build().unwrap();
    let forged = sign(J::HS256, None, &EncodingKey::from_secret(&key_file("rsa-public.pem")), &claims("admin"));
    assert_eq!(refusal_of(&auth, &forged).await, "algorithm HS256 not allowed");
}

#[tokio::test]
async fn the_rsa_key_is_never_an_hmac_secret_even_with_both_families_allowed() {
    let auth = JwtAuthenticator::builder()
        .algorithms([Algorithm::RS256, Algorithm::HS256])
        .key(rsa_public().with_kid("rsa"))
        .key(Key::hmac(HMAC_SECRET).unwrap())
        .build()
        .unwrap();
    let secret = EncodingKey::from_secret(&key_file("rsa-public.pem"));
    let without_kid = sign(J::HS256, None, &secret, &claims("admin"));
    assert_eq!(refusal_of(&auth, &without_kid).await, "signature does not match");
    let naming_the_rsa_key = sign(J::HS256, Some("rsa"), &secret, &claims("admin"));
    assert_eq!(refusal_of(&auth, &naming_the_rsa_key).await, "algorithm HS256 not allowed for the key the token names");
    // And the genuine tokens of both families still pass.
    accepted(&auth, &bearer(&sign(J::RS256, Some("rsa"), &rsa_private(), &claims("ann")))).await;
    accepted(&auth, &bearer(&hs256(&claims("ann")))).await;
}

#[tokio::test]
async fn an_algorithm_outside_the_configured_list() {
    let auth = JwtAuthenticator::builder().algorithms([Algorithm::RS256]).key(rsa_public()).build().unwrap();
    let rs512 = sign(J::RS512, None, &rsa_private(), &claims("ann"));
    assert_eq!(refusal_of(&auth, &rs512).await, "algorithm RS512 not allowed");
}

#[tokio::test]
async fn wrong_audience() {
    let auth = hs256_authenticator(|b| b.audience("chat"));
    let token = hs256(&json!({"sub": "ann", "exp": now() + 600, "aud": "billing"}));
    assert_eq!(refusal_of(&auth, &token).await, "wrong audience");
    assert_eq!(refusal_of(&auth, &hs256(&claims("ann"))).await, "missing claim aud");
    accepted(&auth, &bearer(&hs256(&json!({"sub": "ann", "exp": now() + 600, "aud": ["billing", "chat"]})))).await;
}

#[tokio::test]
async fn an_audience_where_none_is_expected() {
    let auth = hs256_authenticator(|b| b);
    let token = hs256(&json!({"sub": "ann", "exp": now() + 600, "aud": "billing"}));
    assert_eq!(refusal_of(&auth, &token).await, "wrong audience (this server expects none)");
}

#[tokio::test]
async fn wrong_issuer() {
    let auth = hs256_authenticator(|b| b.issuer("https://auth.example.com").issuer("https://backup.example.com"));
    let token = hs256(&json!({"sub": "ann", "exp": now() + 600, "iss": "https://evil.example.com"}));
    assert_eq!(refusal_of(&auth, &token).await, "wrong issuer");
    assert_eq!(refusal_of(&auth, &hs256(&claims("ann"))).await, "missing claim iss");
    accepted(&auth, &bearer(&hs256(&json!({"sub": "ann", "exp": now() + 600, "iss": "https://backup.example.com"}))))
        .await;
}

#[tokio::test]
async fn a_curve_key_does_not_verify_the_other_curve() {
    let auth = JwtAuthenticator::builder()
        .algorithms([Algorithm::ES256, Algorithm::ES384])
        .key(Key::ec_pem(key_file("ec256-public.pem")).unwrap())
        .build()
        .unwrap();
    let es384 =
        sign(J::ES384, None, &EncodingKey::from_ec_pem(&key_file("ec384-private.pem")).unwrap(), &claims("ann"));
    assert_eq!(refusal_of(&auth, &es384).await, "no key for algorithm ES384");
}

#[tokio::test]
async fn critical_header_extensions() {
    let auth = hs256_authenticator(|b| b);
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","crit":["b64"],"b64":false}"#);
    let token = format!("{header}.{}.c2ln", URL_SAFE_NO_PAD.encode(claims("ann").to_string()));
    assert_eq!(refusal_of(&auth, &token).await, "unsupported critical header parameter");
}

#[tokio::test]
async fn garbage() {
    let auth = hs256_authenticator(|b| b);
    for token in ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln.extra", "eyJhbGciOiJIUzI1NiJ9"] {
        assert_eq!(refusal_of(&auth, token).await, "malformed token", "{token}");
    }
    // The signature is checked before the payload is even decoded, so unsigned garbage is a mismatch...
    assert_eq!(refusal_of(&auth, "eyJhbGciOiJIUzI1NiJ9.%%%.c2ln").await, "signature does not match");
    // ...and signed garbage is malformed: a payload that is not base64url JSON, or JSON but not an object.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#);
    for payload in ["%%%".to_owned(), URL_SAFE_NO_PAD.encode("[1,2]"), URL_SAFE_NO_PAD.encode("\"text\"")] {
        let message = format!("{header}.{payload}");
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &hmac_private(), J::HS256).unwrap();
        assert_eq!(refusal_of(&auth, &format!("{message}.{signature}")).await, "malformed token", "{payload}");
    }
}
