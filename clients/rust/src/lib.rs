//! A Rust client for Tidings servers, speaking protocol v1 over WebSocket, Server-Sent Events or long polling.
//!
//! The client keeps its session across connection losses: it reconnects with backoff (falling back through the
//! transports in [`ClientOptions::transports`] when one fails to open), resumes the session so that every frame
//! arrives exactly once and in order, and when the server could not resume it, subscribes and joins again,
//! recovering missed publications from history, or telling the subscription of a [`Event::Gap`].
//!
//! ```no_run
//! use serde_json::json;
//! use tidings_client::{Client, Event};
//!
//! # async fn run() -> Result<(), tidings_client::Error> {
//! let client = Client::connect("http://127.0.0.1:8080/realtime").await?;
//!
//! let mut ticker = client.subscribe("ticker:AAPL").await?;
//! while let Some(publication) = ticker.next_publication().await {
//!     println!("{} at offset {}", publication.data, publication.offset);
//! }
//!
//! let mut room = client.join("chat:lobby", &json!({ "nick": "ann" })).await?;
//! println!("members: {:?}", room.presence());
//! room.send(&json!({ "text": "hello" })).await?;
//! while let Some(event) = room.next().await {
//!     if let Event::MemberJoined(member) = event {
//!         println!("{} joined", member.meta["nick"]);
//!     }
//! }
//! # Ok(()) }
//! ```

mod ack;
mod backoff;
mod client;
mod dispatch;
mod driver;
mod endpoint;
mod error;
mod options;
mod shared;
mod state;
mod subscription;
mod transport;

pub use ack::AckPolicy;
pub use backoff::Backoff;
pub use client::Client;
pub use error::Error;
pub use options::{ClientOptions, TransportKind};
pub use state::ConnectionState;
pub use subscription::{Event, Publication, Room, Subscription};
pub use tidings_protocol::{CloseCode, Member, StreamPosition};
