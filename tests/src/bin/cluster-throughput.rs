//! Delivery throughput across nodes against local delivery, in one run: the same publications and subscribers,
//! with
//! - `memory`: one node on the in-memory broker;
//! - `redis-local`: the Redis broker, subscribers on the publishing node;
//! - `redis-cross`: the Redis broker, subscribers on another node than the publisher.
//!
//! `cargo run --release -p tidings-tests --bin cluster-throughput [-- SUBSCRIBERS MESSAGES ROUNDS PUBLISHERS]`
//! (default 50 subscribers, 20,000 messages, 3 rounds, 64 concurrent publishing tasks: each awaits its
//! publication's offset, so concurrency is what lets the Redis connection pipeline). Starts its own `redis-server` on a free loopback port. Prints, per
//! setting, the median deliveries per second and its ratio to `memory`. Bounded: every wait has a deadline.

use std::time::{Duration, Instant};

use serde_json::json;
use tidings::{AllowAnonymous, Hub, HubConfig};
use tidings_client::Client;
use tidings_tests::handlers::demo_builder;
use tidings_tests::redis::{node, quick_config, RedisServer};
use tidings_tests::TestServer;

/// Any one run gives up after this long.
const DEADLINE: Duration = Duration::from_secs(120);

fn hub_config(messages: usize) -> HubConfig {
    HubConfig { outbox_max_frames: messages + 100, outbox_max_bytes: 256 << 20, ..Default::default() }
}

#[derive(Clone, Copy)]
struct Load {
    subscribers: usize,
    messages: usize,
    publishers: usize,
}

/// Publishes `messages` on `publisher` while `subscribers` clients of `target` read them; deliveries per second.
async fn run(publisher: &Hub, target: &TestServer, load: Load, topic: &str) -> f64 {
    let Load { subscribers, messages, publishers: tasks } = load;
    let mut clients = Vec::new();
    let mut subs = Vec::new();
    for _ in 0..subscribers {
        let client = Client::connect(&target.ws_url()).await.expect("connect");
        subs.push(client.subscribe(topic).await.expect("subscribe"));
        clients.push(client);
    }
    let payload = json!({ "price": 187.25, "symbol": "AAPL", "pad": "x".repeat(40) });
    let started = Instant::now();
    let readers: Vec<_> = subs
        .into_iter()
        .map(|mut sub| {
            tokio::spawn(async move {
                for _ in 0..messages {
                    match tokio::time::timeout(DEADLINE, sub.next_publication()).await {
                        Ok(Some(_)) => {}
                        _ => return false,
                    }
                }
                true
            })
        })
        .collect();
    let per_task = messages / tasks;
    let publishers: Vec<_> = (0..tasks)
        .map(|i| {
            let hub = publisher.clone();
            let topic = topic.to_owned();
            let payload = payload.clone();
            let count = per_task + usize::from(i < messages % tasks);
            tokio::spawn(async move {
                for _ in 0..count {
                    hub.publish(&topic, &payload).await.expect("publish");
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.expect("publisher");
    }
    for r in readers {
        assert!(r.await.expect("reader"), "a subscriber missed publications or timed out");
    }
    let elapsed = started.elapsed();
    for client in clients {
        client.close().await;
    }
    (subscribers * messages) as f64 / elapsed.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::print_stdout, reason = "the report is the program's output")]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let subscribers = args.first().copied().unwrap_or(50);
    let messages = args.get(1).copied().unwrap_or(20_000);
    let rounds = args.get(2).copied().unwrap_or(3);
    let load = Load { subscribers, messages, publishers: args.get(3).copied().unwrap_or(64) };

    let redis = RedisServer::start();
    let memory = TestServer::start(
        demo_builder(hub_config(messages)).authenticator(AllowAnonymous).build().expect("valid patterns"),
    );
    let (a, _) = node(quick_config(&redis), hub_config(messages)).await;
    let (b, _) = node(quick_config(&redis), hub_config(messages)).await;

    let mut results: [(&str, Vec<f64>); 3] = [("memory", vec![]), ("redis-local", vec![]), ("redis-cross", vec![])];
    for round in 0..rounds {
        // Interleaved, so that a slow moment of the machine hits every setting alike.
        let topic = format!("news:bench-{round}");
        results[0].1.push(run(&memory.hub, &memory, load, &topic).await);
        results[1].1.push(run(&a.hub, &a, load, &topic).await);
        results[2].1.push(run(&a.hub, &b, load, &topic).await);
    }
    println!(
        "{subscribers} subscribers, {messages} publications of ~90 bytes from {} tasks, {rounds} rounds, median \
         deliveries/s:",
        load.publishers
    );
    let baseline = median(results[0].1.clone());
    for (name, runs) in results {
        let m = median(runs.clone());
        let all: Vec<String> = runs.iter().map(|r| format!("{r:.0}")).collect();
        println!("  {name:<12} {m:>10.0}  ({:.2}x memory)  runs: {}", m / baseline, all.join(", "));
    }
}
