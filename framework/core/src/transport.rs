//! How a transport attaches a client to a session: the [`Transport`] trait and the loop that drives it.

use std::pin::Pin;
use std::time::Duration;

use actix::Actor;
use async_trait::async_trait;
use bytes::Bytes;
use tidings_protocol::{encode, CloseCode, EncodedFrame};
use tracing::Instrument;

use crate::close::Close;
use crate::hub::Hub;
use crate::identity::Identity;
use crate::session::{End, Inbound, Session, SessionRef, SessionState};

/// A connection that carries protocol frames between one client and its session.
///
/// A transport implements four methods and hands itself to [`Hub::serve`], which creates the session, sends
/// `welcome`, and then moves frames both ways until either side closes. The session never learns which transport
/// it has. WebSocket, and the in-process transport of the testkit, are implementations; `docs/custom-transports.md`
/// walks through writing one.
///
/// The futures need not be `Send`: transports run on the actix worker that accepted the connection.
///
/// ```
/// use bytes::Bytes;
/// use tidings_core::{async_trait, Close, EncodedFrame, Transport, TransportError};
/// use tokio::sync::mpsc;
///
/// /// Frames over a pair of in-memory channels.
/// struct Channels {
///     to_client: mpsc::UnboundedSender<Vec<u8>>,
///     from_client: mpsc::UnboundedReceiver<Bytes>,
/// }
///
/// #[async_trait(?Send)]
/// impl Transport for Channels {
///     fn name(&self) -> &'static str {
///         "channels"
///     }
///     async fn send(&mut self, frames: &[EncodedFrame]) -> Result<(), TransportError> {
///         for frame in frames {
///             self.to_client.send(frame.to_vec()).map_err(|_| TransportError::Lost("client gone".into()))?;
///         }
///         Ok(())
///     }
///     async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
///         Ok(self.from_client.recv().await)
///     }
///     async fn close(&mut self, _close: Close) {}
/// }
/// ```
#[async_trait(?Send)]
pub trait Transport: 'static {
    /// A short lowercase name (`"websocket"`), for logs and metrics.
    fn name(&self) -> &'static str;

    /// Writes frames to the client, in order, each as one JSON text message. Returns once they are handed to the
    /// connection (so that a slow client slows the loop, and its queue, rather than buffering without bound). A
    /// send that takes longer than `HubConfig::write_timeout` is abandoned and the client closed with 4000.
    async fn send(&mut self, frames: &[EncodedFrame]) -> Result<(), TransportError>;

    /// Waits for the next frame from the client: `Ok(Some(text))`, or `Ok(None)` when the client closed the
    /// connection cleanly.
    ///
    /// Must be cancel-safe: the loop drops a pending `recv` whenever it has frames to send, and calls it again.
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError>;

    /// Ends the connection with `close` (and, where the transport has one, a close handshake). Called at most once,
    /// and never after `recv` returned `Ok(None)` or an error that ended the connection.
    async fn close(&mut self, close: Close);
}

/// Why a transport could not go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The connection must end with this close (a protocol violation by the client, an idle timeout, ...).
    #[error("closing with {}: {}", .0.code, .0.reason)]
    Close(Close),
    /// The connection is gone (reset, broken pipe): nothing more can be sent.
    #[error("connection lost: {0}")]
    Lost(String),
}

/// How many frames the loop hands to [`Transport::send`] at once.
const SEND_BATCH: usize = 64;

impl Hub {
    /// Runs a session over `transport` until the connection ends: creates the session for `identity`, sends
    /// `welcome`, then moves frames both ways. Returns the close that ended the connection, if the server ended it.
    ///
    /// Call it on an actix runtime (an actix-web worker, `#[actix_web::main]`, or `actix_rt::System`).
    pub async fn serve<T: Transport>(&self, mut transport: T, identity: Identity) -> Option<Close> {
        if self.is_shutting_down() {
            let close = Close::going_away();
            transport.close(close.clone()).await;
            return Some(close);
        }
        let me = SessionRef::new(identity, self.config());
        let span = tracing::info_span!("session", id = %me.id, transport = transport.name(), user = me.identity.user.as_deref());
        self.register(&me);
        let state = SessionState::new(self.clone(), me.clone());
        let actor = Session::new(state, span.clone()).start();
        let outcome = pump(self, &me, &actor, &mut transport).instrument(span.clone()).await;
        // The actor finishes the request in hand, then leaves its topics and unregisters the session.
        actor.do_send(End);
        span.in_scope(|| tracing::info!(close = ?outcome.as_ref().map(|c| c.code.0), "connection ended"));
        outcome
    }
}

/// Moves frames until the connection ends.
async fn pump<T: Transport>(
    hub: &Hub,
    me: &SessionRef,
    actor: &actix::Addr<Session>,
    transport: &mut T,
) -> Option<Close> {
    tracing::info!("connection opened");
    let write_timeout = hub.config().write_timeout;
    let welcome = [encode::welcome(me.id.as_str(), tidings_protocol::VERSION)];
    if let Err(e) = write(transport, &welcome, write_timeout).await {
        tracing::debug!(error = %e, "lost before welcome");
        return end_after(e, transport, write_timeout).await;
    }
    let max_message = hub.config().max_message_bytes;
    let mut batch = Vec::with_capacity(SEND_BATCH);
    // A client frame waiting for room in the session's mailbox. While one waits, the loop reads nothing more from
    // the client (backpressure) but goes on sending to it.
    let mut waiting: Option<Pin<Box<actix::dev::Request<Session, Inbound>>>> = None;
    loop {
        tokio::select! {
            close = me.outbox.next(&mut batch, SEND_BATCH) => {
                if let Some(close) = close {
                    return Some(close_within(transport, close, write_timeout).await);
                }
                if let Err(e) = write(transport, &batch, write_timeout).await {
                    tracing::debug!(error = %e, "send failed");
                    return end_after(e, transport, write_timeout).await;
                }
                batch.clear();
            }
            _ = async { waiting.as_mut().expect("guarded by is_some").await }, if waiting.is_some() => waiting = None,
            inbound = transport.recv(), if waiting.is_none() => match inbound {
                Ok(Some(frame)) if frame.len() > max_message => {
                    let close = Close::new(CloseCode::MESSAGE_TOO_BIG, format!("messages are limited to {max_message} bytes"));
                    tracing::info!(size = frame.len(), "client message over the size limit");
                    return Some(close_within(transport, close, write_timeout).await);
                }
                Ok(Some(frame)) => match actor.try_send(Inbound(frame)) {
                    Ok(()) => {}
                    Err(actix::dev::SendError::Full(frame)) => waiting = Some(Box::pin(actor.send(frame))),
                    Err(actix::dev::SendError::Closed(_)) => return None,
                },
                Ok(None) => return None,
                Err(e) => {
                    tracing::info!(error = %e, "transport ended the connection");
                    return end_after(e, transport, write_timeout).await;
                }
            },
        }
    }
}

/// Sends frames, giving up on a client that takes nothing for `timeout`.
async fn write<T: Transport>(
    transport: &mut T,
    frames: &[EncodedFrame],
    timeout: Duration,
) -> Result<(), TransportError> {
    match tokio::time::timeout(timeout, transport.send(frames)).await {
        Ok(result) => result,
        Err(_) => {
            tracing::info!(?timeout, "client accepted nothing within the write timeout");
            Err(TransportError::Close(Close::new(CloseCode::SLOW_CONSUMER, "the client stopped reading")))
        }
    }
}

async fn end_after<T: Transport>(error: TransportError, transport: &mut T, timeout: Duration) -> Option<Close> {
    match error {
        TransportError::Close(close) => Some(close_within(transport, close, timeout).await),
        TransportError::Lost(_) => None,
    }
}

/// Closes the transport, not waiting longer than `timeout` for it.
async fn close_within<T: Transport>(transport: &mut T, close: Close, timeout: Duration) -> Close {
    let _ = tokio::time::timeout(timeout, transport.close(close.clone())).await;
    close
}
