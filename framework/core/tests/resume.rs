//! Sessions outliving their connections: resume, takeover, expiry, and recovery from topic history.

use std::time::Duration;

use serde_json::json;
use tidings_core::testkit::TestClient;
use tidings_core::{async_trait, Connect, Handler, Hub, HubConfig, Identity, Joined, Refusal, ResumeFrom};
use tidings_protocol::{CloseCode, ServerFrame};

struct News;

#[async_trait]
impl Handler for News {
    type Join = ();
    type Message = ();
    type Reply = ();
    async fn join(&self, _ctx: &tidings_core::Context, _: ()) -> Result<Joined<()>, Refusal> {
        Ok(Joined::new())
    }
}

fn hub(resume_window: Duration) -> Hub {
    let config = HubConfig { resume_window, ..Default::default() };
    Hub::builder().handler("news:*", News).config(config).build().unwrap()
}

fn resume(client: &TestClient) -> Connect {
    let from = ResumeFrom { session: client.session_id().to_owned(), ack: client.last_seq() };
    Connect::resuming(Identity::anonymous(), Some(from))
}

async fn expect_pub(client: &mut TestClient, n: u64) {
    assert_eq!(client.expect_broadcast("news:a").await, json!(n));
}

#[actix_rt::test]
async fn a_resumed_session_gets_what_it_missed_exactly_once() {
    let hub = hub(Duration::from_secs(5));
    let mut client = TestClient::connect(&hub).await;
    client.subscribe("news:a").await.unwrap();
    hub.publish("news:a", &1).await.unwrap();
    expect_pub(&mut client, 1).await;
    assert!(hub.drop_connection(client.session_id()));
    for n in 2..=4 {
        hub.publish("news:a", &n).await.unwrap();
    }
    let mut resumed = TestClient::connect_with(&hub, resume(&client)).await;
    assert!(resumed.resumed());
    assert_eq!(resumed.session_id(), client.session_id());
    for n in 2..=4 {
        expect_pub(&mut resumed, n).await;
    }
    resumed.assert_no_frame(Duration::from_millis(100)).await;
    // Subscriptions carried over: new publications keep coming.
    hub.publish("news:a", &5).await.unwrap();
    expect_pub(&mut resumed, 5).await;
    assert_eq!(hub.session_count(), 1);
}

#[actix_rt::test]
async fn a_newer_connection_takes_the_session_over_and_the_older_is_closed_with_4500() {
    let hub = hub(Duration::from_secs(5));
    let mut first = TestClient::connect(&hub).await;
    first.subscribe("news:a").await.unwrap();
    let mut second = TestClient::connect_with(&hub, resume(&first)).await;
    assert!(second.resumed());
    assert_eq!(first.expect_closed().await.code, CloseCode::SUPERSEDED);
    hub.publish("news:a", &1).await.unwrap();
    expect_pub(&mut second, 1).await;
    assert_eq!(hub.session_count(), 1);
}

#[actix_rt::test]
async fn a_lost_session_ends_after_the_resume_window_and_leaves_its_rooms() {
    let hub = hub(Duration::from_millis(300));
    let mut watcher = TestClient::connect(&hub).await;
    watcher.join("news:room", json!(null)).await.unwrap();
    let mut lost = TestClient::connect(&hub).await;
    lost.join("news:room", json!(null)).await.unwrap();
    watcher.expect_member_joined("news:room").await;
    assert!(hub.drop_connection(lost.session_id()));
    // Still a member while it may come back.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hub.presence_of("news:room").await.unwrap().len(), 2);
    let left = watcher.expect_member_left("news:room").await;
    assert_eq!(left.session, lost.session_id());
    assert_eq!(hub.session_count(), 1);
    // Too late: a resume now starts a new session.
    let late = TestClient::connect_with(&hub, resume(&lost)).await;
    assert!(!late.resumed());
    assert_ne!(late.session_id(), lost.session_id());
}

#[actix_rt::test]
async fn a_session_is_not_resumed_for_another_identity_and_an_old_ack_continues_from_the_acknowledgement() {
    let hub = hub(Duration::from_secs(5));
    let mut ann = TestClient::connect_as(&hub, Identity::user("ann")).await;
    ann.subscribe("news:a").await.unwrap();
    let stolen = ResumeFrom { session: ann.session_id().to_owned(), ack: ann.last_seq() };
    let mallory = TestClient::connect_with(&hub, Connect::resuming(Identity::user("mallory"), Some(stolen))).await;
    assert!(!mallory.resumed());
    assert_ne!(mallory.session_id(), ann.session_id());
    // Ann acknowledged frame 1 (give the ack a moment to arrive). A resume from 0 comes from a client that opened
    // its new connection before acknowledging on the old one (a transport switch): it continues after frame 1.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let from_zero = ResumeFrom { session: ann.session_id().to_owned(), ack: 0 };
    let again = TestClient::connect_with(&hub, Connect::resuming(Identity::user("ann"), Some(from_zero))).await;
    assert!(again.resumed());
    assert_eq!(again.session_id(), ann.session_id());
}

#[actix_rt::test]
async fn a_client_close_ends_the_session_at_once() {
    let hub = hub(Duration::from_secs(60));
    let mut client = TestClient::connect(&hub).await;
    client.send_raw(r#"{"type":"close"}"#);
    assert_eq!(client.expect_closed().await.code, CloseCode::NORMAL);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(hub.session_count(), 0);
}

/// Subscribes with `since` and returns the offsets of the publications and the reply's `gap`.
async fn subscribe_since(client: &mut TestClient, since: serde_json::Value) -> (Vec<u64>, bool) {
    let (offsets, missed) = subscribe_since_missed(client, since).await;
    (offsets, !missed.is_null())
}

/// Subscribes with `since` and returns the offsets of the publications and the reply's `missed` range (null when
/// nothing was missed; checked against `gap`).
async fn subscribe_since_missed(client: &mut TestClient, since: serde_json::Value) -> (Vec<u64>, serde_json::Value) {
    client.send_raw(json!({ "type": "subscribe", "id": 99, "topic": "news:a", "since": since }).to_string());
    let mut offsets = Vec::new();
    loop {
        match client.next_frame().await {
            ServerFrame::Pub { offset, .. } => offsets.push(offset),
            ServerFrame::Reply { id: 99, data, .. } => {
                assert_eq!(data["gap"].as_bool().unwrap(), !data["missed"].is_null(), "gap and missed agree: {data}");
                return (offsets, data["missed"].clone());
            }
            other => panic!("{other:?}"),
        }
    }
}

#[actix_rt::test]
async fn subscribing_with_since_recovers_from_history_and_reports_gaps() {
    let hub = hub(Duration::from_secs(5));
    let mut epoch = String::new();
    for n in 1..=5 {
        epoch = hub.publish("news:a", &n).await.unwrap().epoch;
    }
    let mut client = TestClient::connect(&hub).await;
    assert_eq!(subscribe_since(&mut client, json!({ "offset": 2, "epoch": epoch })).await, (vec![3, 4, 5], false));
    let mut other = TestClient::connect(&hub).await;
    let (offsets, missed) = subscribe_since_missed(&mut other, json!({ "offset": 2, "epoch": "another-epoch" })).await;
    assert_eq!(missed, json!({ "to": 0 }), "an unknown epoch: what followed in it is unknown, none of this one missed");
    assert_eq!(offsets, [1, 2, 3, 4, 5]);
}

#[actix_rt::test]
async fn recovery_reports_the_range_history_no_longer_holds() {
    let broker =
        tidings_core::MemoryBroker::new(tidings_core::MemoryBrokerConfig { history_size: 3, ..Default::default() });
    let hub = Hub::builder().handler("news:*", News).broker(broker).build().unwrap();
    let mut epoch = String::new();
    for n in 1..=8 {
        epoch = hub.publish("news:a", &n).await.unwrap().epoch;
    }
    let mut client = TestClient::connect(&hub).await;
    let (offsets, missed) = subscribe_since_missed(&mut client, json!({ "offset": 2, "epoch": epoch })).await;
    assert_eq!((offsets, missed), (vec![6, 7, 8], json!({ "from": 3, "to": 5 })));
}

#[actix_rt::test]
async fn recovery_longer_than_the_queue_sends_the_newest_and_reports_the_rest_without_closing() {
    let broker =
        tidings_core::MemoryBroker::new(tidings_core::MemoryBrokerConfig { history_size: 5000, ..Default::default() });
    let config = HubConfig { outbox_max_frames: 100, ..Default::default() };
    let hub = Hub::builder().handler("news:*", News).broker(broker).config(config).build().unwrap();
    let mut epoch = String::new();
    for n in 1..=1000 {
        epoch = hub.publish("news:a", &n).await.unwrap().epoch;
    }
    let mut client = TestClient::connect(&hub).await;
    let (offsets, missed) = subscribe_since_missed(&mut client, json!({ "offset": 10, "epoch": epoch })).await;
    // Half the queue's room (the reply takes none yet): the newest 50, the 940 before them reported.
    assert_eq!(offsets, (951..=1000).collect::<Vec<u64>>());
    assert_eq!(missed, json!({ "from": 11, "to": 950 }));
    // The session was not closed as a slow consumer, and goes on.
    hub.publish("news:a", &1001).await.unwrap();
    assert_eq!(client.expect_broadcast("news:a").await, json!(1001));
    // What it missed is still in history, for the client to page through.
    let page =
        hub.history("news:a", Some(&tidings_protocol::StreamPosition { offset: 10, epoch }), 1000).await.unwrap();
    assert_eq!(page.publications.first().map(|p| p.position.offset), Some(11));
}

#[actix_rt::test]
async fn recovery_during_a_stream_of_publications_skips_and_doubles_nothing() {
    let hub = hub(Duration::from_secs(5));
    let first = hub.publish("news:a", &0).await.unwrap();
    let publisher = hub.clone();
    let publishing = actix_rt::spawn(async move {
        for n in 1..=300u64 {
            publisher.publish("news:a", &n).await.unwrap();
            if n % 10 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    tokio::task::yield_now().await;
    let mut client = TestClient::connect(&hub).await;
    let (mut offsets, gap) = subscribe_since(&mut client, json!({ "offset": 1, "epoch": first.epoch })).await;
    assert!(!gap);
    publishing.await.unwrap();
    while offsets.last() != Some(&301) {
        match client.next_frame().await {
            ServerFrame::Pub { offset, .. } => offsets.push(offset),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(offsets, (2..=301).collect::<Vec<u64>>());
}

/// A hub whose sessions queue at most 10 frames, and a client subscribed to news:a and news:b whose connection was
/// then lost (its session waits for it).
async fn away_with_a_queue_of_ten() -> (Hub, TestClient) {
    let config = HubConfig { outbox_max_frames: 10, resume_window: Duration::from_secs(5), ..Default::default() };
    let hub = Hub::builder().handler("news:*", News).config(config).build().unwrap();
    let mut client = TestClient::connect(&hub).await;
    client.subscribe("news:a").await.unwrap();
    client.subscribe("news:b").await.unwrap();
    assert!(hub.drop_connection(client.session_id()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    (hub, client)
}

#[actix_rt::test]
async fn a_detached_session_that_falls_behind_keeps_its_subscriptions_and_hears_what_it_missed() {
    let (hub, client) = away_with_a_queue_of_ten().await;
    // Away, the session's queue fills at the topics' rate: 10 frames fit, the rest of each topic is dropped.
    let mut epoch = String::new();
    for n in 1..=30 {
        epoch = hub.publish("news:a", &n).await.unwrap().epoch;
    }
    let b_epoch = hub.publish("news:b", &1).await.unwrap().epoch;
    assert_eq!(hub.session_count(), 1, "not closed as a slow consumer");

    let mut resumed = TestClient::connect_with(&hub, resume(&client)).await;
    assert!(resumed.resumed());
    let mut frames = Vec::new();
    for _ in 0..12 {
        frames.push(resumed.next_frame().await);
    }
    let offsets: Vec<u64> = frames[..10]
        .iter()
        .map(|f| match f {
            ServerFrame::Pub { topic, offset, .. } if topic == "news:a" => *offset,
            other => panic!("expected a publication of news:a, got {other:?}"),
        })
        .collect();
    assert_eq!(offsets, (1..=10).collect::<Vec<u64>>());
    let gap = |topic: &str, epoch: &str, from, to| ServerFrame::Gap {
        seq: 0,
        topic: topic.into(),
        epoch: epoch.into(),
        missed: tidings_protocol::Missed { from: Some(from), to },
    };
    let without_seq = |f: &ServerFrame| match f {
        ServerFrame::Gap { topic, epoch, missed, .. } => {
            ServerFrame::Gap { seq: 0, topic: topic.clone(), epoch: epoch.clone(), missed: missed.clone() }
        }
        other => panic!("expected a gap, got {other:?}"),
    };
    assert_eq!(without_seq(&frames[10]), gap("news:a", &epoch, 11, 30));
    assert_eq!(without_seq(&frames[11]), gap("news:b", &b_epoch, 1, 1));
    // Its subscriptions are intact: what is published now arrives as usual.
    hub.publish("news:a", &31).await.unwrap();
    assert_eq!(resumed.expect_broadcast("news:a").await, json!(31));
}

#[actix_rt::test]
async fn a_session_back_from_away_is_not_closed_by_publications_arriving_while_its_queue_drains() {
    let (hub, client) = away_with_a_queue_of_ten().await;
    for n in 1..=20 {
        hub.publish("news:a", &n).await.unwrap();
    }
    // Resumed but not read yet: the queue is still full, and a publication of another topic arrives.
    let mut resumed = TestClient::connect_with(&hub, resume(&client)).await;
    hub.publish("news:b", &1).await.unwrap();
    assert_eq!(hub.session_count(), 1, "not closed");
    let mut seen = Vec::new();
    while seen.len() < 12 {
        match resumed.next_frame().await {
            ServerFrame::Pub { topic, offset, .. } => seen.push(format!("{topic}#{offset}")),
            ServerFrame::Gap { topic, missed, .. } => seen.push(format!("gap {topic} {:?}-{}", missed.from, missed.to)),
            other => panic!("{other:?}"),
        }
    }
    let mut expected: Vec<String> = (1..=10).map(|n| format!("news:a#{n}")).collect();
    expected.push("gap news:a Some(11)-20".into());
    assert_eq!(seen[..11], expected[..]);
    // news:b's publication came while the queue was full (dropped, and told), or once it had drained (sent).
    assert!(["gap news:b Some(1)-1", "news:b#1"].contains(&seen[11].as_str()), "{}", seen[11]);
    hub.publish("news:b", &2).await.unwrap();
    assert_eq!(resumed.expect_broadcast("news:b").await, json!(2));
}
