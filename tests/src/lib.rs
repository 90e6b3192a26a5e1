//! Support for the integration tests: a real server on a free loopback port, and raw WebSocket and HTTP clients
//! that can do what a well-behaved client never would.

pub mod auth;
pub mod echo;
pub mod handlers;
pub mod hostile_proxy;
pub mod http;
pub mod proxy;
mod raw;
pub mod redis;
mod server;
mod transports;

pub use raw::{RawFrame, RawSocket};
pub use server::TestServer;
