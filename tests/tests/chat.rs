//! The chat example, through real sockets: two clients in two rooms see their own room only.

use serde_json::json;
use tidings_client::{Client, ClientOptions, Event};
use tidings_tests::TestServer;
use tokio::time::{timeout, Duration};

/// The chat, with its sign-in, behind `secret`.
fn chat_server() -> (TestServer, chat::auth::Secret) {
    let secret = chat::auth::Secret::random();
    let served = secret.clone();
    let server = TestServer::start_with(chat::hub(&secret), move |hub| {
        actix_web::web::scope("").configure(chat::configure(hub, &served))
    });
    (server, secret)
}

/// A client signed in as `nick`.
async fn signed_in(server: &TestServer, secret: &chat::auth::Secret, nick: &str) -> Client {
    let options = ClientOptions { token: Some(secret.token_for(nick).into()), ..Default::default() };
    Client::connect_with(&server.ws_url(), options).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_clients_in_two_rooms_see_only_their_own_room() {
    let (server, secret) = chat_server();
    // Without signing in, nobody gets in.
    assert!(Client::connect(&server.ws_url()).await.is_err());
    let ann = signed_in(&server, &secret, "ann").await;
    let bob = signed_in(&server, &secret, "bob").await;
    let cat = signed_in(&server, &secret, "cat").await;
    let mut ann_lobby = ann.join("chat:lobby", &json!({ "nick": "ann" })).await.unwrap();
    let mut bob_rust = bob.join("chat:rust", &json!({ "nick": "bob" })).await.unwrap();

    // Cat joins the lobby: Ann is told, Bob (in another room) is not.
    let mut cat_lobby = cat.join("chat:lobby", &json!({ "nick": "cat" })).await.unwrap();
    match ann_lobby.next().await.unwrap() {
        Event::MemberJoined(m) => assert_eq!(m.meta["nick"], "cat"),
        other => panic!("{other:?}"),
    }
    let nicks: Vec<_> = cat_lobby.presence().iter().map(|m| m.meta["nick"].as_str().unwrap().to_owned()).collect();
    assert_eq!(nicks, ["ann", "cat"]);

    ann_lobby.send(&json!({ "text": "hello lobby" })).await.unwrap();
    bob_rust.send(&json!({ "text": "hello rust" })).await.unwrap();
    for room in [&mut ann_lobby, &mut cat_lobby] {
        match room.next().await.unwrap() {
            Event::Publication(p) => {
                assert_eq!((p.data["nick"].clone(), p.data["text"].clone()), (json!("ann"), json!("hello lobby")))
            }
            other => panic!("{other:?}"),
        }
    }
    match bob_rust.next().await.unwrap() {
        Event::Publication(p) => assert_eq!(p.data["text"], "hello rust"),
        other => panic!("{other:?}"),
    }

    // Cat leaves: Ann sees it; Bob still has heard nothing from the lobby.
    cat_lobby.leave().await.unwrap();
    match ann_lobby.next().await.unwrap() {
        Event::MemberLeft(m) => assert_eq!(m.meta["nick"], "cat"),
        other => panic!("{other:?}"),
    }
    assert!(
        timeout(Duration::from_millis(200), bob_rust.next()).await.is_err(),
        "nothing from the lobby reaches #rust"
    );
    assert!(
        timeout(Duration::from_millis(50), ann_lobby.next()).await.is_err(),
        "nothing from #rust reaches the lobby"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_is_served() {
    let (server, _) = chat_server();
    let (head, _) =
        tidings_tests::RawSocket::handshake(server.addr, "/", &[("Upgrade", ""), ("Connection", "close")]).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/html"), "{head}");
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_sets_a_same_site_http_only_cookie_and_a_nickname_must_match_it() {
    let (server, secret) = chat_server();
    let response = tidings_tests::http::request(
        server.addr,
        "POST",
        "/dev/token",
        &[("Content-Type", "application/json")],
        r#"{"nick":"ann"}"#,
    )
    .await;
    assert_eq!(response.status, 200);
    let cookie = response.header("set-cookie").unwrap().to_ascii_lowercase();
    assert!(cookie.starts_with("tidings_token=") && cookie.contains("httponly") && cookie.contains("samesite=strict"));
    let bad = tidings_tests::http::request(
        server.addr,
        "POST",
        "/dev/token",
        &[("Content-Type", "application/json")],
        r#"{"nick":""}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    // Signed in as ann, joining as bob is refused.
    let ann = signed_in(&server, &secret, "ann").await;
    let refused = ann.join("chat:lobby", &json!({ "nick": "bob" })).await.map(|_| ()).unwrap_err();
    assert!(matches!(refused, tidings_client::Error::Refused { ref code, .. } if code == "forbidden"), "{refused:?}");
}

/// Two chat nodes on one Redis, sharing a token secret: people on either node are in the same rooms.
#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_on_redis_share_the_rooms() {
    use tidings_redis::RedisBroker;
    use tidings_tests::redis::{quick_config, RedisServer};

    let redis = RedisServer::start();
    let secret = chat::auth::Secret::shared(&[7; 32]).unwrap();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let broker = RedisBroker::connect(quick_config(&redis)).await.unwrap();
        let hub = chat::hub_builder(&secret).presence(broker.presence()).broker(broker).build().unwrap();
        let served = secret.clone();
        nodes.push(TestServer::start_with(hub, move |hub| {
            actix_web::web::scope("").configure(chat::configure(hub, &served))
        }));
    }
    let ann = signed_in(&nodes[0], &secret, "ann").await;
    let bob = signed_in(&nodes[1], &secret, "bob").await;
    let mut ann_lobby = ann.join("chat:lobby", &json!({ "nick": "ann" })).await.unwrap();
    let bob_lobby = bob.join("chat:lobby", &json!({ "nick": "bob" })).await.unwrap();
    let nicks: Vec<_> = bob_lobby.presence().iter().map(|m| m.meta["nick"].clone()).collect();
    assert_eq!(nicks, [json!("ann"), json!("bob")], "presence lists the members of both nodes");
    // A nickname taken on one node is taken on the other.
    let ann_again = signed_in(&nodes[1], &secret, "ann").await;
    match ann_again.join("chat:lobby", &json!({ "nick": "ann" })).await {
        Err(taken) => assert_eq!(taken.code(), Some("nick_taken")),
        Ok(_) => panic!("a nickname taken on the other node was accepted"),
    }

    bob_lobby.send(&json!({ "text": "hello from node B" })).await.unwrap();
    let said = timeout(Duration::from_secs(10), async {
        loop {
            match ann_lobby.next().await.unwrap() {
                Event::Publication(p) => return p.data,
                Event::MemberJoined(_) => continue,
                other => panic!("{other:?}"),
            }
        }
    })
    .await
    .expect("the message crosses nodes");
    assert_eq!((said["nick"].as_str(), said["text"].as_str()), (Some("bob"), Some("hello from node B")));
}
