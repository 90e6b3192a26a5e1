//! The WebSocket transport for Tidings.
//!
//! An RFC 6455 implementation of its own, over actix-web's HTTP upgrade, rather than actix-ws: actix-http's frame
//! parser rejects the RSV1 bit, so it cannot carry permessage-deflate. This codec handles the strict opening
//! handshake, masking, fragmentation, control frames, the close handshake with correct codes, UTF-8 validation of
//! text (failing as soon as a bad byte arrives, even mid-frame), frame and message size limits (1009, checked on the header before a
//! byte of payload is buffered), server pings with an idle timeout, and RFC 7692 permessage-deflate in two modes
//! ([`DeflateMode`]): a dedicated compressor per connection, or shared compression where each broadcast is
//! compressed once for all its recipients. It passes the Autobahn TestSuite (`tests/autobahn`).
//!
//! [`upgrade`] gives the connection itself ([`WebSocket`]) for other uses than Tidings sessions.
//!
//! Mount it through the `tidings` facade (`tidings::scope("/realtime", &hub)`), or on its own:
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use tidings_websocket::WebSocketConfig;
//!
//! # async fn run() -> std::io::Result<()> {
//! let hub = tidings_core::Hub::builder().build().unwrap();
//! HttpServer::new(move || {
//!     App::new().service(web::scope("/realtime").service(tidings_websocket::resource(&hub, WebSocketConfig::default())))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```

mod body;
mod connection;
pub mod decoder;
mod deflate;
mod endpoint;
pub mod extension;
pub mod frame;
pub mod handshake;
mod socket;
mod upgrade;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, Resource};
use tidings_core::Hub;

pub use deflate::{DeflateConfig, DeflateMode, WebSocketStats};
pub use endpoint::SUBPROTOCOL;
pub use frame::OpCode;
pub use socket::{Incoming, WebSocket};
pub use upgrade::upgrade;

/// WebSocket settings. The message size limit is the hub's (`HubConfig::max_message_bytes`).
#[derive(Debug, Clone)]
pub struct WebSocketConfig {
    /// permessage-deflate settings; `None` declines every compression offer. Default: shared mode.
    pub deflate: Option<DeflateConfig>,
    /// Counters of what the endpoint did; keep a clone to read them.
    pub stats: WebSocketStats,
    /// How often the server pings an otherwise quiet connection.
    pub ping_interval: Duration,
    /// A connection from which nothing (no message, no pong) arrives for this long is closed with 4001.
    pub idle_timeout: Duration,
    /// How long the server waits for the client's close frame after sending its own.
    pub close_timeout: Duration,
    /// How many bytes of client frames a connection reads ahead while its writes wait for the client to read.
    /// A client that writes a burst before it reads (while the server writes to it) then goes on; beyond this
    /// much, the server stops reading until the client reads (and the hub's `write_timeout` ends a client that
    /// never does). Default: 256 KiB.
    pub read_ahead: usize,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            deflate: Some(DeflateConfig::default()),
            stats: WebSocketStats::default(),
            ping_interval: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(60),
            close_timeout: Duration::from_secs(3),
            read_ahead: 256 * 1024,
        }
    }
}

/// The WebSocket endpoint as an actix-web resource at `/ws` (relative to the scope it is mounted in).
///
/// Clients connect to `<scope>/ws`, optionally with `?v=1` to name the protocol version.
pub fn resource(hub: &Hub, config: WebSocketConfig) -> Resource {
    let endpoint = endpoint::Endpoint { hub: hub.clone(), config: Arc::new(config) };
    web::resource("/ws").app_data(web::Data::new(endpoint)).route(web::get().to(endpoint::serve))
}
