//! Where tokens are read from, in which order, and what is logged about them.

mod common;

use common::*;
use tidings_core::ConnectRequest;

fn request(transport: &'static str, query: &str) -> ConnectRequest {
    ConnectRequest::new(transport, Some([192, 0, 2, 7].into()), query)
}

#[tokio::test]
async fn from_the_authorization_header() {
    let auth = hs256_authenticator(|b| b);
    let token = hs256(&claims("ann"));
    let request = request("longpoll", "").with_header("authorization", &format!("bearer {token}"));
    assert_eq!(accepted(&auth, &request).await.user.as_deref(), Some("ann"));
}

#[tokio::test]
async fn from_the_cookie() {
    let token = hs256(&claims("ann"));
    let cookie = format!("theme=dark; tidings_token={token}; lang=en");
    let auth = hs256_authenticator(|b| b);
    accepted(&auth, &request("sse", "").with_header("Cookie", &cookie)).await;

    let renamed = hs256_authenticator(|b| b.token_cookie("session_jwt"));
    assert_eq!(refused(&renamed, &request("sse", "").with_header("Cookie", &cookie)).await.reason, "no token");
    accepted(&renamed, &request("sse", "").with_header("Cookie", &format!("session_jwt={token}"))).await;

    let without = hs256_authenticator(|b| b.without_token_cookie());
    assert_eq!(refused(&without, &request("sse", "").with_header("Cookie", &cookie)).await.reason, "no token");
}

#[tokio::test]
async fn from_the_websocket_subprotocol() {
    let auth = hs256_authenticator(|b| b);
    let token = hs256(&claims("ann"));
    let offered = format!("tidings.v1, tidings.token.{token}");
    accepted(&auth, &request("websocket", "").with_header("Sec-WebSocket-Protocol", &offered)).await;
}

#[tokio::test]
async fn the_header_comes_first() {
    let auth = hs256_authenticator(|b| b);
    let good = hs256(&claims("ann"));
    let expired = hs256(&serde_json::json!({"sub": "bob", "exp": now() - 3600}));
    let request = request("websocket", "")
        .with_header("Authorization", &format!("Bearer {good}"))
        .with_header("Cookie", &format!("tidings_token={expired}"))
        .with_header("Sec-WebSocket-Protocol", &format!("tidings.token.{expired}"));
    assert_eq!(accepted(&auth, &request).await.user.as_deref(), Some("ann"));
}

#[tokio::test]
async fn a_query_token_is_refused_while_disabled() {
    let auth = hs256_authenticator(|b| b);
    let token = hs256(&claims("ann"));
    let reason = refused(&auth, &request("sse", &format!("access_token={token}"))).await.reason;
    assert!(reason.starts_with("query tokens are disabled"), "{reason}");
    assert!(!reason.contains(&token));
    // Even next to a good header token: the token has leaked into a URL already.
    let both =
        request("sse", &format!("access_token={token}")).with_header("Authorization", &format!("Bearer {token}"));
    assert!(refused(&auth, &both).await.reason.starts_with("query tokens are disabled"));
}

#[tokio::test]
async fn a_query_token_is_accepted_when_enabled() {
    let auth = hs256_authenticator(|b| b.query_tokens(true));
    let token = hs256(&claims("ann"));
    let identity = accepted(&auth, &request("sse", &format!("topic=chat&access_token={token}"))).await;
    assert_eq!(identity.user.as_deref(), Some("ann"));
    // The other sources still come first.
    let other = hs256(&claims("bob"));
    let both =
        request("sse", &format!("access_token={token}")).with_header("Authorization", &format!("Bearer {other}"));
    assert_eq!(accepted(&auth, &both).await.user.as_deref(), Some("bob"));
}
