//! Resume through real sockets: connections dropped under load lose and duplicate nothing, on every transport; a
//! client moves to another transport when its own stops opening; and a client whose session expired starts over,
//! recovering what it missed from history, or told of a gap when history no longer has it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::{guard, web, HttpResponse};
use serde_json::json;
use tidings::{async_trait, Context, Handler, Hub, HubConfig, MemoryBroker, MemoryBrokerConfig, Refusal, SessionId};
use tidings_client::{
    Backoff, Client, ClientOptions, ConnectionState, Error, Event, Missed, Subscription, TransportKind,
};
use tidings_tests::handlers::{demo_hub, Calc, News, Open, Room};
use tidings_tests::TestServer;
use tokio::time::{sleep, timeout, Duration, Instant};

tidings_tests::on_every_transport!(
    timeout = 120;
    ten_thousand_messages_arrive_once_and_in_order_across_dropped_connections,
    an_expired_session_starts_over_and_recovers_from_history,
    an_expired_session_starts_over_and_reports_the_gap_history_cannot_fill,
    a_request_in_flight_when_the_session_is_lost_fails,
    frames_wait_while_disconnected_up_to_a_bound,
);

const MESSAGES: u64 = 10_000;
/// Bounds every single wait for a frame.
const STEP: Duration = Duration::from_secs(10);

/// Quick reconnects, so that the tests spend their time on the protocol rather than on backoff.
fn options(transports: Vec<TransportKind>) -> ClientOptions {
    ClientOptions {
        transports,
        backoff: Backoff { min_delay: Duration::from_millis(10), max_delay: Duration::from_millis(100) },
        ..Default::default()
    }
}

/// The hub's id for the client's session.
fn session_of(server: &TestServer, client: &Client) -> SessionId {
    let id = client.session_id();
    server.hub.session_ids().into_iter().find(|s| s.as_str() == id).expect("the server has the client's session")
}

/// The next event, within [`STEP`].
async fn next(sub: &mut Subscription) -> Event {
    timeout(STEP, sub.next()).await.expect("no event in time").expect("the subscription ended")
}

/// The next event is publication `n`.
async fn expect_publication(sub: &mut Subscription, n: u64) {
    match next(sub).await {
        Event::Publication(p) => assert_eq!(p.data, json!(n), "publication {n} in order, once"),
        other => panic!("expected publication {n}, got {other:?}"),
    }
}

async fn nothing_more(sub: &mut Subscription) {
    if let Ok(event) = timeout(Duration::from_millis(300), sub.next()).await {
        panic!("nothing more expected, got {event:?}");
    }
}

/// Publishes `range` on `topic` at about 2,000 a second, so that connections get dropped mid-stream, and so that
/// what queues up while the client is away stays under the session's limit (4096 frames): past it the session
/// ends, and the test would measure history rather than resume.
fn publish_slowly(hub: &Hub, topic: &'static str, range: std::ops::RangeInclusive<u64>) -> tokio::task::JoinHandle<()> {
    let hub = hub.clone();
    tokio::spawn(async move {
        for n in range {
            hub.publish(topic, &n).await.unwrap();
            if n % 20 == 0 {
                sleep(Duration::from_millis(10)).await;
            }
        }
    })
}

/// Drops the session's connection, waiting up to a second for it to have one: a reconnecting client has none, and
/// a long-polling one only while a poll is held.
async fn drop_once(hub: &Hub, id: &SessionId) -> bool {
    for _ in 0..1000 {
        if hub.drop_connection(id) {
            return true;
        }
        sleep(Duration::from_millis(1)).await;
    }
    false
}

/// Drops the session's connection in the background; the handle says whether the drop hit a connection.
fn drop_soon(hub: &Hub, id: &SessionId) -> tokio::task::JoinHandle<bool> {
    let (hub, id) = (hub.clone(), id.clone());
    tokio::spawn(async move { drop_once(&hub, &id).await })
}

/// Reads publications `range` in order, dropping the connection every `DROP_EVERY` of them (counted as they are
/// received, so that the client always gets going again between drops). Returns how many drops hit a connection.
async fn read_while_dropping(
    sub: &mut Subscription,
    range: std::ops::RangeInclusive<u64>,
    hub: &Hub,
    id: &SessionId,
) -> u32 {
    let mut drops = Vec::new();
    for n in range {
        expect_publication(sub, n).await;
        if n % DROP_EVERY == 0 {
            drops.push(drop_soon(hub, id));
        }
    }
    let mut hits = 0;
    for drop in drops {
        hits += u32::from(drop.await.unwrap());
    }
    hits
}

const DROP_EVERY: u64 = 1500;

async fn ten_thousand_messages_arrive_once_and_in_order_across_dropped_connections(kind: TransportKind) {
    let server = TestServer::start(demo_hub(HubConfig::default()));
    let client = Client::connect_with(&server.base_url(), options(vec![kind])).await.unwrap();
    let mut sub = client.subscribe("news:stream").await.unwrap();
    let session = session_of(&server, &client);

    let publisher = publish_slowly(&server.hub, "news:stream", 1..=MESSAGES);
    let drops = read_while_dropping(&mut sub, 1..=MESSAGES, &server.hub, &session).await;
    publisher.await.unwrap();
    nothing_more(&mut sub).await;
    assert!(drops >= 3, "the connection was dropped {drops} times only");
    // Resumed every time: the same session, never started over (which could have hidden a loss in history).
    assert_eq!(client.session_id(), session.as_str());
    assert_eq!(client.transport(), Some(kind));
}

/// A WebSocket endpoint that refuses upgrades (503) once `refuse` is set; everything else as usual.
fn websocket_that_can_refuse(refuse: Arc<AtomicBool>) -> impl Fn(&Hub) -> actix_web::Scope + Send + Clone + 'static {
    move |hub: &Hub| {
        let refuse = refuse.clone();
        web::scope("")
            .service(
                web::resource("/realtime/ws")
                    .guard(guard::fn_guard(move |_| refuse.load(Ordering::SeqCst)))
                    .to(|| async { HttpResponse::ServiceUnavailable().body("no WebSocket for now") }),
            )
            .service(tidings::scope("/realtime", hub))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_moves_from_websocket_to_long_polling_mid_stream() {
    timeout(Duration::from_secs(120), moves_from_websocket_to_long_polling()).await.expect("timed out");
}

async fn moves_from_websocket_to_long_polling() {
    let refuse = Arc::new(AtomicBool::new(false));
    let server = TestServer::start_with(demo_hub(HubConfig::default()), websocket_that_can_refuse(refuse.clone()));
    let transports = vec![TransportKind::WebSocket, TransportKind::LongPoll];
    let client = Client::connect_with(&server.base_url(), options(transports)).await.unwrap();
    assert_eq!(client.transport(), Some(TransportKind::WebSocket));
    let mut states = client.state_changes();
    let mut sub = client.subscribe("news:switch").await.unwrap();
    let session = session_of(&server, &client);

    let publisher = publish_slowly(&server.hub, "news:switch", 1..=MESSAGES);
    for n in 1..=MESSAGES / 4 {
        expect_publication(&mut sub, n).await;
    }
    // WebSocket goes away: the client reconnects on it, is refused, and falls back to long polling, where the
    // same session resumes.
    refuse.store(true, Ordering::SeqCst);
    assert!(drop_once(&server.hub, &session).await);
    for n in MESSAGES / 4 + 1..=MESSAGES / 2 {
        expect_publication(&mut sub, n).await;
    }
    assert_eq!(client.transport(), Some(TransportKind::LongPoll));
    // Dropped again, the client stays on long polling.
    let drops = read_while_dropping(&mut sub, MESSAGES / 2 + 1..=MESSAGES, &server.hub, &session).await;
    assert!(drops >= 2, "dropped {drops} times only");
    publisher.await.unwrap();
    nothing_more(&mut sub).await;
    assert_eq!(client.transport(), Some(TransportKind::LongPoll));
    assert_eq!(client.session_id(), session.as_str(), "resumed, not started over");
    let state = states.borrow_and_update().clone();
    assert_eq!(state, ConnectionState::Connected { transport: TransportKind::LongPoll, session: session.to_string() });
    // Requests work on the new transport.
    let _calc = client.subscribe("calc").await.unwrap();
    assert_eq!(client.request::<_, i64>("calc", &json!({ "add": [2, 3] })).await.unwrap(), 5);
}

/// A server whose `/realtime` endpoints can all be closed (503), to keep a client away past the resume window.
struct Gated {
    server: TestServer,
    closed: Arc<AtomicBool>,
}

const RESUME_WINDOW: Duration = Duration::from_millis(300);

/// `slow`: answers a number of milliseconds with itself, after that long.
struct Slow;

#[async_trait]
impl Handler for Slow {
    type Join = ();
    type Message = u64;
    type Reply = u64;
    async fn message(&self, _ctx: &Context, millis: u64) -> Result<Option<u64>, Refusal> {
        sleep(Duration::from_millis(millis)).await;
        Ok(Some(millis))
    }
}

impl Gated {
    fn start(history_size: usize) -> Gated {
        Gated::with_window(history_size, RESUME_WINDOW)
    }

    fn with_window(history_size: usize, resume_window: Duration) -> Gated {
        let hub = Hub::builder()
            .authenticator(tidings::AllowAnonymous)
            .handler("news:*", News)
            .handler("open:*", Open)
            .handler("calc", Calc)
            .handler("slow", Slow)
            .handler("room:*", Room)
            .broker(MemoryBroker::new(MemoryBrokerConfig { history_size, ..Default::default() }))
            .config(HubConfig { resume_window, ..Default::default() })
            .build()
            .unwrap();
        let closed = Arc::new(AtomicBool::new(false));
        let gate = closed.clone();
        let server = TestServer::start_with(hub, move |hub: &Hub| {
            let gate = gate.clone();
            web::scope("")
                .service(
                    web::resource("/realtime/{endpoint:.*}")
                        .guard(guard::fn_guard(move |_| gate.load(Ordering::SeqCst)))
                        .to(|| async { HttpResponse::ServiceUnavailable().body("closed for the test") }),
                )
                .service(tidings::scope("/realtime", hub))
        });
        Gated { server, closed }
    }

    /// Cuts `client` off (its connection dropped, reconnects refused) until its session has expired on the server.
    async fn cut_off_until_expired(&self, client: &Client) {
        let session = session_of(&self.server, client);
        self.closed.store(true, Ordering::SeqCst);
        // A long-polling client between two polls has no connection to drop: its next poll, refused, is its loss.
        drop_once(&self.server.hub, &session).await;
        let deadline = Instant::now() + STEP;
        let reconnecting = || matches!(client.state(), ConnectionState::Reconnecting { .. });
        while self.server.hub.session_ids().contains(&session) || !reconnecting() {
            assert!(Instant::now() < deadline, "the session outlived its resume window, or the client never noticed");
            sleep(Duration::from_millis(20)).await;
        }
    }

    /// Cuts `client` off (its connection dropped, reconnects refused) until it notices.
    async fn cut_off(&self, client: &Client) {
        let session = session_of(&self.server, client);
        self.closed.store(true, Ordering::SeqCst);
        drop_once(&self.server.hub, &session).await;
        let deadline = Instant::now() + STEP;
        while !matches!(client.state(), ConnectionState::Reconnecting { .. }) {
            assert!(Instant::now() < deadline, "the client never noticed");
            sleep(Duration::from_millis(10)).await;
        }
    }

    fn reopen(&self) {
        self.closed.store(false, Ordering::SeqCst);
    }
}

async fn an_expired_session_starts_over_and_recovers_from_history(kind: TransportKind) {
    let gated = Gated::start(256);
    let hub = &gated.server.hub;
    let client = Client::connect_with(&gated.server.base_url(), options(vec![kind])).await.unwrap();
    let old_session = client.session_id();
    let mut sub = client.subscribe("news:a").await.unwrap();
    let mut room = client.join("room:a", &json!({ "nick": "ann" })).await.unwrap();
    let _calc = client.subscribe("calc").await.unwrap();
    for n in 1..=5 {
        hub.publish("news:a", &n).await.unwrap();
        expect_publication(&mut sub, n).await;
    }

    gated.cut_off_until_expired(&client).await;
    assert!(hub.presence_of("room:a").await.unwrap().is_empty(), "the expired session left the room");
    for n in 6..=10 {
        hub.publish("news:a", &n).await.unwrap();
    }
    // A request made while disconnected waits in the queue, and goes out once subscriptions are back.
    let queued = tokio::spawn({
        let client = client.clone();
        async move { client.request::<_, i64>("calc", &json!({ "add": [20, 22] })).await }
    });
    sleep(Duration::from_millis(50)).await;
    gated.reopen();

    // A new session, subscribed again from where the client was: what was published meanwhile is recovered.
    for n in 6..=10 {
        expect_publication(&mut sub, n).await;
    }
    assert_eq!(queued.await.unwrap().unwrap(), 42);
    assert_ne!(client.session_id(), old_session);
    hub.publish("news:a", &11).await.unwrap();
    expect_publication(&mut sub, 11).await;
    nothing_more(&mut sub).await;
    // The room was joined again, with the same parameters, and its member list replaced.
    match timeout(STEP, room.next()).await.unwrap().unwrap() {
        Event::Presence(members) => {
            assert_eq!(members.len(), 1);
            assert_eq!(
                (members[0].session.as_str(), &members[0].meta),
                (&*client.session_id(), &json!({ "nick": "ann" }))
            );
        }
        other => panic!("expected the new presence, got {other:?}"),
    }
    assert_eq!(room.presence()[0].session, client.session_id());
    assert_eq!(client.transport(), Some(kind));
}

async fn an_expired_session_starts_over_and_reports_the_gap_history_cannot_fill(kind: TransportKind) {
    let gated = Gated::start(4);
    let hub = &gated.server.hub;
    let client = Client::connect_with(&gated.server.base_url(), options(vec![kind])).await.unwrap();
    let mut sub = client.subscribe("news:g").await.unwrap();
    for n in 1..=5 {
        hub.publish("news:g", &n).await.unwrap();
        expect_publication(&mut sub, n).await;
    }

    gated.cut_off_until_expired(&client).await;
    // Ten while away; history keeps the last four.
    for n in 6..=15 {
        hub.publish("news:g", &n).await.unwrap();
    }
    gated.reopen();

    for n in 12..=15 {
        expect_publication(&mut sub, n).await;
    }
    let lost = Event::Gap { missed: Some(Missed { from: Some(6), to: 11 }) };
    assert_eq!(next(&mut sub).await, lost, "6 to 11 are lost, and the subscription is told which");
    hub.publish("news:g", &16).await.unwrap();
    expect_publication(&mut sub, 16).await;
    nothing_more(&mut sub).await;
}

async fn a_request_in_flight_when_the_session_is_lost_fails(kind: TransportKind) {
    let gated = Gated::start(256);
    let client = Client::connect_with(&gated.server.base_url(), options(vec![kind])).await.unwrap();
    let _slow = client.subscribe("slow").await.unwrap();
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.request::<_, u64>("slow", &1000).await }
    });
    // Sent, and being handled, when the connection goes and the session expires.
    sleep(Duration::from_millis(100)).await;
    gated.cut_off_until_expired(&client).await;
    gated.reopen();
    let started = Instant::now();
    let err = timeout(STEP, in_flight).await.unwrap().unwrap().unwrap_err();
    assert!(matches!(err, Error::SessionLost), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "failed when the new session began, not by timeout");
    // The client goes on in its new session, subscribed again.
    assert_eq!(client.request::<_, u64>("slow", &1).await.unwrap(), 1);
}

async fn frames_wait_while_disconnected_up_to_a_bound(kind: TransportKind) {
    let gated = Gated::with_window(256, Duration::from_secs(60));
    let options = ClientOptions { max_queued_frames: 2, ..options(vec![kind]) };
    let client = Client::connect_with(&gated.server.base_url(), options).await.unwrap();
    let session = client.session_id();
    let mut sub = client.subscribe("open:q").await.unwrap();
    gated.cut_off(&client).await;

    let publish = |n: u64| {
        let client = client.clone();
        tokio::spawn(async move { client.publish("open:q", &n).await })
    };
    let (first, second) = (publish(1), publish(2));
    sleep(Duration::from_millis(50)).await;
    assert!(matches!(client.publish("open:q", &3).await, Err(Error::QueueFull)));
    gated.reopen();
    // The two tasks queued in either order; each publication went out once, after the reconnect.
    let offset = |task: tokio::task::JoinHandle<Result<tidings_client::StreamPosition, Error>>| async {
        timeout(STEP, task).await.unwrap().unwrap().unwrap().offset
    };
    let offsets = [offset(first).await, offset(second).await];
    let mut sorted = offsets;
    sorted.sort_unstable();
    assert_eq!(sorted, [1, 2]);
    for _ in 0..2 {
        match next(&mut sub).await {
            Event::Publication(p) => assert_eq!(p.offset, offsets[p.data.as_u64().unwrap() as usize - 1]),
            other => panic!("{other:?}"),
        }
    }
    nothing_more(&mut sub).await;
    assert_eq!(client.session_id(), session, "resumed");
}
