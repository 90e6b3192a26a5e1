//! The SSE and long-polling endpoints at the HTTP level: what they answer to good and bad requests, resuming, and
//! clients that stop reading or polling.

use std::time::Duration;

use serde_json::{json, Value};
use tidings::{Endpoint, HubConfig};
use tidings_tests::handlers::demo_hub;
use tidings_tests::http::{request, EventStream};
use tidings_tests::TestServer;

async fn post(server: &TestServer, session: &str, body: Value) -> u16 {
    request(server.addr, "POST", &format!("/realtime/send?session={session}"), &[], &body.to_string()).await.status
}

async fn poll(server: &TestServer, query: &str) -> Value {
    let response = request(server.addr, "GET", &format!("/realtime/poll?{query}"), &[], "").await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.header("cache-control"), Some("no-store"));
    response.json()
}

async fn new_poll_session(server: &TestServer) -> String {
    let welcome = poll(server, "v=1").await;
    assert_eq!(welcome[0]["type"], "welcome", "{welcome}");
    assert_eq!(welcome[0]["resumed"], false);
    welcome[0]["session"].as_str().unwrap().to_owned()
}

/// Waits up to `limit` for the hub's session count to reach `n`.
async fn sessions_reach(server: &TestServer, n: usize, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while server.hub.session_count() != n {
        assert!(tokio::time::Instant::now() < deadline, "{} sessions, expected {n}", server.hub.session_count());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn long_polling_delivers_acknowledges_and_replays_a_lost_answer() {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    let session = new_poll_session(&server).await;
    assert_eq!(post(&server, &session, json!([{"type":"subscribe","id":1,"topic":"news:a"}])).await, 204);
    let batch = poll(&server, &format!("session={session}&ack=0")).await;
    assert_eq!(batch[0]["seq"], 1);
    assert_eq!(batch[0]["id"], 1);
    server.hub.publish("news:a", &"one").await.unwrap();
    let batch = poll(&server, &format!("session={session}&ack=1")).await;
    assert_eq!((batch[0]["seq"].as_u64(), batch[0]["data"].as_str()), (Some(2), Some("one")));
    // The client never got that answer: asking again from 1 gets frame 2 again, and nothing is doubled after.
    let again = poll(&server, &format!("session={session}&ack=1")).await;
    assert_eq!(again, batch);
    server.hub.publish("news:a", &"two").await.unwrap();
    let batch = poll(&server, &format!("session={session}&ack=2")).await;
    assert_eq!((batch[0]["seq"].as_u64(), batch.as_array().unwrap().len()), (Some(3), 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_poll_batch_holds_at_most_max_batch_frames() {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    let session = new_poll_session(&server).await;
    assert_eq!(post(&server, &session, json!([{"type":"subscribe","id":1,"topic":"news:a"}])).await, 204);
    // The send is only queued: the subscription is in place once its reply comes.
    let reply = poll(&server, &format!("session={session}&ack=0")).await;
    assert_eq!((reply[0]["seq"].as_u64(), reply[0]["id"].as_u64()), (Some(1), Some(1)), "{reply}");
    for n in 0..300 {
        server.hub.publish("news:a", &n).await.unwrap();
    }
    let (mut ack, mut sizes) = (1, Vec::new());
    while ack < 301 {
        let batch = poll(&server, &format!("session={session}&ack={ack}")).await;
        let batch = batch.as_array().unwrap();
        sizes.push(batch.len());
        ack = batch.last().and_then(|f| f["seq"].as_u64()).unwrap();
    }
    assert_eq!(sizes, [256, 44], "300 publications, in batches of at most 256");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_with_nothing_to_send_answers_empty_after_the_hold() {
    let hold = tidings::longpoll::LongPollConfig { hold: Duration::from_millis(200), ..Default::default() };
    let server = TestServer::start_with(demo_hub(HubConfig::default()), move |hub| {
        Endpoint::new().longpoll(hold.clone()).scope("/realtime", hub)
    });
    let session = new_poll_session(&server).await;
    assert_eq!(poll(&server, &format!("session={session}&ack=0")).await, json!([]));
    // A poll for a session the server does not have starts a new one.
    let fresh = poll(&server, "session=0123456789abcdef0123456789abcdef&ack=3").await;
    assert_eq!(fresh[0]["type"], "welcome");
    assert_ne!(fresh[0]["session"], session.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_clear_errors_and_the_session_survives_them() {
    let server = TestServer::start(demo_hub(HubConfig { max_message_bytes: 1024, ..Default::default() }));
    let session = new_poll_session(&server).await;
    for (body, status) in [("", 400), ("nonsense", 400), ("[1,2]", 400), ("{\"type\":", 400), ("\"str\"", 400)] {
        let response = request(server.addr, "POST", &format!("/realtime/send?session={session}"), &[], body).await;
        assert_eq!(response.status, status, "{body:?}: {response:?}");
    }
    assert_eq!(post(&server, "0123456789abcdef0123456789abcdef", json!({"type":"close"})).await, 404);
    assert_eq!(request(server.addr, "POST", "/realtime/send", &[], "{}").await.status, 400);
    assert_eq!(request(server.addr, "GET", "/realtime/poll?v=2", &[], "").await.status, 400);
    assert_eq!(request(server.addr, "GET", "/realtime/poll?session=abc&ack=x", &[], "").await.status, 400);
    assert_eq!(request(server.addr, "GET", "/realtime/sse?v=2", &[], "").await.status, 400);
    // A malformed frame inside a good body is answered on the session, which goes on.
    assert_eq!(
        post(&server, &session, json!([{"type":"dance","id":7}, {"type":"subscribe","id":8,"topic":"news:a"}])).await,
        204
    );
    let batch = poll(&server, &format!("session={session}&ack=0")).await;
    assert_eq!((batch[0]["type"].as_str(), batch[0]["code"].as_str()), (Some("error"), Some("unknown_type")));
    assert_eq!((batch[1]["type"].as_str(), batch[1]["id"].as_u64()), (Some("reply"), Some(8)));
    // An oversized frame is refused (413) and ends the session: the next poll starts a new one.
    let big = json!({"type":"publish","id":9,"topic":"open:a","data":"x".repeat(2000)});
    assert_eq!(post(&server, &session, big).await, 413);
    sessions_reach(&server, 0, Duration::from_secs(2)).await;
    let next = poll(&server, &format!("session={session}&ack=2")).await;
    assert_eq!((next[0]["type"].as_str(), next[0]["resumed"].as_bool()), (Some("welcome"), Some(false)));
}

#[tokio::test(flavor = "multi_thread")]
async fn sse_streams_events_with_resumable_ids() {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    let mut stream = EventStream::open(server.addr, "/realtime/sse?v=1", &[]).await;
    assert!(stream.head.starts_with("HTTP/1.1 200"), "{}", stream.head);
    let head = stream.head.to_ascii_lowercase();
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("cache-control: no-cache, no-transform") && head.contains("x-accel-buffering: no"), "{head}");
    let welcome = stream.next().await;
    let frame: Value = serde_json::from_str(&welcome.data).unwrap();
    let session = frame["session"].as_str().unwrap().to_owned();
    assert_eq!(welcome.id, Some(format!("{session}:0")));
    assert_eq!(post(&server, &session, json!({"type":"subscribe","id":1,"topic":"news:a"})).await, 204);
    assert_eq!(stream.next().await.id, Some(format!("{session}:1")));
    // A payload with line breaks arrives whole, over several data lines.
    let pretty: Box<serde_json::value::RawValue> = serde_json::value::RawValue::from_string("[1,\n2]".into()).unwrap();
    server.hub.publish_raw("news:a", pretty.into()).await.unwrap();
    let event = stream.next().await;
    assert_eq!(event.id, Some(format!("{session}:2")));
    assert_eq!(serde_json::from_str::<Value>(&event.data).unwrap()["data"], json!([1, 2]));
    server.hub.publish("news:a", &3).await.unwrap();
    drop(stream);
    // A browser's own reconnect: Last-Event-ID names the session and the last event it saw.
    let last = format!("{session}:2");
    let mut resumed = EventStream::open(server.addr, "/realtime/sse", &[("Last-Event-ID", &last)]).await;
    let welcome: Value = serde_json::from_str(&resumed.next().await.data).unwrap();
    assert_eq!((welcome["session"].as_str(), welcome["resumed"].as_bool()), (Some(session.as_str()), Some(true)));
    let event = resumed.next().await;
    assert_eq!(event.id, Some(format!("{session}:3")));
    assert_eq!(serde_json::from_str::<Value>(&event.data).unwrap()["data"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_sse_stream_and_a_vanished_poller_leave_nothing_behind() {
    let config = HubConfig {
        resume_window: Duration::from_millis(300),
        write_timeout: Duration::from_millis(300),
        outbox_max_frames: 512,
        ..Default::default()
    };
    let server = TestServer::start(demo_hub(config));
    // The SSE client reads its welcome, subscribes, and then never reads again (its socket stays open).
    let mut stream = EventStream::open(server.addr, "/realtime/sse", &[]).await;
    let welcome: Value = serde_json::from_str(&stream.next().await.data).unwrap();
    let sse_session = welcome["session"].as_str().unwrap().to_owned();
    assert_eq!(post(&server, &sse_session, json!({"type":"subscribe","id":1,"topic":"news:flood"})).await, 204);
    // The poller subscribes and polls once, then is gone.
    let poll_session = new_poll_session(&server).await;
    assert_eq!(post(&server, &poll_session, json!({"type":"subscribe","id":1,"topic":"news:flood"})).await, 204);
    poll(&server, &format!("session={poll_session}&ack=0")).await;
    assert_eq!(server.hub.session_count(), 2);
    // Enough to fill the socket buffers and both sessions' queues many times over.
    let chunk = "x".repeat(4096);
    for _ in 0..3000 {
        server.hub.publish("news:flood", &chunk).await.unwrap();
    }
    sessions_reach(&server, 0, Duration::from_secs(10)).await;
    assert_eq!(server.hub.subscriber_count("news:flood"), 0);
    drop(stream);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_over_the_body_limit_is_refused_with_cors_headers_and_ends_the_session() {
    let config = HubConfig { allowed_origins: vec!["http://app.example".into()], ..Default::default() };
    let server = TestServer::start(demo_hub(config));
    let origin = [("Origin", "http://app.example")];
    let mut stream = EventStream::open(server.addr, "/realtime/sse", &origin).await;
    let welcome: Value = serde_json::from_str(&stream.next().await.data).unwrap();
    let session = welcome["session"].as_str().unwrap().to_owned();
    // Small frames, each within the message limit, that together pass the body limit (16 x 64 KiB).
    let frame = json!({"type":"message","topic":"open:a","data":"x".repeat(1000)});
    let body = Value::Array(vec![frame; 1100]).to_string();
    assert!(body.len() > 16 * 64 * 1024);
    let path = format!("/realtime/send?session={session}");
    let response = request(server.addr, "POST", &path, &origin, &body).await;
    assert_eq!(response.status, 413, "{response:?}");
    assert_eq!(response.header("access-control-allow-origin"), Some("http://app.example"));
    let close: Value = serde_json::from_str(&stream.next().await.data).unwrap();
    assert_eq!((close["type"].as_str(), close["code"].as_u64()), (Some("close"), Some(1009)), "{close}");
    sessions_reach(&server, 0, Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_origin_requests_get_headers_only_from_allowed_origins() {
    let config = HubConfig { allowed_origins: vec!["http://app.example".into()], ..Default::default() };
    let server = TestServer::start(demo_hub(config));
    let allowed = request(server.addr, "GET", "/realtime/poll", &[("Origin", "http://app.example")], "").await;
    assert_eq!(allowed.header("access-control-allow-origin"), Some("http://app.example"));
    assert_eq!(allowed.header("access-control-allow-credentials"), Some("true"));
    let foreign = request(server.addr, "GET", "/realtime/poll", &[("Origin", "http://evil.example")], "").await;
    assert_eq!(foreign.header("access-control-allow-origin"), None);
    let preflight = request(
        server.addr,
        "OPTIONS",
        "/realtime/send",
        &[("Origin", "http://app.example"), ("Access-Control-Request-Method", "POST")],
        "",
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-methods"), Some("GET, POST"));
    // Same origin only, by default.
    let default = TestServer::start(demo_hub(HubConfig::default()));
    let response = request(default.addr, "GET", "/realtime/poll", &[("Origin", "http://app.example")], "").await;
    assert_eq!(response.header("access-control-allow-origin"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_poll_client_gets_what_was_queued_before_a_shutdown_then_the_close() {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    let session = new_poll_session(&server).await;
    assert_eq!(post(&server, &session, json!({"type":"subscribe","id":1,"topic":"news:a"})).await, 204);
    assert_eq!(poll(&server, &format!("session={session}&ack=0")).await[0]["id"], 1);
    server.hub.publish("news:a", &"last words").await.unwrap();
    // Between polls: the session has no connection, but a frame to deliver before its close.
    let hub = server.hub.clone();
    let shutdown = tokio::spawn(async move { hub.shutdown(Duration::from_secs(5)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let batch = poll(&server, &format!("session={session}&ack=1")).await;
    assert_eq!(batch[0]["data"], "last words", "{batch}");
    assert_eq!((batch[1]["type"].as_str(), batch[1]["code"].as_u64()), (Some("close"), Some(1001)), "{batch}");
    assert_eq!(shutdown.await.unwrap(), 0, "every session ended");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_arriving_after_its_client_closed_the_session_gets_the_close_not_a_new_session() {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    let session = new_poll_session(&server).await;
    assert_eq!(post(&server, &session, json!({"type":"close"})).await, 204);
    sessions_reach(&server, 0, Duration::from_secs(5)).await;
    // A poll the client sent just before closing (and then gave up on) arrives late.
    let late = poll(&server, &format!("session={session}&ack=0")).await;
    assert_eq!(late, json!([{"type":"close","code":1000,"reason":"the session was closed by its client"}]));
    assert_eq!(server.hub.session_count(), 0);
    // So does an SSE reconnect naming it.
    let mut stream = EventStream::open(server.addr, &format!("/realtime/sse?session={session}&ack=0"), &[]).await;
    let close: Value = serde_json::from_str(&stream.next().await.data).unwrap();
    assert_eq!((close["type"].as_str(), close["code"].as_u64()), (Some("close"), Some(1000)), "{close}");
    assert_eq!(server.hub.session_count(), 0);
    // Naming a session the hub does not know for another reason (expired, or never existed) starts a new one.
    let fresh = poll(&server, "session=0123456789abcdef0123456789abcdef&ack=0").await;
    assert_eq!((fresh[0]["type"].as_str(), fresh[0]["resumed"].as_bool()), (Some("welcome"), Some(false)), "{fresh}");
}
