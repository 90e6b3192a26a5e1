//! The session actor: request ordering and lifecycle.

use std::collections::VecDeque;
use std::rc::Rc;

use actix::{Actor, ActorFutureExt, AsyncContext, Handler, Message, WrapFuture};
use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::requests::SessionState;
use crate::close::Close;
use tidings_protocol::CloseCode;

/// A frame from the client, as the transport received it, with its place in the session's inbound queue (released
/// once the frame is handled: see `SessionRef::inbound`).
pub(crate) struct Inbound(pub(crate) Bytes, pub(crate) OwnedSemaphorePermit);

impl Message for Inbound {
    type Result = ();
}

/// End the session: its client is done, or it was closed. With a generation, only if that connection is still
/// the session's (a connection that was taken over ends nothing).
pub(crate) struct End {
    pub(crate) generation: Option<u64>,
}

impl Message for End {
    type Result = ();
}

/// The session's credentials changed expiry (or it just started): schedule the check.
pub(crate) struct WatchExpiry;

impl Message for WatchExpiry {
    type Result = ();
}

/// Connection `generation` was lost: end the session unless a connection takes it over within the resume window.
pub(crate) struct Detached {
    pub(crate) generation: u64,
}

impl Message for Detached {
    type Result = ();
}

/// One logical client.
///
/// Requests are handled one at a time, in the order they came: the next client frame is not looked at until the
/// previous one is answered, which gives handlers the per-session ordering they expect. But a request is not an
/// atomic actor future: while one runs, the session's control messages (its end, the loss of its connection, its
/// timers) are handled at once, so a handler that never returns cannot pin its session; ending the session
/// abandons the handler call in progress. Deliveries do not pass through the mailbox at all (see `Outbox`), so a
/// slow handler delays only its own session's requests.
pub(crate) struct Session {
    state: Rc<SessionState>,
    span: tracing::Span,
    /// Requests waiting for the one in progress (bounded by the permits they carry).
    requests: VecDeque<Inbound>,
    /// A request is in progress.
    busy: bool,
    /// The session stops once the request in progress has unwound.
    ending: bool,
    /// The pending end of the resume window, replaced at each lost connection (a long-poll session loses one per
    /// poll: its timers must not pile up).
    expiry: Option<actix::SpawnHandle>,
    /// The pending check of the credentials' expiry.
    credentials: Option<actix::SpawnHandle>,
}

impl Session {
    pub(crate) fn new(state: SessionState, span: tracing::Span) -> Self {
        Session {
            state: Rc::new(state),
            span,
            requests: VecDeque::new(),
            busy: false,
            ending: false,
            expiry: None,
            credentials: None,
        }
    }

    /// Starts the next waiting request, unless one is in progress.
    fn next_request(&mut self, ctx: &mut actix::Context<Self>) {
        if self.busy || self.ending {
            return;
        }
        let Some(Inbound(frame, permit)) = self.requests.pop_front() else { return };
        self.busy = true;
        let state = self.state.clone();
        let work = async move {
            state.handle_frame(frame).await;
            drop(permit);
        }
        .instrument(self.span.clone());
        ctx.spawn(work.into_actor(self).map(|(), session, ctx| {
            session.busy = false;
            if session.ending {
                actix::ActorContext::stop(ctx);
            } else {
                session.next_request(ctx);
            }
        }));
    }

    /// Ends the session: at once when no request is in progress; otherwise the handler call in progress is
    /// abandoned and the session stops as soon as its request has unwound (so that the request's own undoing, of
    /// a half-made join say, is not cut short).
    fn end(&mut self, ctx: &mut actix::Context<Self>) {
        self.requests.clear();
        if self.busy {
            self.ending = true;
            // No connection may resume a session that is ending, and requests no longer reach it.
            self.state.me.outbox.end(Close::going_away());
            self.state.interrupt();
        } else {
            actix::ActorContext::stop(ctx);
        }
    }
}

impl Session {
    /// Closes the session with 4003 when its credentials expire, unless a refresh moves the expiry first.
    fn watch_expiry(&mut self, ctx: &mut actix::Context<Self>) {
        if let Some(previous) = self.credentials.take() {
            ctx.cancel_future(previous);
        }
        let Some(at) = *self.state.me.expires_at.lock() else { return };
        let left = at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
        self.credentials = Some(ctx.run_later(left, |session, ctx| {
            let expires_at = *session.state.me.expires_at.lock();
            if expires_at.is_some_and(|at| at <= std::time::SystemTime::now()) {
                tracing::info!(parent: &session.span, "credentials expired without a refresh; closing the session");
                session.state.me.close(Close::new(CloseCode::CREDENTIALS_EXPIRED, "credentials expired"));
            } else {
                session.watch_expiry(ctx);
            }
        }));
    }
}

impl Handler<WatchExpiry> for Session {
    type Result = ();

    fn handle(&mut self, _: WatchExpiry, ctx: &mut Self::Context) {
        self.watch_expiry(ctx);
    }
}

impl Actor for Session {
    type Context = actix::Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.watch_expiry(ctx);
        tracing::debug!(parent: &self.span, "session started");
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        // From now on no connection may resume the session, and one still attached is closed.
        self.state.me.outbox.end(Close::going_away());
        let state = self.state.clone();
        let span = self.span.clone();
        actix::spawn(async move { state.end().await }.instrument(span));
    }
}

impl Handler<Inbound> for Session {
    type Result = ();

    fn handle(&mut self, inbound: Inbound, ctx: &mut Self::Context) {
        if !self.ending {
            self.requests.push_back(inbound);
            self.next_request(ctx);
        }
    }
}

impl Handler<End> for Session {
    type Result = ();

    fn handle(&mut self, End { generation }: End, ctx: &mut Self::Context) {
        if generation.is_none_or(|g| g == self.state.me.outbox.generation()) {
            self.end(ctx);
        }
    }
}

impl Handler<Detached> for Session {
    type Result = ();

    fn handle(&mut self, Detached { generation }: Detached, ctx: &mut Self::Context) {
        let outbox = &self.state.me.outbox;
        if outbox.generation() != generation {
            return;
        }
        if outbox.is_closing() && !outbox.has_unsent() {
            self.end(ctx);
            return;
        }
        let window = self.state.hub.config().resume_window;
        tracing::debug!(parent: &self.span, ?window, "connection lost; keeping the session for a resume");
        if let Some(previous) = self.expiry.take() {
            ctx.cancel_future(previous);
        }
        self.expiry = Some(ctx.run_later(window, move |session, ctx| {
            let outbox = &session.state.me.outbox;
            // Still the same lost connection: nobody resumed the session in time.
            if outbox.generation() == generation && !outbox.is_attached() {
                tracing::info!(parent: &session.span, "resume window passed; ending the session");
                session.end(ctx);
            }
        }));
    }
}
