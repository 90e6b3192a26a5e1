//! The Rust client's credentials against a real server with the JWT authenticator, on every transport: a token
//! connects and its identity reaches the session; a connect without valid credentials fails at once with
//! `Unauthorized`; an in-band refresh keeps the session past the first token's expiry; a session whose token
//! expires unrefreshed is closed with 4003 and the client reconnects with a fresh token from its callback, losing
//! nothing; and a client whose only token expired gives up after repeated refusals.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use tidings::{Hub, HubConfig};
use tidings_client::{
    Backoff, Client, ClientOptions, CloseCode, ConnectionState, Error, Event, Subscription, TokenSource, TransportKind,
    MAX_AUTH_REFUSALS,
};
use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
use tidings_tests::handlers::demo_hub_with;
use tidings_tests::TestServer;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, timeout, Duration, Instant};

tidings_tests::on_every_transport!(
    timeout = 60;
    a_client_with_a_token_connects_and_receives,
    a_connect_without_valid_credentials_fails_at_once_with_unauthorized,
    a_refreshed_token_keeps_the_session_past_the_first_expiry,
    an_unrefreshed_token_is_closed_with_4003_and_the_client_reconnects_with_a_fresh_one,
    a_client_whose_only_token_expired_gives_up_after_repeated_refusals,
);

const SECRET: &[u8] = b"client-auth-test-secret-of-32-bytes-at-least";
/// Bounds every single wait for an event.
const STEP: Duration = Duration::from_secs(10);

fn server() -> TestServer {
    let jwt = JwtAuthenticator::builder()
        .algorithms([Algorithm::HS256])
        .key(Key::hmac(SECRET).expect("a long enough secret"))
        .build()
        .expect("a valid JWT configuration");
    TestServer::start(demo_hub_with(HubConfig::default(), jwt))
}

/// A token for `user` signed with `secret`, expiring at `exp` (seconds since the epoch).
fn signed(user: &str, exp: u64, secret: &[u8]) -> String {
    let claims = json!({ "sub": user, "exp": exp });
    encode(&Header::new(jsonwebtoken::Algorithm::HS256), &claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn epoch_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A token for `user` that expires `ttl` from now (rounded down to the second, as `exp` is), and that expiry.
fn token(user: &str, ttl: Duration) -> (String, SystemTime) {
    let exp = epoch_secs(SystemTime::now() + ttl);
    (signed(user, exp, SECRET), UNIX_EPOCH + Duration::from_secs(exp))
}

/// The instant (on the test's clock) at which `at` passes.
fn instant_of(at: SystemTime) -> Instant {
    Instant::now() + at.duration_since(SystemTime::now()).unwrap_or_default()
}

/// One transport, quick reconnects, and `token`.
fn options(kind: TransportKind, token: Option<TokenSource>) -> ClientOptions {
    ClientOptions {
        transports: vec![kind],
        backoff: Backoff { min_delay: Duration::from_millis(20), max_delay: Duration::from_millis(100) },
        token,
        ..Default::default()
    }
}

/// The user the server's session of `client` belongs to.
fn user_of(hub: &Hub, client: &Client) -> Option<String> {
    let session = hub.session(&client.session_id()).expect("the server has the client's session");
    session.identity().user.clone()
}

/// The next publication's data, within [`STEP`]; fails on anything else.
async fn next_data(sub: &mut Subscription) -> serde_json::Value {
    match timeout(STEP, sub.next()).await.expect("no event in time") {
        Some(Event::Publication(p)) => p.data,
        other => panic!("expected a publication, got {other:?}"),
    }
}

/// Publishes `range` to `topic`, and expects exactly those, in order, on `sub`.
async fn publish_and_receive(hub: &Hub, sub: &mut Subscription, topic: &str, range: std::ops::RangeInclusive<u64>) {
    for n in range.clone() {
        hub.publish(topic, &n).await.unwrap();
    }
    for n in range {
        assert_eq!(next_data(sub).await, json!(n), "publication {n} in order, once");
    }
}

/// Records every state the client goes through, from now on.
fn record_states(client: &Client) -> (Arc<Mutex<Vec<ConnectionState>>>, JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut changes = client.state_changes();
    let log = seen.clone();
    let task = tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            let state = changes.borrow_and_update().clone();
            log.lock().unwrap().push(state);
        }
    });
    (seen, task)
}

/// Waits (within [`STEP`]) for a state that satisfies `predicate`.
async fn wait_for_state(
    changes: &mut watch::Receiver<ConnectionState>,
    what: &str,
    predicate: impl Fn(&ConnectionState) -> bool,
) {
    timeout(STEP, changes.wait_for(|s| predicate(s)))
        .await
        .unwrap_or_else(|_| panic!("no {what} state in time"))
        .expect("the client's state is watched while it lives");
}

async fn a_client_with_a_token_connects_and_receives(kind: TransportKind) {
    let server = server();
    let (ann, _) = token("ann", Duration::from_secs(600));
    let client = Client::connect_with(&server.base_url(), options(kind, Some(TokenSource::fixed(ann)))).await.unwrap();
    assert_eq!(client.transport(), Some(kind));
    assert_eq!(user_of(&server.hub, &client).as_deref(), Some("ann"), "the token's identity reaches the session");

    // Requests go up on the connection (WebSocket) or with `POST /send`, which checks the token again.
    let topic = "news:auth-connect";
    let mut sub = client.subscribe(topic).await.unwrap();
    publish_and_receive(&server.hub, &mut sub, topic, 1..=3).await;
    let _calc = client.subscribe("calc").await.unwrap();
    let sum: i64 = client.request("calc", &json!({ "add": [2, 3] })).await.unwrap();
    assert_eq!(sum, 5);
    client.close().await;
}

async fn a_connect_without_valid_credentials_fails_at_once_with_unauthorized(kind: TransportKind) {
    let server = server();
    let now = epoch_secs(SystemTime::now());
    let cases = [
        ("no token", None),
        ("a token signed with another secret", Some(signed("ann", now + 600, b"another-secret-of-thirty-two-bytes!!"))),
        // Past the authenticator's 30 s of leeway.
        ("an expired token", Some(signed("ann", now - 120, SECRET))),
        ("a token that is no JWT", Some("not-a-jwt".to_owned())),
    ];
    for (case, token) in cases {
        let started = Instant::now();
        let connected = Client::connect_with(&server.base_url(), options(kind, token.map(TokenSource::Fixed))).await;
        match connected {
            Err(Error::Unauthorized { status: 401, reason }) => assert!(!reason.is_empty(), "{case}: a reason"),
            Err(e) => panic!("{case}: expected Unauthorized(401), got {e}"),
            Ok(_) => panic!("{case}: connected"),
        }
        // Refused at the first attempt, not after the connect timeout (20 s) of retries.
        assert!(started.elapsed() < Duration::from_secs(3), "{case}: took {:?}", started.elapsed());
    }
    assert_eq!(server.hub.session_count(), 0, "no session for a refused client");

    // A callback that fails with `Unauthorized` (the login service said no) fails the connect the same way.
    let refused =
        TokenSource::callback(|| async { Err(Error::Unauthorized { status: 401, reason: "logged out".into() }) });
    let connected = Client::connect_with(&server.base_url(), options(kind, Some(refused))).await;
    assert!(matches!(connected, Err(Error::Unauthorized { status: 401, ref reason }) if reason == "logged out"));
}

async fn a_refreshed_token_keeps_the_session_past_the_first_expiry(kind: TransportKind) {
    let server = server();
    let (short, first_expiry) = token("ann", Duration::from_secs(2));
    let client =
        Client::connect_with(&server.base_url(), options(kind, Some(TokenSource::fixed(short)))).await.unwrap();
    let session = client.session_id();
    let (states, recorder) = record_states(&client);
    let topic = "news:auth-refresh";
    let mut sub = client.subscribe(topic).await.unwrap();
    publish_and_receive(&server.hub, &mut sub, topic, 1..=2).await;

    // Refusals change nothing: a token that does not check out, and another user's.
    let refused = client.refresh("not-a-jwt").await.unwrap_err();
    assert_eq!(refused.code(), Some("unauthorized"), "{refused}");
    let (bob, _) = token("bob", Duration::from_secs(600));
    let refused = client.refresh(&bob).await.unwrap_err();
    assert_eq!(refused.code(), Some("unauthorized"), "{refused}");

    let (long, second_expiry) = token("ann", Duration::from_secs(600));
    let expires_at = client.refresh(&long).await.unwrap();
    assert_eq!(expires_at, Some(second_expiry), "the reply carries the new token's expiry");

    // Well past the first token's expiry, the session goes on, on the same connection.
    sleep_until(instant_of(first_expiry) + Duration::from_millis(1500)).await;
    publish_and_receive(&server.hub, &mut sub, topic, 3..=5).await;
    // Requests still go up (over HTTP, with the refreshed token).
    let (pubs, _) = client.history(topic, None, None).await.unwrap();
    assert_eq!(pubs.len(), 5);
    assert_eq!(client.session_id(), session);
    assert!(matches!(client.state(), ConnectionState::Connected { .. }));
    recorder.abort();
    let states = states.lock().unwrap().clone();
    assert!(states.is_empty(), "no reconnect, no state change: {states:?}");
    client.close().await;
}

async fn an_unrefreshed_token_is_closed_with_4003_and_the_client_reconnects_with_a_fresh_one(kind: TransportKind) {
    let server = server();
    let calls = Arc::new(AtomicU32::new(0));
    let first_expiry = Arc::new(Mutex::new(None));
    let source = {
        let (calls, first_expiry) = (calls.clone(), first_expiry.clone());
        TokenSource::callback(move || {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            let first_expiry = first_expiry.clone();
            async move {
                if call == 0 {
                    let (short, expiry) = token("ann", Duration::from_secs(2));
                    *first_expiry.lock().unwrap() = Some(expiry);
                    return Ok(short);
                }
                // A login service that takes a moment: the client is seen reconnecting meanwhile.
                sleep(Duration::from_millis(300)).await;
                Ok(token("ann", Duration::from_secs(600)).0)
            }
        })
    };
    let client = Client::connect_with(&server.base_url(), options(kind, Some(source))).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one token for the one connect attempt");
    let (states, recorder) = record_states(&client);
    let mut changes = client.state_changes();
    let topic = "news:auth-expiry";
    let mut sub = client.subscribe(topic).await.unwrap();
    publish_and_receive(&server.hub, &mut sub, topic, 1..=3).await;

    // The token expires; the server closes the session with 4003; the client reconnects, asking for a new token.
    let expiry = first_expiry.lock().unwrap().expect("the first token was made");
    assert!(SystemTime::now() < expiry, "the test got to its expiry in time");
    let lost_with_4003 =
        |s: &ConnectionState| matches!(s, ConnectionState::Reconnecting { lost_with: Some(CloseCode(4003)), .. });
    wait_for_state(&mut changes, "reconnecting after 4003", lost_with_4003).await;
    assert!(SystemTime::now() >= expiry, "closed when the token expired, not before");
    // Published while the client is away: it gets them once back (from the session or from history).
    for n in 4..=6 {
        server.hub.publish(topic, &n).await.unwrap();
    }
    wait_for_state(&mut changes, "connected", |s| matches!(s, ConnectionState::Connected { .. })).await;
    assert!(calls.load(Ordering::SeqCst) >= 2, "a fresh token for the reconnect");
    for n in 4..=6 {
        assert_eq!(next_data(&mut sub).await, json!(n), "publication {n}, missed while away, in order, once");
    }
    publish_and_receive(&server.hub, &mut sub, topic, 7..=9).await;
    assert_eq!(user_of(&server.hub, &client).as_deref(), Some("ann"));

    // The fresh token lasts: a while after, the session is still up, and nothing else happened.
    sleep(Duration::from_millis(1500)).await;
    publish_and_receive(&server.hub, &mut sub, topic, 10..=10).await;
    recorder.abort();
    let states = states.lock().unwrap().clone();
    assert!(matches!(states.last(), Some(ConnectionState::Connected { .. })), "connected at the end: {states:?}");
    assert!(states.iter().all(|s| !s.is_closed()), "{states:?}");
    let refusals =
        states.iter().filter(|s| matches!(s, ConnectionState::Reconnecting { refused: Some(_), .. })).count();
    assert_eq!(refusals, 0, "the fresh token was never refused: {states:?}");
    client.close().await;
}

async fn a_client_whose_only_token_expired_gives_up_after_repeated_refusals(kind: TransportKind) {
    let server = server();
    // A source that has nothing better than the token the client connected with.
    let (short, _) = token("ann", Duration::from_secs(2));
    let calls = Arc::new(AtomicU32::new(0));
    let source = {
        let calls = calls.clone();
        TokenSource::callback(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            let short = short.clone();
            async move { Ok(short) }
        })
    };
    let client = Client::connect_with(&server.base_url(), options(kind, Some(source))).await.unwrap();
    let (states, recorder) = record_states(&client);
    let mut changes = client.state_changes();
    let mut sub = client.subscribe("news:auth-give-up").await.unwrap();

    // 4003, then every reconnect is refused.
    let unauthorized = |s: &ConnectionState| matches!(s, ConnectionState::Unauthorized { .. });
    wait_for_state(&mut changes, "unauthorized", unauthorized).await;
    match client.state() {
        ConnectionState::Unauthorized { status: 401, reason } => assert!(reason.contains("expired"), "{reason}"),
        other => panic!("expected Unauthorized(401), got {other:?}"),
    }
    assert_eq!(client.closed(), Some(None), "closed for good");
    assert_eq!(timeout(STEP, sub.next()).await.expect("the subscription ends"), None);
    let failed = client.publish("open:x", &1).await.unwrap_err();
    assert!(matches!(failed, Error::Unauthorized { status: 401, .. }), "{failed}");
    // One token for the connect, then one per reconnect attempt, each refused.
    assert_eq!(calls.load(Ordering::SeqCst), 1 + MAX_AUTH_REFUSALS);

    recorder.abort();
    let states = states.lock().unwrap().clone();
    assert!(
        states.iter().any(|s| matches!(s, ConnectionState::Reconnecting { lost_with: Some(CloseCode(4003)), .. })),
        "lost with 4003 first: {states:?}"
    );
    // And it stays given up: no more attempts.
    sleep(Duration::from_millis(500)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1 + MAX_AUTH_REFUSALS);
    assert!(client.state().is_closed());
}
