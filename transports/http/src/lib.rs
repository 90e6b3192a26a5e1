//! What the Tidings transports share over HTTP: admitting a connect request ([`admit`]: protocol version, resume
//! parameters, origin, rates, authentication, limits), the cross-origin headers ([`Cors`]), and the endpoint
//! clients of SSE and long polling send their frames to ([`send_resource`], `POST <prefix>/send`).
//!
//! Applications mount these through the `tidings` facade; a custom HTTP transport can reuse them.

mod cors;
mod forward;
mod params;
mod send;

pub use cors::Cors;
pub use params::{admit, connect_request, ConnectRefused};
pub use send::send_resource;

/// `Cache-Control` for every response of the HTTP transports: a cached poll or event stream would replay stale
/// frames, or hide new ones.
pub const NO_STORE: (&str, &str) = ("Cache-Control", "no-store");
