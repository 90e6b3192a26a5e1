//! Support for the integration tests: a real server on a free loopback port, and a raw WebSocket client that can
//! send what a well-behaved client never would.

pub mod handlers;
mod raw;
mod server;

pub use raw::{RawFrame, RawSocket};
pub use server::TestServer;
