//! Broadcast to many: every subscriber receives every publication exactly once, in order.

use serde_json::json;
use tidings::{HubConfig, Limits};
use tidings_client::Client;
use tidings_tests::handlers::demo_hub;
use tidings_tests::TestServer;
use tokio::time::{timeout, Duration};

const SUBSCRIBERS: usize = 1000;
const BROADCASTS: u64 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_subscribers_each_receive_every_broadcast_once_in_order() {
    // A thousand clients from one address: beyond the default per-address limits.
    let server = TestServer::start(demo_hub(HubConfig { limits: Limits::none(), ..Default::default() }));
    let url = server.ws_url();

    // Connect and subscribe in batches, so the listen backlog is never the bottleneck.
    let mut subscriptions = Vec::with_capacity(SUBSCRIBERS);
    for batch in 0..SUBSCRIBERS / 100 {
        let mut joins = Vec::new();
        for _ in 0..100 {
            let url = url.clone();
            joins.push(tokio::spawn(async move {
                let client = Client::connect(&url).await.expect("connect");
                client.subscribe("news:fanout").await.expect("subscribe")
            }));
        }
        for join in joins {
            subscriptions.push(join.await.expect("subscriber task"));
        }
        assert_eq!(subscriptions.len(), (batch + 1) * 100);
    }
    assert_eq!(server.hub.subscriber_count("news:fanout"), SUBSCRIBERS);

    let readers: Vec<_> = subscriptions
        .into_iter()
        .map(|mut sub| {
            tokio::spawn(async move {
                let mut offsets = Vec::with_capacity(BROADCASTS as usize);
                while offsets.len() < BROADCASTS as usize {
                    match timeout(Duration::from_secs(30), sub.next_publication()).await {
                        Ok(Some(p)) => {
                            assert_eq!(p.data["n"], p.offset, "payload and offset agree");
                            offsets.push(p.offset);
                        }
                        Ok(None) => panic!("connection ended after {} publications", offsets.len()),
                        Err(_) => panic!("stalled after {} publications", offsets.len()),
                    }
                }
                // Nothing extra (a duplicate) follows.
                assert!(
                    timeout(Duration::from_millis(100), sub.next_publication()).await.is_err(),
                    "a publication beyond the last"
                );
                offsets
            })
        })
        .collect();

    for n in 1..=BROADCASTS {
        server.hub.publish("news:fanout", &json!({ "n": n })).await.unwrap();
    }

    let expected: Vec<u64> = (1..=BROADCASTS).collect();
    for reader in readers {
        assert_eq!(reader.await.expect("reader task"), expected);
    }
}
