//! Bad input through a real socket: each gets its documented error or close code, and a bystander client on the
//! same hub goes on receiving.

use serde_json::{json, Value};
use tidings::HubConfig;
use tidings_client::{Client, Subscription};
use tidings_tests::handlers::demo_hub;
use tidings_tests::{RawSocket, TestServer};

const MAX_MESSAGE: usize = 4096;

struct Setup {
    server: TestServer,
    bystander: Subscription,
    _client: Client,
    published: u64,
}

impl Setup {
    async fn new() -> Setup {
        let server = TestServer::start(demo_hub(HubConfig { max_message_bytes: MAX_MESSAGE, ..Default::default() }));
        let client = Client::connect(&server.ws_url()).await.unwrap();
        let bystander = client.subscribe("news:bystander").await.unwrap();
        Setup { server, bystander, _client: client, published: 0 }
    }

    async fn raw(&self) -> RawSocket {
        let mut raw = RawSocket::connect(self.server.addr, "/realtime/ws").await;
        assert_eq!(raw.next_json().await["type"], "welcome");
        raw
    }

    /// The bystander still receives publications, in order.
    async fn bystander_unaffected(&mut self) {
        self.published += 1;
        self.server.hub.publish("news:bystander", &self.published).await.unwrap();
        let p = self.bystander.next_publication().await.unwrap();
        assert_eq!(p.data, json!(self.published));
    }
}

fn assert_error(frame: &Value, id: Option<u64>, code: &str) {
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["code"], code, "{frame}");
    assert_eq!(frame.get("id").and_then(Value::as_u64), id, "{frame}");
    assert!(frame["seq"].is_u64(), "errors are numbered like every frame: {frame}");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_json_gets_bad_frame_and_the_session_goes_on() {
    let mut s = Setup::new().await;
    let mut raw = s.raw().await;
    raw.send_text("{\"type\": \"subscribe\", \"topic\": ").await;
    assert_error(&raw.next_json().await, None, "bad_frame");
    raw.send_text("[1, 2, 3]").await;
    assert_error(&raw.next_json().await, None, "bad_frame");
    raw.send_text(r#"{"type":"subscribe","id":"one","topic":"news:x"}"#).await;
    assert_error(&raw.next_json().await, None, "bad_frame");
    raw.send_text(r#"{"type":"subscribe","id":5,"topic":"news:x"}"#).await;
    let reply = raw.next_json().await;
    assert_eq!((reply["type"].clone(), reply["id"].clone()), (json!("reply"), json!(5)));
    s.bystander_unaffected().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_frame_type_gets_unknown_type() {
    let mut s = Setup::new().await;
    let mut raw = s.raw().await;
    raw.send_text(r#"{"type":"teleport","id":3,"topic":"news:x"}"#).await;
    assert_error(&raw.next_json().await, Some(3), "unknown_type");
    s.bystander_unaffected().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_over_the_size_limit_closes_with_1009() {
    let mut s = Setup::new().await;
    let mut raw = s.raw().await;
    let big = format!(r#"{{"type":"publish","id":1,"topic":"open:x","data":"{}"}}"#, "x".repeat(MAX_MESSAGE));
    raw.send_text(&big).await;
    assert_eq!(raw.expect_close().await, 1009);
    // Split into fragments, it is refused the same way.
    let mut raw = s.raw().await;
    raw.send_frame(0x01, &big.as_bytes()[..MAX_MESSAGE / 2], true).await;
    raw.send_frame(0x80, &big.as_bytes()[MAX_MESSAGE / 2..], true).await;
    assert_eq!(raw.expect_close().await, 1009);
    s.bystander_unaffected().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forbidden_topic_gets_forbidden_and_an_unknown_one_unknown_topic() {
    let mut s = Setup::new().await;
    let mut raw = s.raw().await;
    raw.send_text(r#"{"type":"subscribe","id":1,"topic":"secret:plans"}"#).await;
    assert_error(&raw.next_json().await, Some(1), "forbidden");
    raw.send_text(r#"{"type":"subscribe","id":2,"topic":"nowhere"}"#).await;
    assert_error(&raw.next_json().await, Some(2), "unknown_topic");
    raw.send_text(r#"{"type":"subscribe","id":3,"topic":"news:a b"}"#).await;
    assert_error(&raw.next_json().await, Some(3), "bad_topic");
    s.server.hub.publish("secret:plans", &"classified").await.unwrap();
    s.bystander_unaffected().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unmasked_client_frame_closes_with_1002() {
    let mut s = Setup::new().await;
    let mut raw = s.raw().await;
    raw.send_frame(0x81, br#"{"type":"subscribe","id":1,"topic":"news:x"}"#, false).await;
    assert_eq!(raw.expect_close().await, 1002);
    s.bystander_unaffected().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let mut s = Setup::new().await;
    let mut raw = s.raw().await;
    raw.send_frame(0x81, b"{\"type\":\"subscribe\",\"topic\":\"\xff\xfe\"}", true).await;
    assert_eq!(raw.expect_close().await, 1007);
    s.bystander_unaffected().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn other_protocol_violations() {
    let mut s = Setup::new().await;
    // A binary message: protocol v1 is text.
    let mut raw = s.raw().await;
    raw.send_frame(0x82, b"\x00\x01", true).await;
    assert_eq!(raw.expect_close().await, 1003);
    // A reserved opcode.
    let mut raw = s.raw().await;
    raw.send_frame(0x83, b"", true).await;
    assert_eq!(raw.expect_close().await, 1002);
    // RSV1 without a negotiated extension.
    let mut raw = s.raw().await;
    raw.send_frame(0xC1, b"{}", true).await;
    assert_eq!(raw.expect_close().await, 1002);
    // A ping is answered with a pong carrying the same data, and the session goes on.
    let mut raw = s.raw().await;
    raw.send_frame(0x89, b"are you there", true).await;
    assert_eq!(raw.next().await, Some(tidings_tests::RawFrame::Other(tidings_websocket::frame::OpCode::Pong)));
    raw.send_text(r#"{"type":"subscribe","id":1,"topic":"news:x"}"#).await;
    assert_eq!(raw.next_json().await["type"], "reply");
    // A client close is answered with the same code.
    raw.send_frame(0x88, &1000u16.to_be_bytes(), true).await;
    assert_eq!(raw.next().await, Some(tidings_tests::RawFrame::Close(Some(1000), String::new())));
    s.bystander_unaffected().await;
}
