//! The protocol's scenarios through real sockets: a Tidings server on loopback, Rust clients over each transport
//! (WebSocket, Server-Sent Events, long polling). Every scenario body runs once per transport.

use serde_json::{json, Value};
use tidings::HubConfig;
use tidings_client::{Client, ClientOptions, CloseCode, ConnectionState, Error, Event, Missed, TransportKind};
use tidings_tests::handlers::demo_hub;
use tidings_tests::{RawSocket, TestServer};
use tokio::time::{timeout, Duration};

tidings_tests::on_every_transport!(
    timeout = 60;
    subscribe_and_publish,
    unsubscribe_stops_delivery,
    room_join_refused_by_its_handler,
    presence_join_and_leave,
    request_and_reply,
    history_after_an_offset,
    a_reply_the_client_cannot_decode_fails_its_request_instead_of_hanging,
    a_frame_with_line_breaks_arrives_whole,
    a_close_code_that_says_give_up_ends_the_client,
);

fn server() -> TestServer {
    TestServer::start(demo_hub(HubConfig::default()))
}

const MAX_MESSAGE: usize = 4096;

fn only(kind: TransportKind) -> ClientOptions {
    ClientOptions { transports: vec![kind], ..Default::default() }
}

/// A client on `kind` and nothing else.
async fn connect(server: &TestServer, kind: TransportKind) -> Client {
    let client = Client::connect_with(&server.base_url(), only(kind)).await.unwrap();
    assert_eq!(client.transport(), Some(kind));
    client
}

async fn subscribe_and_publish(kind: TransportKind) {
    let server = server();
    let client = connect(&server, kind).await;
    let mut sub = client.subscribe("news:world").await.unwrap();
    assert_eq!(sub.position().offset, 0);
    server.hub.publish("news:world", &json!({ "headline": "hello" })).await.unwrap();
    let p = sub.next_publication().await.unwrap();
    assert_eq!((p.offset, p.data), (1, json!({ "headline": "hello" })));

    // A client may publish where the handler allows it, and everyone subscribed receives it, itself included.
    let other = connect(&server, kind).await;
    let mut open = client.subscribe("open:chat").await.unwrap();
    let position = other.publish("open:chat", &json!("from a client")).await.unwrap();
    assert_eq!(position.offset, 1);
    assert_eq!(open.next_publication().await.unwrap().data, json!("from a client"));
    assert_eq!(other.publish("news:world", &1).await.unwrap_err().code(), Some("forbidden"));
}

async fn unsubscribe_stops_delivery(kind: TransportKind) {
    let server = server();
    let client = connect(&server, kind).await;
    let mut keep = client.subscribe("news:keep").await.unwrap();
    let drop = client.subscribe("news:drop").await.unwrap();
    drop.unsubscribe().await.unwrap();
    assert_eq!(server.hub.subscriber_count("news:drop"), 0);

    server.hub.publish("news:drop", &"lost").await.unwrap();
    server.hub.publish("news:keep", &"kept").await.unwrap();
    assert_eq!(keep.next_publication().await.unwrap().data, "kept");
    // Subscribing again starts from now: nothing of the unsubscribed time comes back.
    let mut again = client.subscribe("news:drop").await.unwrap();
    assert_eq!(again.position().offset, 1);
    server.hub.publish("news:drop", &"new").await.unwrap();
    assert_eq!(again.next_publication().await.unwrap().data, "new");
}

/// Over a raw socket, which sees every frame the server sends, so that a stray publication could not hide.
#[tokio::test(flavor = "multi_thread")]
async fn unsubscribe_stops_delivery_on_the_wire() {
    let server = server();
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

async fn room_join_refused_by_its_handler(kind: TransportKind) {
    let server = server();
    let client = connect(&server, kind).await;
    let err = client.join("room:vip", &json!({ "nick": "banned" })).await.err().unwrap();
    assert_eq!(err.code(), Some("forbidden"));
    let err = client.join("room:vip", &json!({ "name": "no nick field" })).await.err().unwrap();
    assert_eq!(err.code(), Some("bad_payload"));
    assert!(server.hub.presence_of("room:vip").await.unwrap().is_empty());
    // The refusals left the client free to join properly.
    let room = client.join("room:vip", &json!({ "nick": "ann" })).await.unwrap();
    assert_eq!(room.reply(), &json!({ "hello": "ann" }));
}

async fn presence_join_and_leave(kind: TransportKind) {
    let server = server();
    let ann = connect(&server, kind).await;
    let bob = connect(&server, kind).await;
    let mut ann_room = ann.join("room:1", &json!({ "nick": "ann" })).await.unwrap();
    assert_eq!(ann_room.presence().len(), 1);

    let bob_room = bob.join("room:1", &json!({ "nick": "bob" })).await.unwrap();
    let nicks: Vec<&Value> = bob_room.presence().iter().map(|m| &m.meta["nick"]).collect();
    assert_eq!(nicks, [&json!("ann"), &json!("bob")]);
    match ann_room.next().await.unwrap() {
        Event::MemberJoined(m) => assert_eq!((m.session, &m.meta["nick"]), (bob.session_id(), &json!("bob"))),
        other => panic!("{other:?}"),
    }
    assert_eq!(ann_room.presence().len(), 2);

    bob_room.leave().await.unwrap();
    match ann_room.next().await.unwrap() {
        Event::MemberLeft(m) => assert_eq!(m.session, bob.session_id()),
        other => panic!("{other:?}"),
    }
    // A member whose client closes leaves too, at once.
    let carl = connect(&server, kind).await;
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

async fn request_and_reply(kind: TransportKind) {
    let server = server();
    let client = connect(&server, kind).await;
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

async fn history_after_an_offset(kind: TransportKind) {
    let server = server();
    for n in 1..=10 {
        server.hub.publish("news:h", &n).await.unwrap();
    }
    let client = connect(&server, kind).await;
    let sub = client.subscribe("news:h").await.unwrap();
    let mut since = sub.position().clone();
    assert_eq!(since.offset, 10);
    since.offset = 7;
    let (publications, missed) = client.history("news:h", Some(&since), None).await.unwrap();
    assert_eq!(missed, None);
    let got: Vec<(u64, Value)> = publications.into_iter().map(|p| (p.offset, p.data)).collect();
    assert_eq!(got, [(8, json!(8)), (9, json!(9)), (10, json!(10))]);

    let (page, _) = client.history("news:h", None, Some(3)).await.unwrap();
    assert_eq!(page.iter().map(|p| p.offset).collect::<Vec<_>>(), [1, 2, 3]);

    since.epoch = "another-epoch".into();
    let (_, missed) = client.history("news:h", Some(&since), None).await.unwrap();
    let unknown_start = Some(Missed { from: None, to: 0 });
    assert_eq!(missed, unknown_start, "an offset from another epoch is a gap, never silently reused");
    assert_eq!(client.history("secret:x", None, None).await.unwrap_err().code(), Some("forbidden"));
}

async fn a_reply_the_client_cannot_decode_fails_its_request_instead_of_hanging(kind: TransportKind) {
    let server = server();
    // Valid JSON that serde_json's Value refuses: a number beyond f64.
    let mut raw = RawSocket::connect(server.addr, "/realtime/ws").await;
    assert_eq!(raw.next_json().await["type"], "welcome");
    raw.send_text(r#"{"type":"publish","id":1,"topic":"open:odd","data":{"x":1e400}}"#).await;
    assert_eq!(raw.next_json().await["type"], "reply");

    let options = ClientOptions { request_timeout: Duration::from_secs(30), ..only(kind) };
    let client = Client::connect_with(&server.base_url(), options).await.unwrap();
    let started = std::time::Instant::now();
    let err = client.history("open:odd", None, None).await.unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "answered, not timed out");
    // The undecodable frame still counted in the sequence: the session goes on.
    let _sub = client.subscribe("calc").await.unwrap();
    assert_eq!(client.request::<_, i64>("calc", &json!({ "add": [1, 1] })).await.unwrap(), 2);
}

/// A payload published pretty-printed (line breaks and all) arrives as it was: over SSE it is split over several
/// `data:` lines, which the client joins back.
async fn a_frame_with_line_breaks_arrives_whole(kind: TransportKind) {
    let server = server();
    let client = connect(&server, kind).await;
    let mut sub = client.subscribe("open:pretty").await.unwrap();
    let payload = json!({ "text": "two\nlines\r\nand a \r return", "list": [1, 2] });
    let pretty = serde_json::to_string_pretty(&payload).unwrap();
    let raw = serde_json::value::RawValue::from_string(pretty).unwrap();
    client.publish("open:pretty", &raw).await.unwrap();
    assert_eq!(sub.next_publication().await.unwrap().data, payload);
    assert!(timeout(Duration::from_millis(100), sub.next()).await.is_err(), "nothing else");
}

/// A frame over the size limit closes the session with 1009, which says not to reconnect (resending would fail
/// again): the client ends, and tells why.
async fn a_close_code_that_says_give_up_ends_the_client(kind: TransportKind) {
    let server = TestServer::start(demo_hub(HubConfig { max_message_bytes: MAX_MESSAGE, ..Default::default() }));
    let client = connect(&server, kind).await;
    let session = client.session_id();
    let mut sub = client.subscribe("open:big").await.unwrap();
    let err = client.publish("open:big", &"x".repeat(MAX_MESSAGE)).await.unwrap_err();
    let mut states = client.state_changes();
    timeout(Duration::from_secs(5), states.wait_for(|s| matches!(s, ConnectionState::Closed(_))))
        .await
        .expect("the client closes")
        .unwrap();
    assert_eq!(client.closed(), Some(Some(CloseCode::MESSAGE_TOO_BIG)));
    match err {
        Error::Closed(Some(CloseCode::MESSAGE_TOO_BIG)) => {}
        // Long polling, when no poll was held as the session closed: a poll already on its way may find the session
        // gone and start a new one, whose welcome can come before the 413 is read (a server race, reported).
        Error::SessionLost if kind == TransportKind::LongPoll => {}
        other => panic!("{other:?}"),
    }
    assert!(sub.next().await.is_none(), "subscriptions end with the client");
    assert!(client.subscribe("open:other").await.is_err());
    // The session ends on the server too (just after it sent the close).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.hub.session_ids().iter().any(|s| s.as_str() == session) {
        assert!(std::time::Instant::now() < deadline, "the session outlived its close");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
