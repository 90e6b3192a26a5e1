//! The protocol's scenarios through real sockets: a Tidings server on loopback, Rust clients over WebSocket.

use serde_json::{json, Value};
use tidings::HubConfig;
use tidings_client::{Client, Event};
use tidings_tests::handlers::demo_hub;
use tidings_tests::{RawSocket, TestServer};
use tokio::time::Duration;

fn server() -> TestServer {
    TestServer::start(demo_hub(HubConfig::default()))
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_and_publish() {
    let server = server();
    let client = Client::connect(&server.ws_url()).await.unwrap();
    let mut sub = client.subscribe("news:world").await.unwrap();
    assert_eq!(sub.position().offset, 0);
    server.hub.publish("news:world", &json!({ "headline": "hello" })).await.unwrap();
    let p = sub.next_publication().await.unwrap();
    assert_eq!((p.offset, p.data), (1, json!({ "headline": "hello" })));

    // A client may publish where the handler allows it, and everyone subscribed receives it, itself included.
    let other = Client::connect(&server.ws_url()).await.unwrap();
    let mut open = client.subscribe("open:chat").await.unwrap();
    let position = other.publish("open:chat", &json!("from a client")).await.unwrap();
    assert_eq!(position.offset, 1);
    assert_eq!(open.next_publication().await.unwrap().data, json!("from a client"));
    assert_eq!(other.publish("news:world", &1).await.unwrap_err().code(), Some("forbidden"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unsubscribe_stops_delivery() {
    let server = server();
    // A raw socket sees every frame the server sends, so a stray publication could not hide.
    let mut raw = RawSocket::connect(server.addr, "/realtime/ws").await;
    assert_eq!(raw.next_json().await["type"], "welcome");
    for (id, topic) in [(1, "news:keep"), (2, "news:drop")] {
        raw.send_text(&json!({ "type": "subscribe", "id": id, "topic": topic }).to_string()).await;
        assert_eq!(raw.next_json().await["id"], id);
    }
    raw.send_text(r#"{"type":"unsubscribe","id":3,"topic":"news:drop"}"#).await;
    assert_eq!(raw.next_json().await["id"], 3);
    assert_eq!(server.hub.subscriber_count("news:drop"), 0);

    server.hub.publish("news:drop", &"lost").await.unwrap();
    server.hub.publish("news:keep", &"kept").await.unwrap();
    let next = raw.next_json().await;
    assert_eq!((next["topic"].clone(), next["data"].clone()), (json!("news:keep"), json!("kept")));
}

#[tokio::test(flavor = "multi_thread")]
async fn room_join_refused_by_its_handler() {
    let server = server();
    let client = Client::connect(&server.ws_url()).await.unwrap();
    let err = client.join("room:vip", &json!({ "nick": "banned" })).await.err().unwrap();
    assert_eq!(err.code(), Some("forbidden"));
    let err = client.join("room:vip", &json!({ "name": "no nick field" })).await.err().unwrap();
    assert_eq!(err.code(), Some("bad_payload"));
    assert!(server.hub.presence_of("room:vip").await.unwrap().is_empty());
    // The refusals left the client free to join properly.
    let room = client.join("room:vip", &json!({ "nick": "ann" })).await.unwrap();
    assert_eq!(room.reply(), &json!({ "hello": "ann" }));
}

#[tokio::test(flavor = "multi_thread")]
async fn presence_join_and_leave() {
    let server = server();
    let ann = Client::connect(&server.ws_url()).await.unwrap();
    let bob = Client::connect(&server.ws_url()).await.unwrap();
    let mut ann_room = ann.join("room:1", &json!({ "nick": "ann" })).await.unwrap();
    assert_eq!(ann_room.presence().len(), 1);

    let bob_room = bob.join("room:1", &json!({ "nick": "bob" })).await.unwrap();
    let nicks: Vec<&Value> = bob_room.presence().iter().map(|m| &m.meta["nick"]).collect();
    assert_eq!(nicks, [&json!("ann"), &json!("bob")]);
    match ann_room.next().await.unwrap() {
        Event::MemberJoined(m) => assert_eq!((m.session.as_str(), &m.meta["nick"]), (bob.session_id(), &json!("bob"))),
        other => panic!("{other:?}"),
    }
    assert_eq!(ann_room.presence().len(), 2);

    bob_room.leave().await.unwrap();
    match ann_room.next().await.unwrap() {
        Event::MemberLeft(m) => assert_eq!(m.session, bob.session_id()),
        other => panic!("{other:?}"),
    }
    // A member whose connection drops leaves too.
    let carl = Client::connect(&server.ws_url()).await.unwrap();
    let carl_room = carl.join("room:1", &json!({ "nick": "carl" })).await.unwrap();
    assert!(matches!(ann_room.next().await.unwrap(), Event::MemberJoined(_)));
    carl.close().await;
    drop((carl, carl_room));
    match ann_room.next().await.unwrap() {
        Event::MemberLeft(m) => assert_eq!(m.meta["nick"], "carl"),
        other => panic!("{other:?}"),
    }
    assert_eq!(ann_room.presence().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_and_reply() {
    let server = server();
    let client = Client::connect(&server.ws_url()).await.unwrap();
    let err = client.request::<_, i64>("calc", &json!({ "add": [1, 2] })).await.unwrap_err();
    assert_eq!(err.code(), Some("not_subscribed"));
    let _sub = client.subscribe("calc").await.unwrap();
    let sum: i64 = client.request("calc", &json!({ "add": [40, 2] })).await.unwrap();
    assert_eq!(sum, 42);
    let err = client.request::<_, i64>("calc", &json!({ "sub": [1] })).await.unwrap_err();
    assert_eq!(err.code(), Some("bad_payload"));
    // Many requests in flight at once each get their own answer.
    let answers = futures_sum(&client, 50).await;
    assert_eq!(answers, (0..50).map(|n| n * 2).collect::<Vec<i64>>());
}

async fn futures_sum(client: &Client, n: i64) -> Vec<i64> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let client = client.clone();
        tasks.push(tokio::spawn(
            async move { client.request::<_, i64>("calc", &json!({ "add": [i, i] })).await.unwrap() },
        ));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn history_after_an_offset() {
    let server = server();
    for n in 1..=10 {
        server.hub.publish("news:h", &n).await.unwrap();
    }
    let client = Client::connect(&server.ws_url()).await.unwrap();
    let sub = client.subscribe("news:h").await.unwrap();
    let mut since = sub.position().clone();
    assert_eq!(since.offset, 10);
    since.offset = 7;
    let (publications, gap) = client.history("news:h", Some(&since), None).await.unwrap();
    assert!(!gap);
    let got: Vec<(u64, Value)> = publications.into_iter().map(|p| (p.offset, p.data)).collect();
    assert_eq!(got, [(8, json!(8)), (9, json!(9)), (10, json!(10))]);

    let (page, _) = client.history("news:h", None, Some(3)).await.unwrap();
    assert_eq!(page.iter().map(|p| p.offset).collect::<Vec<_>>(), [1, 2, 3]);

    since.epoch = "another-epoch".into();
    let (_, gap) = client.history("news:h", Some(&since), None).await.unwrap();
    assert!(gap, "an offset from another epoch is a gap, never silently reused");
    assert_eq!(client.history("secret:x", None, None).await.unwrap_err().code(), Some("forbidden"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_the_client_cannot_decode_fails_its_request_instead_of_hanging() {
    let server = server();
    // Valid JSON that serde_json's Value refuses: a number beyond f64.
    let mut raw = RawSocket::connect(server.addr, "/realtime/ws").await;
    assert_eq!(raw.next_json().await["type"], "welcome");
    raw.send_text(r#"{"type":"publish","id":1,"topic":"open:odd","data":{"x":1e400}}"#).await;
    assert_eq!(raw.next_json().await["type"], "reply");

    let options = tidings_client::ClientOptions { request_timeout: Duration::from_secs(30), ..Default::default() };
    let client = Client::connect_with(&server.ws_url(), options).await.unwrap();
    let started = std::time::Instant::now();
    let err = client.history("open:odd", None, None).await.unwrap_err();
    assert!(matches!(err, tidings_client::Error::Decode(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "answered, not timed out");
}
