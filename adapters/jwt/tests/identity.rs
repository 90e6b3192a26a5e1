//! The identity a token proves, and in-band refresh.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use serde_json::json;
use tidings_core::Authenticator;

#[tokio::test]
async fn the_identity_carries_user_claims_expiry_and_topics() {
    let auth = hs256_authenticator(|b| b);
    let exp = now() + 600;
    let claims = json!({"sub": "ann", "exp": exp, "topics": ["chat:*", "news:today"], "role": "editor"});
    let identity = accepted(&auth, &bearer(&hs256(&claims))).await;
    assert_eq!(identity.user.as_deref(), Some("ann"));
    assert_eq!(identity.claims, claims);
    assert_eq!(identity.expires_at, Some(UNIX_EPOCH + Duration::from_secs(exp)));
    assert_eq!(identity.topics, Some(vec!["chat:*".to_owned(), "news:today".to_owned()]));
    assert!(identity.allows_topic("chat:lobby") && identity.allows_topic("news:today"));
    assert!(!identity.allows_topic("news:tomorrow") && !identity.allows_topic("admin"));
}

#[tokio::test]
async fn no_topics_claim_means_no_restriction() {
    let auth = hs256_authenticator(|b| b);
    let identity = accepted(&auth, &bearer(&hs256(&claims("ann")))).await;
    assert_eq!(identity.topics, None);
    assert!(identity.allows_topic("anything"));
    // An empty list is a restriction: no topic at all.
    let none_allowed = hs256(&json!({"sub": "ann", "exp": now() + 600, "topics": []}));
    assert!(!accepted(&auth, &bearer(&none_allowed)).await.allows_topic("chat:lobby"));
}

#[tokio::test]
async fn a_topics_claim_of_the_wrong_type_is_refused() {
    let auth = hs256_authenticator(|b| b);
    for topics in [json!("chat:*"), json!(null), json!([1]), json!({"chat": true})] {
        let token = hs256(&json!({"sub": "ann", "exp": now() + 600, "topics": topics}));
        assert_eq!(refusal_of(&auth, &token).await, "claim topics must be an array of strings");
    }
}

#[tokio::test]
async fn claim_names_are_configurable() {
    let auth = hs256_authenticator(|b| b.user_claim("email").topics_claim("tidings/topics"));
    let token = hs256(&json!({"sub": "123", "email": "ann@example.com", "exp": now() + 600, "tidings/topics": ["a"]}));
    let identity = accepted(&auth, &bearer(&token)).await;
    assert_eq!(identity.user.as_deref(), Some("ann@example.com"));
    assert_eq!(identity.topics, Some(vec!["a".to_owned()]));
    assert_eq!(refusal_of(&auth, &hs256(&claims("ann"))).await, "missing claim email");
}

#[tokio::test]
async fn a_token_without_a_user_is_refused() {
    let auth = hs256_authenticator(|b| b);
    assert_eq!(refusal_of(&auth, &hs256(&json!({"exp": now() + 600}))).await, "missing claim sub");
}

#[tokio::test]
async fn refresh_checks_a_token_like_a_connection() {
    let auth = hs256_authenticator(|b| b.audience("chat"));
    let exp = now() + 3600;
    let fresh = hs256(&json!({"sub": "ann", "aud": "chat", "exp": exp, "topics": ["chat:*"]}));
    let identity = auth.refresh(&fresh).await.unwrap();
    assert_eq!(identity.user.as_deref(), Some("ann"));
    assert_eq!(identity.expires_at, Some(UNIX_EPOCH + Duration::from_secs(exp)));
    assert_eq!(identity.topics, Some(vec!["chat:*".to_owned()]));

    let expired = hs256(&json!({"sub": "ann", "aud": "chat", "exp": now() - 3600}));
    let refusal = auth.refresh(&expired).await.unwrap_err();
    assert_eq!((refusal.status, refusal.reason.as_ref()), (401, "token expired"));
    let elsewhere = hs256(&json!({"sub": "ann", "aud": "billing", "exp": exp}));
    assert_eq!(auth.refresh(&elsewhere).await.unwrap_err().reason, "wrong audience");
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims("ann").to_string())
    );
    assert_eq!(auth.refresh(&unsigned).await.unwrap_err().reason, "algorithm none not allowed");
    assert_eq!(auth.refresh("").await.unwrap_err().reason, "malformed token");
}

#[tokio::test]
async fn verify_is_refresh_without_the_log() {
    let auth = hs256_authenticator(|b| b);
    let token = hs256(&claims("ann"));
    assert_eq!(auth.verify(&token).await.unwrap(), auth.refresh(&token).await.unwrap());
}
