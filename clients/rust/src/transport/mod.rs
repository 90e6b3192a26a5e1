//! Transports: each opens a [`Link`], one connection's worth of frames down and up, in the same shape whatever
//! carries them, so that the driver above never cares which transport it has.

mod event_stream;
mod http_send;
mod long_poll;
mod sse;
mod websocket;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tidings_protocol::{CloseCode, ServerFrame};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::credentials::Credentials;
use crate::endpoint::{Endpoint, Resume};
use crate::error::Error;
use crate::options::TransportKind;
use crate::tls::Tls;

/// How many received frames a link may hold before its reader waits for the driver (backpressure to the socket).
const DOWN_CAPACITY: usize = 256;

/// Something a link received.
#[derive(Debug)]
pub(crate) enum Down {
    /// One server frame, as JSON text.
    Frame(String),
    /// The connection ended: with the close code of a WebSocket close frame, or `None` when it was lost (1006).
    /// (The `close` frame of SSE and long polling arrives as a `Frame`.)
    End(Option<CloseCode>),
    /// The connection ended because the server refused a request of it (a poll answered 401, say): before the
    /// `welcome`, that is why the link did not open; after it, the connection is lost like with `End(None)`.
    Refused(Error),
}

/// Something to send.
#[derive(Debug)]
pub(crate) enum Up {
    /// One client frame, as JSON text.
    Frame(String),
    /// End the session (a WebSocket close frame, or a `close` frame over HTTP); `done` fires once it is written.
    Close(oneshot::Sender<()>),
}

/// The session id upstream HTTP requests name. Long polling can switch to a new session in the middle of a link
/// (a poll that names an expired session starts a new one), so it is shared rather than fixed at open.
pub(crate) type SessionCell = Arc<Mutex<String>>;

/// What every transport needs to open.
#[derive(Clone)]
pub(crate) struct Opener {
    pub(crate) endpoint: Endpoint,
    pub(crate) http: reqwest::Client,
    pub(crate) open_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) credentials: Arc<Credentials>,
    pub(crate) tls: Tls,
}

impl Opener {
    /// `request` with the current token, if there is one, as `Authorization: Bearer` (marked sensitive: never
    /// logged by reqwest).
    pub(crate) fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.credentials.current() {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}

/// The `welcome` that opened a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Welcome {
    pub(crate) session: String,
    pub(crate) resumed: bool,
    /// The connection gets a `ping` frame after this long without one (it asked for heartbeats).
    pub(crate) heartbeat: Option<Duration>,
}

/// One open connection. Dropping it drops the connection at once (its tasks are aborted).
pub(crate) struct Link {
    pub(crate) kind: TransportKind,
    pub(crate) down: mpsc::Receiver<Down>,
    up: mpsc::UnboundedSender<Up>,
    session: SessionCell,
    tasks: Vec<JoinHandle<()>>,
}

impl Link {
    /// Sends a frame; false when the link's writer is gone (the link is ending, and `down` will say so).
    pub(crate) fn send(&self, frame: String) -> bool {
        self.up.send(Up::Frame(frame)).is_ok()
    }

    /// Ends the session: sends the close, then waits (briefly) for the server to end the connection, so that the
    /// close is read before the socket goes.
    pub(crate) async fn close(mut self) {
        let (done, written) = oneshot::channel();
        if self.up.send(Up::Close(done)).is_err() {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = written.await;
            while let Some(Down::Frame(_)) = self.down.recv().await {}
        })
        .await;
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Opens `kind` and reads its `welcome`, within the open timeout (which includes obtaining a token from the
/// callback, if the client has one).
pub(crate) async fn open(
    kind: TransportKind,
    opener: &Opener,
    resume: Option<&Resume>,
) -> Result<(Link, Welcome), Error> {
    let opening = async {
        opener.credentials.obtain().await.map_err(|e| match e {
            Error::Unauthorized { .. } => e,
            other => Error::Connect(format!("{kind}: the token callback failed: {other}")),
        })?;
        let (down_tx, down) = mpsc::channel(DOWN_CAPACITY);
        let (up, up_rx) = mpsc::unbounded_channel();
        let session = SessionCell::default();
        let tasks = match kind {
            TransportKind::WebSocket => websocket::open(opener, resume, down_tx, up_rx).await?,
            TransportKind::Sse => sse::open(opener, resume, down_tx, up_rx, session.clone()).await?,
            TransportKind::LongPoll => long_poll::open(opener, resume, down_tx, up_rx, session.clone()).await?,
        };
        let mut link = Link { kind, down, up, session, tasks };
        let welcome = match link.down.recv().await {
            Some(Down::Frame(text)) => match serde_json::from_str(&text) {
                Ok(ServerFrame::Welcome { session, resumed, heartbeat_ms, .. }) => {
                    Welcome { session, resumed, heartbeat: heartbeat_ms.map(Duration::from_millis) }
                }
                Ok(ServerFrame::Close { code, .. }) => return Err(Error::Closed(Some(CloseCode(code)))),
                _ => return Err(Error::Connect(format!("{kind}: expected a welcome frame, got {text}"))),
            },
            Some(Down::End(code)) => return Err(Error::Closed(code)),
            Some(Down::Refused(e)) => return Err(e),
            None => return Err(Error::Closed(None)),
        };
        welcome.session.clone_into(&mut link.session.lock().expect("session cell lock"));
        Ok((link, welcome))
    };
    tokio::time::timeout(opener.open_timeout, opening)
        .await
        .map_err(|_| Error::Connect(format!("{kind}: no welcome within {:?}", opener.open_timeout)))?
}

/// The fields of a server frame that transports look at, read without decoding the rest.
#[derive(Deserialize)]
pub(crate) struct Peek {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) id: Option<u64>,
    pub(crate) seq: Option<u64>,
    pub(crate) session: Option<String>,
    #[serde(default)]
    pub(crate) resumed: bool,
}

/// Reads an HTTP error response's status and (short) body: [`Error::Unauthorized`] for 401 and 403, which
/// refuse the credentials, [`Error::Connect`] for anything else.
async fn refusal(kind: TransportKind, response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    refused(kind, status, &body)
}

/// The error for a connect request answered with `status` and `body`.
pub(crate) fn refused(kind: TransportKind, status: u16, body: &str) -> Error {
    let reason: String = body.trim().chars().take(200).collect();
    if is_auth_refusal(status) {
        return Error::Unauthorized { status, reason };
    }
    Error::Connect(format!("{kind}: {status} {reason}"))
}

/// 401 (no credentials, or ones that do not check out) and 403 (not allowed) refuse the credentials: retrying with
/// the same ones fails again.
pub(crate) fn is_auth_refusal(status: u16) -> bool {
    status == 401 || status == 403
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_of_the_credentials_are_told_apart() {
        let refusal = refused(TransportKind::Sse, 401, "token expired\n");
        assert!(matches!(refusal, Error::Unauthorized { status: 401, ref reason } if reason == "token expired"));
        assert!(matches!(refused(TransportKind::Sse, 403, "origin"), Error::Unauthorized { status: 403, .. }));
        let limited = refused(TransportKind::LongPoll, 429, "too many connection attempts");
        assert!(matches!(limited, Error::Connect(ref m) if m == "long polling: 429 too many connection attempts"));
        let long = "x".repeat(1000);
        assert!(
            matches!(refused(TransportKind::WebSocket, 401, &long), Error::Unauthorized { reason, .. } if reason.len() == 200)
        );
    }
}
