//! A Rust client for Tidings servers, speaking protocol v1 over WebSocket.
//!
//! ```no_run
//! use serde_json::json;
//! use tidings_client::{Client, Event};
//!
//! # async fn run() -> Result<(), tidings_client::Error> {
//! let client = Client::connect("ws://127.0.0.1:8080/realtime/ws").await?;
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

mod connection;
mod error;
mod subscription;

pub use connection::{Client, ClientOptions};
pub use error::Error;
pub use subscription::{Event, Publication, Room, Subscription};
pub use tidings_protocol::{CloseCode, Member, StreamPosition};
