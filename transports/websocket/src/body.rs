//! The body of the 101 response: the server's half of the WebSocket connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::{mpsc, oneshot};

/// Streams what the connection writes. When the connection ends normally the rest is flushed and the stream ends
/// (actix-web then closes the socket); when it is aborted, the stream fails at once, which makes actix-web drop the
/// socket without flushing: the only way to be rid of a client that does not read at all.
pub(crate) struct ResponseBody {
    frames: mpsc::Receiver<Bytes>,
    abort: Option<oneshot::Receiver<()>>,
    aborted: bool,
}

impl ResponseBody {
    pub(crate) fn new(frames: mpsc::Receiver<Bytes>, abort: oneshot::Receiver<()>) -> Self {
        ResponseBody { frames, abort: Some(abort), aborted: false }
    }
}

impl Stream for ResponseBody {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.aborted {
            return Poll::Ready(None);
        }
        if let Some(abort) = self.abort.as_mut() {
            match Pin::new(abort).poll(cx) {
                Poll::Ready(Ok(())) => {
                    self.aborted = true;
                    return Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::TimedOut, "client stopped reading"))));
                }
                // The connection was dropped without aborting: flush what is left.
                Poll::Ready(Err(_)) => self.abort = None,
                Poll::Pending => {}
            }
        }
        self.frames.poll_recv(cx).map(|frame| frame.map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[actix_rt::test]
    async fn flushes_on_normal_end_and_fails_on_abort() {
        let (tx, rx) = mpsc::channel(4);
        let (abort, aborted) = oneshot::channel();
        let mut body = ResponseBody::new(rx, aborted);
        tx.send(Bytes::from_static(b"a")).await.unwrap();
        drop((tx, abort));
        assert_eq!(body.next().await.unwrap().unwrap(), "a");
        assert!(body.next().await.is_none());

        let (tx, rx) = mpsc::channel(4);
        let (abort, aborted) = oneshot::channel();
        let mut body = ResponseBody::new(rx, aborted);
        tx.send(Bytes::from_static(b"never sent")).await.unwrap();
        abort.send(()).unwrap();
        assert!(body.next().await.unwrap().is_err());
        assert!(body.next().await.is_none());
    }
}
