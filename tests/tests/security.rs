//! The framework's defences, through real sockets on every transport: authentication before any upgrade or stream,
//! origin checks, session ids bound to their identity, topic patterns from credentials, in-band refresh and
//! expiry, and the per-client limits — while an honest client on the same server is served throughout.

use std::time::Duration;

use serde_json::{json, Value};
use tidings::{Hub, HubConfig, Limits, Rate};
use tidings_tests::auth::{token, TestTokens};
use tidings_tests::handlers::{demo_hub, demo_hub_with};
use tidings_tests::http::{request, EventStream};
use tidings_tests::{RawSocket, TestServer};

const HOUR: Duration = Duration::from_secs(3600);

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The status line of a connect request on each transport.
async fn connect_status(server: &TestServer, headers: &[(&str, &str)]) -> [String; 3] {
    let (ws, _) = RawSocket::handshake(server.addr, "/realtime/ws", headers).await;
    // An accepted event stream never ends: read its head only.
    let sse = EventStream::open(server.addr, "/realtime/sse", headers).await;
    let poll = request(server.addr, "GET", "/realtime/poll", headers, "").await;
    let line = |head: &str| head.lines().next().unwrap_or_default().to_owned();
    [line(&ws), line(&sse.head), line(&poll.head)]
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_authenticator_every_transport_refuses_with_401() {
    let hub = Hub::builder().build().unwrap();
    let server = TestServer::start(hub);
    for status in connect_status(&server, &[]).await {
        assert!(status.starts_with("HTTP/1.1 401"), "{status}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_expired_and_malformed_credentials_get_401_before_any_upgrade_or_stream() {
    let server = TestServer::start(demo_hub_with(HubConfig::default(), TestTokens));
    let expired = bearer(&token("ann", Duration::ZERO));
    for headers in [vec![], vec![("Authorization", expired.as_str())], vec![("Authorization", "Bearer nonsense")]] {
        for status in connect_status(&server, &headers).await {
            assert!(status.starts_with("HTTP/1.1 401"), "{headers:?}: {status}");
        }
    }
    let good = bearer(&token("ann", HOUR));
    let [ws, sse, poll] = connect_status(&server, &[("Authorization", good.as_str())]).await;
    assert!(ws.starts_with("HTTP/1.1 101") && sse.starts_with("HTTP/1.1 200") && poll.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_origin_is_refused_on_every_transport_and_the_allowed_ones_pass() {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    let host = server.addr.to_string();
    let same = format!("http://{host}");
    let foreign = connect_status(&server, &[("Host", &host), ("Origin", "http://evil.example")]).await;
    for status in foreign {
        assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    }
    let [ws, sse, poll] = connect_status(&server, &[("Host", &host), ("Origin", &same)]).await;
    assert!(ws.starts_with("HTTP/1.1 101") && sse.starts_with("HTTP/1.1 200") && poll.starts_with("HTTP/1.1 200"));
    // A listed origin passes; same-origin no longer does unless listed.
    let config = HubConfig { allowed_origins: vec!["https://app.example".into()], ..Default::default() };
    let listed = TestServer::start(demo_hub(config));
    let [ws, _, _] = connect_status(&listed, &[("Origin", "https://app.example")]).await;
    assert!(ws.starts_with("HTTP/1.1 101"), "{ws}");
    let [ws, _, _] = connect_status(&listed, &[("Host", "x.example"), ("Origin", "http://x.example")]).await;
    assert!(ws.starts_with("HTTP/1.1 403"), "{ws}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stolen_long_poll_session_id_reads_and_writes_nothing_of_its_owner() {
    let server = TestServer::start(demo_hub_with(HubConfig::default(), TestTokens));
    let ann = bearer(&token("ann", HOUR));
    let mallory = bearer(&token("mallory", HOUR));
    let welcome = request(server.addr, "GET", "/realtime/poll", &[("Authorization", &ann)], "").await.json();
    let session = welcome[0]["session"].as_str().unwrap().to_owned();
    let post = |auth: String, body: Value| {
        let path = format!("/realtime/send?session={session}");
        async move { request(server.addr, "POST", &path, &[("Authorization", &auth)], &body.to_string()).await }
    };
    assert_eq!(post(ann.clone(), json!({"type":"subscribe","id":1,"topic":"news:a"})).await.status, 204);
    // Mallory, with her own valid token and Ann's session id: her sends are refused...
    let refused = post(mallory.clone(), json!({"type":"unsubscribe","id":2,"topic":"news:a"})).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    // ...and her poll gets a session of her own, not Ann's frames.
    let path = format!("/realtime/poll?session={session}&ack=0");
    let polled = request(server.addr, "GET", &path, &[("Authorization", &mallory)], "").await.json();
    assert_eq!(polled[0]["type"], "welcome");
    assert_ne!(polled[0]["session"], session.as_str());
    // Without credentials at all: 401. Ann herself still gets her frames.
    assert_eq!(post(String::new(), json!({"type":"ack","seq":1})).await.status, 401);
    let mine = request(server.addr, "GET", &path, &[("Authorization", &ann)], "").await.json();
    assert_eq!((mine[0]["seq"].as_u64(), mine[0]["id"].as_u64()), (Some(1), Some(1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn topics_outside_the_credentials_patterns_are_forbidden() {
    let server = TestServer::start(demo_hub_with(HubConfig::default(), TestTokens));
    let auth = bearer(&token("ann", HOUR));
    let (_, mut ws) =
        RawSocket::handshake(server.addr, "/realtime/ws", &[("Authorization", &auth), ("x-topics", "news:*")]).await;
    ws.next_json().await;
    ws.send_text(r#"{"type":"subscribe","id":1,"topic":"open:x"}"#).await;
    let refused = ws.next_json().await;
    assert_eq!((refused["id"].as_u64(), refused["code"].as_str()), (Some(1), Some("forbidden")), "{refused}");
    ws.send_text(r#"{"type":"subscribe","id":2,"topic":"news:x"}"#).await;
    assert_eq!(ws.next_json().await["type"], "reply");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_that_refreshes_in_band_keeps_receiving_and_one_that_does_not_is_closed_with_4003() {
    let server = TestServer::start(demo_hub_with(HubConfig::default(), TestTokens));
    let short = Duration::from_millis(800);
    let open = |ttl| {
        let auth = bearer(&token(if ttl == short { "ann" } else { "bob" }, ttl));
        async move {
            let (_, mut ws) = RawSocket::handshake(server.addr, "/realtime/ws", &[("Authorization", &auth)]).await;
            ws.next_json().await;
            ws.send_text(r#"{"type":"subscribe","id":1,"topic":"news:a"}"#).await;
            assert_eq!(ws.next_json().await["id"], 1);
            ws
        }
    };
    let mut ann = open(short).await;
    let bob_auth = bearer(&token("bob", short));
    let (_, mut bob) = RawSocket::handshake(server.addr, "/realtime/ws", &[("Authorization", &bob_auth)]).await;
    bob.next_json().await;
    // Ann refreshes before her token expires; a refresh with someone else's token is refused.
    let eve = token("eve", HOUR);
    ann.send_text(&json!({"type":"refresh","id":2,"token": eve}).to_string()).await;
    assert_eq!(ann.next_json().await["code"], "unauthorized");
    ann.send_text(&json!({"type":"refresh","id":3,"token": token("ann", HOUR)}).to_string()).await;
    let reply = ann.next_json().await;
    assert_eq!((reply["id"].as_u64(), reply["type"].as_str()), (Some(3), Some("reply")), "{reply}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(bob.expect_close().await, 4003, "bob's credentials expired unrefreshed");
    server.hub.publish("news:a", &"still here").await.unwrap();
    assert_eq!(ann.next_json().await["data"], "still here");
}

/// A hub whose clients may send `per_second` frames a second, in bursts of as many.
fn throttled(per_second: f64) -> Hub {
    let limits = Limits { messages_per_second: Rate { per_second, burst: per_second }, ..Default::default() };
    demo_hub(HubConfig { limits, ..Default::default() })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_client_is_throttled_while_an_honest_one_receives_everything() {
    let server = TestServer::start(throttled(20.0));
    let mut honest = RawSocket::connect(server.addr, "/realtime/ws").await;
    honest.next_json().await;
    honest.send_text(r#"{"type":"subscribe","id":1,"topic":"news:a"}"#).await;
    assert_eq!(honest.next_json().await["id"], 1);
    let mut flooder = RawSocket::connect(server.addr, "/realtime/ws").await;
    flooder.next_json().await;
    let started = tokio::time::Instant::now();
    for id in 0..2000 {
        flooder.send_text(&json!({"type":"message","id": id,"topic":"calc","data":{"add":[1,1]}}).to_string()).await;
    }
    for n in 0..100 {
        server.hub.publish("news:a", &n).await.unwrap();
    }
    for n in 0..100 {
        assert_eq!(honest.next_json().await["data"], n);
    }
    // The flooder's frames are taken at its rate: a burst of 20, then 20 a second.
    let deadline = started + Duration::from_secs(2);
    let mut answered = 0u32;
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, flooder.next()).await {
        answered += 1;
    }
    let allowed = 20.0 + 20.0 * started.elapsed().as_secs_f64();
    assert!(answered >= 20 && f64::from(answered) <= allowed + 5.0, "{answered} answered, {allowed} allowed");
}

#[tokio::test(flavor = "multi_thread")]
async fn more_sessions_than_the_per_address_limit_are_refused_with_429() {
    let limits = Limits { sessions_per_ip: 3, ..Default::default() };
    let server = TestServer::start(demo_hub(HubConfig { limits, ..Default::default() }));
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(RawSocket::connect(server.addr, "/realtime/ws").await);
    }
    for status in connect_status(&server, &[]).await {
        assert!(status.starts_with("HTTP/1.1 429"), "{status}");
    }
    assert_eq!(server.hub.session_count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn connecting_faster_than_the_handshake_rate_is_refused_with_429() {
    let limits = Limits { connects_per_ip: Rate { per_second: 1.0, burst: 5.0 }, ..Default::default() };
    let server = TestServer::start(demo_hub(HubConfig { limits, ..Default::default() }));
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(request(server.addr, "GET", "/realtime/poll", &[], "").await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100_mb_message_is_refused_on_every_transport_and_others_keep_receiving() {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    let mut honest = RawSocket::connect(server.addr, "/realtime/ws").await;
    honest.next_json().await;
    honest.send_text(r#"{"type":"subscribe","id":1,"topic":"news:a"}"#).await;
    assert_eq!(honest.next_json().await["id"], 1);
    // WebSocket: a text frame announcing 100 MB is refused on its header, before a byte of it is buffered.
    let mut big = RawSocket::connect(server.addr, "/realtime/ws").await;
    big.next_json().await;
    big.send_header_only(0x81, 100 << 20).await;
    assert_eq!(big.expect_close().await, 1009);
    // HTTP: a 100 MB body to /send is refused with 413.
    let mut stream = EventStream::open(server.addr, "/realtime/sse", &[]).await;
    let session: Value = serde_json::from_str(&stream.next().await.data).unwrap();
    let session = session["session"].as_str().unwrap();
    let body = format!(r#"{{"type":"publish","topic":"open:a","data":"{}"}}"#, "x".repeat(100 << 20));
    let response = request(server.addr, "POST", &format!("/realtime/send?session={session}"), &[], &body).await;
    assert_eq!(response.status, 413);
    server.hub.publish("news:a", &"after").await.unwrap();
    assert_eq!(honest.next_json().await["data"], "after");
}
