//! The chat example, through real sockets: two clients in two rooms see their own room only.

use serde_json::json;
use tidings_client::{Client, Event};
use tidings_tests::TestServer;
use tokio::time::{timeout, Duration};

fn chat_scope(hub: &tidings::Hub) -> actix_web::Scope {
    actix_web::web::scope("").configure(chat::configure(hub))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_clients_in_two_rooms_see_only_their_own_room() {
    let server = TestServer::start_with(chat::hub(), chat_scope);
    let ann = Client::connect(&server.ws_url()).await.unwrap();
    let bob = Client::connect(&server.ws_url()).await.unwrap();
    let cat = Client::connect(&server.ws_url()).await.unwrap();
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
    let server = TestServer::start_with(chat::hub(), chat_scope);
    let (head, _) =
        tidings_tests::RawSocket::handshake(server.addr, "/", &[("Upgrade", ""), ("Connection", "close")]).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/html"), "{head}");
}
