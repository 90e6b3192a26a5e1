//! The load generator: opens subscribers (spread over several 127.0.0.x source addresses), publishes through one
//! more connection, and reports deliveries per second, latency percentiles (HDR histogram) and lost/duplicate
//! counts as one JSON line on stdout; or, in idle mode, the server's memory per connection.
//!
//! ```text
//! loadgen --target tidings|ws|socketio|baseline --addr 127.0.0.1:PORT [--transport websocket|sse|longpoll]
//!         [--subscribers 1000] [--messages 100000] [--size 100] [--rate 0 (flat out) | N per second]
//!         [--window 256] [--max-seconds 60] [--deflate] [--stalled 0] [--label TEXT]
//! loadgen --mode idle --server-pid PID --target ... --addr ... --subscribers 15000 [--deflate]
//! ```
//!
//! Flat out, the publisher keeps at most `--window` publications ahead of the slowest healthy subscriber, so that
//! no server queue overflows and the rate measured is what the server sustains. `--stalled K` opens K more
//! subscribers that never read (to see what a stuck client costs the others). Every wait is bounded by
//! `--max-seconds`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tidings_bench::dialect::{is_tidings_publication, subscribe_frame, Received, Target};
use tidings_bench::payload;
use tidings_bench::stats::Tally;
use tidings_bench::wsclient::Frame;
use tokio::task::JoinHandle;

/// Source addresses the subscribers are spread over (ephemeral ports are per address).
const SOURCES: u8 = 32;
/// Tidings subscribers acknowledge every this many frames, as clients do.
const ACK_EVERY: u64 = 128;

#[derive(Debug, Clone)]
struct Args {
    target: Target,
    addr: SocketAddr,
    transport: String,
    mode: String,
    subscribers: usize,
    stalled: usize,
    messages: u64,
    size: usize,
    rate: u64,
    window: u64,
    max_seconds: u64,
    deflate: bool,
    server_pid: Option<u32>,
    label: String,
}

fn parse_args() -> Args {
    let mut args = Args {
        target: Target::Tidings,
        addr: "127.0.0.1:8080".parse().expect("valid"),
        transport: "websocket".into(),
        mode: "fanout".into(),
        subscribers: 1000,
        stalled: 0,
        messages: 100_000,
        size: 100,
        rate: 0,
        window: 256,
        max_seconds: 60,
        deflate: false,
        server_pid: None,
        label: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--deflate" {
            args.deflate = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} takes a value"));
        let number = || value.parse::<u64>().unwrap_or_else(|_| panic!("{flag} takes a number"));
        match flag.as_str() {
            "--target" => args.target = Target::parse(&value).expect("tidings, ws, socketio or baseline"),
            "--addr" => args.addr = value.parse().expect("--addr IP:PORT"),
            "--transport" => args.transport = value,
            "--mode" => args.mode = value,
            "--subscribers" => args.subscribers = number() as usize,
            "--stalled" => args.stalled = number() as usize,
            "--messages" => args.messages = number(),
            "--size" => args.size = number() as usize,
            "--rate" => args.rate = number(),
            "--window" => args.window = number(),
            "--max-seconds" => args.max_seconds = number(),
            "--server-pid" => args.server_pid = Some(number() as u32),
            "--label" => args.label = value,
            _ => panic!("unknown flag {flag}"),
        }
    }
    args
}

fn source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % SOURCES as usize) as u8))
}

/// Nanoseconds since the generator started: the clock of every timestamp.
fn now_ns(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// What the subscribers share with the publisher.
struct Shared {
    epoch: Instant,
    /// Publications received, per healthy subscriber.
    received: Vec<AtomicU64>,
    /// Subscribers whose subscription is confirmed.
    ready: AtomicU64,
    stop: AtomicBool,
}

/// Whether a Tidings frame is the reply to the subscription.
fn is_reply(text: &[u8]) -> bool {
    const REPLY: &[u8] = b"\"type\":\"reply\"";
    text[..text.len().min(40)].windows(REPLY.len()).any(|w| w == REPLY)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = parse_args();
    match args.mode.as_str() {
        "idle" => idle(&args).await,
        _ => fanout(&args).await,
    }
}

/// Server RSS in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server's /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[expect(clippy::print_stdout, reason = "the result line is the program's output")]
async fn idle(args: &Args) {
    let pid = args.server_pid.expect("--server-pid for idle mode");
    // One connection first, so that lazily built per-process state is not counted per connection.
    let _warm = args.target.open(source(0), args.addr, true, args.deflate).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    let mut clients = Vec::with_capacity(args.subscribers);
    let started = Instant::now();
    for i in 0..args.subscribers {
        match args.target.open(source(i + 1), args.addr, true, args.deflate).await {
            Ok(c) => clients.push(c),
            Err(e) => {
                eprintln!("connection {i} failed: {e}");
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(args.max_seconds) {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    let per = (after.saturating_sub(before)) as f64 / clients.len().max(1) as f64;
    println!(
        "{{\"label\":{:?},\"mode\":\"idle\",\"target\":{:?},\"deflate\":{},\"connections\":{},\"rss_before_kib\":{before},\"rss_after_kib\":{after},\"kib_per_connection\":{per:.2}}}",
        args.label,
        format!("{:?}", args.target).to_lowercase(),
        args.deflate,
        clients.len()
    );
}

#[expect(clippy::print_stdout, reason = "the result line is the program's output")]
async fn fanout(args: &Args) {
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        received: (0..args.subscribers).map(|_| AtomicU64::new(0)).collect(),
        ready: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    for i in 0..args.subscribers {
        tasks.push(open_subscriber(args, i, shared.clone()).await);
    }
    // Stalled subscribers: connected and subscribed, never reading.
    let mut stalled = Vec::new();
    for i in 0..args.stalled {
        stalled.push(
            args.target.open(source(args.subscribers + i), args.addr, true, args.deflate).await.expect("connect"),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    // Every subscription confirmed before the first publication (HTTP subscribers confirm asynchronously).
    while shared.ready.load(Ordering::Relaxed) < args.subscribers as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let published = publish(args, &shared, deadline).await;
    // Wait for the subscribers to get everything, or for the deadline.
    while Instant::now() < deadline && shared.received.iter().any(|r| r.load(Ordering::Relaxed) < published) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    shared.stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    let mut missing = 0;
    for task in tasks {
        // Awaited, so that its tally has been handed over (see `Report`) before it is read.
        task.abort();
        let _ = task.await;
    }
    let tallies = TALLIES.with(|t| std::mem::take(&mut *t.borrow_mut()));
    for tally in &tallies {
        total.merge(tally);
        missing += tally.missing_at_end(published);
    }
    drop(stalled);
    let q = |p: f64| total.latency.value_at_quantile(p);
    println!(
        "{{\"label\":{:?},\"mode\":\"fanout\",\"target\":{:?},\"transport\":{:?},\"deflate\":{},\"subscribers\":{},\"stalled\":{},\"size\":{},\"rate\":{},\"published\":{published},\"deliveries\":{},\"seconds\":{elapsed:.3},\"deliveries_per_s\":{:.0},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"lost\":{},\"undelivered\":{missing},\"duplicates\":{}}}",
        args.label,
        format!("{:?}", args.target).to_lowercase(),
        args.transport,
        args.deflate,
        args.subscribers,
        args.stalled,
        args.size,
        args.rate,
        total.received,
        total.received as f64 / elapsed,
        q(0.5),
        q(0.99),
        q(0.999),
        total.latency.max(),
        total.lost,
        total.duplicates,
    );
}

thread_local! {
    /// Subscribers leave their tallies here when they stop (the generator runs on one thread).
    static TALLIES: std::cell::RefCell<Vec<Tally>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Leaves `tally` for the report when dropped, however the subscriber's task ends (finished, or aborted).
struct Report(Option<Tally>);

impl Drop for Report {
    fn drop(&mut self) {
        if let Some(tally) = self.0.take() {
            TALLIES.with(|t| t.borrow_mut().push(tally));
        }
    }
}

/// Counts one received publication.
fn count(text: &[u8], i: usize, shared: &Shared, tally: &mut Tally) {
    if let (Some(n), Some(t)) = (payload::number_after(text, b"\"n\":"), payload::number_after(text, b"\"t\":")) {
        tally.record(n, t, now_ns(shared.epoch));
        shared.received[i].fetch_add(1, Ordering::Relaxed);
    }
}

async fn open_subscriber(args: &Args, i: usize, shared: Arc<Shared>) -> JoinHandle<()> {
    let target = args.target;
    match args.transport.as_str() {
        "websocket" => {
            let mut client = target.open(source(i), args.addr, true, args.deflate).await.expect("subscriber connects");
            shared.ready.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut report = Report(Some(Tally::default()));
                let tally = report.0.as_mut().expect("set above");
                let mut since_ack = 0;
                while !shared.stop.load(Ordering::Relaxed) {
                    let (kind, seq) = match client.next().await {
                        Ok(Frame::Text(text)) => {
                            let kind = target.classify(text);
                            if kind == Received::Publication {
                                count(text, i, &shared, tally);
                            }
                            let seq = (target == Target::Tidings).then(|| payload::number_after(text, b"\"seq\":"));
                            (kind, seq.flatten())
                        }
                        _ => break,
                    };
                    if kind == Received::Ping && client.send_text(b"3").await.is_err() {
                        break;
                    }
                    if let Some(seq) = seq {
                        since_ack += 1;
                        if since_ack >= ACK_EVERY {
                            since_ack = 0;
                            let ack = format!("{{\"type\":\"ack\",\"seq\":{seq}}}");
                            if client.send_text(ack.as_bytes()).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            })
        }
        "sse" | "longpoll" => {
            assert_eq!(target, Target::Tidings, "only Tidings serves SSE and long polling");
            let base = format!("http://{}/realtime", args.addr);
            let http = reqwest::Client::builder().local_address(source(i)).build().expect("http client");
            let sse = args.transport == "sse";
            tokio::spawn(async move {
                let mut report = Report(Some(Tally::default()));
                let tally = report.0.as_mut().expect("set above");
                let ended = if sse {
                    read_sse(&http, &base, i, &shared, tally).await
                } else {
                    read_polls(&http, &base, i, &shared, tally).await
                };
                if let Err(e) = ended {
                    eprintln!("subscriber {i}: {e}");
                }
            })
        }
        other => panic!("unknown transport {other}"),
    }
}

async fn send(http: &reqwest::Client, base: &str, session: &str, body: String) -> Result<(), reqwest::Error> {
    http.post(format!("{base}/send?session={session}")).body(body).send().await?.error_for_status()?;
    Ok(())
}

/// One SSE subscriber: events are `data:` lines; acknowledgements go up by POST now and then.
async fn read_sse(
    http: &reqwest::Client,
    base: &str,
    i: usize,
    shared: &Shared,
    tally: &mut Tally,
) -> Result<(), reqwest::Error> {
    let response = http.get(format!("{base}/sse?v=1")).send().await?.error_for_status()?;
    let mut stream = response.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut session = None;
    let mut since_ack = 0;
    while let Some(chunk) = stream.next().await {
        buf.extend_from_slice(&chunk?);
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buf.drain(..end + 2).collect();
            let data: Vec<u8> = event
                .split(|b| *b == b'\n')
                .filter_map(|line| line.strip_prefix(b"data: ").or_else(|| line.strip_prefix(b"data:")))
                .flat_map(|l| l.iter().copied())
                .collect();
            if session.is_none() && data.starts_with(b"{\"type\":\"welcome\"") {
                let text = String::from_utf8_lossy(&data);
                let id = payload::session_of(&text);
                session = Some(id.to_owned());
                send(http, base, id, subscribe_frame()).await?;
            } else if is_reply(&data) {
                shared.ready.fetch_add(1, Ordering::Relaxed);
            } else if is_tidings_publication(&data) {
                count(&data, i, shared, tally);
                since_ack += 1;
                if since_ack >= ACK_EVERY {
                    since_ack = 0;
                    if let (Some(seq), Some(session)) = (payload::number_after(&data, b"\"seq\":"), &session) {
                        let (http, base, session) = (http.clone(), base.to_owned(), session.clone());
                        tokio::spawn(async move {
                            let _ = send(&http, &base, &session, format!("{{\"type\":\"ack\",\"seq\":{seq}}}")).await;
                        });
                    }
                }
            }
        }
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(())
}

/// One long-polling subscriber: each poll acknowledges what the last one brought.
async fn read_polls(
    http: &reqwest::Client,
    base: &str,
    i: usize,
    shared: &Shared,
    tally: &mut Tally,
) -> Result<(), reqwest::Error> {
    let welcome = http.get(format!("{base}/poll?v=1")).send().await?.error_for_status()?.text().await?;
    let session = payload::session_of(&welcome).to_owned();
    send(http, base, &session, subscribe_frame()).await?;
    let mut ack = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        let body = http
            .get(format!("{base}/poll?session={session}&ack={ack}"))
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let frames: Vec<&serde_json::value::RawValue> = serde_json::from_slice(&body).unwrap_or_default();
        for frame in frames {
            let text = frame.get().as_bytes();
            if let Some(seq) = payload::number_after(text, b"\"seq\":") {
                ack = ack.max(seq);
            }
            if is_tidings_publication(text) {
                count(text, i, shared, tally);
            } else if is_reply(text) {
                shared.ready.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// Publishes `--messages` publications, flat out within the window or at `--rate`; returns how many it sent.
async fn publish(args: &Args, shared: &Shared, deadline: Instant) -> u64 {
    let mut client = args.target.open(source(0), args.addr, false, false).await.expect("publisher connects");
    let mut sent: u64 = 0;
    let started = Instant::now();
    while sent < args.messages && Instant::now() < deadline {
        if args.rate > 0 {
            // Due by now at the rate: send those, then wait a millisecond.
            let due = (started.elapsed().as_secs_f64() * args.rate as f64) as u64;
            while sent < due.min(args.messages) {
                send_one(args, &mut client, shared, sent).await;
                sent += 1;
            }
        } else {
            let slowest = shared.received.iter().map(|r| r.load(Ordering::Relaxed)).min().unwrap_or(sent);
            let mut room = (slowest + args.window).saturating_sub(sent).min(args.messages - sent);
            while room > 0 {
                send_one(args, &mut client, shared, sent).await;
                sent += 1;
                room -= 1;
            }
        }
        // Let the subscribers run; the publisher also drains what the peers send back to it.
        tokio::select! {
            biased;
            _ = client.next() => {}
            _ = tokio::time::sleep(Duration::from_micros(if args.rate > 0 { 1000 } else { 50 })) => {}
        }
    }
    // Keep draining so that a peer never blocks on the publisher's socket while the subscribers finish.
    tokio::spawn(async move { while let Ok(Frame::Text(_)) = client.next().await {} });
    sent
}

async fn send_one(args: &Args, client: &mut tidings_bench::wsclient::WsClient, shared: &Shared, n: u64) {
    let text = args.target.publication(&payload::make(n, now_ns(shared.epoch), args.size));
    client.send_text(text.as_bytes()).await.expect("the publisher's connection holds");
}
