//! The session actor: request ordering and lifecycle.

use std::rc::Rc;

use actix::{Actor, ActorFutureExt, AsyncContext, AtomicResponse, Handler, Message, WrapFuture};
use bytes::Bytes;
use tracing::Instrument;

use super::requests::SessionState;
use crate::close::Close;
use tidings_protocol::CloseCode;

/// A frame from the client, as the transport received it.
pub(crate) struct Inbound(pub(crate) Bytes);

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
/// Requests are handled as atomic actor futures: the next client frame is not looked at until the previous one is
/// answered, which gives handlers the per-session ordering they expect. Deliveries do not pass through the
/// mailbox at all (see `Outbox`), so a slow handler delays only its own session's requests.
pub(crate) struct Session {
    state: Rc<SessionState>,
    span: tracing::Span,
    /// The pending end of the resume window, replaced at each lost connection (a long-poll session loses one per
    /// poll: its timers must not pile up).
    expiry: Option<actix::SpawnHandle>,
    /// The pending check of the credentials' expiry.
    credentials: Option<actix::SpawnHandle>,
}

impl Session {
    pub(crate) fn new(state: SessionState, span: tracing::Span) -> Self {
        Session { state: Rc::new(state), span, expiry: None, credentials: None }
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
        ctx.set_mailbox_capacity(self.state.hub.config().inbound_queue);
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
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, Inbound(frame): Inbound, _ctx: &mut Self::Context) -> Self::Result {
        let state = self.state.clone();
        let work = async move { state.handle_frame(frame).await }.instrument(self.span.clone());
        AtomicResponse::new(Box::pin(work.into_actor(self).map(|(), _, _| ())))
    }
}

impl Handler<End> for Session {
    type Result = ();

    fn handle(&mut self, End { generation }: End, ctx: &mut Self::Context) {
        if generation.is_none_or(|g| g == self.state.me.outbox.generation()) {
            actix::ActorContext::stop(ctx);
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
            actix::ActorContext::stop(ctx);
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
                actix::ActorContext::stop(ctx);
            }
        }));
    }
}
