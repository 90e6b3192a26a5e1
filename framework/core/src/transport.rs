//! How a transport attaches a client to a session: the [`Transport`] trait and the loop that drives it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tidings_protocol::{encode, CloseCode, EncodedFrame};
use tracing::Instrument;

use crate::attach::{AttachError, Attachment, Connect};
use crate::close::Close;
use crate::hub::Hub;
use crate::identity::SessionId;
use crate::session::{Next, Routed};

/// A connection that carries protocol frames between one client and its session.
///
/// A transport implements four methods and hands itself to [`Hub::serve`], which attaches it to a new or resumed
/// session, sends `welcome`, and then moves frames both ways until either side closes or the connection is lost. The session never learns which transport
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
    /// connection cleanly, which ends its session. A connection that breaks is `Err(TransportError::Lost)`: the
    /// session then waits for the client to resume it.
    ///
    /// Must be cancel-safe: the loop drops a pending `recv` whenever it has frames to send, and calls it again.
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError>;

    /// Ends the connection with `close` (and, where the transport has one, a close handshake). Called at most once,
    /// and never after `recv` returned `Ok(None)` or an error that ended the connection.
    async fn close(&mut self, close: Close);

    /// Called once, before the first `send`, with the session the connection is attached to and the `seq` it
    /// resumes after (0 for a new session). A transport that labels its messages with them (SSE event ids) keeps
    /// them; the default ignores them.
    fn attached(&mut self, session: &SessionId, resumed_after: u64) {
        let _ = (session, resumed_after);
    }

    /// Ends the connection at once, without a close, as a network failure would (`Hub::drop_connection`). The
    /// transport is dropped right after; implement this when dropping alone would end the connection gracefully
    /// or late.
    fn abort(&mut self) {}
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

/// How a connection ended, for the session.
enum Outcome {
    /// The session is over: the client closed it, or the server closed it with a close that says "give up".
    End(Option<Close>),
    /// The connection was lost or timed out: the session waits for its client to resume it.
    Lost(Option<Close>),
    /// A newer connection took the session over.
    Superseded(Close),
}

impl Hub {
    /// Runs a connection over `transport` until it ends: attaches it to a new session or the one `connect`
    /// resumes, sends `welcome`, then moves frames both ways. Returns the close the server sent, if it sent one.
    ///
    /// When the connection is lost (or times out) the session stays for `HubConfig::resume_window`, for its client
    /// to resume on any transport; when the client closes it, or the server closes it for good, the session ends.
    ///
    /// Call it on an actix runtime (an actix-web worker, `#[actix_web::main]`, or `actix_rt::System`).
    pub async fn serve<T: Transport>(&self, mut transport: T, connect: Connect) -> Option<Close> {
        let connect = Connect { transport: connect.transport.or(Some(transport.name())), ..connect };
        let heartbeat = connect.heartbeat.then(|| self.config().heartbeat);
        let attachment = match self.attach(connect) {
            Ok(attachment) => attachment,
            Err(refused) => {
                let close = match refused {
                    AttachError::ShuttingDown => Close::going_away(),
                    AttachError::ClosedByClient => Close::closed_by_client(),
                    AttachError::MovedElsewhere => Close::superseded(),
                };
                transport.close(close.clone()).await;
                return Some(close);
            }
        };
        attachment.carried_by(transport.name());
        if attachment.resumed_from().is_none() {
            attachment.announce().await;
        }
        transport.attached(attachment.session_id(), attachment.resumed_from().unwrap_or(0));
        let span = tracing::info_span!(
            "connection",
            session = %attachment.session_id(),
            transport = transport.name(),
            resumed = attachment.resumed_from().is_some()
        );
        let outcome = pump(self, &attachment, &mut transport, heartbeat).instrument(span.clone()).await;
        let _entered = span.enter();
        match outcome {
            Outcome::End(close) => {
                tracing::info!(close = ?close.as_ref().map(|c| c.code.0), "connection ended; session over");
                attachment.end();
                close
            }
            Outcome::Lost(close) => {
                tracing::info!(close = ?close.as_ref().map(|c| c.code.0), "connection lost; session resumable");
                attachment.detach();
                close
            }
            Outcome::Superseded(close) => {
                tracing::debug!("connection superseded by a newer one");
                Some(close)
            }
        }
    }
}

/// Moves frames until the connection ends, with a `ping` frame after every `heartbeat` without one.
async fn pump<T: Transport>(
    hub: &Hub,
    attachment: &Attachment,
    transport: &mut T,
    heartbeat: Option<Duration>,
) -> Outcome {
    tracing::info!("connection opened");
    let write_timeout = hub.config().write_timeout;
    let session = attachment.handle();
    if let Err(e) = write(transport, &[attachment.welcome_with_heartbeat(heartbeat)], write_timeout).await {
        tracing::debug!(error = %e, "lost before welcome");
        return after_error(e, transport, write_timeout).await;
    }
    let max_message = hub.config().max_message_bytes;
    let mut batch = Vec::with_capacity(SEND_BATCH);
    // A client frame waiting for a place in the session's inbound queue. While one waits, the loop reads nothing more from
    // the client (backpressure) but goes on sending to it.
    // (Also while a client over its message rate waits for its next token: throttling by not reading.)
    let mut waiting: Option<Pin<Box<dyn Future<Output = ()>>>> = None;
    let beat_after = heartbeat.unwrap_or(Duration::MAX / 4);
    let mut next_beat = tokio::time::Instant::now() + beat_after;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next_beat), if heartbeat.is_some() => {
                if let Err(e) = write(transport, &[encode::heartbeat()], write_timeout).await {
                    tracing::debug!(error = %e, "heartbeat failed");
                    return after_error(e, transport, write_timeout).await;
                }
                next_beat = tokio::time::Instant::now() + beat_after;
            }
            next = attachment.next(&mut batch, SEND_BATCH) => match next {
                Next::Frames => {
                    if let Err(e) = write(transport, &batch, write_timeout).await {
                        tracing::debug!(error = %e, "send failed");
                        if matches!(&e, TransportError::Close(c) if c.code == CloseCode::SLOW_CONSUMER) {
                            session.0.count_slow_consumer();
                        }
                        return after_error(e, transport, write_timeout).await;
                    }
                    batch.clear();
                    next_beat = tokio::time::Instant::now() + beat_after;
                }
                Next::Close(close) => return Outcome::End(Some(close_within(transport, close, write_timeout).await)),
                Next::Superseded => {
                    return Outcome::Superseded(close_within(transport, Close::superseded(), write_timeout).await);
                }
                Next::Dropped => {
                    transport.abort();
                    return Outcome::Lost(None);
                }
            },
            _ = async { waiting.as_mut().expect("guarded by is_some").await }, if waiting.is_some() => waiting = None,
            inbound = transport.recv(), if waiting.is_none() => match inbound {
                Ok(Some(frame)) if frame.len() > max_message => {
                    let close = Close::new(CloseCode::MESSAGE_TOO_BIG, format!("messages are limited to {max_message} bytes"));
                    tracing::info!(size = frame.len(), "client message over the size limit");
                    return Outcome::End(Some(close_within(transport, close, write_timeout).await));
                }
                Ok(Some(frame)) => match session.0.route(frame) {
                    Routed::Acked => {}
                    Routed::Request(frame) => {
                        let actor = session.0.actor.get().expect("a session's actor is set when it is attached");
                        if !actor.connected() {
                            // The session ended under this connection; its close is on the way, but do not wait
                            // for it.
                            let close = Close::going_away();
                            return Outcome::End(Some(close_within(transport, close, write_timeout).await));
                        }
                        let throttled = session.0.throttle();
                        match session.0.try_queue(frame) {
                            Ok(inbound) if throttled.is_none() => actor.do_send(inbound),
                            queued => {
                                let (actor, me) = (actor.clone(), session.0.clone());
                                waiting = Some(Box::pin(async move {
                                    if let Some(wait) = throttled {
                                        tokio::time::sleep(wait).await;
                                    }
                                    let inbound = match queued {
                                        Ok(inbound) => inbound,
                                        Err(frame) => me.queue(frame).await,
                                    };
                                    actor.do_send(inbound);
                                }));
                            }
                        }
                    }
                },
                Ok(None) => return Outcome::End(None),
                Err(e) => {
                    tracing::info!(error = %e, "transport ended the connection");
                    return after_error(e, transport, write_timeout).await;
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

/// A transport error ends the connection; the session stays resumable unless the close says "give up".
async fn after_error<T: Transport>(error: TransportError, transport: &mut T, timeout: Duration) -> Outcome {
    match error {
        TransportError::Close(close) => {
            let resumable = close.code.should_reconnect();
            let close = close_within(transport, close, timeout).await;
            if resumable {
                Outcome::Lost(Some(close))
            } else {
                Outcome::End(Some(close))
            }
        }
        TransportError::Lost(_) => Outcome::Lost(None),
    }
}

/// Closes the transport, not waiting longer than `timeout` for it.
async fn close_within<T: Transport>(transport: &mut T, close: Close, timeout: Duration) -> Close {
    let _ = tokio::time::timeout(timeout, transport.close(close.clone())).await;
    close
}
