//! One WebSocket connection, after the upgrade: messages in and out, control frames, pings, compression and the
//! close handshake. The Tidings transport and the Autobahn echo server are both built on it.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tidings_core::protocol::encode::EncodingCache;
use tidings_core::{Close, CloseCode, EncodedFrame, TransportError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::decoder::{Decoder, Message};
use crate::deflate::Deflater;
use crate::frame::{write_header, OpCode};
use crate::WebSocketConfig;

/// Longest close reason a close frame can carry (125 bytes of payload minus the 2-byte code).
const MAX_CLOSE_REASON: usize = 123;

/// RSV1: set on the first frame of a compressed message.
const RSV1: u8 = 0b100;

/// A complete data message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Text, valid UTF-8.
    Text(Bytes),
    /// Binary.
    Binary(Bytes),
}

/// A server-side WebSocket connection, from [`crate::upgrade`].
///
/// Pings, pongs and the client's close are handled inside [`WebSocket::recv`]; compression (when negotiated) inside
/// the send methods. `recv` is cancel-safe.
pub struct WebSocket<S> {
    input: S,
    read_buf: BytesMut,
    decoder: Decoder,
    deflater: Option<Deflater>,
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
    /// A pong not yet handed to the output. Only the latest ping needs an answer (RFC 6455 section 5.5.3).
    pending_pong: Option<Bytes>,
    scratch: BytesMut,
    /// How many bytes of client frames a send reads ahead while it waits for room in the output.
    read_ahead: usize,
    /// How the input ended, when it ended while a send was reading ahead: reported once the frames read before it
    /// are decoded.
    input_ended: Option<TransportError>,
}

impl<S, E> WebSocket<S>
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
        deflater: Option<Deflater>,
    ) -> Self {
        let mut ping = tokio::time::interval_at(Instant::now() + config.ping_interval, config.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut decoder = Decoder::new(max_message);
        if let (Some(_), Some(deflate)) = (&deflater, &config.deflate) {
            decoder = decoder.with_deflate(deflate.idle_release_pings, config.stats.clone());
        }
        WebSocket {
            input,
            read_buf: BytesMut::new(),
            decoder,
            deflater,
            output,
            abort: Some(abort),
            ping,
            last_heard: Instant::now(),
            idle_timeout: config.idle_timeout,
            close_timeout: config.close_timeout,
            close_sent: false,
            peer_closed: None,
            pending_pong: None,
            scratch: BytesMut::new(),
            read_ahead: config.read_ahead,
            input_ended: None,
        }
    }

    /// The next data message; `Ok(None)` once the client closed cleanly (its close has been answered).
    pub async fn recv(&mut self) -> Result<Option<Incoming>, TransportError> {
        loop {
            if let Some(payload) = &self.pending_pong {
                let mut pong = BytesMut::with_capacity(2 + payload.len());
                write_header(&mut pong, true, 0, OpCode::Pong, payload.len());
                pong.extend_from_slice(payload);
                // Cancel-safe: the pong stays pending until the send completes.
                match tokio::time::timeout(self.close_timeout, self.output.send(pong.freeze())).await {
                    Ok(Ok(())) => self.pending_pong = None,
                    Ok(Err(_)) => return Err(TransportError::Lost("response stream closed".into())),
                    Err(_) => {
                        return Err(TransportError::Close(Close::new(
                            CloseCode::SLOW_CONSUMER,
                            "the client stopped reading",
                        )))
                    }
                }
            }
            if let Some(code) = self.peer_closed {
                // Echo the client's code, as RFC 6455 section 5.5.1 suggests.
                self.send_close(code, "").await;
                return Ok(None);
            }
            match self.decoder.decode(&mut self.read_buf) {
                Ok(Some(message)) => {
                    self.last_heard = Instant::now();
                    match message {
                        Message::Text(text) => return Ok(Some(Incoming::Text(text))),
                        Message::Binary(data) => return Ok(Some(Incoming::Binary(data))),
                        Message::Ping(payload) => self.pending_pong = Some(payload),
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

    /// Sends one message (compressed when negotiated and long enough).
    pub async fn send(&mut self, opcode: OpCode, payload: &Bytes) -> Result<(), TransportError> {
        let mut out = BytesMut::with_capacity(payload.len() + 14);
        self.write_message(&mut out, opcode, b"", payload, None);
        self.write(out.freeze()).await
    }

    /// Sends Tidings frames, each as one text message, in one write.
    pub(crate) async fn send_frames(&mut self, frames: &[EncodedFrame]) -> Result<(), TransportError> {
        let total: usize = frames.iter().map(|f| f.len() + 10).sum();
        let mut out = BytesMut::with_capacity(total);
        for frame in frames {
            self.write_message(&mut out, OpCode::Text, frame.prefix().as_bytes(), &frame.body, frame.cache.as_deref());
        }
        self.write(out.freeze()).await
    }

    /// Appends a message (`prefix` then `body`) as one frame.
    fn write_message(
        &mut self,
        out: &mut BytesMut,
        opcode: OpCode,
        prefix: &[u8],
        body: &Bytes,
        cache: Option<&EncodingCache>,
    ) {
        let len = prefix.len() + body.len();
        match &mut self.deflater {
            Some(deflater) if deflater.wants(len) => {
                self.scratch.clear();
                deflater.compress(prefix, body, cache, &mut self.scratch);
                write_header(out, true, RSV1, opcode, self.scratch.len());
                out.put_slice(&self.scratch);
            }
            _ => {
                write_header(out, true, 0, opcode, len);
                out.put_slice(prefix);
                out.put_slice(body);
            }
        }
    }

    /// Hands `bytes` to the output. While the output is full (the client is not reading what we send), keeps
    /// reading what the client sends, up to `read_ahead` bytes: a client that writes a burst before it reads, while
    /// we write to it, would otherwise wait for us to read while we wait for it to read, until a timeout ends the
    /// connection. Cancel-safe: bytes read are kept in `read_buf` for `recv`.
    async fn write(&mut self, bytes: Bytes) -> Result<(), TransportError> {
        let permit = loop {
            let reading = self.input_ended.is_none() && self.read_buf.len() < self.read_ahead;
            tokio::select! {
                biased;
                permit = self.output.reserve() => {
                    break permit.map_err(|_| TransportError::Lost("response stream closed".into()))?;
                }
                chunk = self.input.next(), if reading => match chunk {
                    Some(Ok(chunk)) => self.read_buf.extend_from_slice(&chunk),
                    ended => self.input_ended = Some(input_end(ended)),
                },
            }
        };
        permit.send(bytes);
        Ok(())
    }

    /// Ends the connection: sends the close frame and waits (up to the close timeout) for the client's.
    pub async fn close(&mut self, close: Close) {
        self.send_close(close.code, &close.reason).await;
        // Nothing to wait for when the close frame did not go out, or the client's close already came.
        if !self.close_sent || self.peer_closed.is_some() {
            return;
        }
        // Wait (briefly) for the client's close frame, so that the client closes the TCP connection first.
        let answered = tokio::time::timeout(self.close_timeout, async {
            loop {
                match self.decoder.decode(&mut self.read_buf) {
                    Ok(Some(Message::Close(_))) | Err(_) => return,
                    Ok(Some(_)) => {}
                    Ok(None) if self.input_ended.is_some() => return,
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

    /// Whether permessage-deflate is in use on this connection.
    pub fn compressed(&self) -> bool {
        self.deflater.is_some()
    }

    /// Queues a ping without waiting: if the client is not reading, a dropped ping costs nothing that the idle
    /// timeout will not catch.
    fn send_ping(&mut self) {
        let mut out = BytesMut::with_capacity(2);
        write_header(&mut out, true, 0, OpCode::Ping, 0);
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

    /// Drops the TCP connection at once, without a close frame, as a network failure would.
    pub fn abort(&mut self) {
        if let Some(abort) = self.abort.take() {
            tracing::debug!("dropping the socket without a close handshake");
            let _ = abort.send(());
        }
    }

    /// Reads more bytes from the client, or sends a ping when it is time (releasing idle compression state), or
    /// reports an idle client.
    async fn fill(&mut self) -> Result<(), TransportError> {
        if let Some(ended) = &self.input_ended {
            return Err(ended.clone());
        }
        tokio::select! {
            chunk = self.input.next() => match chunk {
                Some(Ok(bytes)) => {
                    self.read_buf.extend_from_slice(&bytes);
                    Ok(())
                }
                ended => Err(input_end(ended)),
            },
            _ = self.ping.tick() => {
                if self.last_heard.elapsed() >= self.idle_timeout {
                    return Err(TransportError::Close(Close::new(CloseCode::IDLE_TIMEOUT, "no data or pong within the idle timeout")));
                }
                self.send_ping();
                self.decoder.tick();
                if let Some(deflater) = &mut self.deflater {
                    deflater.tick();
                }
                // An idle connection keeps no buffers: `capacity()` does not show an allocation still held
                // through split-off messages, so the buffers are replaced whenever they are empty.
                if self.read_buf.is_empty() {
                    self.read_buf = BytesMut::new();
                }
                self.scratch = BytesMut::new();
                Ok(())
            }
        }
    }
}

/// Why the input ended: a read error, or the end of the stream before a close frame.
fn input_end<E: std::fmt::Display>(ended: Option<Result<Bytes, E>>) -> TransportError {
    match ended {
        Some(Err(e)) => TransportError::Lost(format!("read failed: {e}")),
        _ => TransportError::Lost("connection closed without a close frame".into()),
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
