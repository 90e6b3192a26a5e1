//! A transport written outside the framework's crates, against the public [`Transport`](tidings::Transport) trait:
//! newline-delimited JSON over raw TCP, for devices and command-line tools (`nc 127.0.0.1 7001` is a client). It
//! serves the same hub as the WebSocket endpoint, so a line client and a browser share topics.
//!
//! `docs/custom-transports.md` walks through `src/transport.rs`, which it quotes whole (a test keeps the two equal).

mod transport;

pub use transport::{accept_loop, LineTransport};

use tidings::{AllowAnonymous, Hub, OpenTopic};

/// The example's hub: `news:*`, open to anyone, anonymous clients.
pub fn hub() -> Hub {
    Hub::builder().handler("news:*", OpenTopic).authenticator(AllowAnonymous).build().expect("valid pattern")
}
