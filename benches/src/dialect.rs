//! The servers the load generator measures, and how each is spoken to over WebSocket: Tidings (protocol v1), the
//! Node `ws` broadcast server, Socket.IO v4 (engine.io over WebSocket) and the pre-framed tokio baseline. See
//! `benches/peers/README.md` for the peers' wire details.

use std::io;
use std::net::{IpAddr, SocketAddr};

use crate::wsclient::{self, Frame, WsClient};

/// Which server is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Tidings, at `/realtime/ws`, topic [`TOPIC`].
    Tidings,
    /// The Node `ws` broadcast server: every text message is sent to every client.
    Ws,
    /// Socket.IO v4: `pub` events are emitted to everyone as `msg`.
    SocketIo,
    /// The pre-framed tokio broadcast server: like `Ws`.
    Baseline,
}

/// The topic Tidings subscribers receive (its handler lets clients publish).
pub const TOPIC: &str = "open:bench";

impl Target {
    /// Parses a command-line name.
    pub fn parse(name: &str) -> Option<Target> {
        Some(match name {
            "tidings" => Target::Tidings,
            "ws" => Target::Ws,
            "socketio" => Target::SocketIo,
            "baseline" => Target::Baseline,
            _ => return None,
        })
    }

    fn path(self) -> &'static str {
        match self {
            Target::Tidings => "/realtime/ws?v=1",
            Target::SocketIo => "/socket.io/?EIO=4&transport=websocket",
            Target::Ws | Target::Baseline => "/",
        }
    }

    /// Opens a connection and brings it to where it receives the broadcasts (subscribed, for Tidings).
    pub async fn open(self, local: IpAddr, server: SocketAddr, subscribe: bool, deflate: bool) -> io::Result<WsClient> {
        let mut headers = Vec::new();
        if self == Target::Tidings {
            headers.push(("Sec-WebSocket-Protocol", "tidings.v1"));
        }
        if deflate {
            headers.push(("Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover"));
        }
        let mut client = wsclient::connect(local, server, self.path(), &headers).await?;
        match self {
            Target::Tidings => {
                expect(&mut client, |t| t.starts_with(b"{\"type\":\"welcome\"")).await?;
                if subscribe {
                    client.send_text(subscribe_frame().as_bytes()).await?;
                    let reply: &[u8] = b"\"type\":\"reply\"";
                    expect(&mut client, |t| t.windows(reply.len()).any(|w| w == reply)).await?;
                }
            }
            Target::SocketIo => {
                expect(&mut client, |t| t.first() == Some(&b'0')).await?;
                client.send_text(b"40").await?;
                expect(&mut client, |t| t.starts_with(b"40")).await?;
            }
            Target::Ws | Target::Baseline => {}
        }
        Ok(client)
    }

    /// The text a publisher sends to publish `payload`.
    pub fn publication(self, payload: &str) -> String {
        match self {
            Target::Tidings => format!("{{\"type\":\"publish\",\"topic\":\"{TOPIC}\",\"data\":{payload}}}"),
            Target::SocketIo => format!("42[\"pub\",{payload}]"),
            Target::Ws | Target::Baseline => payload.to_owned(),
        }
    }

    /// What a received text is.
    pub fn classify(self, text: &[u8]) -> Received {
        match self {
            Target::Tidings if is_tidings_publication(text) => Received::Publication,
            Target::Tidings => Received::Other,
            Target::SocketIo if text == b"2" => Received::Ping,
            Target::SocketIo if text.starts_with(b"42[\"msg\"") => Received::Publication,
            Target::SocketIo => Received::Other,
            Target::Ws | Target::Baseline => Received::Publication,
        }
    }
}

/// Whether a Tidings frame is a publication: `{"seq":N,"type":"pub",...}` (the type comes right after the
/// per-session sequence number).
pub fn is_tidings_publication(text: &[u8]) -> bool {
    const TYPE: &[u8] = b"\"type\":\"pub\"";
    text.starts_with(b"{\"seq\":") && text[..text.len().min(40)].windows(TYPE.len()).any(|w| w == TYPE)
}

/// The Tidings request that subscribes to [`TOPIC`].
pub fn subscribe_frame() -> String {
    format!("{{\"type\":\"subscribe\",\"id\":1,\"topic\":\"{TOPIC}\"}}")
}

/// A received text, sorted.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// One of the publications.
    Publication,
    /// An engine.io ping, to answer with `3`.
    Ping,
    /// Anything else (replies, presence, ...).
    Other,
}

/// Reads until a text `is` accepts it; fails on close.
async fn expect(client: &mut WsClient, is: impl Fn(&[u8]) -> bool) -> io::Result<()> {
    loop {
        match client.next().await? {
            Frame::Text(text) if is(text) => return Ok(()),
            Frame::Text(_) => {}
            Frame::Closed => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed while setting up")),
        }
    }
}
