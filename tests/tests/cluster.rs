//! Several nodes on one real `redis-server`: publications from every node reach every node's subscribers once and
//! in order, presence spans the nodes, a client that moves to another node recovers from history, long polling
//! works without sticky sessions, a Redis restart loses nothing silently, and a killed node's members leave.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use tidings::{BrokerError, HubConfig, PublishError};
use tidings_client::{Backoff, Client, ClientOptions, Event, Subscription};
use tidings_tests::http::request;
use tidings_tests::proxy::Proxy;
use tidings_tests::redis::{node, quick_config, RedisServer};
use tidings_tests::TestServer;
use tokio::time::{sleep, timeout, Duration, Instant};

/// Bounds every single wait for a frame.
const STEP: Duration = Duration::from_secs(10);

/// Room for a burst of 10,000 publications in a session's queue.
fn hub_config() -> HubConfig {
    HubConfig { outbox_max_frames: 20_000, ..Default::default() }
}

fn quick_client() -> ClientOptions {
    ClientOptions {
        backoff: Backoff { min_delay: Duration::from_millis(20), max_delay: Duration::from_millis(200) },
        ..Default::default()
    }
}

async fn next_event(sub: &mut Subscription) -> Event {
    timeout(STEP, sub.next()).await.expect("an event in time").expect("the subscription lasts")
}

fn nicks(members: &[tidings::Member]) -> Vec<String> {
    let mut nicks: Vec<String> = members.iter().map(|m| m.meta["nick"].as_str().unwrap_or("?").to_owned()).collect();
    nicks.sort();
    nicks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_deliver_every_publication_once_and_in_order_and_share_presence() {
    const TOTAL: u64 = 10_000;
    let redis = RedisServer::start();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(node(quick_config(&redis), hub_config()).await.0);
    }
    let mut clients = Vec::new();
    let mut subs = Vec::new();
    let mut rooms = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let client = Client::connect(&n.ws_url()).await.unwrap();
        subs.push(client.subscribe("news:cluster").await.unwrap());
        rooms.push(client.join("room:cluster", &json!({ "nick": format!("n{i}") })).await.unwrap());
        clients.push(client);
    }
    for n in &nodes {
        assert_eq!(nicks(&n.hub.presence_of("room:cluster").await.unwrap()), ["n0", "n1", "n2"]);
    }
    // The last to join saw the other two in its join reply, from whichever node they are on.
    assert_eq!(nicks(rooms[2].presence()), ["n0", "n1", "n2"]);

    let publishers: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let hub = n.hub.clone();
            let count = TOTAL / 3 + u64::from((i as u64) < TOTAL % 3);
            tokio::spawn(async move {
                for k in 0..count {
                    hub.publish("news:cluster", &json!({ "node": i, "k": k })).await.expect("published");
                }
                count
            })
        })
        .collect();
    let readers: Vec<_> = subs
        .into_iter()
        .map(|mut sub| {
            tokio::spawn(async move {
                let mut next_k = [0u64; 3];
                let mut last_offset = 0;
                for _ in 0..TOTAL {
                    let p = timeout(STEP, sub.next_publication()).await.expect("in time").expect("subscribed");
                    let (node, k) = (p.data["node"].as_u64().unwrap() as usize, p.data["k"].as_u64().unwrap());
                    assert_eq!(k, next_k[node], "node {node}'s publications once each, in the order it made them");
                    next_k[node] += 1;
                    assert!(p.offset > last_offset, "offsets only grow");
                    last_offset = p.offset;
                }
                next_k
            })
        })
        .collect();
    let mut made = [0u64; 3];
    for (i, publisher) in publishers.into_iter().enumerate() {
        made[i] = publisher.await.unwrap();
    }
    for reader in readers {
        assert_eq!(reader.await.unwrap(), made, "every publication of every node");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_moves_to_another_node_recovers_what_it_missed_from_history() {
    let redis = RedisServer::start();
    let (a, _) = node(quick_config(&redis), hub_config()).await;
    let (b, _) = node(quick_config(&redis), hub_config()).await;
    // The load balancer in front of both.
    let balancer = Proxy::start(a.addr).await;
    let client = Client::connect_with(&format!("ws://{}/realtime/ws", balancer.addr), quick_client()).await.unwrap();
    let first_session = client.session_id();
    let mut sub = client.subscribe("news:move").await.unwrap();
    for k in 1..=50 {
        a.hub.publish("news:move", &k).await.unwrap();
    }
    for k in 1..=50 {
        assert_eq!(sub.next_publication().await.unwrap().data, json!(k));
    }
    // Node A goes out of rotation: the connection is cut and the client comes back through B.
    balancer.switch(b.addr);
    for k in 51..=100 {
        b.hub.publish("news:move", &k).await.unwrap();
    }
    for k in 101..=150 {
        a.hub.publish("news:move", &k).await.unwrap();
    }
    for k in 51..=150 {
        match next_event(&mut sub).await {
            Event::Publication(p) => assert_eq!(p.data, json!(k), "once each, in order"),
            other => panic!("expected publication {k}, got {other:?}"),
        }
    }
    assert_ne!(client.session_id(), first_session, "B started a session of its own");
    assert_eq!(b.hub.session_count(), 1);
    b.hub.publish("news:move", &151).await.unwrap();
    assert_eq!(sub.next_publication().await.unwrap().data, json!(151));
}

async fn poll(server: &TestServer, query: &str) -> Value {
    let response = request(server.addr, "GET", &format!("/realtime/poll?{query}"), &[], "").await;
    assert_eq!(response.status, 200, "{response:?}");
    response.json()
}

async fn post(server: &TestServer, session: &str, body: Value) -> u16 {
    request(server.addr, "POST", &format!("/realtime/send?session={session}"), &[], &body.to_string()).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_polling_client_alternating_between_nodes_gets_every_message_once() {
    const TOTAL: u64 = 300;
    let redis = RedisServer::start();
    let (a, _) = node(quick_config(&redis), hub_config()).await;
    let (b, _) = node(quick_config(&redis), hub_config()).await;
    let welcome = poll(&a, "v=1").await;
    let session = welcome[0]["session"].as_str().unwrap().to_owned();
    // Sent to B, which does not have the session: forwarded to A.
    assert_eq!(post(&b, &session, json!({"type":"subscribe","id":1,"topic":"news:lp"})).await, 204);
    // A send is only queued (204): the subscription is in place once its reply comes, through either node.
    let reply = poll(&b, &format!("session={session}&ack=0")).await;
    assert_eq!((reply[0]["type"].as_str(), reply[0]["id"].as_u64()), (Some("reply"), Some(1)), "{reply}");
    let hubs = [a.hub.clone(), b.hub.clone()];
    let publisher = tokio::spawn(async move {
        for k in 1..=TOTAL {
            hubs[k as usize % 2].publish("news:lp", &k).await.unwrap();
            sleep(Duration::from_millis(2)).await;
        }
    });
    let (mut ack, mut next_k) = (1, 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    for round in 0.. {
        if next_k > TOTAL {
            break;
        }
        assert!(Instant::now() < deadline, "took too long; at {next_k}");
        let server = if round % 2 == 0 { &b } else { &a };
        let batch = poll(server, &format!("session={session}&ack={ack}")).await;
        for frame in batch.as_array().unwrap() {
            assert_eq!(frame["seq"].as_u64(), Some(ack + 1), "frames in order, none twice: {frame}");
            ack += 1;
            assert_eq!(frame["type"], "pub", "{frame}");
            assert_eq!(frame["data"], json!(next_k), "publications once each, in order");
            next_k += 1;
        }
        // A send through either node, every few polls.
        if round % 5 == 0 {
            assert_eq!(post(server, &session, json!({"type":"ack","seq":ack})).await, 204);
        }
    }
    publisher.await.unwrap();
    assert_eq!(a.hub.session_count(), 1, "one session, on A");
    assert_eq!(b.hub.session_count(), 0);
    // A bad send through B gets A's answer.
    let malformed = request(b.addr, "POST", &format!("/realtime/send?session={session}"), &[], "[{").await;
    assert_eq!(malformed.status, 400, "{malformed:?}");
    // A body over the limit, through B, ends the session on A as an oversized message would.
    let frame = json!({"type":"ack","seq":0,"pad":"x".repeat(1000)});
    let body = Value::Array(vec![frame; 1100]).to_string();
    let too_big = request(b.addr, "POST", &format!("/realtime/send?session={session}"), &[], &body).await;
    assert_eq!(too_big.status, 413, "{too_big:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while a.hub.session_count() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the session on A did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_mid_stream_loses_nothing_silently() {
    const TOTAL: u64 = 600;
    let mut redis = RedisServer::start();
    let (a, _) = node(quick_config(&redis), hub_config()).await;
    let (b, _) = node(quick_config(&redis), hub_config()).await;
    let on_a = Client::connect_with(&a.ws_url(), quick_client()).await.unwrap();
    let on_b = Client::connect_with(&b.ws_url(), quick_client()).await.unwrap();
    let readers: Vec<_> = [on_a.subscribe("news:blip").await.unwrap(), on_b.subscribe("news:blip").await.unwrap()]
        .into_iter()
        .map(|mut sub| {
            tokio::spawn(async move {
                let (mut seen, mut gap, mut last) = (HashSet::new(), false, 0);
                while let Ok(Some(event)) = timeout(Duration::from_secs(3), sub.next()).await {
                    match event {
                        Event::Publication(p) => {
                            let k = p.data.as_u64().unwrap();
                            assert!(k > last, "in order, once: {k} after {last}");
                            last = k;
                            seen.insert(k);
                        }
                        Event::Gap { .. } => gap = true,
                        other => panic!("unexpected {other:?}"),
                    }
                }
                (seen, gap)
            })
        })
        .collect();
    let hub = a.hub.clone();
    let publisher = tokio::spawn(async move {
        let (mut shared, mut local_only, mut failed) = (HashSet::new(), HashSet::new(), 0);
        for k in 1..=TOTAL {
            match hub.publish("news:blip", &k).await {
                Ok(_) => {
                    shared.insert(k);
                }
                Err(PublishError::Broker(BrokerError::LocalOnly(_))) => {
                    local_only.insert(k);
                }
                Err(_) => failed += 1,
            }
            sleep(Duration::from_millis(5)).await;
        }
        (shared, local_only, failed)
    });
    sleep(Duration::from_millis(800)).await;
    redis.stop();
    sleep(Duration::from_secs(2)).await;
    redis.restart();
    let (shared, local_only, failed) = publisher.await.unwrap();
    let mut results = Vec::new();
    for reader in readers {
        results.push(reader.await.unwrap());
    }
    let [(seen_a, gap_a), (seen_b, gap_b)]: [(HashSet<u64>, bool); 2] = results.try_into().unwrap();
    assert_eq!(failed, 0, "a publication either went through Redis or reached this node only");
    assert!(!local_only.is_empty(), "publications were made during the outage");
    assert!(local_only.iter().all(|k| seen_a.contains(k)), "local delivery went on during the outage");
    for (name, seen, gap) in [("A", &seen_a, gap_a), ("B", &seen_b, gap_b)] {
        let mut missed: Vec<_> = shared.iter().filter(|k| !seen.contains(k)).collect();
        missed.sort();
        assert!(missed.is_empty() || gap, "the client on {name} missed {missed:?} without being told");
        assert!(seen.contains(&TOTAL), "the client on {name} receives again after the restart");
    }
    assert!(gap_b, "B's client missed A's local-only publications, and was told");
}

/// A node in a process of its own (the demo server), so that it can be killed.
struct NodeProcess {
    child: Child,
    addr: String,
}

impl NodeProcess {
    fn start(redis: &RedisServer, presence_ttl: Duration) -> NodeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_demo-server"))
            .args(["--redis", &redis.url(), "--presence-ttl-ms", &presence_ttl.as_millis().to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the demo server starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("it prints its address");
        let addr = line.trim().strip_prefix("listening on http://").expect("listening on ...").to_owned();
        NodeProcess { child, addr }
    }

    /// Kills it at once: no leave is announced, no presence removed.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_members_leave_presence_within_the_expiry() {
    let presence_ttl = Duration::from_millis(1500);
    let redis = RedisServer::start();
    let (a, _) = node(tidings_redis::RedisConfig { presence_ttl, ..quick_config(&redis) }, hub_config()).await;
    let mut doomed = NodeProcess::start(&redis, presence_ttl);
    let on_doomed = Client::connect(&format!("ws://{}/realtime/ws", doomed.addr)).await.unwrap();
    let _doomed_room = on_doomed.join("room:crash", &json!({ "nick": "doomed" })).await.unwrap();
    let survivor = Client::connect(&a.ws_url()).await.unwrap();
    let mut room = survivor.join("room:crash", &json!({ "nick": "survivor" })).await.unwrap();
    assert_eq!(nicks(room.presence()), ["doomed", "survivor"]);

    doomed.kill();
    let killed = Instant::now();
    // The survivor's node sweeps the expired member and announces the leave.
    match timeout(STEP, room.next()).await.expect("an event in time").expect("still joined") {
        Event::MemberLeft(member) => assert_eq!(member.meta["nick"], "doomed"),
        other => panic!("expected the doomed member to leave, got {other:?}"),
    }
    let took = killed.elapsed();
    // The expiry, plus at most one refresh period (a third of it) until a sweep notices, plus slack.
    assert!(took < presence_ttl + presence_ttl / 3 + Duration::from_millis(700), "left after {took:?}");
    assert_eq!(nicks(&a.hub.presence_of("room:crash").await.unwrap()), ["survivor"]);
    drop(on_doomed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_on_redis_follows_the_rules_of_every_broker() {
    let redis = RedisServer::start();
    let config = tidings_redis::RedisConfig { history_size: 3, ..quick_config(&redis) };
    let broker = tidings_redis::RedisBroker::connect(config).await.unwrap();
    tidings::testkit::brokers::check_history_rules(&broker, "t").await;
}
