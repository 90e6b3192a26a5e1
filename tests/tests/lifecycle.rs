//! Connection lifecycle: handshake refusals, idle timeout, graceful shutdown.

use std::time::Duration;

use tidings::websocket::WebSocketConfig;
use tidings::{Endpoint, HubConfig};
use tidings_client::{Client, ClientOptions, CloseCode};
use tidings_tests::handlers::demo_hub;
use tidings_tests::{RawSocket, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn bad_handshakes_get_http_errors_before_any_upgrade() {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("Sec-WebSocket-Version", "8")], "HTTP/1.1 426"),
        (&[("Sec-WebSocket-Key", "")], "HTTP/1.1 400"),
        (&[("Sec-WebSocket-Key", "dG9vIHNob3J0")], "HTTP/1.1 400"),
        (&[("Upgrade", "")], "HTTP/1.1 400"),
        (&[("Connection", "keep-alive")], "HTTP/1.1 400"),
    ];
    for (headers, expected) in cases {
        let (head, _) = RawSocket::handshake(server.addr, "/realtime/ws", headers).await;
        assert!(head.starts_with(expected), "{headers:?}: {head}");
    }
    let (head, _) = RawSocket::handshake(server.addr, "/realtime/ws?v=2", &[]).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let (head, _) = RawSocket::handshake(server.addr, "/realtime/ws?v=1", &[]).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
}

fn quick_pings(hub: &tidings::Hub) -> actix_web::Scope {
    let config = WebSocketConfig {
        ping_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(350),
        close_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    Endpoint::new().websocket(config).scope("/realtime", hub)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_client_is_closed_with_4001_and_a_responsive_one_is_kept() {
    let server = TestServer::start_with(demo_hub(HubConfig::default()), quick_pings);
    // The Rust client answers pings (tungstenite does so on read).
    let client = Client::connect(&server.ws_url()).await.unwrap();
    let mut sub = client.subscribe("news:x").await.unwrap();
    // The raw client never answers.
    let mut raw = RawSocket::connect(server.addr, "/realtime/ws").await;
    assert_eq!(raw.expect_close().await, 4001);
    server.hub.publish("news:x", &1).await.unwrap();
    assert_eq!(sub.next_publication().await.unwrap().data, 1);
    assert_eq!(client.closed(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_closes_every_connection_with_1001() {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    // 1001 invites a reconnect: these clients are told not to, so that the close is what they end with.
    let once = || ClientOptions { max_reconnect_attempts: Some(0), ..Default::default() };
    let a = Client::connect_with(&server.ws_url(), once()).await.unwrap();
    let b = Client::connect_with(&server.ws_url(), once()).await.unwrap();
    let mut sub = a.subscribe("news:x").await.unwrap();
    let mut raw = RawSocket::connect(server.addr, "/realtime/ws").await;
    server.hub.publish("news:x", &"before").await.unwrap();

    let hub = server.hub.clone();
    let shutdown = tokio::spawn(async move { hub.shutdown(Duration::from_secs(5)).await });
    assert_eq!(raw.expect_close().await, 1001);
    // What was published before the shutdown is delivered before the close.
    assert_eq!(sub.next_publication().await.unwrap().data, "before");
    assert!(sub.next().await.is_none());
    assert_eq!(shutdown.await.unwrap(), 0, "every session ended within the timeout");
    assert_eq!(a.closed(), Some(Some(CloseCode::GOING_AWAY)));
    assert_eq!(b.closed(), Some(Some(CloseCode::GOING_AWAY)));
    // New connections are refused while shut down.
    assert!(Client::connect(&server.ws_url()).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_is_closed_and_freed() {
    // Its connection is closed (4000) once a write waits `write_timeout`; its session then waits `resume_window`
    // for it (dropping the publications that do not fit its queue, to tell it of them if it comes back) and ends.
    let config = HubConfig {
        write_timeout: Duration::from_millis(300),
        resume_window: Duration::from_secs(1),
        ..Default::default()
    };
    let server = TestServer::start(demo_hub(config));
    let bystander = Client::connect(&server.ws_url()).await.unwrap();
    let mut sub = bystander.subscribe("news:flood").await.unwrap();
    // The raw client subscribes, then never reads again.
    let mut raw = RawSocket::connect(server.addr, "/realtime/ws").await;
    raw.send_text(r#"{"type":"subscribe","topic":"news:flood"}"#).await;
    while server.hub.subscriber_count("news:flood") < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // 64 KiB a publication: socket buffers fill within a few hundred, and then its queue.
    let payload = "x".repeat(60 * 1024);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut published = 0;
    while server.hub.session_count() > 1 {
        assert!(tokio::time::Instant::now() < deadline, "the stalled session was never freed");
        server.hub.publish("news:flood", &payload).await.unwrap();
        published += 1;
        // The bystander reads as it goes, and misses nothing.
        assert_eq!(sub.next_publication().await.unwrap().offset, published);
    }
    assert_eq!(server.hub.subscriber_count("news:flood"), 1);
    drop(raw);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_websocket_resumes_its_session_and_a_newer_one_supersedes_it() {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    let mut first = RawSocket::connect(server.addr, "/realtime/ws").await;
    let session = first.next_json().await["session"].as_str().unwrap().to_owned();
    first.send_text(r#"{"type":"subscribe","id":1,"topic":"news:x"}"#).await;
    assert_eq!(first.next_json().await["seq"], 1);
    server.hub.publish("news:x", &"a").await.unwrap();
    assert_eq!(first.next_json().await["seq"], 2);
    // Dropped as a network failure would: no close frame, the TCP connection just ends.
    assert!(server.hub.drop_connection(&session));
    assert!(first.next().await.is_none(), "no close frame on a dropped connection");
    server.hub.publish("news:x", &"b").await.unwrap();
    // The client processed frame 1 only: 2 and 3 come again, once each.
    let mut second = RawSocket::connect(server.addr, &format!("/realtime/ws?session={session}&ack=1")).await;
    let welcome = second.next_json().await;
    assert_eq!((welcome["session"].as_str(), welcome["resumed"].as_bool()), (Some(session.as_str()), Some(true)));
    assert_eq!(
        (second.next_json().await["seq"].as_u64(), second.next_json().await["data"].as_str()),
        (Some(2), Some("b"))
    );
    // A third connection takes over: the second is told 4500, and is not to reconnect.
    let mut third = RawSocket::connect(server.addr, &format!("/realtime/ws?session={session}&ack=3")).await;
    assert_eq!(third.next_json().await["resumed"], true);
    assert_eq!(second.expect_close().await, 4500);
    server.hub.publish("news:x", &"c").await.unwrap();
    assert_eq!(third.next_json().await["seq"], 4);
    // A bad ack is refused before the upgrade.
    let (head, _) = RawSocket::handshake(server.addr, &format!("/realtime/ws?session={session}&ack=x"), &[]).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert_eq!(server.hub.session_count(), 1);
}
