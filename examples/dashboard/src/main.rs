//! `cargo run -p dashboard`, then open http://127.0.0.1:8083 (set `DASHBOARD_ADDR` to listen elsewhere), and
//! http://127.0.0.1:8083/client?transport=longpoll (or `websocket`, `sse`) in a few more tabs.

use std::time::Duration;

use actix_web::{App, HttpServer};

#[actix_web::main]
#[expect(clippy::print_stdout, reason = "the listening address is the program's output, read by people and tests")]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = std::env::var("DASHBOARD_ADDR").unwrap_or_else(|_| "127.0.0.1:8083".into());
    let sampler = dashboard::SharedSampler::default();
    let hub = dashboard::hub(&sampler);
    let app_hub = hub.clone();
    let server = HttpServer::new(move || App::new().configure(dashboard::configure(&app_hub)))
        .disable_signals()
        .tcp_nodelay(true)
        .bind(&addr)?;
    println!("dashboard listening on http://{}", server.addrs()[0]);
    let server = server.run();
    actix_web::rt::spawn(dashboard::run_sampler(hub.clone(), sampler, Duration::from_secs(1)));
    actix_web::rt::spawn(dashboard::run_demo_feed(hub.clone()));

    // On Ctrl-C or SIGTERM, close every session with 1001 ("going away": clients reconnect) before stopping.
    actix_web::rt::spawn(tidings::shutdown_on_signal(hub, server.handle(), Duration::from_secs(5)));
    server.await
}
