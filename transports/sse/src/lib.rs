//! The Server-Sent Events transport for Tidings.
//!
//! `GET <prefix>/sse` answers with a `text/event-stream` that carries the session's frames, one event each, with
//! the id `<session>:<seq>`; a browser `EventSource` that reconnects by itself sends the last id back as
//! `Last-Event-ID` and the session resumes where it was. The client sends its frames (and acknowledgements) with
//! `POST <prefix>/send` (the `tidings-http` crate). Comment lines keep idle streams open through proxies, and the
//! headers ask proxies not to buffer. See `docs/protocol.md`, "Server-Sent Events".
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//!
//! # async fn run() -> std::io::Result<()> {
//! let hub = tidings_core::Hub::builder().build().unwrap();
//! HttpServer::new(move || {
//!     App::new().service(
//!         web::scope("/realtime")
//!             .service(tidings_sse::resource(&hub, tidings_sse::SseConfig::default()))
//!             .service(tidings_http::send_resource(&hub)),
//!     )
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```

mod connection;
mod endpoint;
mod event;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, Resource};
use tidings_core::Hub;
use tidings_http::Cors;

pub use event::write_event;

/// SSE settings.
#[derive(Debug, Clone)]
pub struct SseConfig {
    /// How often a comment line is sent on a stream with nothing else to send, so that proxies keep it open.
    pub heartbeat: Duration,
    /// The reconnect delay a browser's `EventSource` is told to use (`retry:`).
    pub retry: Duration,
}

impl Default for SseConfig {
    fn default() -> Self {
        SseConfig { heartbeat: Duration::from_secs(15), retry: Duration::from_secs(2) }
    }
}

/// The SSE endpoint as an actix-web resource at `/sse` (relative to the scope it is mounted in).
pub fn resource(hub: &Hub, config: SseConfig) -> Resource {
    let cors = Arc::new(Cors::of(hub));
    let endpoint = endpoint::Endpoint { hub: hub.clone(), config, cors };
    web::resource("/sse")
        .app_data(web::Data::new(endpoint))
        .route(web::get().to(endpoint::stream))
        .route(web::method(actix_web::http::Method::OPTIONS).to(endpoint::preflight))
}
