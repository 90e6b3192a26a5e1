//! The Tidings transport over one event stream.

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use tidings_core::protocol::encode;
use tidings_core::{Close, EncodedFrame, SessionId, Transport, TransportError};
use tokio::sync::mpsc;

use crate::event::write_event;

/// Writes frames as events into the response body's channel. There is no upstream on the stream itself (frames
/// come by POST), so `recv` only watches for the client going away, and sends heartbeats meanwhile.
pub(crate) struct SseConnection {
    pub(crate) body: mpsc::Sender<Bytes>,
    pub(crate) session: Option<SessionId>,
    pub(crate) resumed_after: u64,
    pub(crate) heartbeat: tokio::time::Interval,
}

#[async_trait(?Send)]
impl Transport for SseConnection {
    fn name(&self) -> &'static str {
        "sse"
    }

    fn attached(&mut self, session: &SessionId, resumed_after: u64) {
        self.session = Some(session.clone());
        self.resumed_after = resumed_after;
    }

    async fn send(&mut self, frames: &[EncodedFrame]) -> Result<(), TransportError> {
        let session = self.session.as_ref().map(SessionId::as_str).unwrap_or_default();
        let mut chunk = BytesMut::new();
        for frame in frames {
            // `welcome` is labelled with the point the stream resumes from, so that a native reconnect after it
            // resumes from there too.
            let seq = frame.seq.unwrap_or(self.resumed_after);
            write_event(&mut chunk, Some((session, seq)), frame);
        }
        self.body.send(chunk.freeze()).await.map_err(|_| TransportError::Lost("the event stream was closed".into()))?;
        self.heartbeat.reset();
        Ok(())
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        loop {
            tokio::select! {
                () = self.body.closed() => return Err(TransportError::Lost("the client closed the event stream".into())),
                _ = self.heartbeat.tick() => {
                    // A full channel means events are waiting to go out anyway: no ping needed, and waiting here
                    // for a client that stopped reading would keep the stream attached without limit.
                    if let Err(mpsc::error::TrySendError::Closed(_)) = self.body.try_send(Bytes::from_static(b": ping\n\n")) {
                        return Err(TransportError::Lost("the event stream was closed".into()));
                    }
                }
            }
        }
    }

    async fn close(&mut self, close: Close) {
        let mut chunk = BytesMut::new();
        write_event(&mut chunk, None, &encode::close(close.code.0, &close.reason));
        let _ = self.body.send(chunk.freeze()).await;
        // Dropping the sender (with the connection) ends the response.
    }
}
