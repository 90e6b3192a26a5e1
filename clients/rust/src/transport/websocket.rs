//! WebSocket: one text message per frame, both ways.

use futures_util::{SinkExt, StreamExt};
use tidings_protocol::CloseCode;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};

use super::{refused, Down, Opener, Up};
use crate::endpoint::Resume;
use crate::error::Error;
use crate::options::TransportKind;

/// Opens the socket and starts its reader and writer.
pub(super) async fn open(
    opener: &Opener,
    resume: Option<&Resume>,
    down: mpsc::Sender<Down>,
    mut up: mpsc::UnboundedReceiver<Up>,
) -> Result<Vec<JoinHandle<()>>, Error> {
    let url = opener.endpoint.open_url(TransportKind::WebSocket, resume);
    let mut request = url.as_str().into_client_request().map_err(|e| Error::Connect(format!("WebSocket: {e}")))?;
    if let Some(token) = opener.credentials.current() {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| Error::Connect("the token is not a valid HTTP header value".into()))?;
        value.set_sensitive(true);
        request.headers_mut().insert(header::AUTHORIZATION, value);
    }
    let (socket, _) = opener.tls.connect_websocket(request).await.map_err(|e| match e {
        // The handshake was answered with a plain HTTP response: a refusal (401, 403, 429...).
        tungstenite::Error::Http(response) => {
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            refused(TransportKind::WebSocket, response.status().as_u16(), &body)
        }
        e => Error::Connect(format!("WebSocket: {e}")),
    })?;
    let (mut sink, mut stream) = socket.split();
    let idle = opener.idle_timeout;
    let reader = tokio::spawn(async move {
        let end = loop {
            // Pings count as traffic: the server pings an idle connection, so silence means it is gone.
            let message = match tokio::time::timeout(idle, stream.next()).await {
                Ok(Some(Ok(message))) => message,
                Ok(Some(Err(e))) => {
                    tracing::debug!(error = %e, "WebSocket failed");
                    break None;
                }
                Ok(None) => break None,
                Err(_) => {
                    tracing::debug!("WebSocket silent past the idle timeout");
                    break None;
                }
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Close(frame) => break frame.map(|f| CloseCode(f.code.into())),
                _ => continue,
            };
            if down.send(Down::Frame(text.as_str().to_owned())).await.is_err() {
                return;
            }
        };
        let _ = down.send(Down::End(end)).await;
    });
    let writer = tokio::spawn(async move {
        while let Some(item) = up.recv().await {
            let written = match item {
                // Feed, and flush only once the queue is empty: a burst of requests goes out in few writes.
                Up::Frame(text) => match sink.feed(Message::text(text)).await {
                    Ok(()) if up.is_empty() => sink.flush().await,
                    other => other,
                },
                Up::Close(done) => {
                    let frame = CloseFrame { code: WsCloseCode::Normal, reason: "".into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    let _ = done.send(());
                    return;
                }
            };
            if written.is_err() {
                // The reader sees the failure too, and reports the end.
                return;
            }
        }
    });
    Ok(vec![reader, writer])
}
