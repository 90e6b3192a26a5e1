//! The driver: one task per client that owns the connection. It feeds received frames to the shared state in `seq`
//! order and exactly once, acknowledges them, sends queued frames, and when the connection is lost reconnects
//! (resuming the session, or starting over and subscribing again when the server could not resume it).

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::json;
use tidings_protocol::{CloseCode, ServerFrame};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::ack::AckTracker;
use crate::credentials::MAX_AUTH_REFUSALS;
use crate::dispatch::dispatch;
use crate::endpoint::Resume;
use crate::error::Error;
use crate::options::{ClientOptions, TransportKind};
use crate::race::race;
use crate::shared::{Command, DriverEnds, Outgoing, Shared};
use crate::state::ConnectionState;
use crate::transport::{open, Down, Link, Opener, Peek, Welcome};

/// How long a session handed over to a probe of this client may wait for the probe's `welcome`.
const HANDOVER_GRACE: Duration = Duration::from_secs(1);
/// A transport whose stream stalled (it opened, then its heartbeats stopped: a proxy holds it) goes last in the
/// races, and is not probed, for this long.
const DEMOTED_FOR: Duration = Duration::from_secs(300);

/// Why serving a connection stopped.
enum Ended {
    /// The connection ended: with the server's close code, or `None` when it was lost without one.
    Lost(Option<CloseCode>),
    /// An upgrade probe opened on a better transport and resumed the session there.
    Upgraded(Link, Welcome),
    /// [`Client::close`](crate::Client::close) was called.
    Close(oneshot::Sender<()>),
    /// Every client handle is gone.
    Dropped,
}

pub(crate) struct Driver {
    /// Weak, so that the client closes when its last handle goes even though this task runs on.
    shared: Weak<Shared>,
    options: ClientOptions,
    opener: Opener,
    queue: mpsc::Receiver<Outgoing>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// The session, once a `welcome` named it.
    session: Option<String>,
    /// The highest `seq` processed in this session: frames at or below it are duplicates.
    processed: u64,
    ack: AckTracker,
    /// Where the current transport is in `options.transports`.
    current: usize,
    /// Until then, a 4500 may be this client's own doing: a race dropped attempts that resumed the session, and
    /// one of them may have taken it over at the server.
    rival_until: Option<Instant>,
    /// The upgrade probe under way, if any.
    probe: Option<Probe>,
    /// When to start the next upgrade probe round.
    next_probe: Option<Instant>,
    /// Upgrade rounds failed since the last success (each doubles the delay).
    probe_failures: u32,
    /// The current connection's heartbeat interval, when the server sends it `ping` frames.
    heartbeat: Option<Duration>,
    /// When the current connection last delivered a frame.
    last_heard: Instant,
    /// Transports whose stream stalled, until when they go last.
    demoted: std::collections::HashMap<TransportKind, Instant>,
    /// The better transports still to probe in this round, best first.
    probe_queue: Vec<usize>,
}

/// An attempt to open a better transport, resuming the session, while the current one serves.
struct Probe {
    index: usize,
    task: tokio::task::JoinHandle<Result<(Link, Welcome), Error>>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Driver {
    pub(crate) fn new(shared: &Arc<Shared>, ends: DriverEnds, opener: Opener, current: usize) -> Self {
        let options = shared.options.clone();
        Driver {
            shared: Arc::downgrade(shared),
            ack: AckTracker::new(options.ack),
            options,
            opener,
            queue: ends.queue,
            commands: ends.commands,
            session: None,
            processed: 0,
            current,
            rival_until: None,
            probe: None,
            next_probe: None,
            probe_failures: 0,
            probe_queue: Vec::new(),
            heartbeat: None,
            last_heard: Instant::now(),
            demoted: std::collections::HashMap::new(),
        }
    }

    /// Runs until the client is closed, gives up, or is dropped.
    pub(crate) async fn run(mut self, mut link: Link, welcome: Welcome) {
        self.on_welcome(&link, welcome);
        self.schedule_upgrade(true);
        loop {
            let code = match self.serve(&mut link).await {
                Ended::Upgraded(better, welcome) => {
                    tracing::info!(from = %link.kind, to = %better.kind, "the session moved to a better transport");
                    link = better;
                    self.on_welcome(&link, welcome);
                    self.probe_failures = 0;
                    self.schedule_upgrade(true);
                    continue;
                }
                Ended::Lost(code) => code,
                Ended::Close(done) => {
                    link.close().await;
                    self.finish(ConnectionState::Closed(Some(CloseCode::NORMAL)));
                    let _ = done.send(());
                    return;
                }
                Ended::Dropped => {
                    // Nobody can use the session any more: end it now rather than leave it to the resume window.
                    link.close().await;
                    return;
                }
            };
            drop(link);
            if code == Some(CloseCode::SUPERSEDED) {
                // A probe of this client's own took the session over: its welcome is on the way.
                if let Some((better, welcome)) = self.await_handover().await {
                    link = better;
                    self.on_welcome(&link, welcome);
                    self.probe_failures = 0;
                    self.schedule_upgrade(true);
                    continue;
                }
            }
            let own_doing = code == Some(CloseCode::SUPERSEDED) && self.rival_until.is_some_and(|t| Instant::now() < t);
            // 4500 included (unless this client caused it): the session lives on elsewhere, and this client must
            // not take it back.
            if !own_doing && code.is_some_and(|c| !c.should_reconnect()) {
                tracing::debug!(?code, "the server closed the connection for good");
                self.finish(ConnectionState::Closed(code));
                return;
            }
            tracing::debug!(?code, "connection lost; reconnecting");
            match self.reconnect(code).await {
                Some((new_link, welcome)) => {
                    link = new_link;
                    self.on_welcome(&link, welcome);
                    self.schedule_upgrade(true);
                }
                None => return,
            }
        }
    }

    /// Serves one connection until it ends.
    async fn serve(&mut self, link: &mut Link) -> Ended {
        loop {
            // Long polling acknowledges with every poll: no `ack` frames there.
            let ack_due = self.ack.deadline().filter(|_| link.kind != TransportKind::LongPoll);
            let (stall_at, beating) = (self.stall_deadline(), self.heartbeat.is_some());
            tokio::select! {
                command = self.commands.recv() => return match command {
                    Some(Command::Close(done)) => Ended::Close(done),
                    None => Ended::Dropped,
                },
                () = tokio::time::sleep_until(stall_at), if beating => {
                    tracing::info!(transport = %link.kind, "stalled: no frame nor heartbeat from the server; demoted");
                    self.demoted.insert(link.kind, Instant::now() + DEMOTED_FOR);
                    return Ended::Lost(None);
                }
                down = link.down.recv() => match down {
                    Some(Down::Frame(text)) => {
                        self.last_heard = Instant::now();
                        if let Some(ended) = self.on_frame(link, &text) {
                            return ended;
                        }
                    }
                    Some(Down::End(code)) => return Ended::Lost(code),
                    // The credentials no longer check out (a poll refused): reconnecting obtains a token afresh.
                    Some(Down::Refused(_)) | None => return Ended::Lost(None),
                },
                outgoing = self.queue.recv() => match outgoing {
                    Some(outgoing) => {
                        if let (Some(id), Some(shared)) = (outgoing.id, self.shared.upgrade()) {
                            shared.mark_sent(id);
                        }
                        link.send(outgoing.text);
                    }
                    None => return Ended::Dropped,
                },
                () = tokio::time::sleep_until(ack_due.unwrap_or_else(Instant::now)), if ack_due.is_some() => {
                    self.send_ack(link);
                }
                () = tokio::time::sleep_until(self.next_probe.unwrap_or_else(Instant::now)), if self.next_probe.is_some() && self.probe.is_none() => {
                    self.next_probe = None;
                    self.probe_queue = (0..self.current).collect();
                    self.probe_next();
                }
                opened = async { (&mut self.probe.as_mut().expect("guarded").task).await }, if self.probe.is_some() => {
                    let index = self.probe.take().expect("guarded").index;
                    if let Some(ended) = self.probed(index, opened).await {
                        return ended;
                    }
                }
            }
        }
    }

    /// When the current connection counts as stalled: twice its heartbeat interval (plus slack) after the last
    /// frame, and never later than the idle timeout.
    fn stall_deadline(&self) -> Instant {
        let beat = self.heartbeat.unwrap_or(self.options.idle_timeout);
        self.last_heard + (beat * 2 + Duration::from_secs(2)).min(self.options.idle_timeout)
    }

    /// The transports whose streams stalled lately.
    fn demoted(&mut self) -> Vec<TransportKind> {
        let now = Instant::now();
        self.demoted.retain(|_, until| *until > now);
        self.demoted.keys().copied().collect()
    }

    /// Arms the next upgrade round while the current transport is not the most preferred.
    fn schedule_upgrade(&mut self, fresh: bool) {
        self.probe = None;
        if fresh {
            self.probe_queue.clear();
        }
        self.next_probe = match self.options.upgrade {
            Some(delay) if self.current > 0 => {
                let factor = 2u32.saturating_pow(self.probe_failures.min(30));
                Some(Instant::now() + delay.saturating_mul(factor).min(self.options.upgrade_max_delay))
            }
            _ => None,
        };
    }

    /// Starts the next probe of this round, or (none left) fails the round.
    fn probe_next(&mut self) {
        let Some(session) = self.session.clone() else { return };
        if self.probe_queue.is_empty() {
            self.probe_failures += 1;
            self.schedule_upgrade(false);
            return;
        }
        let index = self.probe_queue.remove(0);
        let kind = self.options.transports[index];
        if self.demoted().contains(&kind) {
            return self.probe_next();
        }
        let opener = self.opener.clone();
        let resume = Resume { session, ack: self.processed };
        let task = tokio::spawn(async move { open(kind, &opener, Some(&resume)).await });
        self.probe = Some(Probe { index, task });
    }

    /// A probe finished: the session moves when it resumed there; otherwise the round goes on.
    async fn probed(
        &mut self,
        index: usize,
        opened: Result<Result<(Link, Welcome), Error>, tokio::task::JoinError>,
    ) -> Option<Ended> {
        match opened {
            Ok(Ok((link, welcome))) => {
                if welcome.resumed && self.session.as_deref() == Some(welcome.session.as_str()) {
                    self.current = index;
                    return Some(Ended::Upgraded(link, welcome));
                }
                // It started another session (ours could not be resumed there): end that one.
                link.close().await;
            }
            Ok(Err(e)) => {
                tracing::debug!(transport = %self.options.transports[index], error = %e, "upgrade probe failed")
            }
            Err(_) => {}
        }
        self.probe_next();
        None
    }

    /// The connection was superseded while a probe was under way: wait a moment for the probe's welcome. A probe
    /// that took the session over and delivers nothing (a proxy buffering its stream) is dropped, and the reconnect
    /// takes the session back.
    async fn await_handover(&mut self) -> Option<(Link, Welcome)> {
        let probe = self.probe.take()?;
        let index = probe.index;
        let outcome = tokio::time::timeout(HANDOVER_GRACE, async {
            let mut probe = probe;
            (&mut probe.task).await
        })
        .await;
        self.rival_until = Some(Instant::now() + self.options.open_timeout);
        match outcome {
            Ok(Ok(Ok((link, welcome))))
                if welcome.resumed && self.session.as_deref() == Some(welcome.session.as_str()) =>
            {
                self.current = index;
                Some((link, welcome))
            }
            _ => {
                tracing::info!(transport = %self.options.transports[index], "an upgrade probe took the session over and delivered nothing");
                self.probe_failures += 1;
                None
            }
        }
    }

    /// Handles one received frame; `Some` when it ends the connection.
    fn on_frame(&mut self, link: &Link, text: &str) -> Option<Ended> {
        let shared = self.shared.upgrade()?;
        let frame: ServerFrame = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(e) => {
                self.undecodable(link, &shared, text, e);
                return None;
            }
        };
        match frame {
            ServerFrame::Welcome { session, resumed, heartbeat_ms, .. } => {
                self.on_welcome(link, Welcome { session, resumed, heartbeat: heartbeat_ms.map(Duration::from_millis) })
            }
            // A heartbeat: it counted as something heard when it arrived.
            ServerFrame::Ping => {}
            ServerFrame::Close { code, reason } => {
                tracing::debug!(code, reason, "the server closed the connection");
                return Some(Ended::Lost(Some(CloseCode(code))));
            }
            frame => {
                let seq = frame.seq().expect("every other frame is numbered");
                if seq <= self.processed {
                    return None; // Sent again after a resume: processed already.
                }
                dispatch(&shared, frame);
                self.processed(link, seq);
            }
        }
        None
    }

    /// A frame this client cannot decode (say, a number beyond f64 in someone's payload): it still counts in the
    /// sequence, and a reply still answers its request, so that the caller gets an error rather than a timeout.
    fn undecodable(&mut self, link: &Link, shared: &Shared, text: &str, error: serde_json::Error) {
        let peek = serde_json::from_str::<Peek>(text).ok();
        let seq = peek.as_ref().and_then(|p| p.seq);
        if seq.is_some_and(|seq| seq <= self.processed) {
            return;
        }
        match peek {
            Some(Peek { kind, id: Some(id), .. }) if kind == "reply" || kind == "error" => {
                shared.answer(id, Err(Error::Decode(error.to_string())))
            }
            _ => tracing::warn!(%error, "dropping a frame this client cannot decode"),
        }
        if let Some(seq) = seq {
            self.processed(link, seq);
        }
    }

    fn processed(&mut self, link: &Link, seq: u64) {
        self.processed = seq;
        if link.kind == TransportKind::LongPoll {
            // The poll loop acknowledges with its next poll.
            self.ack.reset(seq);
        } else if self.ack.processed(seq, Instant::now()) {
            self.send_ack(link);
        }
    }

    fn send_ack(&mut self, link: &Link) {
        if let Some(seq) = self.ack.take() {
            link.send(json!({ "type": "ack", "seq": seq }).to_string());
        }
    }

    /// A `welcome`: when a link opens, and on long polling whenever a poll had to start a new session.
    fn on_welcome(&mut self, link: &Link, welcome: Welcome) {
        self.heartbeat = welcome.heartbeat;
        self.last_heard = Instant::now();
        let resumed = welcome.resumed && self.session.as_deref() == Some(welcome.session.as_str());
        if resumed {
            // The link was opened (or polled) with `ack` = everything processed.
            self.ack.reset(self.processed);
        } else {
            self.start_over(link, welcome.session.clone());
        }
        if let Some(shared) = self.shared.upgrade() {
            shared.set_status(ConnectionState::Connected { transport: link.kind, session: welcome.session });
        }
    }

    /// The server started a new session: number from 1 again, and subscribe and join again before anything
    /// queued is sent (a queued message to a room needs the membership first).
    fn start_over(&mut self, link: &Link, session: String) {
        if let Some(old) = &self.session {
            tracing::info!(old, new = session, "the server could not resume the session; starting over");
        }
        self.session = Some(session);
        self.processed = 0;
        self.ack.reset(0);
        if let Some(shared) = self.shared.upgrade() {
            for frame in shared.start_over() {
                link.send(frame);
            }
        }
    }

    /// Reconnects with backoff: each round races the transports (the one that worked last first), resuming the
    /// session. `None` when the client closed or gave up meanwhile.
    ///
    /// Every attempt obtains a token afresh (see [`TokenSource`](crate::TokenSource)). An attempt refused with 401
    /// or 403 ends its round (the other transports would carry the same token); after [`MAX_AUTH_REFUSALS`] of
    /// them the client gives up, in [`ConnectionState::Unauthorized`].
    async fn reconnect(&mut self, lost_with: Option<CloseCode>) -> Option<(Link, Welcome)> {
        let transports = self.options.transports.clone();
        let mut attempt = 0;
        let mut refusals = 0;
        let mut refused = None;
        loop {
            if self.options.max_reconnect_attempts.is_some_and(|max| attempt >= max) {
                self.finish(ConnectionState::Closed(lost_with));
                return None;
            }
            self.shared.upgrade()?.set_status(ConnectionState::Reconnecting { attempt, lost_with, refused });
            let delay = self.options.backoff.delay(attempt);
            tokio::select! {
                command = self.commands.recv() => return self.closed_while_down(command).await,
                () = tokio::time::sleep(delay) => {}
            }
            refused = None;
            let resume = self.session.clone().map(|session| Resume { session, ack: self.processed });
            let (delay, remember) = (self.options.race_delay, self.options.remember_transport);
            let demoted = self.demoted();
            tokio::select! {
                command = self.commands.recv() => return self.closed_while_down(command).await,
                won = race(&self.opener, &transports, resume.as_ref(), delay, remember, &demoted) => match won {
                    Ok(won) => {
                        if won.dropped_others && resume.is_some() {
                            self.rival_until = Some(Instant::now() + self.options.open_timeout);
                        }
                        self.current = won.index;
                        return Some((won.link, won.welcome));
                    }
                    Err(Error::Unauthorized { status, reason }) => {
                        refusals += 1;
                        tracing::info!(status, reason, refusals, "the server refused the credentials");
                        if refusals >= MAX_AUTH_REFUSALS {
                            self.finish(ConnectionState::Unauthorized { status, reason });
                            return None;
                        }
                        refused = Some(status);
                    }
                    Err(e) => tracing::debug!(error = %e, "reconnect failed"),
                },
            }
            attempt += 1;
        }
    }

    /// A command while disconnected: a close ends the session with a best-effort `POST /send` (so the server
    /// need not wait out the resume window), and the client.
    async fn closed_while_down(&mut self, command: Option<Command>) -> Option<(Link, Welcome)> {
        let Some(Command::Close(done)) = command else { return None };
        if let Some(session) = &self.session {
            let request = self
                .opener
                .authorized(self.opener.http.post(self.opener.endpoint.send_url(session)))
                .body(r#"[{"type":"close"}]"#)
                .timeout(Duration::from_secs(1))
                .send();
            let _ = request.await;
        }
        self.finish(ConnectionState::Closed(Some(CloseCode::NORMAL)));
        let _ = done.send(());
        None
    }

    fn finish(&self, end: ConnectionState) {
        if let Some(shared) = self.shared.upgrade() {
            shared.finish(end);
        }
    }
}
