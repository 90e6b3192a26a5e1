//! The Tidings transport over a [`WebSocket`]: protocol frames as text messages.

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use tidings_core::{Close, CloseCode, EncodedFrame, Transport, TransportError};

use crate::socket::{Incoming, WebSocket};

/// Carries Tidings protocol frames over one WebSocket.
pub(crate) struct Connection<S>(pub(crate) WebSocket<S>);

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
        self.0.send_frames(frames).await
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        match self.0.recv().await? {
            Some(Incoming::Text(text)) => Ok(Some(text)),
            Some(Incoming::Binary(_)) => Err(TransportError::Close(Close::new(
                CloseCode::UNSUPPORTED_DATA,
                "protocol v1 is JSON text; binary messages are not accepted",
            ))),
            None => Ok(None),
        }
    }

    async fn close(&mut self, close: Close) {
        self.0.close(close).await
    }

    fn abort(&mut self) {
        self.0.abort();
    }
}
