//! The JWT authenticator behind the real transports: each attack is refused with 401 before any upgrade or
//! stream, on every transport; a good token connects and its identity reaches the session.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use tidings::HubConfig;
use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
use tidings_tests::handlers::demo_hub_with;
use tidings_tests::http::{request, EventStream};
use tidings_tests::{RawSocket, TestServer};

fn key_file(name: &str) -> Vec<u8> {
    let path = format!("{}/../adapters/jwt/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A server that takes RS256 tokens for audience `chat` from issuer `https://issuer.example`.
fn server() -> TestServer {
    let auth = JwtAuthenticator::builder()
        .algorithms([Algorithm::RS256])
        .key(Key::rsa_pem(key_file("rsa-public.pem")).unwrap())
        .issuer("https://issuer.example")
        .audience("chat")
        .build()
        .unwrap();
    TestServer::start(demo_hub_with(HubConfig::default(), auth))
}

fn claims() -> Value {
    json!({ "sub": "ann", "iss": "https://issuer.example", "aud": "chat", "exp": now() + 3600, "topics": ["news:*"] })
}

fn rs256(claims: &Value, private_key: &str) -> String {
    let key = EncodingKey::from_rsa_pem(&key_file(private_key)).unwrap();
    encode(&Header::new(jsonwebtoken::Algorithm::RS256), claims, &key).unwrap()
}

/// The status line of a connect on each transport, with these headers and query.
async fn statuses(server: &TestServer, query: &str, headers: &[(&str, &str)]) -> Vec<String> {
    let (ws, _) = RawSocket::handshake(server.addr, &format!("/realtime/ws{query}"), headers).await;
    let sse = EventStream::open(server.addr, &format!("/realtime/sse{query}"), headers).await;
    let poll = request(server.addr, "GET", &format!("/realtime/poll{query}"), headers, "").await;
    [ws, sse.head, poll.head].iter().map(|h| h.lines().next().unwrap_or_default().to_owned()).collect()
}

async fn refused_everywhere(server: &TestServer, token: &str) {
    let auth = format!("Bearer {token}");
    for status in statuses(server, "", &[("Authorization", &auth)]).await {
        assert!(status.starts_with("HTTP/1.1 401"), "{token}: {status}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_attack_is_refused_with_401_on_every_transport() {
    let server = server();
    // No token at all.
    for status in statuses(&server, "", &[]).await {
        assert!(status.starts_with("HTTP/1.1 401"), "{status}");
    }
    // Expired (beyond the leeway), signed with another key, wrong audience, wrong issuer.
    refused_everywhere(&server, &rs256(&with("exp", json!(now() - 120)), "rsa-private.pem")).await;
    refused_everywhere(&server, &rs256(&claims(), "rsa2-private.pem")).await;
    refused_everywhere(&server, &rs256(&with("aud", json!("billing")), "rsa-private.pem")).await;
    refused_everywhere(&server, &rs256(&with("iss", json!("https://evil.example")), "rsa-private.pem")).await;
    // `alg: none`, unsigned.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims().to_string())
    );
    refused_everywhere(&server, &none).await;
    // HS256 "signed" with the server's RSA public key as the HMAC secret (RS/HS confusion).
    let confused = EncodingKey::from_secret(&key_file("rsa-public.pem"));
    refused_everywhere(&server, &encode(&Header::new(jsonwebtoken::Algorithm::HS256), &claims(), &confused).unwrap())
        .await;
    // A good token in the query string, while query tokens are disabled.
    let good = rs256(&claims(), "rsa-private.pem");
    for status in statuses(&server, &format!("?access_token={good}"), &[]).await {
        assert!(status.starts_with("HTTP/1.1 401"), "{status}");
    }
}

/// `claims()` with one field replaced.
fn with(field: &str, value: Value) -> Value {
    let mut claims = claims();
    claims[field] = value;
    claims
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_token_connects_from_each_source_and_its_topics_bind_the_session() {
    let server = server();
    let token = rs256(&claims(), "rsa-private.pem");
    let bearer = format!("Bearer {token}");
    let cookie = format!("tidings_token={token}");
    let protocols = format!("tidings.v1, tidings.token.{token}");
    for headers in [[("Authorization", bearer.as_str())], [("Cookie", cookie.as_str())]] {
        for status in statuses(&server, "", &headers).await {
            assert!(status.starts_with("HTTP/1.1 101") || status.starts_with("HTTP/1.1 200"), "{status}");
        }
    }
    // A browser's WebSocket: the token as a subprotocol, and `tidings.v1` selected in the answer.
    let (head, mut ws) =
        RawSocket::handshake(server.addr, "/realtime/ws", &[("Sec-WebSocket-Protocol", &protocols)]).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.to_ascii_lowercase().contains("sec-websocket-protocol: tidings.v1\r\n"), "{head}");
    ws.next_json().await;
    // The token's `topics` claim: news only.
    ws.send_text(r#"{"type":"subscribe","id":1,"topic":"open:a"}"#).await;
    assert_eq!(ws.next_json().await["code"], "forbidden");
    ws.send_text(r#"{"type":"subscribe","id":2,"topic":"news:a"}"#).await;
    assert_eq!(ws.next_json().await["type"], "reply");
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_and_refresh_follow_the_token() {
    let server = server();
    // `now()` is in whole seconds: `exp` two seconds ahead is at least one second away, however late in its second
    // the test starts (one second ahead could be a few milliseconds away, and the handshake refused).
    let short = rs256(&with("exp", json!(now() + 2)), "rsa-private.pem");
    let bearer = format!("Bearer {short}");
    let (head, mut ws) = RawSocket::handshake(server.addr, "/realtime/ws", &[("Authorization", &bearer)]).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    ws.next_json().await;
    // The JWT's own leeway keeps a token valid up to 30 s past `exp`; the session's close follows `exp` itself.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(ws.expect_close().await, 4003);
    // Past `exp` (if within the leeway) the token no longer opens a session either.
    let (head, _) = RawSocket::handshake(server.addr, "/realtime/ws", &[("Authorization", &bearer)]).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let short = format!("Bearer {}", rs256(&with("exp", json!(now() + 2)), "rsa-private.pem"));
    let (head, mut refreshed) = RawSocket::handshake(server.addr, "/realtime/ws", &[("Authorization", &short)]).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    refreshed.next_json().await;
    let fresh = rs256(&claims(), "rsa-private.pem");
    refreshed.send_text(&json!({ "type": "refresh", "id": 1, "token": fresh }).to_string()).await;
    let reply = refreshed.next_json().await;
    assert_eq!(reply["type"], "reply", "{reply}");
    assert!(reply["data"]["expires_at"].as_u64().unwrap() > (now() + 3000) * 1000);
    // Past the first token's expiry, the session goes on.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    refreshed.send_text(r#"{"type":"subscribe","id":2,"topic":"news:a"}"#).await;
    assert_eq!(refreshed.next_json().await["id"], 2);
}
