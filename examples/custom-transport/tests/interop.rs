//! A line client (the custom transport) and a WebSocket client on the same hub exchange publications; bad lines get
//! errors and the connection goes on; and the guide quotes the transport's code whole.

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::time::{timeout, Duration};

#[test]
fn the_guide_quotes_the_example_whole() {
    let guide = include_str!("../../../docs/custom-transports.md");
    let code = include_str!("../src/transport.rs");
    assert!(guide.contains(code.trim_end()), "docs/custom-transports.md must quote src/transport.rs whole");
}

/// The next line whose frame `wanted` accepts (others, such as the client's own publication, are skipped).
async fn next_line(lines: &mut Lines<BufReader<OwnedReadHalf>>, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let line = timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("a line in time")
            .expect("readable")
            .expect("the connection is open");
        let frame: Value = serde_json::from_str(&line).expect("each line is one JSON frame");
        if wanted(&frame) {
            return frame;
        }
    }
}

#[actix_rt::test]
async fn a_line_client_and_a_websocket_client_share_a_topic() {
    let hub = custom_transport::hub();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lines_addr = listener.local_addr().unwrap();
    actix_web::rt::spawn(custom_transport::accept_loop(hub.clone(), listener));
    let server = tidings_tests::TestServer::start(hub.clone());
    let websocket = tidings_client::Client::connect(&server.ws_url()).await.unwrap();
    let mut on_websocket = websocket.subscribe("news:shared").await.unwrap();

    let (read, mut write) = TcpStream::connect(lines_addr).await.unwrap().into_split();
    let mut lines = BufReader::new(read).lines();
    let welcome = next_line(&mut lines, |_| true).await;
    assert_eq!(welcome["type"], "welcome");
    write.write_all(b"{\"type\":\"subscribe\",\"id\":1,\"topic\":\"news:shared\"}\n").await.unwrap();
    next_line(&mut lines, |f| f["type"] == "reply" && f["id"] == 1).await;

    // WebSocket to line.
    websocket.publish("news:shared", &json!({ "from": "websocket" })).await.unwrap();
    let publication = next_line(&mut lines, |f| f["type"] == "pub").await;
    assert_eq!(publication["data"], json!({ "from": "websocket" }));

    // A bad line is answered with an error; the connection goes on.
    write.write_all(b"{\"type\":\"subscribe\",\"id\":2}\nnot json\n").await.unwrap();
    let error = next_line(&mut lines, |f| f["type"] == "error").await;
    assert_eq!(error["id"], 2, "{error}");

    // Line to WebSocket.
    write
        .write_all(b"{\"type\":\"publish\",\"id\":3,\"topic\":\"news:shared\",\"data\":{\"from\":\"line\"}}\n")
        .await
        .unwrap();
    next_line(&mut lines, |f| f["type"] == "reply" && f["id"] == 3).await;
    let received = timeout(Duration::from_secs(10), on_websocket.next_publication()).await.unwrap().unwrap();
    assert_eq!(received.data, json!({ "from": "websocket" }));
    let received = timeout(Duration::from_secs(10), on_websocket.next_publication()).await.unwrap().unwrap();
    assert_eq!(received.data, json!({ "from": "line" }));

    // The line client hangs up: its session ends (a clean end of stream is the client closing).
    drop(write);
    drop(lines);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while hub.session_count() > 1 {
        assert!(tokio::time::Instant::now() < deadline, "the line client's session did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
