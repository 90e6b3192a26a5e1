//! `cargo run -p chat`, then open http://127.0.0.1:8080 (set `CHAT_ADDR` to listen elsewhere).
//!
//! Several nodes: give each the same Redis (`REDIS_URL=redis://127.0.0.1:6379`) and the same token secret
//! (`CHAT_SECRET`, 32 bytes or more), and its own `CHAT_ADDR`; people on any node share the rooms.

use std::time::Duration;

use actix_web::{App, HttpServer};
use tidings_redis::{RedisBroker, RedisConfig};

#[actix_web::main]
#[expect(clippy::print_stdout, reason = "the listening address is the program's output, read by people and tests")]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = std::env::var("CHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let secret = match std::env::var("CHAT_SECRET") {
        Ok(shared) => chat::auth::Secret::shared(shared.as_bytes()).map_err(std::io::Error::other)?,
        Err(_) => chat::auth::Secret::random(),
    };
    let hub = match std::env::var("REDIS_URL") {
        Ok(url) => {
            let broker = RedisBroker::connect(RedisConfig::new(url)).await.map_err(std::io::Error::other)?;
            let presence = broker.presence();
            tracing::info!(node = broker.node_id(), "rooms shared through Redis");
            chat::hub_builder(&secret).broker(broker).presence(presence).build()
        }
        Err(_) => chat::hub_builder(&secret).build(),
    }
    .expect("the chat's topic pattern is valid");
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
