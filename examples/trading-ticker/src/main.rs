//! `cargo run -p trading-ticker`, then open http://127.0.0.1:8081 (set `TICKER_ADDR` to listen elsewhere).

use std::time::Duration;

use actix_web::{App, HttpServer};
use tidings::websocket::WebSocketStats;

#[actix_web::main]
#[expect(clippy::print_stdout, reason = "the listening address is the program's output, read by people and tests")]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = std::env::var("TICKER_ADDR").unwrap_or_else(|_| "127.0.0.1:8081".into());
    let market = trading_ticker::market();
    let hub = trading_ticker::hub(&market);
    let stats = WebSocketStats::default();
    let app_hub = hub.clone();
    let server = HttpServer::new(move || App::new().configure(trading_ticker::configure(&app_hub, &stats)))
        .disable_signals()
        .tcp_nodelay(true)
        .bind(&addr)?;
    println!("trading-ticker listening on http://{}", server.addrs()[0]);
    let server = server.run();
    actix_web::rt::spawn(trading_ticker::run_feed(hub.clone(), market));

    // On Ctrl-C or SIGTERM, close every session with 1001 ("going away": clients reconnect) before stopping.
    actix_web::rt::spawn(tidings::shutdown_on_signal(hub, server.handle(), Duration::from_secs(5)));
    server.await
}
