//! Tidings: real-time pub/sub for actix-web.
//!
//! Clients subscribe to topics and join rooms (topics with members, presence and join/leave events); servers and
//! clients publish; requests get exactly one reply or error. Application code is a [`Handler`] per topic pattern.
//! Each client is a session, an `actix` actor with a bounded, numbered outbound queue. Transports are
//! interchangeable behind the [`Transport`] trait.
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use serde::Deserialize;
//! use tidings::{async_trait, AllowAnonymous, Context, Handler, Hub, Joined, Refusal};
//!
//! struct Chat;
//!
//! #[derive(Deserialize)]
//! struct Hello { nick: String }
//!
//! #[async_trait]
//! impl Handler for Chat {
//!     type Join = Hello;
//!     type Message = String;
//!     type Reply = ();
//!
//!     async fn join(&self, _ctx: &Context, hello: Hello) -> Result<Joined<()>, Refusal> {
//!         Ok(Joined::new().meta(&hello.nick))
//!     }
//!
//!     async fn message(&self, ctx: &Context, text: String) -> Result<Option<()>, Refusal> {
//!         ctx.broadcast(&text).await?;
//!         Ok(None)
//!     }
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     // Public and anonymous: an explicit choice (see docs/security.md for tokens).
//!     let hub = Hub::builder().authenticator(AllowAnonymous).handler("chat:*", Chat).build().expect("valid patterns");
//!     HttpServer::new(move || App::new().service(tidings::scope("/realtime", &hub)))
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await
//! }
//! ```
//!
//! ## Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `websocket` | yes | the WebSocket transport at `<prefix>/ws` ([`websocket`]) |
//! | `sse` | yes | Server-Sent Events at `<prefix>/sse`, frames up at `<prefix>/send` ([`sse`]) |
//! | `longpoll` | yes | HTTP long polling at `<prefix>/poll`, frames up at `<prefix>/send` ([`longpoll`]) |
//! | `testkit` | no | [`testkit`]: an in-process client to test handlers without sockets |
//!
//! Every scope also serves the browser build of the JavaScript client at `<prefix>/tidings.js`.

mod shutdown;
pub use shutdown::shutdown_on_signal;
pub use tidings_core::*;
#[cfg(any(feature = "sse", feature = "longpoll"))]
pub use tidings_http as http;
#[cfg(feature = "longpoll")]
pub use tidings_longpoll as longpoll;
#[cfg(feature = "sse")]
pub use tidings_sse as sse;
#[cfg(feature = "websocket")]
pub use tidings_websocket as websocket;

use actix_web::{web, HttpResponse, Scope};

/// The browser build of the JavaScript client (`clients/js`), served at `<prefix>/tidings.js`.
pub const BROWSER_CLIENT: &[u8] = include_bytes!("../assets/tidings.js");

/// Transport settings for [`Endpoint`].
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    #[cfg(feature = "websocket")]
    websocket: websocket::WebSocketConfig,
    #[cfg(feature = "sse")]
    sse: sse::SseConfig,
    #[cfg(feature = "longpoll")]
    longpoll: longpoll::LongPollConfig,
}

impl Endpoint {
    /// The default settings of every enabled transport.
    pub fn new() -> Self {
        Endpoint::default()
    }

    /// WebSocket settings (compression, pings, idle timeout, close handshake).
    #[cfg(feature = "websocket")]
    pub fn websocket(mut self, config: websocket::WebSocketConfig) -> Self {
        self.websocket = config;
        self
    }

    /// Server-Sent Events settings (heartbeat, retry).
    #[cfg(feature = "sse")]
    pub fn sse(mut self, config: sse::SseConfig) -> Self {
        self.sse = config;
        self
    }

    /// Long-polling settings (hold time, batch size).
    #[cfg(feature = "longpoll")]
    pub fn longpoll(mut self, config: longpoll::LongPollConfig) -> Self {
        self.longpoll = config;
        self
    }

    /// An actix-web scope at `prefix` serving `hub` over every enabled transport.
    pub fn scope(&self, prefix: &str, hub: &Hub) -> Scope {
        let scope = web::scope(prefix).route("/tidings.js", web::get().to(browser_client));
        #[cfg(feature = "websocket")]
        let scope = scope.service(websocket::resource(hub, self.websocket.clone()));
        #[cfg(feature = "sse")]
        let scope = scope.service(sse::resource(hub, self.sse.clone()));
        #[cfg(feature = "longpoll")]
        let scope = scope.service(longpoll::resource(hub, self.longpoll.clone()));
        #[cfg(any(feature = "sse", feature = "longpoll"))]
        let scope = scope.service(http::send_resource(hub));
        #[cfg(not(any(feature = "websocket", feature = "sse", feature = "longpoll")))]
        let _ = hub;
        scope
    }
}

async fn browser_client() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Content-Type", "text/javascript; charset=utf-8"))
        .insert_header(("Cache-Control", "no-cache"))
        .body(BROWSER_CLIENT)
}

/// Mounts `hub` at `prefix` with default transport settings: `App::new().service(tidings::scope("/realtime", &hub))`.
///
/// With the default features, clients connect to `ws://host<prefix>/ws`, `http://host<prefix>/sse` or
/// `http://host<prefix>/poll`.
pub fn scope(prefix: &str, hub: &Hub) -> Scope {
    Endpoint::new().scope(prefix, hub)
}
