//! Server-Sent Events: `GET {base}/sse` streams frames down as events; frames go up with `POST {base}/send`.

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::event_stream::EventStreamParser;
use super::{http_send, refusal, Down, Opener, SessionCell, Up};
use crate::endpoint::Resume;
use crate::error::Error;
use crate::options::TransportKind;

/// The longest event-stream line accepted: well over the largest frame a server sends, short of unbounded.
const MAX_LINE: usize = 16 << 20;

/// Requests the stream, checks it is one, and starts its reader and the upstream sender.
pub(super) async fn open(
    opener: &Opener,
    resume: Option<&Resume>,
    down: mpsc::Sender<Down>,
    up: mpsc::UnboundedReceiver<Up>,
    session: SessionCell,
) -> Result<Vec<JoinHandle<()>>, Error> {
    let url = opener.endpoint.open_url(TransportKind::Sse, resume);
    let response = opener
        .authorized(opener.http.get(url))
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|e| Error::Connect(format!("SSE: {e}")))?;
    if !response.status().is_success() {
        return Err(refusal(TransportKind::Sse, response).await);
    }
    let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(|t| t.starts_with("text/event-stream")) {
        return Err(Error::Connect(format!("SSE: answered with content type {content_type:?}")));
    }
    let idle = opener.idle_timeout;
    let reader_down = down.clone();
    let reader = tokio::spawn(async move {
        let down = reader_down;
        let mut body = response.bytes_stream();
        let mut parser = EventStreamParser::new(MAX_LINE);
        let mut events = Vec::new();
        loop {
            // The server sends a comment every 15 seconds: silence past the idle timeout means the stream is dead.
            let chunk = match tokio::time::timeout(idle, body.next()).await {
                Ok(Some(Ok(chunk))) => chunk,
                Ok(Some(Err(e))) => {
                    tracing::debug!(error = %e, "SSE stream failed");
                    break;
                }
                Ok(None) => break,
                Err(_) => {
                    tracing::debug!("SSE stream silent past the idle timeout");
                    break;
                }
            };
            if parser.feed(&chunk, &mut events).is_err() {
                tracing::warn!("SSE stream sent an over-long line");
                break;
            }
            for event in events.drain(..) {
                // Every frame comes as a default (`message`) event; other event types are not the protocol's.
                if event.event == "message" && down.send(Down::Frame(event.data)).await.is_err() {
                    return;
                }
            }
        }
        // A closed stream without a `close` frame is a lost connection.
        let _ = down.send(Down::End(None)).await;
    });
    let sender = tokio::spawn(http_send::run(opener.clone(), session, up, down));
    Ok(vec![reader, sender])
}
