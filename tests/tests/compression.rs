//! permessage-deflate through real sockets: shared compression once per publication, bombs, corrupt data, sizes.

use serde_json::json;
use tidings::websocket::{DeflateConfig, DeflateMode, WebSocketConfig, WebSocketStats};
use tidings::{Endpoint, HubConfig, Limits};
use tidings_client::Client;
use tidings_tests::handlers::demo_hub;
use tidings_tests::{RawSocket, TestServer};

const SUBSCRIBERS: usize = 1000;
const PUBLICATIONS: u64 = 20;

fn deflate_server(mode: DeflateMode, stats: WebSocketStats, config: HubConfig) -> TestServer {
    let ws =
        WebSocketConfig { deflate: Some(DeflateConfig { mode, ..Default::default() }), stats, ..Default::default() };
    let endpoint = Endpoint::new().websocket(ws);
    // A thousand subscribers from one address: beyond the default per-address limits.
    let config = HubConfig { limits: Limits::none(), ..config };
    TestServer::start_with(demo_hub(config), move |hub| endpoint.scope("/realtime", hub))
}

/// A publication large enough to be compressed (over the 256-byte threshold).
fn quote(n: u64) -> serde_json::Value {
    json!({ "n": n, "book": (0..20).map(|i| json!({ "price": 187.0 + i as f64 / 100.0, "size": 100 * i })).collect::<Vec<_>>() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_mode_compresses_each_publication_once_for_a_thousand_subscribers() {
    let stats = WebSocketStats::default();
    let server = deflate_server(DeflateMode::Shared, stats.clone(), HubConfig::default());
    let mut sockets = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        let (mut raw, answer) = RawSocket::connect_deflate(server.addr, "/realtime/ws", "permessage-deflate").await;
        assert!(answer.contains("server_no_context_takeover"), "{answer}");
        assert_eq!(raw.next_json().await["type"], "welcome");
        raw.send_text(r#"{"type":"subscribe","id":1,"topic":"news:book"}"#).await;
        assert_eq!(raw.next_json().await["type"], "reply");
        sockets.push(raw);
    }
    let before = stats.shared_compressions();
    for n in 1..=PUBLICATIONS {
        server.hub.publish("news:book", &quote(n)).await.unwrap();
    }
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut raw| {
            tokio::spawn(async move {
                for n in 1..=PUBLICATIONS {
                    let frame = raw.next_json().await;
                    assert_eq!(frame["data"], quote(n), "inflated intact, in order");
                }
                raw.compressed_sizes.len()
            })
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.await.unwrap(), PUBLICATIONS as usize, "every publication arrived compressed");
    }
    assert_eq!(stats.shared_compressions() - before, PUBLICATIONS, "each publication compressed once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decompression_bomb_closes_with_1009_and_others_continue() {
    let config = HubConfig { max_message_bytes: 64 * 1024, ..Default::default() };
    let server = deflate_server(DeflateMode::Dedicated, WebSocketStats::default(), config);
    let bystander = Client::connect(&server.ws_url()).await.unwrap();
    let mut sub = bystander.subscribe("news:calm").await.unwrap();

    let (mut raw, answer) = RawSocket::connect_deflate(server.addr, "/realtime/ws", "permessage-deflate").await;
    assert!(answer.starts_with("permessage-deflate"), "{answer}");
    assert_eq!(raw.next_json().await["type"], "welcome");
    // 8 MiB of spaces inside a JSON string: a few KiB compressed.
    let bomb = format!(r#"{{"type":"publish","topic":"open:x","data":"{}"}}"#, " ".repeat(8 << 20));
    raw.send_compressed(bomb.as_bytes()).await;
    assert_eq!(raw.expect_close().await, 1009);

    server.hub.publish("news:calm", &"still here").await.unwrap();
    assert_eq!(sub.next_publication().await.unwrap().data, "still here");
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_compressed_data_closes_with_1007() {
    let server = deflate_server(DeflateMode::Shared, WebSocketStats::default(), HubConfig::default());
    let (mut raw, _) = RawSocket::connect_deflate(server.addr, "/realtime/ws", "permessage-deflate").await;
    assert_eq!(raw.next_json().await["type"], "welcome");
    raw.send_frame(0xC1, &[0xff; 32], true).await;
    assert_eq!(raw.expect_close().await, 1007);
}

#[tokio::test(flavor = "multi_thread")]
async fn compressed_requests_work_and_offers_are_declined_when_compression_is_off() {
    let stats = WebSocketStats::default();
    let server = deflate_server(DeflateMode::Dedicated, stats.clone(), HubConfig::default());
    let (mut raw, _) = RawSocket::connect_deflate(server.addr, "/realtime/ws", "permessage-deflate").await;
    assert_eq!(raw.next_json().await["type"], "welcome");
    raw.send_compressed(r#"{"type":"subscribe","id":7,"topic":"news:z"}"#.as_bytes()).await;
    assert_eq!(raw.next_json().await["id"], 7);
    assert_eq!(stats.compressed_messages_received(), 1);

    let endpoint = Endpoint::new().websocket(WebSocketConfig { deflate: None, ..Default::default() });
    let plain = TestServer::start_with(demo_hub(HubConfig::default()), move |hub| endpoint.scope("/realtime", hub));
    let (_, answer) = RawSocket::connect_deflate(plain.addr, "/realtime/ws", "permessage-deflate").await;
    assert_eq!(answer, "");
}

/// A stream of ticker publications, as one subscriber receives it in each mode: the sizes are reported (run with
/// `--nocapture`) and the modes compared.
#[tokio::test(flavor = "multi_thread")]
async fn ticker_message_sizes_in_each_mode() {
    let mut report = vec![];
    for mode in [DeflateMode::Shared, DeflateMode::Dedicated] {
        let server = deflate_server(mode, WebSocketStats::default(), HubConfig::default());
        let (mut raw, _) = RawSocket::connect_deflate(server.addr, "/realtime/ws", "permessage-deflate").await;
        assert_eq!(raw.next_json().await["type"], "welcome");
        raw.send_text(r#"{"type":"subscribe","id":1,"topic":"news:AAPL"}"#).await;
        assert_eq!(raw.next_json().await["type"], "reply");
        let mut raw_sizes = vec![];
        for n in 0..50u64 {
            let tick = json!({
                "symbol": "AAPL", "price": 187.0 + (n % 7) as f64 * 0.01, "change": -0.31, "volume": 1_234_567 + n,
                "bid": 187.41, "ask": 187.43, "bidSize": 300, "askSize": 500, "exchange": "XNAS",
                "ts": 1_763_731_200_123u64 + n, "conditions": ["regular", "odd-lot"], "vwap": 187.3921,
            });
            server.hub.publish("news:AAPL", &tick).await.unwrap();
            let frame = raw.next_json().await;
            raw_sizes.push(frame.to_string().len());
        }
        let compressed = &raw.compressed_sizes;
        assert_eq!(compressed.len(), 50, "ticker frames are over the threshold and compressed");
        let median = |v: &[usize]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v[v.len() / 2]
        };
        report.push((mode, median(&raw_sizes), median(compressed)));
    }
    eprintln!("ticker message sizes (median of 50, bytes): {report:?}");
    let (shared, dedicated) = (report[0], report[1]);
    assert!(shared.2 < shared.1, "shared compression shrinks a ticker message");
    assert!(dedicated.2 < shared.2 / 2, "context takeover shrinks a stream of similar messages much further");
}
