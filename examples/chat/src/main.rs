//! `cargo run -p chat`, then open http://127.0.0.1:8080 (set `CHAT_ADDR` to listen elsewhere).

use std::time::Duration;

use actix_web::{App, HttpServer};

#[actix_web::main]
#[expect(clippy::print_stdout, reason = "the listening address is the program's output, read by people and tests")]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = std::env::var("CHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let secret = chat::auth::Secret::random();
    let hub = chat::hub(&secret);
    let app_hub = hub.clone();
    let server = HttpServer::new(move || App::new().configure(chat::configure(&app_hub, &secret)))
        .disable_signals()
        // Real-time frames are small: without this, Nagle's algorithm holds them back.
        .tcp_nodelay(true)
        .bind(&addr)?;
    // The bound address, not the requested one: with port 0 the OS picks (the browser tests use that).
    println!("chat listening on http://{}", server.addrs()[0]);
    let server = server.run();

    // On Ctrl-C or SIGTERM, close every session with 1001 ("going away": clients reconnect) before stopping.
    actix_web::rt::spawn(tidings::shutdown_on_signal(hub, server.handle(), Duration::from_secs(5)));
    server.await
}
