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
//!
//! # Credentials
//!
//! A server that authenticates its clients takes a token (a JWT, say) as `Authorization: Bearer`: set
//! [`ClientOptions::token`] to a fixed token or to a callback asked before every connect attempt. The client sends
//! it with every request of every transport. A connect the server refuses (401, 403) fails with
//! [`Error::Unauthorized`]; a client that was connected gives up after [`MAX_AUTH_REFUSALS`] consecutive refusals
//! while reconnecting ([`ConnectionState::Unauthorized`]). Before the token expires, [`Client::refresh`] hands the
//! server a new one in band; a session whose credentials expire is closed with 4003, and the client reconnects
//! with a token obtained afresh, recovering what it missed.
//!
//! ```no_run
//! use tidings_client::{Client, ClientOptions, TokenSource};
//!
//! # async fn login() -> Result<String, tidings_client::Error> { Ok(String::new()) }
//! # async fn run() -> Result<(), tidings_client::Error> {
//! let options = ClientOptions { token: Some(TokenSource::callback(login)), ..Default::default() };
//! let client = Client::connect_with("https://example.com/realtime", options).await?;
//! // Later, before the token expires:
//! let expires_at = client.refresh(&login().await?).await?;
//! # Ok(()) }
//! ```

mod ack;
mod backoff;
mod client;
mod credentials;
mod dispatch;
mod driver;
mod endpoint;
mod error;
mod options;
mod race;
mod shared;
mod state;
mod subscription;
mod tls;
mod transport;

pub use ack::AckPolicy;
pub use backoff::Backoff;
pub use client::Client;
pub use credentials::{TokenCallback, TokenSource, MAX_AUTH_REFUSALS};
pub use error::Error;
pub use options::{ClientOptions, TransportKind};
pub use state::ConnectionState;
pub use subscription::{Event, Publication, Room, Subscription};
pub use tidings_protocol::{CloseCode, Member, Missed, StreamPosition};
