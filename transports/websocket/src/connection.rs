//! One WebSocket connection as a Tidings [`Transport`]: decoding, control frames, pings, the close handshake.

use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tidings_core::{Close, CloseCode, EncodedFrame, Transport, TransportError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::decoder::{Decoder, Message};
use crate::frame::{write_header, OpCode};
use crate::WebSocketConfig;

/// Longest close reason a close frame can carry (125 bytes of payload minus the 2-byte code).
const MAX_CLOSE_REASON: usize = 123;

/// A WebSocket connection: bytes in from the upgraded request's payload stream, bytes out through a bounded
/// channel that feeds the 101 response's body.
pub(crate) struct Connection<S> {
    input: S,
    read_buf: BytesMut,
    decoder: Decoder,
    output: mpsc::Sender<Bytes>,
    /// Fired to drop the socket without flushing (see `ResponseBody`).
    abort: Option<oneshot::Sender<()>>,
    ping: Interval,
    last_heard: Instant,
    idle_timeout: Duration,
    close_timeout: Duration,
    close_sent: bool,
    /// The client's close code, once its close frame arrived (kept so that a cancelled `recv` still answers it).
    peer_closed: Option<CloseCode>,
}

impl<S, E> Connection<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + 'static,
    E: std::fmt::Display,
{
    pub(crate) fn new(
        input: S,
        output: mpsc::Sender<Bytes>,
        abort: oneshot::Sender<()>,
        config: &WebSocketConfig,
        max_message: usize,
    ) -> Self {
        let mut ping = tokio::time::interval_at(Instant::now() + config.ping_interval, config.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Connection {
            input,
            read_buf: BytesMut::with_capacity(4096),
            decoder: Decoder::new(max_message),
            output,
            abort: Some(abort),
            ping,
            last_heard: Instant::now(),
            idle_timeout: config.idle_timeout,
            close_timeout: config.close_timeout,
            close_sent: false,
            peer_closed: None,
        }
    }

    /// Queues a control frame without waiting: if the client is not reading, a dropped pong or ping costs nothing
    /// that the idle timeout will not catch.
    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) {
        let mut out = BytesMut::with_capacity(2 + payload.len());
        write_header(&mut out, true, 0, opcode, payload.len());
        out.extend_from_slice(payload);
        let _ = self.output.try_send(out.freeze());
    }

    /// Sends the close frame (once), waiting up to the close timeout for room in the output; a client that has not
    /// made room by then is not reading, and its socket is dropped.
    async fn send_close(&mut self, code: CloseCode, reason: &str) {
        if self.close_sent {
            return;
        }
        let mut frame = BytesMut::with_capacity(4 + MAX_CLOSE_REASON);
        let reason = truncate_utf8(reason, MAX_CLOSE_REASON);
        write_header(&mut frame, true, 0, OpCode::Close, 2 + reason.len());
        frame.extend_from_slice(&code.0.to_be_bytes());
        frame.extend_from_slice(reason.as_bytes());
        match tokio::time::timeout(self.close_timeout, self.output.send(frame.freeze())).await {
            Ok(Ok(())) => self.close_sent = true,
            _ => self.abort(),
        }
    }

    fn abort(&mut self) {
        if let Some(abort) = self.abort.take() {
            tracing::debug!("dropping the socket without a close handshake");
            let _ = abort.send(());
        }
    }

    /// Reads more bytes from the client, or sends a ping when it is time, or reports an idle client.
    async fn fill(&mut self) -> Result<(), TransportError> {
        tokio::select! {
            chunk = self.input.next() => match chunk {
                Some(Ok(bytes)) => {
                    self.read_buf.extend_from_slice(&bytes);
                    Ok(())
                }
                Some(Err(e)) => Err(TransportError::Lost(format!("read failed: {e}"))),
                None => Err(TransportError::Lost("connection closed without a close frame".into())),
            },
            _ = self.ping.tick() => {
                if self.last_heard.elapsed() >= self.idle_timeout {
                    return Err(TransportError::Close(Close::new(CloseCode::IDLE_TIMEOUT, "no data or pong within the idle timeout")));
                }
                self.send_control(OpCode::Ping, b"");
                Ok(())
            }
        }
    }
}

#[async_trait(?Send)]
impl<S, E> Transport for Connection<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + 'static,
    E: std::fmt::Display,
{
    fn name(&self) -> &'static str {
        "websocket"
    }

    async fn send(&mut self, frames: &[EncodedFrame]) -> Result<(), TransportError> {
        let total: usize = frames.iter().map(|f| f.len() + 10).sum();
        let mut out = BytesMut::with_capacity(total);
        for frame in frames {
            write_header(&mut out, true, 0, OpCode::Text, frame.len());
            frame.write_to(&mut out);
        }
        self.output.send(out.freeze()).await.map_err(|_| TransportError::Lost("response stream closed".into()))
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        loop {
            if let Some(code) = self.peer_closed {
                // Echo the client's code, as RFC 6455 section 5.5.1 suggests.
                self.send_close(code, "").await;
                return Ok(None);
            }
            match self.decoder.decode(&mut self.read_buf) {
                Ok(Some(message)) => {
                    self.last_heard = Instant::now();
                    match message {
                        Message::Text(text) => return Ok(Some(text)),
                        Message::Binary(_) => {
                            return Err(TransportError::Close(Close::new(
                                CloseCode::UNSUPPORTED_DATA,
                                "protocol v1 is JSON text; binary messages are not accepted",
                            )));
                        }
                        Message::Ping(payload) => self.send_control(OpCode::Pong, &payload),
                        Message::Pong(_) => {}
                        Message::Close(frame) => {
                            tracing::debug!(code = frame.as_ref().map(|f| f.0), "client closed the connection");
                            self.peer_closed = Some(frame.map_or(CloseCode::NORMAL, |(code, _)| CloseCode(code)));
                        }
                    }
                }
                Ok(None) => self.fill().await?,
                Err(violation) => {
                    tracing::info!(
                        code = violation.code.0,
                        reason = violation.reason,
                        "client broke the WebSocket protocol"
                    );
                    return Err(TransportError::Close(Close::new(violation.code, violation.reason)));
                }
            }
        }
    }

    async fn close(&mut self, close: Close) {
        self.send_close(close.code, &close.reason).await;
        if !self.close_sent {
            return;
        }
        // Wait (briefly) for the client's close frame, so that the client closes the TCP connection first.
        let answered = tokio::time::timeout(self.close_timeout, async {
            loop {
                match self.decoder.decode(&mut self.read_buf) {
                    Ok(Some(Message::Close(_))) | Err(_) => return,
                    Ok(Some(_)) => {}
                    Ok(None) => match self.input.next().await {
                        Some(Ok(bytes)) => self.read_buf.extend_from_slice(&bytes),
                        _ => return,
                    },
                }
            }
        })
        .await;
        if answered.is_err() {
            self.abort();
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::truncate_utf8;

    #[test]
    fn close_reasons_are_cut_on_character_boundaries() {
        assert_eq!(truncate_utf8("abc", 123), "abc");
        assert_eq!(truncate_utf8("ééé", 5), "éé");
    }
}
