//! Micro-benchmarks of the hot paths: the WebSocket frame codec, the protocol encoder/decoder, and the fan-out of
//! one publication into many sessions' queues. `cargo bench -p tidings-bench --bench micro`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{criterion_main, Criterion, Throughput};
use serde_json::value::RawValue;
use tidings::protocol::{encode, ClientFrame, StreamPosition};
use tidings::testkit::TestClient;
use tidings_bench::hub::bench_hub;
use tidings_websocket::decoder::Decoder;
use tidings_websocket::frame::{apply_mask, parse_header, write_header, OpCode};

const PAYLOAD: &str =
    r#"{"n":123456,"t":987654321,"p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("websocket codec");
    group.throughput(Throughput::Elements(1));
    group.bench_function("server frame header, 100 B", |b| {
        let mut out = BytesMut::with_capacity(64);
        b.iter(|| {
            out.clear();
            write_header(&mut out, true, 0, OpCode::Text, black_box(100));
            black_box(&out);
        })
    });
    let mut client_frame = BytesMut::new();
    write_header(&mut client_frame, true, 0, OpCode::Text, PAYLOAD.len());
    client_frame[1] |= 0x80;
    let key = [1, 2, 3, 4];
    client_frame.extend_from_slice(&key);
    let mut masked = PAYLOAD.as_bytes().to_vec();
    apply_mask(&mut masked, key, 0);
    client_frame.extend_from_slice(&masked);
    group.bench_function("parse a client frame header", |b| {
        b.iter(|| black_box(parse_header(black_box(&client_frame))))
    });
    group.bench_function("decode a masked 100 B client text message", |b| {
        let mut decoder = Decoder::new(1 << 20);
        b.iter(|| {
            let mut buf = client_frame.clone();
            black_box(decoder.decode(&mut buf).expect("valid"))
        })
    });
    group.finish();
}

fn protocol(c: &mut Criterion) {
    let mut group = c.benchmark_group("protocol");
    group.throughput(Throughput::Elements(1));
    let data: Box<RawValue> = RawValue::from_string(PAYLOAD.to_owned()).expect("json");
    let position = StreamPosition { offset: 42, epoch: "9f3a6c01d2e4b587".into() };
    group.bench_function("encode a publication", |b| {
        b.iter(|| black_box(encode::publication_body(black_box("ticker:AAPL"), &position, &data)))
    });
    let publish = format!(r#"{{"type":"publish","id":7,"topic":"ticker:AAPL","data":{PAYLOAD}}}"#);
    group.bench_function("decode a client publish", |b| {
        b.iter(|| black_box(ClientFrame::decode(black_box(publish.as_bytes())).expect("valid").request().is_ok()))
    });
    group.finish();
}

/// One publication into the queues of 1,000 sessions: encoded once, its bytes shared. (The transports' writes
/// are measured end to end by the load generator.)
fn fanout(c: &mut Criterion) {
    const SUBSCRIBERS: usize = 1000;
    /// Publications per hub, within the queues' bound; a fresh hub is built (untimed) for every batch.
    const BATCH: u64 = 500;
    let mut group = c.benchmark_group("fan-out");
    group.throughput(Throughput::Elements(SUBSCRIBERS as u64));
    group.sample_size(20).measurement_time(Duration::from_secs(5));
    let data: std::sync::Arc<RawValue> = RawValue::from_string(PAYLOAD.to_owned()).expect("json").into();
    group.bench_function("publish to 1,000 subscribers", |b| {
        b.iter_custom(|iters| {
            actix_rt::System::new().block_on(async {
                let mut spent = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let hub = bench_hub();
                    let mut clients = Vec::with_capacity(SUBSCRIBERS);
                    for _ in 0..SUBSCRIBERS {
                        let mut client = TestClient::connect(&hub).await;
                        client.subscribe("open:fan").await.expect("subscribed");
                        clients.push(client);
                    }
                    let batch = BATCH.min(iters - done);
                    let started = Instant::now();
                    for _ in 0..batch {
                        black_box(hub.publish_raw("open:fan", data.clone()).await.expect("published"));
                    }
                    spent += started.elapsed();
                    done += batch;
                }
                spent
            })
        })
    });
    group.finish();
}

// In a module of its own: the function the macro generates has no doc comment, and need not be public.
mod group {
    criterion::criterion_group!(benches, super::codec, super::protocol, super::fanout);
}
use group::benches;
criterion_main!(benches);
