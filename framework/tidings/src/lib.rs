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
//! use tidings::{async_trait, Context, Handler, Hub, Joined, Refusal};
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
//!     let hub = Hub::builder().handler("chat:*", Chat).build().expect("valid patterns");
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
//! | `testkit` | no | [`testkit`]: an in-process client to test handlers without sockets |

pub use tidings_core::*;
#[cfg(feature = "websocket")]
pub use tidings_websocket as websocket;

use actix_web::{web, Scope};

/// Transport settings for [`Endpoint`].
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    #[cfg(feature = "websocket")]
    websocket: websocket::WebSocketConfig,
}

impl Endpoint {
    /// The default settings of every enabled transport.
    pub fn new() -> Self {
        Endpoint::default()
    }

    /// WebSocket settings (pings, idle timeout, close handshake).
    #[cfg(feature = "websocket")]
    pub fn websocket(mut self, config: websocket::WebSocketConfig) -> Self {
        self.websocket = config;
        self
    }

    /// An actix-web scope at `prefix` serving `hub` over every enabled transport.
    pub fn scope(&self, prefix: &str, hub: &Hub) -> Scope {
        let scope = web::scope(prefix);
        #[cfg(feature = "websocket")]
        let scope = scope.service(websocket::resource(hub, self.websocket.clone()));
        #[cfg(not(feature = "websocket"))]
        let _ = hub;
        scope
    }
}

/// Mounts `hub` at `prefix` with default transport settings: `App::new().service(tidings::scope("/realtime", &hub))`.
///
/// With the default features, clients connect to `ws://host<prefix>/ws`.
pub fn scope(prefix: &str, hub: &Hub) -> Scope {
    Endpoint::new().scope(prefix, hub)
}
