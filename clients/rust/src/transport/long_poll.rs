//! Long polling: `GET {base}/poll` answers with a JSON array of frames, as soon as there is one; the client polls
//! again at once with the highest `seq` received, which acknowledges everything up to it. Frames go up with
//! `POST {base}/send`.

use reqwest::StatusCode;
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{http_send, refusal, refused, Down, Opener, Peek, SessionCell, Up};
use crate::endpoint::Resume;
use crate::error::Error;
use crate::options::TransportKind;

/// Starts the poll loop and the upstream sender; [`super::open`] then waits for the welcome.
///
/// A poll that starts a session answers `[welcome]` at once. A poll that continues a live session answers no
/// welcome at all, only frames, and is held (25 seconds by default) while there are none: too long to wait for
/// to learn whether resuming worked. So a resume first asks `POST /send` with an `ack` (which the session would
/// get anyway): 204 means the session lives, and this link continues it (with a welcome of its own making, so
/// that every transport opens alike); 404 means it is gone, and polling starts a new one.
pub(super) async fn open(
    opener: &Opener,
    resume: Option<&Resume>,
    down: mpsc::Sender<Down>,
    up: mpsc::UnboundedReceiver<Up>,
    session: SessionCell,
) -> Result<Vec<JoinHandle<()>>, Error> {
    let mut position = None;
    if let Some(resume) = resume {
        let probe = opener
            .authorized(opener.http.post(opener.endpoint.send_url(&resume.session)))
            .header(reqwest::header::CONTENT_TYPE, "text/plain")
            .body(json!([{ "type": "ack", "seq": resume.ack }]).to_string())
            .send()
            .await
            .map_err(|e| Error::Connect(format!("long polling: {e}")))?;
        match probe.status() {
            status if status.is_success() => {
                let welcome = json!({ "type": "welcome", "protocol": 1, "session": resume.session, "resumed": true });
                // The channel is new and empty: this cannot fail for want of room.
                let _ = down.try_send(Down::Frame(welcome.to_string()));
                position = Some(resume.clone());
            }
            StatusCode::NOT_FOUND => {}
            _ => return Err(refusal(TransportKind::LongPoll, probe).await),
        }
    }
    let poller = tokio::spawn(poll_loop(opener.clone(), position, down.clone(), session.clone()));
    let sender = tokio::spawn(http_send::run(opener.clone(), session, up, down));
    Ok(vec![poller, sender])
}

async fn poll_loop(opener: Opener, resume: Option<Resume>, down: mpsc::Sender<Down>, session: SessionCell) {
    let mut position = resume;
    // Every poll after the first continues this connection (`next=1`): it must not take the session back from a
    // transport the client moved it to meanwhile (the server answers it with a 4500 close instead).
    let mut continuing = false;
    loop {
        let mut url = opener.endpoint.open_url(TransportKind::LongPoll, position.as_ref());
        if std::mem::replace(&mut continuing, true) {
            url.query_pairs_mut().append_pair("next", "1");
        }
        // The server answers a held poll within its hold time (25 seconds by default): past the idle timeout, the
        // connection is taken for lost.
        let batch = match poll(&opener, url).await {
            Ok(batch) => batch,
            Err(PollError::Refused(e)) => {
                tracing::debug!(error = %e, "poll refused");
                let _ = down.send(Down::Refused(e)).await;
                return;
            }
            Err(PollError::Failed(e)) => {
                tracing::debug!(error = %e, "poll failed");
                let _ = down.send(Down::End(None)).await;
                return;
            }
        };
        for frame in batch {
            let text = frame.get().to_owned();
            let Ok(peek) = serde_json::from_str::<Peek>(&text) else {
                // Undecodable: the driver reports it; its `seq`, if any, was unreadable here too.
                if down.send(Down::Frame(text)).await.is_err() {
                    return;
                }
                continue;
            };
            match peek.kind.as_str() {
                // A poll that named a lost session starts a new one: later polls and sends name the new one, and
                // acknowledge from its start.
                "welcome" => {
                    let id = peek.session.unwrap_or_default();
                    id.clone_into(&mut session.lock().expect("session cell lock"));
                    let ack = match &position {
                        Some(p) if peek.resumed && p.session == id => p.ack,
                        _ => 0,
                    };
                    position = Some(Resume { session: id, ack });
                }
                "close" => {
                    let _ = down.send(Down::Frame(text)).await;
                    return;
                }
                _ => {
                    if let (Some(seq), Some(p)) = (peek.seq, position.as_mut()) {
                        // Acknowledging what was handed to the driver is safe: it processes everything it is
                        // handed, in order, before anything else.
                        p.ack = p.ack.max(seq);
                    }
                }
            }
            if down.send(Down::Frame(text)).await.is_err() {
                return;
            }
        }
    }
}

/// Why a poll failed.
enum PollError {
    /// The server refused the credentials (401, 403).
    Refused(Error),
    /// Anything else: the connection is lost.
    Failed(String),
}

/// One poll: its frames, or why it failed.
async fn poll(opener: &Opener, url: url::Url) -> Result<Vec<Box<RawValue>>, PollError> {
    let failed = |e: reqwest::Error| PollError::Failed(e.to_string());
    let request = opener.authorized(opener.http.get(url)).timeout(opener.idle_timeout);
    let response = request.send().await.map_err(failed)?;
    let status = response.status().as_u16();
    if !response.status().is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(match refused(TransportKind::LongPoll, status, &body) {
            refusal @ Error::Unauthorized { .. } => PollError::Refused(refusal),
            other => PollError::Failed(other.to_string()),
        });
    }
    let body = response.bytes().await.map_err(failed)?;
    // Kept as raw JSON: each frame is handed on as it came.
    serde_json::from_slice(&body).map_err(|e| PollError::Failed(e.to_string()))
}
