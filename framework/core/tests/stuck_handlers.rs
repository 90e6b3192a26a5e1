//! Handlers that never return or panic: their request gets an error, and the session's control (its end, expiry,
//! resume and takeover) and every other session go on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tidings_core::testkit::TestClient;
use tidings_core::{async_trait, Connect, Context, Handler, Hub, HubConfig, Identity, Joined, Refusal, ResumeFrom};
use tidings_protocol::{CloseCode, ServerFrame};

/// `stuck:*`: "hang" (and a join with `hang`) never returns, "ping" answers, "boom" panics.
struct Stuck {
    /// How many sessions' `disconnect` it was told of.
    disconnected: Arc<AtomicUsize>,
}

#[derive(Deserialize)]
struct JoinParams {
    #[serde(default)]
    hang: bool,
}

#[async_trait]
impl Handler for Stuck {
    type Join = JoinParams;
    type Message = String;
    type Reply = Value;

    async fn join(&self, _ctx: &Context, params: JoinParams) -> Result<Joined<Value>, Refusal> {
        if params.hang {
            std::future::pending::<()>().await;
        }
        Ok(Joined::new())
    }

    async fn message(&self, _ctx: &Context, message: String) -> Result<Option<Value>, Refusal> {
        match message.as_str() {
            "hang" => std::future::pending().await,
            "boom" => panic!("handler bug"),
            _ => Ok(Some(json!("pong"))),
        }
    }

    async fn disconnect(&self, _ctx: &Context) {
        self.disconnected.fetch_add(1, Ordering::SeqCst);
    }
}

fn hub(disconnected: &Arc<AtomicUsize>, config: HubConfig) -> Hub {
    let stuck = Stuck { disconnected: disconnected.clone() };
    Hub::builder().handler("stuck:*", stuck).config(config).build().unwrap()
}

/// A handler deadline far beyond every wait in these tests: only the session's control can free it.
fn patient() -> HubConfig {
    HubConfig { handler_timeout: Duration::from_secs(600), ..Default::default() }
}

/// Waits (a bounded time) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends a message that the handler of `topic` never answers.
fn hang(client: &TestClient, topic: &str) {
    client.send_raw(json!({ "type": "message", "id": 99, "topic": topic, "data": "hang" }).to_string());
}

#[actix_rt::test]
async fn a_handler_past_its_deadline_is_answered_timeout_and_the_next_request_goes_on() {
    let disconnected = Arc::default();
    let hub = hub(&disconnected, HubConfig { handler_timeout: Duration::from_millis(200), ..Default::default() });
    let mut client = TestClient::connect(&hub).await;
    let mut other = TestClient::connect(&hub).await;
    client.subscribe("stuck:a").await.unwrap();
    other.subscribe("stuck:a").await.unwrap();
    assert_eq!(client.message("stuck:a", "hang").await.unwrap_err().code, "timeout");
    assert_eq!(client.message("stuck:a", "ping").await.unwrap(), json!("pong"));
    // A join that never returns leaves no member behind.
    assert_eq!(client.join("stuck:room", json!({ "hang": true })).await.unwrap_err().code, "timeout");
    assert!(hub.presence_of("stuck:room").await.unwrap().is_empty());
    client.join("stuck:room", json!({})).await.unwrap();
    assert_eq!(other.message("stuck:a", "ping").await.unwrap(), json!("pong"));
}

#[actix_rt::test]
async fn a_session_whose_handler_never_returns_still_ends_when_its_client_leaves() {
    let disconnected = Arc::<AtomicUsize>::default();
    let hub = hub(&disconnected, patient());
    let mut client = TestClient::connect(&hub).await;
    let mut other = TestClient::connect(&hub).await;
    client.subscribe("stuck:a").await.unwrap();
    other.subscribe("stuck:a").await.unwrap();
    hang(&client, "stuck:a");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Other sessions on the same worker go on meanwhile.
    assert_eq!(other.message("stuck:a", "ping").await.unwrap(), json!("pong"));
    tokio::time::timeout(Duration::from_secs(5), client.disconnect()).await.expect("the session ended");
    assert_eq!(hub.subscriber_count("stuck:a"), 1);
    assert_eq!(disconnected.load(Ordering::SeqCst), 1);
    assert_eq!(hub.session_count(), 1);
}

#[actix_rt::test]
async fn a_session_whose_handler_never_returns_still_expires_and_leaves_its_rooms() {
    let disconnected = Arc::<AtomicUsize>::default();
    let config = HubConfig { resume_window: Duration::from_millis(200), ..patient() };
    let hub = hub(&disconnected, config);
    let mut client = TestClient::connect(&hub).await;
    client.join("stuck:room", json!({})).await.unwrap();
    hang(&client, "stuck:room");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(hub.drop_connection(client.session_id()));
    eventually("the session expired", || hub.session_count() == 0).await;
    eventually("its handler was told", || disconnected.load(Ordering::SeqCst) == 1).await;
    assert!(hub.presence_of("stuck:room").await.unwrap().is_empty());
    assert_eq!(hub.subscriber_count("stuck:room"), 0);
}

#[actix_rt::test]
async fn a_session_whose_handler_is_stuck_is_resumed_and_taken_over() {
    let disconnected = Arc::<AtomicUsize>::default();
    let hub = hub(&disconnected, HubConfig { handler_timeout: Duration::from_millis(500), ..Default::default() });
    let mut first = TestClient::connect(&hub).await;
    first.subscribe("stuck:a").await.unwrap();
    hang(&first, "stuck:a");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A newer connection takes the session over while the handler hangs: the takeover does not wait for it.
    let from = ResumeFrom { session: first.session_id().to_owned(), ack: first.last_seq() };
    let started = tokio::time::Instant::now();
    let mut second = TestClient::connect_with(&hub, Connect::resuming(Identity::anonymous(), Some(from))).await;
    assert!(second.resumed());
    assert!(started.elapsed() < Duration::from_millis(400), "the takeover waited for the handler");
    assert_eq!(first.expect_closed().await.code, CloseCode::SUPERSEDED);
    // The hung request's answer reaches the connection the session has now, then the session's next request's.
    assert_eq!(second.message("stuck:a", "ping").await.unwrap(), json!("pong"));
    match second.next_frame().await {
        ServerFrame::Error { id: Some(99), code, .. } => assert_eq!(code, "timeout"),
        other => panic!("expected the hung request's timeout, got {other:?}"),
    }
    hub.publish("stuck:a", &1).await.unwrap();
    assert_eq!(second.expect_broadcast("stuck:a").await, json!(1));
}

#[actix_rt::test]
async fn a_panicking_handler_fails_its_request_only() {
    let disconnected = Arc::default();
    let hub = hub(&disconnected, HubConfig::default());
    let mut client = TestClient::connect(&hub).await;
    let mut other = TestClient::connect(&hub).await;
    client.subscribe("stuck:a").await.unwrap();
    other.subscribe("stuck:a").await.unwrap();
    assert_eq!(client.message("stuck:a", "boom").await.unwrap_err().code, "internal");
    assert_eq!(client.message("stuck:a", "ping").await.unwrap(), json!("pong"));
    assert_eq!(other.message("stuck:a", "ping").await.unwrap(), json!("pong"));
    hub.publish("stuck:a", &1).await.unwrap();
    assert_eq!(client.expect_broadcast("stuck:a").await, json!(1));
    assert_eq!(other.expect_broadcast("stuck:a").await, json!(1));
}
