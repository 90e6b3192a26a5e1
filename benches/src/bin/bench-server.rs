//! Tidings as the benchmarks run it: topic `open:*` (clients may publish), anonymous clients, limits off (the load
//! comes from a few addresses, flat out), compression as asked.
//!
//! `bench-server [--port 0] [--workers 1] [--compression none|shared|dedicated] [--threshold 256]`. Prints
//! `listening on PORT`. Run it under `taskset -c 0` as the benchmark script does.

use actix_web::{App, HttpServer};
use tidings::websocket::{DeflateConfig, DeflateMode, WebSocketConfig};
use tidings::Endpoint;
use tidings_bench::hub::bench_hub;

#[expect(clippy::print_stdout, reason = "the listening port is the program's output")]
fn main() -> std::io::Result<()> {
    let (mut port, mut workers, mut compression, mut threshold) = (0u16, 1usize, "none".to_owned(), 256usize);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| panic!("{flag} takes a value"));
        match flag.as_str() {
            "--port" => port = value.parse().expect("--port N"),
            "--workers" => workers = value.parse().expect("--workers N"),
            "--compression" => compression = value,
            "--threshold" => threshold = value.parse().expect("--threshold N"),
            _ => panic!("unknown flag {flag}"),
        }
    }
    let deflate = match compression.as_str() {
        "none" => None,
        "shared" => Some(DeflateConfig { mode: DeflateMode::Shared, threshold, ..Default::default() }),
        "dedicated" => Some(DeflateConfig { mode: DeflateMode::Dedicated, threshold, ..Default::default() }),
        other => panic!("unknown compression {other}"),
    };
    actix_rt::System::new().block_on(async move {
        let hub = bench_hub();
        let endpoint = Endpoint::new().websocket(WebSocketConfig { deflate, ..Default::default() });
        let server = HttpServer::new(move || App::new().service(endpoint.scope("/realtime", &hub)))
            .workers(workers)
            .tcp_nodelay(true)
            .backlog(4096)
            .bind(("127.0.0.1", port))?;
        println!("listening on {}", server.addrs()[0].port());
        server.run().await
    })
}
