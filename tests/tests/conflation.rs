//! Latest-value conflation for lagging clients, and the hub metrics that count it: a client that stops reading
//! a conflated topic gets the latest publications when it reads again, not a backlog and not a slow-consumer close;
//! the same stall on a topic that is not conflated overflows and closes.

use std::collections::HashMap;

use serde_json::json;
use tidings::{AllowAnonymous, Hub, HubConfig, Limits, OpenTopic};
use tidings_tests::TestServer;
use tidings_tests::{RawFrame, RawSocket};

const TOPICS: [&str; 4] = ["prices:a", "prices:b", "prices:c", "prices:d"];
/// Enough 2 KiB publications to fill the loopback socket buffers many times over.
const PUBLICATIONS: u64 = 20_000;

fn hub() -> Hub {
    Hub::builder()
        .handler("prices:*", OpenTopic)
        .handler("log:*", OpenTopic)
        .conflate("prices:*")
        .authenticator(AllowAnonymous)
        // The stall lasts as long as the publishing loop, which a busy machine can make longer than the default
        // write timeout: that timeout is not what these tests are about.
        .config(HubConfig {
            outbox_max_frames: 64,
            write_timeout: std::time::Duration::from_secs(120),
            limits: Limits::none(),
            ..Default::default()
        })
        .build()
        .unwrap()
}

/// Connects, subscribes to `topics` and reads the replies: from then on the test reads nothing until it says so.
async fn stalled_subscriber(server: &TestServer, topics: &[&str]) -> RawSocket {
    let mut socket = RawSocket::connect(server.addr, "/realtime/ws").await;
    assert_eq!(socket.next_json().await["type"], "welcome");
    for (id, topic) in topics.iter().enumerate() {
        socket.send_text(&json!({ "type": "subscribe", "id": id + 1, "topic": topic }).to_string()).await;
        assert_eq!(socket.next_json().await["type"], "reply");
    }
    socket
}

fn payload(n: u64) -> serde_json::Value {
    json!({ "n": n, "pad": "x".repeat(2048) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_client_gets_the_latest_value_of_each_conflated_topic_and_stays_connected() {
    let server = TestServer::start(hub());
    let mut socket = stalled_subscriber(&server, &TOPICS).await;

    let mut last = HashMap::new();
    for n in 1..=PUBLICATIONS {
        let topic = TOPICS[n as usize % TOPICS.len()];
        let position = server.hub.publish(topic, &payload(n)).await.unwrap();
        last.insert(topic, position.offset);
    }
    let metrics = server.hub.metrics();
    assert!(metrics.conflated > 0, "the stalled client's queue was conflated: {metrics:?}");
    assert_eq!(metrics.slow_consumer_drops, 0);
    assert_eq!(metrics.publications, PUBLICATIONS);

    // Reading again: whatever the socket buffers held, then the newest publication of each topic, in queue order
    // (`seq` without a gap), and the session is still open.
    let mut newest: HashMap<String, u64> = HashMap::new();
    let mut received = 0u64;
    let mut previous_seq = None;
    while newest.len() < TOPICS.len() || TOPICS.iter().any(|t| newest.get(*t) != last.get(t)) {
        let frame = match tokio::time::timeout(std::time::Duration::from_secs(4), socket.next_json()).await {
            Ok(frame) => frame,
            Err(_) => {
                panic!("stuck after {received} frames: newest {newest:?}, last {last:?}, {:?}", server.hub.metrics())
            }
        };
        assert_eq!(frame["type"], "pub", "{frame}");
        let seq = frame["seq"].as_u64().unwrap();
        if let Some(previous) = previous_seq {
            assert_eq!(seq, previous + 1, "sequence numbers stay gap-free");
        }
        previous_seq = Some(seq);
        let topic = frame["topic"].as_str().unwrap().to_owned();
        let offset = frame["offset"].as_u64().unwrap();
        if let Some(before) = newest.insert(topic, offset) {
            assert!(offset > before, "a topic's publications stay in order");
        }
        received += 1;
    }
    assert!(received < PUBLICATIONS, "conflation left out the stale publications ({received} received)");
    socket.send_text(&json!({ "type": "subscribe", "id": 99, "topic": "log:x" }).to_string()).await;
    assert_eq!(socket.next_json().await["type"], "reply", "the session still serves requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_stall_on_a_topic_not_conflated_closes_the_client_as_a_slow_consumer() {
    let server = TestServer::start(hub());
    let mut socket = stalled_subscriber(&server, &["log:a"]).await;
    for n in 1..=PUBLICATIONS {
        server.hub.publish("log:a", &payload(n)).await.unwrap();
    }
    let code = loop {
        match socket.next().await {
            Some(RawFrame::Close(code, _)) => break code,
            Some(_) => continue,
            None => panic!("connection ended without a close frame"),
        }
    };
    assert_eq!(code, Some(4000));
    let metrics = server.hub.metrics();
    assert_eq!((metrics.slow_consumer_drops, metrics.conflated), (1, 0));
}

/// The hub's metrics name each session's transport, count client messages and frames out, and list topics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_sessions_per_transport_messages_and_topics() {
    use tidings_client::{Client, ClientOptions, TransportKind};
    let server = TestServer::start(hub());
    let mut clients = Vec::new();
    for kind in [TransportKind::WebSocket, TransportKind::WebSocket, TransportKind::Sse, TransportKind::LongPoll] {
        let options = ClientOptions { transports: vec![kind], ..Default::default() };
        let client = Client::connect_with(&server.base_url(), options).await.unwrap();
        let subscription = client.subscribe("prices:a").await.unwrap();
        clients.push((client, subscription));
    }
    let metrics = server.hub.metrics();
    assert_eq!(metrics.sessions, 4);
    let connections: Vec<_> = metrics.connections.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(connections, [("longpoll", 1), ("sse", 1), ("websocket", 2)]);
    assert!(metrics.messages_in >= 4, "the four subscribes: {metrics:?}");

    let before = metrics.messages_out;
    server.hub.publish("prices:a", &json!(1)).await.unwrap();
    assert_eq!(server.hub.metrics().messages_out, before + 4, "one frame per subscriber");
    let topics = server.hub.topics();
    assert_eq!(topics.len(), 1);
    assert_eq!((topics[0].topic.as_str(), topics[0].subscribers), ("prices:a", 4));

    for (client, _) in clients {
        client.close().await;
    }
}
