//! Connecting a client to a session: a new one, or one it resumes.
//!
//! Streaming transports use [`Hub::serve`](crate::Hub::serve), which does all of this. A transport whose client
//! reaches the session through separate requests (long polling: one attachment per poll, frames up by POST) uses the
//! pieces directly: [`Hub::attach`], [`Attachment`] and [`SessionHandle`].

use std::sync::Arc;

use actix::Actor;
use bytes::Bytes;
use tidings_protocol::{encode, EncodedFrame};

use crate::close::Close;
use crate::hub::Hub;
use crate::identity::{Identity, SessionId};
use crate::session::{Detached, End, Next, Routed, Session, SessionRef, SessionState};

/// What a client asks for when it connects: who it is, and which session it continues, if any.
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// The client's identity (from the authenticator).
    pub identity: Identity,
    /// The session to resume, when the client names one.
    pub resume: Option<ResumeFrom>,
    /// The client's address, when the transport knows it (for the per-address session limit).
    pub peer: Option<std::net::IpAddr>,
    /// The name of the transport that carries the connection, when known ([`Hub::serve`] sets it). A session taken
    /// over carries it from the moment of the takeover, so that the connection it was taken from can tell a
    /// client switching transport (to stop) from its own next long poll (to hand over to).
    pub transport: Option<&'static str>,
    /// The connection continues the client's use of its transport (a long poll's next poll) rather than
    /// connecting: it does not take the session from a connection of another transport, to which the client may
    /// have just moved it ([`AttachError::MovedElsewhere`]).
    pub continuing: bool,
    /// The client asked for heartbeats (`heartbeat=1`): a `ping` frame whenever nothing was sent for
    /// [`HubConfig::heartbeat`](crate::HubConfig::heartbeat).
    pub heartbeat: bool,
}

impl Connect {
    /// A client starting afresh.
    pub fn new(identity: Identity) -> Self {
        Connect { identity, resume: None, peer: None, transport: None, continuing: false, heartbeat: false }
    }

    /// A client that wants to continue `resume` (when `Some`).
    pub fn resuming(identity: Identity, resume: Option<ResumeFrom>) -> Self {
        Connect { identity, resume, peer: None, transport: None, continuing: false, heartbeat: false }
    }

    /// The same, from the address `peer`.
    pub fn from_peer(self, peer: Option<std::net::IpAddr>) -> Self {
        Connect { peer, ..self }
    }

    /// The same, carried by the transport named `transport`.
    pub fn carried_by(self, transport: &'static str) -> Self {
        Connect { transport: Some(transport), ..self }
    }

    /// The same, with heartbeats when `heartbeat` (see [`Connect::heartbeat`]).
    pub fn with_heartbeat(self, heartbeat: bool) -> Self {
        Connect { heartbeat, ..self }
    }

    /// The same, continuing the client's use of its transport (see [`Connect::continuing`]).
    pub fn continuing(self) -> Self {
        Connect { continuing: true, ..self }
    }
}

/// A session to continue, and the highest `seq` the client has processed in it.
///
/// ```
/// use tidings_core::ResumeFrom;
/// let r = ResumeFrom::from_query("v=1&session=3f2a&ack=41").unwrap().unwrap();
/// assert_eq!((r.session.as_str(), r.ack), ("3f2a", 41));
/// assert!(ResumeFrom::from_query("v=1").unwrap().is_none());
/// assert!(ResumeFrom::from_query("session=3f2a&ack=x").is_err());
/// assert_eq!(ResumeFrom::from_last_event_id("3f2a:7").unwrap().ack, 7);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeFrom {
    /// The session id the client was given in `welcome`.
    pub session: String,
    /// Every frame up to this `seq` was processed (0 when none).
    pub ack: u64,
}

impl ResumeFrom {
    /// Reads the `session` and `ack` query parameters (`ack` defaults to 0). `Ok(None)` without `session`.
    pub fn from_query(query: &str) -> Result<Option<ResumeFrom>, String> {
        let (mut session, mut ack) = (None, 0);
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "session" if !value.is_empty() => session = Some(value.to_owned()),
                "ack" => ack = value.parse().map_err(|_| format!("ack must be a sequence number, not {value:?}"))?,
                _ => {}
            }
        }
        Ok(session.map(|session| ResumeFrom { session, ack }))
    }

    /// Reads an SSE `Last-Event-ID`, `<session>:<seq>`.
    pub fn from_last_event_id(id: &str) -> Option<ResumeFrom> {
        let (session, ack) = id.split_once(':')?;
        Some(ResumeFrom { session: session.to_owned(), ack: ack.parse().ok()? })
    }
}

/// Why no session could be attached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    /// The hub is shutting down and takes no connections.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The connection names a session its client closed: a request sent before the close, arriving after it. The
    /// transport answers with [`Close::closed_by_client`] rather than starting a session no one would use.
    #[error("the client closed this session")]
    ClosedByClient,
    /// A [continuing](Connect::continuing) connection whose session a connection of another transport carries
    /// now: the client moved it there. The transport answers with a 4500 close.
    #[error("the session continues on another transport")]
    MovedElsewhere,
}

/// One connection's hold on a session: it reads the session's frames until it ends, is superseded by a newer
/// connection, or is dropped. Dropping the attachment counts as losing the connection (the session waits for a
/// resume); [`Attachment::end`] ends the session instead.
pub struct Attachment {
    hub: Hub,
    session: Arc<SessionRef>,
    generation: u64,
    resumed_from: Option<u64>,
    finished: bool,
}

impl Attachment {
    /// The session's id.
    pub fn session_id(&self) -> &SessionId {
        &self.session.id
    }

    /// `Some(ack)` when this connection continues an existing session from frame `ack + 1`; `None` for a new
    /// session.
    pub fn resumed_from(&self) -> Option<u64> {
        self.resumed_from
    }

    /// The `welcome` frame this connection starts with.
    pub fn welcome(&self) -> EncodedFrame {
        self.welcome_with_heartbeat(None)
    }

    /// The same, saying that the connection gets a `ping` frame after every `heartbeat` without a frame.
    pub fn welcome_with_heartbeat(&self, heartbeat: Option<std::time::Duration>) -> EncodedFrame {
        let window = self.hub.config().resume_window.as_millis().try_into().unwrap_or(u64::MAX);
        let heartbeat_ms = heartbeat.map(|beat| beat.as_millis().try_into().unwrap_or(u64::MAX));
        let (id, resumed) = (self.session.id.as_str(), self.resumed_from.is_some());
        encode::welcome_with_heartbeat(id, tidings_protocol::VERSION, resumed, window, heartbeat_ms)
    }

    /// Waits for frames to send (moving up to `max` into `out`), or learns why this connection must end.
    /// Cancel-safe.
    pub async fn next(&self, out: &mut Vec<EncodedFrame>, max: usize) -> Next {
        self.session.outbox.next(self.generation, out, max).await
    }

    /// Records, for the other nodes, that the session lives on this one (see [`Hub::locate_session`]): call it
    /// before telling a client about a new session. Failures are logged: the session still works on this node.
    pub async fn announce(&self) {
        if let Err(e) = self.hub.broker().register_session(self.session.id.as_str()).await {
            tracing::warn!(session = %self.session.id, error = %e, "could not record where the session lives");
        }
    }

    /// Names the transport that carries the session now (a transport's [`Transport::name`](crate::Transport::name)),
    /// for [`HubMetrics::connections`](crate::HubMetrics::connections). [`Hub::serve`] does this itself.
    pub fn carried_by(&self, transport: &'static str) {
        *self.session.transport.lock() = transport;
    }

    /// The name of the transport carrying the session now: after [`Next::Superseded`], the one that took it over.
    pub fn current_transport(&self) -> &'static str {
        *self.session.transport.lock()
    }

    /// A handle to pass the client's frames to the session.
    pub fn handle(&self) -> SessionHandle {
        SessionHandle(self.session.clone())
    }

    /// The connection was lost, or its part is done (a long poll answered): the session waits for the client to
    /// come back within the resume window. The same as dropping the attachment.
    pub fn detach(mut self) {
        self.lose();
    }

    /// The client is done, or the connection ended with a close that says "give up": end the session (unless a
    /// newer connection has taken it over).
    pub fn end(mut self) {
        self.finished = true;
        if let Some(actor) = self.session.actor.get() {
            actor.do_send(End { generation: Some(self.generation) });
        }
    }

    fn lose(&mut self) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        if self.session.outbox.detach(self.generation) {
            if let Some(actor) = self.session.actor.get() {
                actor.do_send(Detached { generation: self.generation });
            }
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.lose();
    }
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("session", &self.session.id)
            .field("generation", &self.generation)
            .field("resumed_from", &self.resumed_from)
            .finish()
    }
}

/// A live session, as a transport that carries client frames on requests of their own (an HTTP POST) reaches it.
#[derive(Clone)]
pub struct SessionHandle(pub(crate) Arc<SessionRef>);

/// The session ended: nothing more can be sent to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session has ended")]
pub struct SessionGone;

impl SessionHandle {
    /// The session's id.
    pub fn id(&self) -> &SessionId {
        &self.0.id
    }

    /// The identity the session was created for.
    pub fn identity(&self) -> &Identity {
        &self.0.identity
    }

    /// Passes one client frame to the session, which handles frames in the order they are passed. Waits while
    /// the session's inbound queue is full (backpressure on the client's request).
    pub async fn receive(&self, frame: Bytes) -> Result<(), SessionGone> {
        match self.0.route(frame) {
            Routed::Acked if self.0.outbox.is_ended() => Err(SessionGone),
            Routed::Acked => Ok(()),
            Routed::Request(frame) => {
                let actor = self.0.actor.get().ok_or(SessionGone)?;
                if self.0.outbox.is_ended() {
                    return Err(SessionGone);
                }
                // A client over its message rate waits for its turn.
                if let Some(wait) = self.0.throttle() {
                    tokio::time::sleep(wait).await;
                }
                // Queued is enough; only a full inbound queue makes the caller wait (for a place in it).
                let inbound = self.0.queue(frame).await;
                if !actor.connected() {
                    return Err(SessionGone);
                }
                actor.do_send(inbound);
                Ok(())
            }
        }
    }

    /// Ends the session with `close` once the frames already queued are sent.
    pub fn close(&self, close: Close) {
        self.0.close(close);
    }
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SessionHandle").field(&self.0.id).finish()
    }
}

impl Hub {
    /// Attaches a connection: to the session `connect` resumes, when the hub still has it, the identity matches
    /// and the client's `ack` can be continued from exactly; otherwise to a new session. Must be called on an
    /// actix runtime (the new session's actor starts there).
    pub fn attach(&self, connect: Connect) -> Result<Attachment, AttachError> {
        // A session closing with frames still to deliver may be resumed even during a shutdown; nothing new starts.
        if let Some(resume) = &connect.resume {
            if let Some(attachment) = self.try_resume(resume, &connect)? {
                return Ok(attachment);
            }
            if self.was_closed_by_client(&resume.session) {
                tracing::debug!(session = resume.session, "a late request for a session its client closed");
                return Err(AttachError::ClosedByClient);
            }
        }
        if self.is_shutting_down() {
            return Err(AttachError::ShuttingDown);
        }
        let me = SessionRef::new(connect.identity, connect.peer, self.config(), self.inner.metrics.clone());
        let span = tracing::info_span!("session", id = %me.id, user = me.identity.user.as_deref());
        self.register(&me);
        let state = SessionState::new(self.clone(), me.clone());
        let actor = Session::new(state, span).start();
        let _ = me.actor.set(actor);
        let generation = me.outbox.generation();
        Ok(Attachment { hub: self.clone(), session: me, generation, resumed_from: None, finished: false })
    }

    /// Continues the session `connect` names when this node has it and it can continue where the client is;
    /// never starts a new one (for requests forwarded from other nodes, see [`Hub::forward`]).
    pub fn resume(&self, connect: &Connect) -> Option<Attachment> {
        connect.resume.as_ref().and_then(|resume| self.try_resume(resume, connect).ok().flatten())
    }

    fn try_resume(&self, resume: &ResumeFrom, connect: &Connect) -> Result<Option<Attachment>, AttachError> {
        let Some(session) = self.session_ref(&resume.session) else {
            tracing::debug!(session = resume.session, "asked to resume a session this hub does not have");
            return Ok(None);
        };
        if session.identity.user != connect.identity.user {
            tracing::warn!(session = %session.id, "refused to resume a session for another identity");
            return Ok(None);
        }
        // Held across the takeover: the transport name is the session's from the moment the connection it
        // replaces wakes and reads it, and a continuing connection's check and takeover are one step.
        let mut carrier = session.transport.lock();
        if connect.continuing
            && session.outbox.is_attached()
            && connect.transport.is_some_and(|transport| transport != *carrier)
        {
            tracing::debug!(session = %session.id, now = *carrier, "a continuing connection finds its session moved");
            return Err(AttachError::MovedElsewhere);
        }
        let previous = *carrier;
        if let Some(transport) = connect.transport {
            *carrier = transport;
        }
        match session.outbox.take_over(resume.ack) {
            Ok(generation) => {
                drop(carrier);
                tracing::debug!(session = %session.id, ack = resume.ack, "session resumed");
                Ok(Some(Attachment {
                    hub: self.clone(),
                    session,
                    generation,
                    resumed_from: Some(resume.ack),
                    finished: false,
                }))
            }
            Err(_) => {
                *carrier = previous;
                drop(carrier);
                tracing::info!(session = %session.id, ack = resume.ack, "cannot resume from this point; new session");
                Ok(None)
            }
        }
    }

    /// The live session `id`, for a transport that passes it client frames.
    pub fn session(&self, id: &str) -> Option<SessionHandle> {
        self.session_ref(id).map(SessionHandle)
    }

    /// Drops the session's current connection without a close frame, as a network failure would; the session
    /// stays, for its client to resume. True when the session had a connection. For tests of resumption, and for
    /// moving clients off a node.
    pub fn drop_connection(&self, id: impl AsRef<str>) -> bool {
        let Some(session) = self.session_ref(id.as_ref()) else { return false };
        session.outbox.drop_connection(session.outbox.generation())
    }
}
