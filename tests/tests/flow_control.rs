//! A client that writes a burst before it reads, while the server writes to it: the server must keep reading (up
//! to `WebSocketConfig::read_ahead`) while its own writes wait, or both sides wait for the other to read until a
//! timeout ends the connection. Sockets with small kernel buffers make the wait certain instead of load-dependent.

use std::time::Duration;

use actix_web::web;
use serde_json::json;
use tidings::websocket::WebSocketConfig;
use tidings::{HubConfig, Limits};
use tidings_tests::echo::echo;
use tidings_tests::handlers::demo_hub;
use tidings_tests::{RawFrame, RawSocket, TestServer};

/// Kernel buffer size, each way, on both ends (the kernel doubles it).
const BUFFER: u32 = 4096;

/// Long enough for the exchanges below on a loaded machine; far shorter than a stalled connection's timeout.
const DEADLINE: Duration = Duration::from_secs(20);

/// What each connection may read ahead: more than each burst below.
const READ_AHEAD: usize = 1 << 20;

/// A burst: far more than the socket buffers, actix-http's buffers and the connection's queues hold on their own,
/// within the read-ahead.
const BURST: usize = 640 * 1024;

fn server() -> TestServer {
    let config = HubConfig { limits: Limits::none(), write_timeout: Duration::from_secs(60), ..Default::default() };
    TestServer::start_small_buffers(demo_hub(config), BUFFER, |hub| {
        let websocket = WebSocketConfig { deflate: None, read_ahead: READ_AHEAD, ..Default::default() };
        web::scope("")
            .app_data(web::Data::new(websocket.clone()))
            .route("/echo", web::get().to(echo))
            .service(tidings::Endpoint::new().websocket(websocket).scope("/realtime", hub))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn an_echo_reads_a_burst_its_client_writes_before_reading() {
    let server = server();
    let mut client = RawSocket::connect_small_buffers(server.addr, "/echo", BUFFER).await;
    let messages: Vec<String> = (0..BURST / 8192).map(|n| format!("{n:04}").repeat(2048)).collect();
    let exchange = async {
        for message in &messages {
            client.send_text(message).await;
        }
        for (n, message) in messages.iter().enumerate() {
            match client.next().await {
                Some(RawFrame::Text(text)) => assert!(text == *message, "echo {n} differs"),
                other => panic!("echo {n}: expected text, got {other:?}"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, exchange).await.expect("the echo stalled: neither side reads while it writes");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_reads_requests_while_its_publications_wait_for_the_client() {
    let server = server();
    let mut client = RawSocket::connect_small_buffers(server.addr, "/realtime/ws", BUFFER).await;
    client.next_json().await;
    client.send_text(r#"{"type":"subscribe","id":0,"topic":"news:a"}"#).await;
    assert_eq!(client.next_json().await["id"], 0);
    client.send_text(r#"{"type":"subscribe","id":0,"topic":"calc"}"#).await;
    assert_eq!(client.next_json().await["id"], 0);

    // The server writes 1 MiB of publications that the client does not read yet...
    let text = "x".repeat(16 * 1024);
    for _ in 0..64 {
        server.hub.publish("news:a", &text).await.unwrap();
    }
    let requests = (BURST / 4096) as i64;
    let pad = "p".repeat(4096);
    let exchange = async {
        // ... while the client writes a burst of requests before it reads anything.
        for id in 1..=requests {
            let request = json!({"type":"message","id":id,"topic":"calc","data":{"add":[id,1],"pad":pad}});
            client.send_text(&request.to_string()).await;
        }
        let (mut publications, mut replies) = (0, 0);
        while publications < 64 || replies < requests {
            let frame = client.next_json().await;
            match frame["type"].as_str() {
                Some("pub") => publications += 1,
                Some("reply") => {
                    replies += 1;
                    assert_eq!(frame["data"], frame["id"].as_i64().unwrap() + 1);
                }
                _ => panic!("unexpected frame {}", frame.to_string().chars().take(300).collect::<String>()),
            }
        }
    };
    tokio::time::timeout(DEADLINE, exchange).await.expect("the session stalled: it stopped reading while it wrote");
}
