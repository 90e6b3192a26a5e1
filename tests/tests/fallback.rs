//! The Rust client behind hostile proxies (tidings_tests::hostile_proxy): it races its transports, so it is
//! connected within 1.5 s whatever the proxy refuses, hangs or buffers; and a client that had to settle for long
//! polling moves to WebSocket once the proxy lets it through, losing and doubling nothing.

use std::time::Instant;

use serde_json::json;
use tidings::HubConfig;
use tidings_client::{Client, ClientOptions, TransportKind};
use tidings_tests::handlers::demo_hub;
use tidings_tests::hostile_proxy::{HostileProxy, Profile};
use tidings_tests::TestServer;
use tokio::time::{timeout, Duration};

/// What "a person does not notice" means here, on a loaded machine.
const CONNECT_BUDGET: Duration = Duration::from_millis(1_500);

fn options() -> ClientOptions {
    // Each test's client remembers for itself: what one learned must not reorder another's race.
    ClientOptions { remember_transport: false, ..Default::default() }
}

/// Connects through a proxy with `settings`; checks the time and the transport, and that publications flow.
async fn connects_behind(settings: &str, expected: TransportKind) {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    let proxy = HostileProxy::start(server.addr, Profile::parse(settings).unwrap()).await.unwrap();
    let started = Instant::now();
    let client = Client::connect_with(&format!("{}/realtime", proxy.url()), options()).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(client.transport(), Some(expected), "behind {settings}");
    assert!(elapsed <= CONNECT_BUDGET, "behind {settings}: connected after {elapsed:?}");
    let mut sub = client.subscribe("news:proxied").await.unwrap();
    server.hub.publish("news:proxied", &json!("through the proxy")).await.unwrap();
    let publication = timeout(Duration::from_secs(5), sub.next_publication()).await.unwrap().unwrap();
    assert_eq!(publication.data, json!("through the proxy"));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrades_refused() {
    connects_behind("upgrades=refuse", TransportKind::Sse).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrades_hanging() {
    connects_behind("upgrades=hang", TransportKind::Sse).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sse_buffered() {
    connects_behind("upgrades=refuse buffer=262144", TransportKind::LongPoll).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrades_hanging_and_sse_buffered() {
    connects_behind("upgrades=hang buffer=262144", TransportKind::LongPoll).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn direct() {
    connects_behind("transparent", TransportKind::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn long_polling_moves_to_websocket_once_the_proxy_lets_it_through_losing_and_doubling_nothing() {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    let proxy = HostileProxy::start(server.addr, Profile::corporate()).await.unwrap();
    let options = ClientOptions {
        upgrade: Some(Duration::from_millis(200)),
        upgrade_max_delay: Duration::from_millis(800),
        ..options()
    };
    let client = Client::connect_with(&format!("{}/realtime", proxy.url()), options).await.unwrap();
    assert_eq!(client.transport(), Some(TransportKind::LongPoll));
    let session = client.session_id();
    let mut sub = client.subscribe("news:numbered").await.unwrap();

    // Numbered publications all along; the proxy lets WebSockets through after the first 50.
    let hub = server.hub.clone();
    let publisher = tokio::spawn(async move {
        for n in 1..=300u32 {
            hub.publish("news:numbered", &json!(n)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < 300 {
        let publication = timeout(deadline - Instant::now(), sub.next_publication()).await.unwrap().unwrap();
        got.push(publication.data.as_u64().unwrap());
        if got.len() == 50 {
            proxy.set_profile(Profile::transparent());
        }
    }
    publisher.await.unwrap();
    assert_eq!(got, (1..=300).collect::<Vec<u64>>(), "each publication once, in order");
    let mut states = client.state_changes();
    timeout(Duration::from_secs(15), states.wait_for(|_| client.transport() == Some(TransportKind::WebSocket)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.session_id(), session, "the same session went on");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_held_after_its_first_bytes_is_detected_by_its_missing_heartbeats_and_the_client_moves_down() {
    let config = HubConfig { heartbeat: Duration::from_millis(300), ..Default::default() };
    let server = TestServer::start(demo_hub(config));
    // Upgrades and event streams open, then everything after their first 400 bytes is held.
    let proxy = HostileProxy::start(server.addr, Profile::parse("stall-after=400").unwrap()).await.unwrap();
    let options = ClientOptions { upgrade: None, ..options() };
    let client = Client::connect_with(&format!("{}/realtime", proxy.url()), options).await.unwrap();
    assert_eq!(client.transport(), Some(TransportKind::WebSocket));
    let session = client.session_id();
    let mut sub = client.subscribe("news:held").await.unwrap();
    for n in 1..=20u32 {
        server.hub.publish("news:held", &json!(n)).await.unwrap();
    }
    // WebSocket stalls (no ping within 2 x 300 ms + 2 s), then SSE, held the same way; long polling flows.
    let mut got = Vec::new();
    while got.len() < 20 {
        let publication = timeout(Duration::from_secs(25), sub.next_publication()).await.unwrap().unwrap();
        got.push(publication.data.as_u64().unwrap());
    }
    assert_eq!(got, (1..=20).collect::<Vec<u64>>(), "each publication once, in order");
    assert_eq!(client.transport(), Some(TransportKind::LongPoll));
    assert_eq!(client.session_id(), session, "the session went on");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_connection_kept_alive_by_heartbeats_is_not_taken_for_stalled() {
    let config = HubConfig { heartbeat: Duration::from_millis(300), ..Default::default() };
    let server = TestServer::start(demo_hub(config));
    for kind in [TransportKind::WebSocket, TransportKind::Sse] {
        let options = ClientOptions { transports: vec![kind], ..options() };
        let client = Client::connect_with(&server.base_url(), options).await.unwrap();
        let states = client.state_changes();
        // Ten heartbeat intervals of silence but for the heartbeats: past the 2.6 s stall limit.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!states.has_changed().unwrap(), "{kind}: the connection stayed up");
        assert_eq!(client.transport(), Some(kind));
        client.close().await;
    }
}
