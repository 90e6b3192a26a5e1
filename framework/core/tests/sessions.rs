//! Sessions, topics, rooms and handlers, through the testkit's in-process transport.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tidings_core::testkit::TestClient;
use tidings_core::{
    async_trait, Context, Handler, Hub, HubConfig, Identity, Joined, MemoryBroker, MemoryBrokerConfig, Payload, Refusal,
};
use tidings_protocol::{CloseCode, ServerFrame};

/// A chat room: nicknames required, "banned" refused, messages broadcast, "ping" answered, "boom" panics.
#[derive(Default)]
struct Room {
    left: AtomicUsize,
    disconnected: AtomicUsize,
}

#[derive(Deserialize)]
struct JoinParams {
    nick: String,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum RoomMessage {
    Say { text: String },
    Ping,
    Whisper,
    Boom,
}

#[async_trait]
impl Handler for Room {
    type Join = JoinParams;
    type Message = RoomMessage;
    type Reply = Value;

    async fn join(&self, _ctx: &Context, params: JoinParams) -> Result<Joined<Value>, Refusal> {
        if params.nick == "banned" {
            return Err(Refusal::forbidden("you are banned"));
        }
        Ok(Joined::new().meta(&json!({ "nick": params.nick })).reply(json!({ "welcome": params.nick })))
    }

    async fn message(&self, ctx: &Context, message: RoomMessage) -> Result<Option<Value>, Refusal> {
        match message {
            RoomMessage::Say { text } => {
                let nick = ctx.member_meta().map(|m| m["nick"].clone()).unwrap_or(Value::Null);
                ctx.broadcast(&json!({ "nick": nick, "text": text })).await?;
                Ok(None)
            }
            RoomMessage::Ping => Ok(Some(json!("pong"))),
            RoomMessage::Whisper => {
                ctx.push(&json!("psst")).map_err(|e| Refusal::forbidden(e.to_string()))?;
                Ok(None)
            }
            RoomMessage::Boom => panic!("handler bug"),
        }
    }

    async fn publish(&self, _ctx: &Context, data: Payload<'_>) -> Result<(), Refusal> {
        let value: Value = data.decode()?;
        if value.get("price").is_some() {
            Ok(())
        } else {
            Err(Refusal::bad_payload("a price is required"))
        }
    }

    async fn leave(&self, _ctx: &Context) {
        self.left.fetch_add(1, Ordering::SeqCst);
    }

    async fn disconnect(&self, _ctx: &Context) {
        self.disconnected.fetch_add(1, Ordering::SeqCst);
    }
}

/// A plain topic with default handler behaviour.
struct News;

#[async_trait]
impl Handler for News {
    type Join = ();
    type Message = ();
    type Reply = ();
}

/// Refuses every subscription.
struct Secret;

#[async_trait]
impl Handler for Secret {
    type Join = ();
    type Message = ();
    type Reply = ();
    async fn subscribe(&self, ctx: &Context) -> Result<(), Refusal> {
        match ctx.identity().user.as_deref() {
            Some("admin") => Ok(()),
            _ => Err(Refusal::forbidden("admins only")),
        }
    }
}

fn hub_with(room: Arc<Room>, config: HubConfig) -> Hub {
    struct Shared(Arc<Room>);
    #[async_trait]
    impl Handler for Shared {
        type Join = JoinParams;
        type Message = RoomMessage;
        type Reply = Value;
        async fn join(&self, ctx: &Context, p: JoinParams) -> Result<Joined<Value>, Refusal> {
            self.0.join(ctx, p).await
        }
        async fn message(&self, ctx: &Context, m: RoomMessage) -> Result<Option<Value>, Refusal> {
            self.0.message(ctx, m).await
        }
        async fn publish(&self, ctx: &Context, d: Payload<'_>) -> Result<(), Refusal> {
            self.0.publish(ctx, d).await
        }
        async fn leave(&self, ctx: &Context) {
            self.0.leave(ctx).await
        }
        async fn disconnect(&self, ctx: &Context) {
            self.0.disconnect(ctx).await
        }
    }
    Hub::builder()
        .handler("room:*", Shared(room))
        .handler("news:*", News)
        .handler("secret", Secret)
        .config(config)
        .build()
        .unwrap()
}

fn hub() -> Hub {
    hub_with(Arc::default(), HubConfig::default())
}

#[actix_rt::test]
async fn subscribe_publish_unsubscribe() {
    let hub = hub();
    let mut client = TestClient::connect(&hub).await;
    let reply = client.subscribe("news:world").await.unwrap();
    assert_eq!(reply["position"]["offset"], 0);
    hub.publish("news:world", &json!({ "headline": "a" })).await.unwrap();
    assert_eq!(client.expect_broadcast("news:world").await, json!({ "headline": "a" }));
    assert_eq!(client.subscribe("news:world").await.unwrap_err().code, "already_subscribed");
    client.unsubscribe("news:world").await.unwrap();
    hub.publish("news:world", &json!({ "headline": "b" })).await.unwrap();
    client.assert_no_frame(Duration::from_millis(50)).await;
    assert_eq!(client.unsubscribe("news:world").await.unwrap_err().code, "not_subscribed");
}

#[actix_rt::test]
async fn frames_are_numbered_without_gaps() {
    let hub = hub();
    let mut client = TestClient::connect(&hub).await;
    client.subscribe("news:a").await.unwrap();
    for n in 0..5 {
        hub.publish("news:a", &n).await.unwrap();
    }
    let mut seqs = vec![];
    for _ in 0..5 {
        seqs.push(client.next_frame().await.seq().unwrap());
    }
    // The subscribe reply was frame 1.
    assert_eq!(seqs, [2, 3, 4, 5, 6]);
}

#[actix_rt::test]
async fn unknown_and_forbidden_topics() {
    let hub = hub();
    let mut client = TestClient::connect(&hub).await;
    assert_eq!(client.subscribe("nowhere").await.unwrap_err().code, "unknown_topic");
    assert_eq!(client.subscribe("secret").await.unwrap_err().code, "forbidden");
    let mut admin = TestClient::connect_as(&hub, Identity::user("admin")).await;
    admin.subscribe("secret").await.unwrap();
    assert_eq!(client.subscribe("bad topic").await.unwrap_err().code, "bad_topic");
}

#[actix_rt::test]
async fn rooms_refuse_accept_and_announce() {
    let room = Arc::new(Room::default());
    let hub = hub_with(room.clone(), HubConfig::default());
    let mut ann = TestClient::connect(&hub).await;
    let mut bob = TestClient::connect(&hub).await;

    assert_eq!(ann.join("room:1", json!({ "nick": "banned" })).await.unwrap_err().code, "forbidden");
    assert_eq!(ann.join("room:1", json!({ "nickname": "x" })).await.unwrap_err().code, "bad_payload");
    assert_eq!(ann.join("room:1", json!(null)).await.unwrap_err().code, "bad_payload");

    let joined = ann.join("room:1", json!({ "nick": "ann" })).await.unwrap();
    assert_eq!(joined["reply"], json!({ "welcome": "ann" }));
    assert_eq!(joined["presence"][0]["meta"]["nick"], "ann");
    assert_eq!(ann.join("room:1", json!({ "nick": "ann" })).await.unwrap_err().code, "already_joined");

    let joined = bob.join("room:1", json!({ "nick": "bob" })).await.unwrap();
    let nicks: Vec<_> = joined["presence"].as_array().unwrap().iter().map(|m| m["meta"]["nick"].clone()).collect();
    assert_eq!(nicks, [json!("ann"), json!("bob")]);
    let member = ann.expect_member_joined("room:1").await;
    assert_eq!((member.session.as_str(), &member.meta["nick"]), (bob.session_id(), &json!("bob")));

    bob.message("room:1", json!({ "kind": "say", "text": "hi" })).await.unwrap();
    assert_eq!(ann.expect_broadcast("room:1").await, json!({ "nick": "bob", "text": "hi" }));
    assert_eq!(bob.expect_broadcast("room:1").await, json!({ "nick": "bob", "text": "hi" }));

    bob.leave("room:1").await.unwrap();
    assert_eq!(ann.expect_member_left("room:1").await.session, bob.session_id());
    assert_eq!(room.left.load(Ordering::SeqCst), 1);
    assert_eq!(bob.leave("room:1").await.unwrap_err().code, "not_joined");
    assert_eq!(hub.presence_of("room:1").await.unwrap().len(), 1);
    // The joiner itself is not told about its own join.
    ann.assert_no_frame(Duration::from_millis(30)).await;
}

#[actix_rt::test]
async fn disconnect_leaves_rooms_and_tells_the_handler() {
    let room = Arc::new(Room::default());
    let hub = hub_with(room.clone(), HubConfig::default());
    let mut ann = TestClient::connect(&hub).await;
    let mut bob = TestClient::connect(&hub).await;
    ann.join("room:1", json!({ "nick": "ann" })).await.unwrap();
    bob.join("room:1", json!({ "nick": "bob" })).await.unwrap();
    bob.subscribe("news:x").await.unwrap();
    let bob_id = bob.session_id().to_owned();
    bob.disconnect().await;
    assert_eq!(ann.expect_member_left("room:1").await.session, bob_id);
    assert_eq!(room.disconnected.load(Ordering::SeqCst), 1);
    assert_eq!(hub.subscriber_count("news:x"), 0);
    assert_eq!(hub.session_count(), 1);
}

#[actix_rt::test]
async fn requests_get_exactly_one_answer() {
    let hub = hub();
    let mut client = TestClient::connect(&hub).await;
    assert_eq!(client.message("room:1", json!({ "kind": "ping" })).await.unwrap_err().code, "not_subscribed");
    client.join("room:1", json!({ "nick": "c" })).await.unwrap();
    assert_eq!(client.message("room:1", json!({ "kind": "ping" })).await.unwrap(), json!("pong"));
    assert_eq!(client.message("room:1", json!({ "kind": "dance" })).await.unwrap_err().code, "bad_payload");
    assert_eq!(client.message("room:1", json!({ "kind": "whisper" })).await.unwrap(), Value::Null);
    assert_eq!(client.expect_push("room:1").await, json!("psst"));
    client.subscribe("news:n").await.unwrap();
    assert_eq!(client.message("news:n", json!(null)).await.unwrap_err().code, "unsupported");
    // With data too: the topic takes no messages, whatever they hold.
    assert_eq!(client.message("news:n", json!({ "text": "hi" })).await.unwrap_err().code, "unsupported");
    client.assert_no_frame(Duration::from_millis(30)).await;
}

#[actix_rt::test]
async fn a_panicking_handler_answers_internal_and_the_session_goes_on() {
    let hub = hub();
    let mut client = TestClient::connect(&hub).await;
    client.join("room:1", json!({ "nick": "c" })).await.unwrap();
    assert_eq!(client.message("room:1", json!({ "kind": "boom" })).await.unwrap_err().code, "internal");
    assert_eq!(client.message("room:1", json!({ "kind": "ping" })).await.unwrap(), json!("pong"));
}

#[actix_rt::test]
async fn client_publish_goes_through_the_handler() {
    let hub = hub();
    let mut client = TestClient::connect(&hub).await;
    client.subscribe("room:t").await.unwrap();
    assert_eq!(client.publish("news:x", json!(1)).await.unwrap_err().code, "forbidden");
    assert_eq!(client.publish("room:t", json!({ "qty": 1 })).await.unwrap_err().code, "bad_payload");
    let reply = client.publish("room:t", json!({ "price": 1.5 })).await.unwrap();
    assert_eq!(reply["position"]["offset"], 1);
    assert_eq!(client.expect_broadcast("room:t").await, json!({ "price": 1.5 }));
}

#[actix_rt::test]
async fn history_after_an_offset() {
    let broker = MemoryBroker::new(MemoryBrokerConfig { history_size: 5, ..Default::default() });
    let hub = Hub::builder().handler("news:*", News).broker(broker).build().unwrap();
    for n in 1..=8 {
        hub.publish("news:h", &n).await.unwrap();
    }
    let mut client = TestClient::connect(&hub).await;
    let epoch = hub.history("news:h", None, 0).await.unwrap().position.epoch;
    let since = json!({ "offset": 5, "epoch": epoch });
    client.send_raw(json!({ "type": "history", "id": 1, "topic": "news:h", "since": since }).to_string());
    let page = match client.next_frame().await {
        ServerFrame::Reply { data, .. } => data,
        other => panic!("{other:?}"),
    };
    let data: Vec<_> = page["publications"].as_array().unwrap().iter().map(|p| p["data"].clone()).collect();
    assert_eq!(data, [json!(6), json!(7), json!(8)]);
    assert_eq!((page["gap"].clone(), page["position"]["offset"].clone()), (json!(false), json!(8)));

    let since = json!({ "offset": 1, "epoch": epoch });
    client.send_raw(json!({ "type": "history", "id": 2, "topic": "news:h", "since": since, "limit": 2 }).to_string());
    let page = match client.next_frame().await {
        ServerFrame::Reply { data, .. } => data,
        other => panic!("{other:?}"),
    };
    assert_eq!(page["gap"], true, "offsets 2 and 3 fell out of the 5-entry history");
    assert_eq!(page["publications"].as_array().unwrap().len(), 2);
}

#[actix_rt::test]
async fn malformed_frames_get_errors_and_the_session_goes_on() {
    let hub = hub();
    let mut client = TestClient::connect(&hub).await;
    client.send_raw("{not json");
    assert_eq!(client.expect_error().await.code, "bad_frame");
    client.send_raw(r#"{"type":"teleport","id":77}"#);
    match client.next_frame().await {
        ServerFrame::Error { id: Some(77), code, .. } => assert_eq!(code, "unknown_type"),
        other => panic!("{other:?}"),
    }
    client.send_raw(r#"{"type":"subscribe"}"#);
    assert_eq!(client.expect_error().await.code, "bad_frame");
    client.subscribe("news:ok").await.unwrap();
}

#[actix_rt::test]
async fn subscription_limit() {
    let hub = hub_with(Arc::default(), HubConfig { max_subscriptions: 2, ..Default::default() });
    let mut client = TestClient::connect(&hub).await;
    client.subscribe("news:1").await.unwrap();
    client.join("room:1", json!({ "nick": "n" })).await.unwrap();
    assert_eq!(client.subscribe("news:2").await.unwrap_err().code, "too_many_subscriptions");
    client.unsubscribe("news:1").await.unwrap();
    client.subscribe("news:2").await.unwrap();
}

#[actix_rt::test]
async fn oversized_messages_close_with_1009_and_others_are_unaffected() {
    let hub = hub_with(Arc::default(), HubConfig { max_message_bytes: 100, ..Default::default() });
    let mut big = TestClient::connect(&hub).await;
    let mut other = TestClient::connect(&hub).await;
    other.subscribe("news:x").await.unwrap();
    big.send_raw(format!(r#"{{"type":"publish","topic":"news:x","data":"{}"}}"#, "x".repeat(200)));
    assert_eq!(big.expect_closed().await.code, CloseCode::MESSAGE_TOO_BIG);
    hub.publish("news:x", &1).await.unwrap();
    assert_eq!(other.expect_broadcast("news:x").await, json!(1));
}

#[actix_rt::test]
async fn a_slow_consumer_is_closed_and_others_still_receive() {
    let hub = hub_with(Arc::default(), HubConfig { outbox_max_frames: 10, ..Default::default() });
    let mut slow = TestClient::connect(&hub).await;
    slow.subscribe("news:fast").await.unwrap();
    let mut fine = TestClient::connect(&hub).await;
    fine.subscribe("news:fast").await.unwrap();
    // Publishing from this task without yielding leaves no turn for either transport loop to drain, so both
    // queues fill; what matters is that the hub keeps its bound and closes with the documented code.
    for n in 0..20 {
        hub.publish("news:fast", &n).await.unwrap();
    }
    assert_eq!(slow.expect_closed().await.code, CloseCode::SLOW_CONSUMER);
    let mut late = TestClient::connect(&hub).await;
    late.subscribe("news:fast").await.unwrap();
    hub.publish("news:fast", &"after").await.unwrap();
    assert_eq!(late.expect_broadcast("news:fast").await, json!("after"));
    drop(fine);
}

#[actix_rt::test]
async fn shutdown_closes_every_session_with_1001() {
    let hub = hub();
    let mut a = TestClient::connect(&hub).await;
    let mut b = TestClient::connect(&hub).await;
    a.subscribe("news:x").await.unwrap();
    let left = hub.shutdown(Duration::from_secs(2)).await;
    assert_eq!(left, 0);
    assert_eq!(a.expect_closed().await.code, CloseCode::GOING_AWAY);
    assert_eq!(b.expect_closed().await.code, CloseCode::GOING_AWAY);
}

/// Answers after a pause: a handler slower than its client.
struct Slow;

#[async_trait]
impl Handler for Slow {
    type Join = ();
    type Message = u64;
    type Reply = u64;
    async fn message(&self, _ctx: &Context, n: u64) -> Result<Option<u64>, Refusal> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(Some(n))
    }
}

#[actix_rt::test]
async fn a_full_inbound_queue_does_not_stop_deliveries() {
    // 60 pipelined requests to a 20 ms handler keep the session busy for over a second, with the mailbox (8) full
    // most of that time. Publications meanwhile must keep flowing, or the 32-frame queue overflows.
    let config = HubConfig { inbound_queue: 8, outbox_max_frames: 32, ..Default::default() };
    let hub = Hub::builder().handler("slow", Slow).handler("news:*", News).config(config).build().unwrap();
    let mut client = TestClient::connect(&hub).await;
    client.subscribe("slow").await.unwrap();
    client.subscribe("news:busy").await.unwrap();
    for id in 0..60u64 {
        client.send_raw(json!({ "type": "message", "id": 100 + id, "topic": "slow", "data": id }).to_string());
    }
    let publisher = hub.clone();
    let publishing = actix_rt::spawn(async move {
        for n in 0..100u64 {
            publisher.publish("news:busy", &n).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    client.set_timeout(Duration::from_secs(5));
    for n in 0..100u64 {
        assert_eq!(client.expect_broadcast("news:busy").await, json!(n));
    }
    publishing.await.unwrap();
    let mut replies = 0;
    while replies < 60 {
        match client.next_frame().await {
            ServerFrame::Reply { id, data, .. } => {
                assert_eq!(data, json!(id - 100));
                replies += 1;
            }
            other => panic!("{other:?}"),
        }
    }
}
