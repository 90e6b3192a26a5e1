//! The HTTP long-polling transport for Tidings.
//!
//! Plain HTTP requests only, so that a page with neither WebSocket nor EventSource, or one behind a proxy that
//! breaks both, still works with nothing but `XMLHttpRequest`. `GET <prefix>/poll` starts a session and answers
//! `[welcome]`; each later poll names the session and the highest `seq` the client processed (which acknowledges
//! everything up to it), and answers with the frames after it as a JSON array as soon as there are any, or `[]`
//! after the hold time. A lost response is harmless: the next poll asks from the same point again. Frames go up with
//! `POST <prefix>/send` (the `tidings-http` crate). See `docs/protocol.md`, "Long polling".
//!
//! Each poll attaches to the session for its duration only ([`tidings_core::Hub::attach`]); between polls the
//! session waits as it would for any lost connection, so a client that stops polling is ended after the resume
//! window.

mod endpoint;
mod forward;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, Resource};
use tidings_core::Hub;
use tidings_http::Cors;

/// The transport's name in logs and metrics.
pub(crate) const TRANSPORT_NAME: &str = "longpoll";

/// Long-polling settings.
#[derive(Debug, Clone)]
pub struct LongPollConfig {
    /// How long a poll waits for a frame before answering `[]`. Below the idle timeouts of common proxies (30 s
    /// and up).
    pub hold: Duration,
    /// Most frames in one answer; the client polls again at once for more.
    pub max_batch: usize,
}

impl Default for LongPollConfig {
    fn default() -> Self {
        LongPollConfig { hold: Duration::from_secs(25), max_batch: 256 }
    }
}

/// The long-polling endpoint as an actix-web resource at `/poll` (relative to the scope it is mounted in).
pub fn resource(hub: &Hub, config: LongPollConfig) -> Resource {
    let cors = Arc::new(Cors::of(hub));
    forward::serve(hub, &config);
    let endpoint = endpoint::Endpoint { hub: hub.clone(), config, cors };
    web::resource("/poll")
        .app_data(web::Data::new(endpoint))
        .route(web::get().to(endpoint::poll))
        .route(web::method(actix_web::http::Method::OPTIONS).to(endpoint::preflight))
}
