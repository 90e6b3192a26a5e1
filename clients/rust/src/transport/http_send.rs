//! Frames up for the HTTP transports: `POST {base}/send?session=ID` with a JSON array, one request at a time so
//! that the session handles frames in the order they were sent.

use reqwest::StatusCode;
use tidings_protocol::CloseCode;
use tokio::sync::mpsc;

use super::{Down, Opener, SessionCell, Up};

/// The most frames one request carries; more wait for the next.
const MAX_BATCH: usize = 256;

/// Sends everything `up` yields, batching what queued up while the previous request was out. A refused or failed
/// request ends the link (reported on `down`): the driver then reconnects, and a lost session is started over;
/// or, after a 413, gives up as after a 1009 close.
pub(super) async fn run(
    opener: Opener,
    session: SessionCell,
    mut up: mpsc::UnboundedReceiver<Up>,
    down: mpsc::Sender<Down>,
) {
    while let Some(first) = up.recv().await {
        let mut batch = Vec::new();
        let mut closing = None;
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Up::Frame(frame) => batch.push(frame),
                Up::Close(done) => {
                    batch.push(r#"{"type":"close"}"#.to_owned());
                    closing = Some(done);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = up.try_recv().ok();
            }
        }
        let body = format!("[{}]", batch.join(","));
        let url = opener.endpoint.send_url(&session.lock().expect("session cell lock"));
        let sent = opener
            .authorized(opener.http.post(url))
            // Any type is accepted; `text/plain` is what browsers send to skip a CORS preflight, and as good here.
            .header(reqwest::header::CONTENT_TYPE, "text/plain")
            .body(body)
            .timeout(opener.idle_timeout)
            .send()
            .await;
        let end = match sent {
            Ok(response) if response.status().is_success() => None,
            // A frame was over the size limit, and the session is closed with 1009 (`docs/protocol.md`, "Sending
            // with HTTP"). Said here rather than left to the `close` frame: a long-polling client between two
            // polls would not get that one, its next poll finding the session gone and starting a new one.
            Ok(response) if response.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Some(Some(CloseCode::MESSAGE_TOO_BIG))
            }
            // 404 (the session is gone), 401 or 403 (the credentials no longer check out: the reconnect obtains a
            // token afresh) or anything else: reconnect, which resumes or starts over as it can.
            Ok(response) => {
                tracing::debug!(status = %response.status(), "the server refused frames sent over HTTP");
                Some(None)
            }
            Err(e) => {
                tracing::debug!(error = %e, "sending frames over HTTP failed");
                Some(None)
            }
        };
        if let Some(done) = closing {
            let _ = done.send(());
            return;
        }
        if let Some(code) = end {
            let _ = down.send(Down::End(code)).await;
            return;
        }
    }
}
